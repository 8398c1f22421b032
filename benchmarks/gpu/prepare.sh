#!/usr/bin/env bash
# Download, on this machine, the wheels that benchmarks/gpu/check.sh installs on a GPU machine that has torch,
# torchvision, timm, scikit-learn, pandas, pyarrow and torchmetrics but no registry (see its header).
# Writes .whl/ (git-ignored); pass it to the GPU run as a carried path. Python and platform of the GPU image:
# PY_VERSION (default 3.12) and PLATFORM (default manylinux2014_x86_64).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY_VERSION="${PY_VERSION:-3.12}"
PLATFORM="${PLATFORM:-manylinux2014_x86_64}"
WHEELS=(
  # anomalib and what it needs beyond the image
  anomalib==2.7.0 kornia==0.9.0 kornia-rs==0.2.0 jsonargparse==4.46.0 typeshed-client==2.15.0
  docstring-parser==0.18.0 omegaconf==2.4.0 rich-argparse==1.8.0 platformdirs==4.9.4
  # parbench's own needs beyond the image
  mambapy==1.2.0 tabulate==0.10.0 tqdm==4.70.1 psutil==7.2.2
  # the leaderboard's statistics, plots and report (core dependencies since #12), and the compiled fedrec step
  jinja2 markupsafe scikit-posthocs statsmodels patsy seaborn matplotlib contourpy cycler fonttools kiwisolver
  pyparsing numba llvmlite
  # the seqrec track's LM recommenders (transformers and what it needs beyond the image)
  transformers==5.25.0 tokenizers==0.23.3 huggingface-hub==2.5.0 safetensors==0.8.0 regex==2026.12.2 hf-xet==1.8.0
  kernels==0.19.1 httpx2==2.17.0 httpcore2==2.17.0 h11==0.16.0 anyio==4.16.0 certifi==2026.10.19.post1 idna==3.21
  typer==0.29.3 click==8.5.1 shellingham==1.5.4 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2
  annotated-doc==0.0.7 filelock==4.3.2 fsspec==2026.9.0 pyyaml==6.0.4
  # the CUDA tests
  pytest pluggy iniconfig pygments packaging hypothesis sortedcontainers
)
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
  --platform "$PLATFORM" -d .whl "${WHEELS[@]}"
# FrEIA (FastFlow's flows) is a source archive only; it is pure Python.
tmp="$(mktemp -d)"
python3 -m pip download --quiet --no-deps --no-binary=:all: -d "$tmp" freia==0.2
python3 -m pip wheel --quiet --no-deps -w .whl "$tmp"/*
rm -rf "$tmp"
ls .whl
