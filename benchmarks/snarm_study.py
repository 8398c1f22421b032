"""SNARM against its budget: how image AUROC, AUPRO and fit time move with steps, image size and layers.

Runs SNARM (and, by default, its ablations and two feature-bank baselines) through the harness's own
runner (``plan_run`` / ``run_plan``, the code path of ``parbench run``) on the anomaly track's default
dataset (the embedded synthetic MVTec-AD layout, generated on first use), for a small grid of budget
overrides, and prints one table: mean image AUROC, AUPRO, pixel AUROC and fit seconds per
(configuration, method) over the chosen categories and seeds.

The grid starts from the budget's own values (``default``: 128 px since 2026-12-07, 96 px before; ``layer1`` +
``layer2``, 100 steps).
``--grid axes`` (the default) changes one factor at a time: every ``--steps`` value at the default
size and layers, every ``--image-sizes`` value and every ``--layers`` value at the default steps.
``--grid full`` runs the cross product. Baselines (``--baselines``) run only where ``max_steps`` is
the budget's own (PatchCore and PaDiM do not train, so more steps would only repeat them).

``--floor`` adds a diagnostic row per configuration, computed in this process rather than by the runner:
``inter-norm``, the L2 norm of SNARM's own inter-residual (the same backbone, local pooling, coreset bank
and k = 3 neighbours as the fitted method, no network, no training), smoothed and pooled by SNARM's own
post-processing and scored with the track's metrics. It tells what the learned network adds to, or loses
from, the residual it is given.

Results go to a results folder of their own (``--results``); a rerun skips the jobs already stored
there, so an interrupted study resumes. Each finished job prints one progress line. Every job runs
with ``--threads`` torch threads (default 1) and with ``time_limit_s`` raised to ``--time-limit-s``
(1000 steps at 128 px take longer than the default budget's 300 s), which changes the budget hash:
these jobs never mix with a leaderboard's.

Examples:
    python benchmarks/snarm_study.py --dry-run
    python benchmarks/snarm_study.py --categories nut --steps 100,300 --image-sizes 96 --layers layer1+layer2
    python benchmarks/snarm_study.py --grid full --categories nut,brick --seeds 0,1
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tabulate import tabulate

from harness.provenance import git_state
from harness.registry import load_target
from harness.runner import plan_run, run_plan
from harness.store import Store

TRACK = "anomaly"
SNARM_METHODS = "snarm,snarm-no-intra,snarm-mlp,snarm-one-head"
METRICS = ("image_auroc", "aupro", "pixel_auroc")
#: Name of the diagnostic row of ``--floor``.
FLOOR = "inter-norm"


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _names(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def _layer_sets(text: str) -> list[tuple[str, ...]]:
    """``"layer1+layer2,layer1+layer2+layer3"`` -> [("layer1", "layer2"), ("layer1", "layer2", "layer3")]."""
    return [tuple(part.split("+")) for part in text.split(",") if part]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--budget", default="default", help="budget preset the grid starts from (default: default)")
    parser.add_argument("--categories", default="nut,brick", help="comma-separated subsets (default: nut,brick)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    parser.add_argument("--methods", default=SNARM_METHODS, help=f"SNARM configs to run (default: {SNARM_METHODS})")
    parser.add_argument("--baselines", default="patchcore,padim",
                        help="baselines run at the budget's own max_steps; '' for none (default: patchcore,padim)")
    parser.add_argument("--steps", default="100,300,1000", help="max_steps values (default: 100,300,1000)")
    parser.add_argument("--image-sizes", default="96,128", help="image_size values (default: 96,128)")
    parser.add_argument("--layers", default="layer1+layer2,layer1+layer2+layer3",
                        help="layer sets, '+' within a set, ',' between sets "
                        "(default: layer1+layer2,layer1+layer2+layer3)")
    parser.add_argument("--grid", choices=("axes", "full"), default="axes",
                        help="axes: one factor at a time from the budget's values; full: cross product (default: axes)")
    parser.add_argument("--results", type=Path, default=Path("/tmp/snarm_study/results"),
                        help="results folder of the study (default: /tmp/snarm_study/results)")
    parser.add_argument("--data-root", type=Path, default=None, help="datasets folder (default: the harness's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job (default: 1)")
    parser.add_argument("--time-limit-s", type=float, default=1800.0, help="wall-time limit per job (default: 1800)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"), help="device (default: cpu)")
    parser.add_argument("--per-category", action="store_true", help="also print one row per category")
    parser.add_argument("--floor", action="store_true",
                        help="add the diagnostic inter-norm row (SNARM's residual norm, no network) per configuration")
    parser.add_argument("--dry-run", action="store_true", help="print the planned configurations and stop")
    return parser.parse_args(argv)


def configurations(args: argparse.Namespace, defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """Budget overrides of the grid, the budget's own configuration first, without repeats."""
    steps, sizes, layer_sets = _ints(args.steps), _ints(args.image_sizes), _layer_sets(args.layers)
    base = {"image_size": defaults["image_size"], "layers": tuple(defaults["layers"]),
            "max_steps": defaults["max_steps"]}
    if args.grid == "full":
        product = itertools.product(sizes, layer_sets, steps)
        configs = [{"image_size": s, "layers": la, "max_steps": n} for s, la, n in product]
    else:
        configs = [{**base, "max_steps": n} for n in steps]
        configs += [{**base, "image_size": s} for s in sizes]
        configs += [{**base, "layers": la} for la in layer_sets]
    out = [base] if base in configs else []
    for config in configs:
        if config not in out:
            out.append(config)
    return out


