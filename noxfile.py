"""Sessions of parbench: tests, regression check, lint, benchmarks and one bench-<track> per track.

Every session reuses its virtualenv between runs (the torch install is the slow part).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "check", "lint"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness.registry import TRACKS  # noqa: E402 - the registry imports nothing but the standard library

#: Every track's extras: the test suite and the regression check cover all tracks.
ALL_EXTRAS = ",".join(sorted({entry.extras for entry in TRACKS.values() if entry.extras}))


def _install(session: nox.Session, extras: str = "", *groups: str) -> None:
    target = f".[{extras}]" if extras else "."
    session.install("-e", target)
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pytest); extra arguments go to pytest."""
    _install(session, ALL_EXTRAS, "test")
    session.run("pytest", *session.posargs)


@nox.session
def check(session: nox.Session) -> None:
    """Rerun the smoke budget of every track with a reference file and compare (regression check)."""
    _install(session, ALL_EXTRAS)
    session.run("parbench", "check", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint with ruff."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", "harness", "methods", "baselines", "tests", "benchmarks", "noxfile.py")


@nox.session(default=False)
def perf(session: nox.Session) -> None:
    """Benchmark the metrics against their references (one table of medians and ratios)."""
    _install(session, "anomaly")
    session.run("python", "benchmarks/perf_metrics.py", *session.posargs)


@nox.session(name="perf-runner", default=False)
def perf_runner(session: nox.Session) -> None:
    """Benchmark the runner's per-job overhead on jobs whose method does nothing."""
    _install(session)
    session.run("python", "benchmarks/runner_overhead.py", *session.posargs)


@nox.session(name="perf-fedrec", default=False)
def perf_fedrec(session: nox.Session) -> None:
    """Benchmark the federated simulator: its client steps against per-client loops, 100 FedMF rounds."""
    _install(session)
    session.run("python", "benchmarks/fedrec_speed.py", *session.posargs)


@nox.session(name="perf-fedrec-memory", default=False)
def perf_fedrec_memory(session: nox.Session) -> None:
    """Benchmark peak memory and seconds per round of every fedrec method against users x items."""
    _install(session)
    session.run("python", "benchmarks/fedrec_memory.py", *session.posargs)


@nox.session(name="perf-wsol", default=False)
def perf_wsol(session: nox.Session) -> None:
    """Benchmark MaxBoxAccV2 on 5,794 maps of 224 px against a per-image OpenCV contour loop."""
    _install(session, "wsol")
    session.run("python", "benchmarks/wsol_maxboxacc.py", *session.posargs)


@nox.session(name="perf-reid", default=False)
def perf_reid(session: nox.Session) -> None:
    """Benchmark re-ID mAP/CMC at Market-1501 size (3,368 x 15,913) against torchreid's Python eval_market1501."""
    _install(session)
    session.run("python", "benchmarks/reid_eval.py", *session.posargs)


@nox.session(name="perf-coreset", default=False)
def perf_coreset(session: nox.Session) -> None:
    """Benchmark PatchCore's greedy coreset: anomalib's KCenterGreedy against the buffered sampler (same centres)."""
    _install(session, "anomaly")
    session.run("python", "benchmarks/patchcore_coreset.py", *session.posargs)


@nox.session(name="perf-anomaly-parity", default=False)
def perf_anomaly_parity(session: nox.Session) -> None:
    """Compare anomalib's Engine with the harness's adapters (PatchCore, PaDiM, STFPM) on the same images and seed."""
    _install(session, "anomaly")
    session.run("python", "benchmarks/anomaly_parity.py", *session.posargs, env={"OMP_NUM_THREADS": "1"})


def _bench(track: str, extras: str, n_jobs: int) -> None:
    @nox.session(name=f"bench-{track}", default=False)
    def bench(session: nox.Session) -> None:
        _install(session, extras)
        args = session.posargs or ["--budget", "default", "--jobs", str(n_jobs)]
        session.run("parbench", "run", track, *args)
        budget = args[args.index("--budget") + 1] if "--budget" in args else "default"
        session.run("parbench", "leaderboard", track, "--budget", budget)
        session.run("parbench", "report", track, "--budget", budget)

    bench.__doc__ = (f"Run the {track} track's default grid on the embedded data; write its leaderboard and its "
                     "HTML report.")


for _name, _entry in TRACKS.items():
    if _entry.bench:
        _bench(_name, _entry.extras, _entry.bench_jobs)
