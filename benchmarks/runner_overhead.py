"""Runner overhead per job: jobs whose method does nothing, end to end through the runner.

Prints one table: per-job wall time seen from outside (grid wall time / jobs), the part spent
inside the method (fit + predict) and the rest, the runner's overhead (fork from the warm
server, loading inputs, validation, scoring, the Parquet write). Beside it, the same no-op job
started as a fresh interpreter per job (``python -c``), the cost the fork server avoids, and (with Ray
installed) the same grid through the Ray executor on a local Ray instance of ``--jobs`` CPUs, one job per CPU:
the overhead per job of a Ray task against the local pool, both measured in this process.

Usage: python benchmarks/runner_overhead.py [--n-seeds 20] [--jobs 1] [--no-ray]
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


def _grid(plan, results: Path, n_jobs: int, executor=None) -> tuple[float, object]:
    start = time.perf_counter()
    run_plan(plan, Store(results), n_jobs=n_jobs, progress=False, executor=executor)
    grid_s = time.perf_counter() - start
    return grid_s, Store(results).read("toy").drop_duplicates("job_key")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-seeds", type=int, default=20, help="seeds per subset (jobs = 2 x seeds)")
    parser.add_argument("--jobs", type=int, default=1, help="jobs at once (and CPUs of the local Ray instance)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray executor's column")
    args = parser.parse_args()
    columns = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_root = Path(tmp) / "data"
        plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-noop"],
                        seeds=list(range(args.n_seeds)))
        # warm-up: starts the fork server once, as any real run does
        warm = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-noop"], seeds=[10_000])
        run_plan(warm, Store(Path(tmp) / "warm"), progress=False)
        columns["local pool"] = _grid(plan, Path(tmp) / "local", args.jobs)
        if not args.no_ray:
            try:
                import ray

                from harness.executors.ray_cluster import RayExecutor
            except ImportError:
                print("Ray is not installed: no Ray column (pip install '.[ray]').", file=sys.stderr)
            else:
                ray.init(num_cpus=args.jobs, include_dashboard=False, log_to_driver=False,
                         object_store_memory=256 * 2**20)
                run_plan(warm, Store(Path(tmp) / "warm-ray"), progress=False, executor=RayExecutor())  # warm workers
                columns["Ray executor"] = _grid(plan, Path(tmp) / "ray", args.jobs, RayExecutor())
                ray.shutdown()
        spawn = _spawn_s("import harness.job, harness.tracks.toy, numpy")
        spawn_torch = _spawn_s("import harness.job, harness.tracks.toy, numpy, torch")
    names = list(columns)
    table = []
    for label, get in [
        ("jobs run", lambda g, r: str(len(r))),
        ("grid wall time (s)", lambda g, r: f"{g:.2f}"),
        ("wall per job (s)", lambda g, r: f"{g / len(r) * args.jobs:.3f}"),
        ("median job wall_s as stored (s)", lambda g, r: f"{statistics.median(r['wall_s']):.3f}"),
        ("median time inside the method (s)", lambda g, r: f"{statistics.median(r['fit_s'] + r['predict_s']):.4f}"),
        ("runner overhead per job (s)",
         lambda g, r: f"{g / len(r) * args.jobs - statistics.median(r['fit_s'] + r['predict_s']):.3f}"),
    ]:
        table.append([label, *(get(*columns[n]) for n in names)])
    table.append(["target (s)", "0.500", *([""] * (len(names) - 1))])
    table.append(["fresh interpreter per job, harness imports only (s)", f"{spawn:.3f}", *([""] * (len(names) - 1))])
    table.append(["fresh interpreter per job, with torch imported (s)", f"{spawn_torch:.3f}",
                  *([""] * (len(names) - 1))])
    print(tabulate(table, headers=["runner overhead, no-op jobs", *names], tablefmt="github"))


if __name__ == "__main__":
    main()