def _label(config: dict[str, Any]) -> str:
    return f"{config['image_size']} px, {'+'.join(config['layers'])}, {config['max_steps']} steps"


def _job_row(store: Store, key: str) -> dict[str, Any]:
    """Status, metrics and fit seconds of one stored job."""
    table = pq.read_table(store.track_dir(TRACK) / f"{key}.parquet").to_pandas()
    row: dict[str, Any] = {"status": sorted(set(table["status"]))[0] if len(table) else "missing"}
    for metric in METRICS:
        values = table.loc[table["metric"] == metric, "value"]
        row[metric] = float(values.iloc[0]) if len(values) and values.iloc[0] == values.iloc[0] else None
    fit = table["fit_s"].dropna()
    row["fit_s"] = float(fit.iloc[0]) if len(fit) else None
    return row


def inter_norm_floor(plan: Any, subset: str, seed: int) -> dict[str, Any]:
    """Metrics of SNARM's inter-residual norm alone (its bank, no network) on one category and seed."""
    import torch

    from harness.registry import method_config
    from methods.snarm import Snarm
    from methods.snarm.anomaly_map import anomaly_maps
    from methods.snarm.model import PatchFeatureExtractor, build_backbone

    track, budget = plan.track, plan.budget
    train = track.load_train(plan.root, plan.card, subset, budget, seed=seed)
    test = track.load_test_inputs(plan.root, plan.card, subset, budget, seed=seed)
    truth = track.load_truth(plan.root, plan.card, subset, budget, seed=seed)
    method = Snarm(Snarm.make_config(method_config("snarm")))
    cfg = method.config
    method.n_threads, method.device, method.batch_size = 1, torch.device("cpu"), budget.batch_size
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        backbone = build_backbone(budget.backbone, tuple(budget.layers), weights=budget.weights, seed=seed)
        method.extractor = PatchFeatureExtractor(backbone, local_pool=cfg.local_pool)
        method._fit_bank(train.images, seed)  # noqa: SLF001 - the fitted method's own bank
        fit_s = time.perf_counter() - start
        norms = torch.linalg.vector_norm(method._inter(method._features(test.images)), dim=1)  # noqa: SLF001
        maps, scores = anomaly_maps(norms, test.images.shape[1], sigma_at_256=cfg.sigma_at_256,
                                    pool_at_256=cfg.pool_at_256)
    from harness.api import Predictions

    metrics = track.evaluate(Predictions.of(scores=scores.numpy(), maps=maps.numpy()), truth)
    return {"status": "ok", **{m: metrics[m] for m in METRICS}, "fit_s": fit_s}


