#!/usr/bin/env bash
# The CUDA checks of every track, as one script for a GPU machine lent for a few minutes.
#
# Here, first: bash benchmarks/gpu/prepare.sh   (downloads the wheels the GPU image lacks into .whl/)
# There, from the repository root, with .whl/ carried along: bash benchmarks/gpu/check.sh
#
# It installs the wheels into .site/ (no registry needed), then runs, each with its own log under $OUT
# (default: ./gpu-check):
#   1. nvidia-smi and the versions of torch, timm, anomalib and transformers;
#   2. the CUDA-only tests (pytest -m gpu): every anomaly, wsol, reid and seqrec method and AMMDNN (teaching) fit
#      and predict on cuda;
#   3. benchmarks/anomaly_throughput.py --device cuda: predict throughput of every method against its
#      backbone's forward pass, on the default budget (96 px) and at 256 px (the paper budget's size).
# A step that fails is reported and the next one still runs; the exit status is the number of failed steps.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-gpu-check}"
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install --quiet --no-index --no-deps --target .site .whl/*.whl > "$OUT/install.log" 2>&1 \
    || echo "wheel install failed (see $OUT/install.log)"
fi
export PYTHONPATH="$PWD/.site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
failed=0
step() {
  local name="$1"; shift
  local start; start=$(date +%s)
  if "$@" > "$OUT/$name.log" 2>&1; then status=ok; else status="FAILED ($?)"; failed=$((failed + 1)); fi
  echo "$name: $status in $(( $(date +%s) - start )) s"
  tail -n 25 "$OUT/$name.log"
}
step versions bash -c 'nvidia-smi; python3 -c "import torch, timm, anomalib, transformers; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0), timm.__version__, anomalib.__version__, transformers.__version__)"'
step gpu-tests python3 -m pytest -m gpu -q -p no:cacheprovider tests
step throughput-default python3 benchmarks/anomaly_throughput.py --device cuda --budget default --n-images 256
step throughput-256px python3 benchmarks/anomaly_throughput.py --device cuda --budget default --n-images 256 \
  --set image_size=256 --set mask_size=256
exit "$failed"
