"""How the anomaly track's budget (image size, backbone layers) moves every method, and what it costs.

Runs the anomaly grid once per setting (``--set image_size=S --set layers=L`` on top of ``--budget``), each
setting in its own results folder, then prints one table: per setting and method the mean over categories
and seeds of image AUROC, pixel AUROC and AUPRO, the mean fit seconds, and per setting the lead of the best
method over the per-pixel floor, the number of categories where every method is within 0.05 of chance, and
the grid's wall time. The ranking a budget produces is only worth reporting if it holds across settings.

Example (the default grid at two sizes, one seed)::

    python benchmarks/anomaly_budget_study.py --sizes 96,128 --seeds 0 --jobs 2 --out /tmp/study

Settings already in ``--out`` are not rerun (the runner skips stored jobs), so an interrupted study resumes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

FLOOR = "pixel-gaussian"
CHANCE_BAND = 0.05


def _settings(sizes: list[int], layer_sets: list[str]) -> list[tuple[str, int, str]]:
    return [(f"s{size}-{layers.replace(',', '+')}", size, layers) for layers in layer_sets for size in sizes]


def _run(tag: str, size: int, layers: str, args: argparse.Namespace) -> float:
    cmd = [sys.executable, "-m", "harness", "run", "anomaly", "--budget", args.budget, "--set", f"image_size={size}",
           "--set", f"layers={layers}", "--jobs", str(args.jobs), "--results", str(args.out / tag)]
    for key, flag in (("methods", "--methods"), ("subsets", "--subsets"), ("seeds", "--seeds")):
        if getattr(args, key):
            cmd += [flag, getattr(args, key)]
    for extra in args.set or []:
        cmd += ["--set", extra]
    if not args.progress:
        cmd.append("--no-progress")
    print(f"[{tag}] {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, check=False)
    if done.returncode not in (0, 1):  # 1: some job failed; its row says why
        msg = f"setting {tag}: the run exited with status {done.returncode}; see the output above."
        raise SystemExit(msg)
    return time.perf_counter() - start


def _rows(folder: Path) -> pd.DataFrame:
    from harness.store import Store

    rows = Store(folder).read("anomaly")
    return rows[rows["status"] == "ok"]


def summarise(rows: pd.DataFrame, tag: str, wall_s: float) -> tuple[pd.DataFrame, dict]:
    """Per-method means of one setting's rows and the setting's separation figures."""
    metrics = rows[rows["metric"].isin(["image_auroc", "pixel_auroc", "aupro"])]
    per_cat = metrics.groupby(["method", "subset", "metric"])["value"].mean().unstack("metric")
    table = per_cat.groupby("method").mean()
    fits = rows.drop_duplicates("job_key").groupby("method")["fit_s"].mean()
    table["fit_s"] = fits
    table.insert(0, "setting", tag)
    auroc = per_cat["image_auroc"].unstack("subset")
    best = table["image_auroc"].max()
    floor = table["image_auroc"].get(FLOOR, np.nan)
    near_chance = [c for c in auroc.columns if (auroc[c] - 0.5).abs().max() <= CHANCE_BAND]
    summary = {"setting": tag, "best": table["image_auroc"].idxmax(), "best_image_auroc": best,
               "floor_image_auroc": floor, "lead_over_floor": best - floor, "max_method_mean": best,
               "categories_near_chance": ",".join(near_chance) or "-", "wall_s": wall_s}
    return table.reset_index(), summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Writes <out>/study.csv and <out>/summary.csv and prints both as tables.")
    parser.add_argument("--sizes", default="96,128,192,256", help="image sizes, comma-separated (default: %(default)s)")
    parser.add_argument("--layers", action="append",
                        help="a layer set, comma-separated (repeatable; default: layer1,layer2)")
    parser.add_argument("--budget", default="default", help="budget preset the settings start from (default: default)")
    parser.add_argument("--methods", help="methods, comma-separated (default: every anomaly method)")
    parser.add_argument("--subsets", help="categories, comma-separated (default: the budget's)")
    parser.add_argument("--seeds", help="seeds, comma-separated (default: the budget's)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="another budget override (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="jobs at once (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("results/studies/anomaly-budget"),
                        help="folder of the settings' results (default: %(default)s)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    layer_sets = args.layers or ["layer1,layer2"]
    tables, summaries = [], []
    for tag, size, layers in _settings(sizes, layer_sets):
        wall_s = _run(tag, size, layers, args)
        rows = _rows(args.out / tag)
        if rows.empty:
            print(f"[{tag}] no job ended ok; left out of the table", file=sys.stderr)
            continue
        table, summary = summarise(rows, tag, wall_s)
        tables.append(table)
        summaries.append(summary)
    if not tables:
        return 1
    study = pd.concat(tables, ignore_index=True)
    summary = pd.DataFrame(summaries)
    args.out.mkdir(parents=True, exist_ok=True)
    study.to_csv(args.out / "study.csv", index=False, float_format="%.4f")
    summary.to_csv(args.out / "summary.csv", index=False, float_format="%.4f")
    print(study.sort_values(["setting", "image_auroc"], ascending=[True, False]).to_markdown(index=False,
                                                                                           floatfmt=".3f"))
    print()
    print(summary.to_markdown(index=False, floatfmt=".3f"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