def _mean(values: list[float | None], digits: int = 3) -> str:
    kept = [v for v in values if v is not None]
    return f"{statistics.fmean(kept):.{digits}f}" if kept else "-"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from harness.executors import LocalExecutor
    from harness.registry import tracks

    track = tracks.get(TRACK)()
    defaults = track.budget(args.budget).to_dict()
    configs = configurations(args, defaults)
    categories, seeds = _names(args.categories), _ints(args.seeds)
    methods, baselines = _names(args.methods), _names(args.baselines)
    planned = [
        (config, methods + (baselines if config["max_steps"] == defaults["max_steps"] else []))
        for config in configs
    ]
    n_total = sum(len(names) for _, names in planned) * len(categories) * len(seeds)
    card = None
    if args.dry_run:
        for config, names in planned:
            print(f"{_label(config)}: {', '.join(names)}")
        print(f"{n_total} jobs ({len(categories)} categories x {len(seeds)} seeds per method and configuration)")
        return 0
    store = Store(args.results)
    commit, dirty = git_state(fresh=True)
    results: list[dict[str, Any]] = []
    floors: dict[tuple[Any, ...], dict[str, Any]] = {}
    done = 0
    started = time.perf_counter()
    for config, names in planned:
        overrides = {**config, "time_limit_s": args.time_limit_s}
        plan = plan_run(TRACK, budget=args.budget, data_root=args.data_root, subsets=categories,
                        method_names=names, seeds=seeds, overrides=overrides)
        if card is None:
            card = plan.card
            generator = load_target(card.generator.partition(":")[0]) if card.synthetic else None
            version = getattr(generator, "VERSION", "-") if generator else "-"
            state = f"commit {commit[:12]}{' (dirty)' if dirty else ''}"
            print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {state}, "
                  f"dataset {card.name} (generator version {version}, fingerprint {plan.fingerprint}), "
                  f"{n_total} jobs, results in {args.results}", flush=True)

        def report(job: Any, status: str, config: dict[str, Any] = config) -> None:
            nonlocal done
            done += 1
            row = _job_row(store, job.key)
            auroc = "-" if row["image_auroc"] is None else f"{row['image_auroc']:.3f}"
            aupro = "-" if row["aupro"] is None else f"{row['aupro']:.3f}"
            fit = "-" if row["fit_s"] is None else f"{row['fit_s']:.1f} s"
            print(f"[{done}/{n_total}] {job.method} {job.subset} seed {job.seed} ({_label(config)}): {status}, "
                  f"image AUROC {auroc}, AUPRO {aupro}, fit {fit} ({time.perf_counter() - started:.0f} s so far)",
                  flush=True)

        executor = LocalExecutor(1)
        executor.threads_per_job = args.threads
        summary = run_plan(plan, store, device=args.device, progress=False, on_result=report, executor=executor)
        if summary.skipped:
            done += summary.skipped
            print(f"{summary.skipped} job(s) of {_label(config)} already stored in {args.results}: skipped", flush=True)
        for job in plan.jobs:
            results.append({"config": config, "method": job.method, "subset": job.subset, "seed": job.seed,
                            **_job_row(store, job.key)})
        if args.floor:
            for subset, seed in itertools.product(categories, seeds):
                # The residual does not depend on max_steps: one computation per size, layers, category, seed.
                cache_key = (config["image_size"], config["layers"], subset, seed)
                if cache_key not in floors:
                    floors[cache_key] = inter_norm_floor(plan, subset, seed)
                row = floors[cache_key]
                results.append({"config": config, "method": FLOOR, "subset": subset, "seed": seed, **row})
                print(f"{FLOOR} {subset} seed {seed} ({_label(config)}): image AUROC {row['image_auroc']:.3f}, "
                      f"AUPRO {row['aupro']:.3f}", flush=True)
    rows = []
    for config, names in planned:
        for name in names + ([FLOOR] if args.floor else []):
            mine = [r for r in results if r["config"] == config and r["method"] == name]
            groups = [("mean", mine)]
            if args.per_category:
                groups += [(c, [r for r in mine if r["subset"] == c]) for c in categories]
            for where, group in groups:
                ok = [r for r in group if r["status"] == "ok"]
                rows.append([config["image_size"], "+".join(config["layers"]), config["max_steps"], name, where,
                             f"{len(ok)}/{len(group)}", *(_mean([r[m] for r in ok]) for m in METRICS),
                             _mean([r["fit_s"] for r in ok], digits=1)])
    headers = ["image px", "layers", "steps", "method", "over", "ok jobs", "image AUROC", "AUPRO", "pixel AUROC",
               "fit s"]
    print(f"\nMeans over {', '.join(categories)} x seeds {', '.join(map(str, seeds))}:")
    print(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
