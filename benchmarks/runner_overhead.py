"""Runner overhead per job: jobs whose method does nothing, end to end through the runner.

Prints one table: per-job wall time seen from outside (grid wall time / jobs), the part spent
inside the method (fit + predict) and the rest, the runner's overhead (fork from the warm
server, loading inputs, validation, scoring, the Parquet write). Beside it, the same no-op job
started as a fresh interpreter per job (``python -c``), the cost the fork server avoids.

Usage: python benchmarks/runner_overhead.py [--n-seeds 20] [--jobs 1]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from harness.runner import plan_run, run_plan
from harness.store import Store


def _spawn_s(code: str, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-seeds", type=int, default=20, help="seeds per subset (jobs = 2 x seeds)")
    parser.add_argument("--jobs", type=int, default=1, help="jobs at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_root, results = Path(tmp) / "data", Path(tmp) / "results"
        plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-noop"],
                        seeds=list(range(args.n_seeds)))
        # warm-up: starts the fork server once, as any real run does
        warm = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-noop"], seeds=[10_000])
        run_plan(warm, Store(Path(tmp) / "warm"), progress=False)
        start = time.perf_counter()
        run_plan(plan, Store(results), n_jobs=args.jobs, progress=False)
        grid_s = time.perf_counter() - start
        rows = Store(results).read("toy").drop_duplicates("job_key")
        n_jobs = len(rows)
        per_job = grid_s / n_jobs * args.jobs
        method_s = statistics.median(rows["fit_s"] + rows["predict_s"])
        spawn = _spawn_s("import harness.job, harness.tracks.toy, numpy")
        spawn_torch = _spawn_s("import harness.job, harness.tracks.toy, numpy, torch")
    table = [
        ["jobs run", n_jobs],
        ["grid wall time (s)", f"{grid_s:.2f}"],
        ["wall per job (s)", f"{per_job:.3f}"],
        ["median job wall_s as stored (s)", f"{statistics.median(rows['wall_s']):.3f}"],
        ["median time inside the method (s)", f"{method_s:.4f}"],
        ["runner overhead per job (s)", f"{per_job - method_s:.3f}"],
        ["target (s)", "0.500"],
        ["fresh interpreter per job, harness imports only (s)", f"{spawn:.3f}"],
        ["fresh interpreter per job, with torch imported (s)", f"{spawn_torch:.3f}"],
    ]
    print(tabulate(table, headers=["runner overhead, no-op jobs", "value"], tablefmt="github"))


if __name__ == "__main__":
    main()
