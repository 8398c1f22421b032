"""The wheel, installed (not editable) into a fresh virtualenv outside the checkout, runs end to end; so do plugins.

The fresh virtualenv gets parbench itself from ``pip install <copy of the checkout>`` with no dependency
installs: the libraries it needs (numpy, torch, ...) are read from this test environment through a ``.pth``
line, so the test needs no network and no second copy of torch. A ``.pth`` line adds a folder without running the
``.pth`` files inside it, so this environment's own editable parbench does not leak into the fresh one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent

PLUGIN_MODULE = '''
"""A method shipped in another package, found through the parbench.methods entry point."""

from harness.tracks.toy import NearestCentroid


class DemoCentroid(NearestCentroid):
    """The toy track's nearest-centroid classifier under another name."""

    name = "demo-centroid"
    kind = "method"
    paper = "plugin test"
    track = "toy"
'''

PLUGIN_PYPROJECT = '''
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "parbench-demo-plugin"
version = "0.0.1"

[project.entry-points."parbench.methods"]
demo-centroid = "parbench_demo:DemoCentroid"
broken-method = "parbench_demo_missing:Nothing"

[tool.setuptools]
py-modules = ["parbench_demo"]
'''


def _copy_checkout(target: Path) -> Path:
    """The files of the checkout that git tracks or would add (no virtualenvs, runs or caches)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file() and not name.startswith("results/"):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _pip(python: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-build-isolation", *args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to copy")
    tmp = tmp_path_factory.mktemp("install")
    checkout = _copy_checkout(tmp / "checkout")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _pip(python, str(checkout))
    work = tmp / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PARBENCH_DATA", "PARBENCH_RESULTS")}
    env["PARBENCH_DATA"] = str(tmp / "data")

    def parbench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "parbench"), *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)

    return python, work, parbench, tmp


def test_the_installed_wheel_is_the_one_that_runs(fresh):
    python, work, _, tmp = fresh
    where = subprocess.run([str(python), "-c", "import harness, harness.cards as c; print(harness.__file__); "
                            "print(c.CARDS_DIR)"], cwd=work, capture_output=True, text=True, check=True).stdout
    module, cards = where.split()
    assert Path(module).is_relative_to(tmp / "venv") and Path(cards).is_relative_to(tmp / "venv")


def test_list_run_leaderboard_and_report_from_the_installed_wheel(fresh):
    _, work, parbench, _ = fresh
    listed = parbench("list", "datasets")
    assert listed.returncode == 0, listed.stderr
    assert "synth_mvtec_ad" in listed.stdout and "toy_blobs" in listed.stdout
    run = parbench("run", "toy", "--budget", "smoke", "--no-progress")
    assert run.returncode == 0, run.stderr
    board = parbench("leaderboard", "toy", "--budget", "smoke")
    assert board.returncode == 0, board.stderr
    assert "toy-centroid" in (work / "results" / "leaderboards" / "toy.md").read_text()  # under the current folder
    report = parbench("report", "toy", "--budget", "smoke")  # its templates ship in the wheel
    assert report.returncode == 0, report.stderr
    assert "Leaderboard: toy" in (work / "results" / "report" / "toy-smoke.html").read_text()
    named = parbench("run", "toy", "--budget", "smoke", "--no-progress", "--results", str(work / "elsewhere"))
    assert named.returncode == 0, named.stderr
    assert list((work / "elsewhere" / "runs" / "toy").glob("*.parquet"))


def test_a_plugin_method_runs_end_to_end_and_a_broken_one_only_warns(fresh):
    python, work, parbench, tmp = fresh
    plugin = tmp / "plugin"
    plugin.mkdir()
    (plugin / "pyproject.toml").write_text(textwrap.dedent(PLUGIN_PYPROJECT))
    (plugin / "parbench_demo.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    _pip(python, str(plugin))
    listed = parbench("list", "methods", "--track", "toy")
    assert listed.returncode == 0, listed.stderr
    assert "demo-centroid" in listed.stdout
    assert "method plugin 'broken-method' (parbench_demo_missing:Nothing) cannot be loaded" in listed.stderr
    run = parbench("run", "toy", "--budget", "smoke", "--methods", "demo-centroid,toy-centroid", "--no-progress",
                   "--results", str(work / "plugin-results"))
    assert run.returncode == 0, run.stderr
    assert "broken-method" in run.stderr and "4 ok" in run.stderr
    board = parbench("leaderboard", "toy", "--budget", "smoke", "--results", str(work / "plugin-results"))
    assert board.returncode == 0, board.stderr
    table = (work / "plugin-results" / "leaderboards" / "toy.md").read_text()
    assert "demo-centroid" in table and "toy-centroid" in table
