"""Adapter parity: anomalib's own Engine beside the harness's adapter, on the same images, network and seed.

For every model and category, the same model runs on the embedded data (``synth_mvtec_ad``) on two sides:

- ``adapter``: the harness's baseline (``baselines/anomalib_models``) fitted and run through the harness's
  ``Method`` API on the track's decoded images (``load_train`` / ``load_test_inputs`` at ``--image-size``).
- ``engine``: anomalib's Lightning module fitted by ``anomalib.engine.Engine.fit`` on anomalib's ``MVTecAD``
  datamodule with the model's default pre-processor (resize to ``--image-size``, ImageNet normalisation), then
  ``Engine.predict``. The post-processor (score normalisation, thresholds), the evaluator and the visualiser are
  off so that the raw ``pred_score`` and ``anomaly_map`` come back.

Both sides get the same backbone (``pre_trained=False`` plus the harness's shared random init of
``harness/backbones.py``, loaded the same way), layers, training images (the first ``--train-images`` in path
order), batch sizes, seed (each model is built right after seeding, so PaDiM's channel subset and STFPM's student
start equal) and, for the learned models, number of optimizer steps. Both are scored by the track's own
``evaluate`` (``harness/metrics/anomaly.py``) against the same labels and masks (``load_truth`` with
``mask_size = --image-size``).

What the Engine draws after the build (its shuffled training order, PatchCore's coreset projection and first
centre) comes from the generators reseeded with ``--seed + k`` for its ``k``-th run (``--engine-draws``); the
spread over those runs is the Engine's own sampling noise. ``--aligned`` is the diagnostic that removes every
difference but the code: the Engine then reads the adapter's decoded pixels (written as lossless PNGs at
``--image-size``, so that its resize is the identity), trains on the adapter's batches in the adapter's order
and draws the rest from the generator state its build left, as the adapter does.

The Engine's validation loop (on the test split under anomalib's default ``val_split_mode``) is off unless
``--validate``: with the post-processor and the evaluator off it computes nothing that reaches the outputs, but
each validation loader draws its base seed from torch's global generator, so STFPM's later training order is
another draw.

Prints one line per run, a table of image AUROC, pixel AUROC, AUPRO and fit seconds, then the differences (engine
minus adapter) with checks of the raw outputs and a verdict per pair: ``equal`` (both within ``--tolerance``),
``within engine spread`` (each within the Engine's own spread over its draws: a sampling difference) or
``DIFFERENT``; the exit status is 1 when a pair is different.

Usage: python benchmarks/anomaly_parity.py [--models patchcore,padim,stfpm] [--categories nut,brick]
       [--image-size 256] [--seed 0] [--max-steps 50] [--engine-draws 3] [--aligned] [--post-processed]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Models both sides support here: the harness's registered name -> anomalib's Lightning class.
MODELS = {"patchcore": "Patchcore", "padim": "Padim", "stfpm": "Stfpm"}
#: Models that train a network for ``--max-steps`` optimizer steps.
LEARNED = ("stfpm",)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
        pass

    parser = argparse.ArgumentParser(
        description=__doc__.split("\nUsage:")[0],
        epilog="Run one such process at a time; it uses --threads CPU threads.",
        formatter_class=Formatter,
    )
    parser.add_argument("--models", default="patchcore,padim,stfpm",
                        help=f"comma-separated, among {', '.join(MODELS)}")
    parser.add_argument("--categories", default="nut,brick",
                        help="comma-separated categories of synth_mvtec_ad (brick, fabric, grass, gravel, nut, pcb, "
                             "wood)")
    parser.add_argument("--image-size", type=int, default=256, help="input side of both sides; masks are scored at it")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shared random init and of every random draw")
    parser.add_argument("--max-steps", type=int, default=50, help="optimizer steps of the learned models, both sides")
    parser.add_argument("--train-images", type=int, default=20,
                        help="the first N good training images in path order (0 = all 40), both sides")
    parser.add_argument("--train-batch-size", type=int, default=4,
                        help="images per optimizer step of the learned models (the adapter's default), both sides")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="images per forward pass of the memory-bank fits and of prediction, both sides")
    parser.add_argument("--coreset-ratio", type=float, default=0.01,
                        help="PatchCore's coreset sampling ratio, both sides (anomalib's default 0.1 takes about 5 min "
                             "per side and category at 256 px with 20 training images on one CPU thread)")
    parser.add_argument("--backbone", default="resnet18", help="timm backbone, both sides (shared random init)")
    parser.add_argument("--layers", default="layer1,layer2", help="comma-separated backbone layers, both sides")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of every run")
    parser.add_argument("--engine-draws", type=int, default=3,
                        help="Engine runs per model and category; the first is compared with the adapter, all of "
                             "them give the Engine's own spread (each reseeds what the Engine draws after the build); "
                             "1 with --aligned")
    parser.add_argument("--aligned", action="store_true",
                        help="diagnostic: the Engine reads the adapter's pixels, trains on the adapter's batches in "
                             "its order and draws from the generator state its build left, so only the code differs")
    parser.add_argument("--post-processed", action="store_true",
                        help="one more Engine run per model and category with anomalib's default post-processor "
                             "(min-max normalisation around its adaptive thresholds, learnt by the validation loop on "
                             "the test split), scored the same way; not compared with the tolerance")
    parser.add_argument("--tolerance", type=float, default=0.01,
                        help="largest |engine - adapter| of image AUROC and of AUPRO counted as equal (a larger one "
                             "within the Engine's own spread counts as a sampling difference)")
    parser.add_argument("--validate", action="store_true",
                        help="keep the Engine's per-epoch validation on the test split (anomalib's default; slower; "
                             "no output depends on it, but STFPM's later training order becomes another draw)")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="folder of the generated data (default: the harness's, $PARBENCH_DATA or "
                             "~/.cache/parbench/data)")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    args.layers = tuple(x.strip() for x in args.layers.split(",") if x.strip())
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose among {list(MODELS)}")
    if args.image_size < 32 or min(args.train_batch_size, args.batch_size, args.engine_draws, args.threads) < 1:
        parser.error("--image-size must be >= 32; the batch sizes, --engine-draws and --threads >= 1")
    if args.max_steps < 0 or args.train_images < 0 or not 0 < args.coreset_ratio <= 1:
        parser.error("--max-steps and --train-images must be >= 0 and --coreset-ratio in (0, 1]")
    if args.aligned:
        args.engine_draws = 1  # nothing is left to draw differently
    return args


def require_anomalib() -> str:
    """anomalib's version, or exit with a message that says how to install it."""
    try:
        import anomalib
    except ImportError as exc:
        sys.exit(
            f"anomaly_parity needs anomalib ({exc}). Install the anomaly extra (pip install -e '.[anomaly]') "
            "or run `nox -s perf-anomaly-parity`."
        )
    return anomalib.__version__


@dataclass
class Run:
    """One side of one model on one category."""

    model: str
    category: str
    side: str
    metrics: dict[str, float]
    fit_s: float
    scores: np.ndarray
    maps: np.ndarray
    notes: str = ""


@contextlib.contextmanager
def quiet():
    """Silence Lightning's and anomalib's console output; show it if the block fails."""
    buffer = io.StringIO()
    names = [name for name in logging.root.manager.loggerDict if name.startswith(("lightning", "anomalib"))]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            warnings.simplefilter("ignore")
            yield
    except BaseException:
        sys.stderr.write(buffer.getvalue())
        raise
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def relative(path: str | Path) -> str:
    """``split/label/file`` of an image in the MVTec AD layout (the same on both sides)."""
    return "/".join(Path(path).parts[-3:])


def harness_budget(args: argparse.Namespace) -> tuple[Any, Any]:
    from harness.registry import tracks

    track = tracks.get("anomaly")()
    budget = track.budget(
        "default", image_size=args.image_size, mask_size=args.image_size, train_max_images=args.train_images,
        batch_size=args.batch_size, max_steps=args.max_steps, backbone=args.backbone, layers=args.layers,
        device="cpu", seeds=(args.seed,),
    )
    return track, budget


def run_adapter(name: str, data: dict[str, Any], track: Any, budget: Any, args: argparse.Namespace) -> Run:
    """The harness's baseline through its Method API on the track's decoded images."""
    from harness.api import Context
    from harness.registry import method_config, methods

    cls = methods.get(name)
    overrides = method_config(name)
    if name in LEARNED:
        overrides["train_batch_size"] = args.train_batch_size
    if name == "patchcore":
        overrides["coreset_sampling_ratio"] = args.coreset_ratio
    method = cls(cls.make_config(overrides))
    with tempfile.TemporaryDirectory() as work:
        ctx = Context(seed=args.seed, device="cpu", work_dir=Path(work), n_threads=args.threads,
                      log=logging.getLogger("parity"))
        start = time.perf_counter()
        method.fit(data["train"], budget, ctx)
        fit_s = time.perf_counter() - start
        predictions = method.predict(data["test"])
    if name == "padim":
        data["padim_idx"] = method.detector_.model_.idx.clone()
    notes = f"{len(method.detector_.losses_)} steps" if name in LEARNED else ""
    return Run(name, data["category"], "adapter", track.evaluate(predictions, data["truth"]), fit_s,
               predictions["scores"], predictions["maps"], notes)


def adapter_batches(name: str, n_images: int, args: argparse.Namespace) -> list[list[int]]:
    """The training images of each of the adapter's batches, in the adapter's order (``--aligned``)."""
    from baselines.anomalib_models.images import step_batches

    if name in LEARNED:
        size = min(args.train_batch_size, args.batch_size)
        return [index.tolist() for index in step_batches(n_images, size, args.max_steps, seed=args.seed)]
    return [list(range(start, min(start + args.batch_size, n_images))) for start in range(0, n_images, args.batch_size)]


def write_decoded(data: dict[str, Any], folder: Path) -> Path:
    """Write the adapter's decoded images and the track's masks as lossless PNGs in the MVTec AD layout."""
    from PIL import Image

    category = folder / data["category"]
    truth = data["truth"]
    for path, image in zip(data["train_paths"], data["train"].images, strict=True):
        target = category / relative(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target)
    for path, image, label, mask in zip(truth.paths, data["test"].images, truth.labels, truth.masks, strict=True):
        target = category / relative(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target)
        if label:
            split_label_file = Path(relative(path))
            mask_path = category / "ground_truth" / split_label_file.parent.name / f"{split_label_file.stem}_mask.png"
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
    return folder


def _datamodule(root: Path, category: str, args: argparse.Namespace, batches: list[list[int]] | None = None) -> Any:
    """anomalib's MVTecAD datamodule on the first ``--train-images`` training images.

    ``batches`` (``--aligned``) replaces the shuffled training loader by one that yields these index lists.
    """
    import torch
    from anomalib.data import MVTecAD
    from torch.utils.data import DataLoader

    n_train = args.train_images

    class FirstTrainImages(MVTecAD):
        def _setup(self, _stage: str | None = None) -> None:
            super()._setup(_stage)
            if n_train:
                self.train_data.samples = self.train_data.samples.iloc[:n_train].reset_index(drop=True)

        def train_dataloader(self) -> DataLoader:
            if batches is None:
                return super().train_dataloader()
            # A loader's iterator draws its base seed from ``generator``, else from torch's global one (which
            # the coreset draws from next): a private generator keeps the global state where the build left it.
            return DataLoader(self.train_data, batch_sampler=batches, num_workers=0,
                              collate_fn=self.train_data.collate_fn, generator=torch.Generator())

    return FirstTrainImages(root=root, category=category, train_batch_size=args.train_batch_size,
                            eval_batch_size=args.batch_size, num_workers=0, seed=args.seed)


def _lightning_model(name: str, args: argparse.Namespace, *, post_processed: bool = False) -> Any:
    """anomalib's Lightning module with raw outputs, built from random init with the shared network loaded."""
    import anomalib.models as models

    from baselines.anomalib_models.weights import load_backbone_weights

    cls = getattr(models, MODELS[name])
    # The model's own default pre-processor (resize, ImageNet normalisation), at --image-size.
    common = {
        "backbone": args.backbone, "layers": list(args.layers), "evaluator": False, "visualizer": False,
        "pre_processor": cls.configure_pre_processor(image_size=(args.image_size,) * 2),
    }
    if not post_processed:
        common["post_processor"] = False
    if name == "patchcore":
        model = cls(pre_trained=False, coreset_sampling_ratio=args.coreset_ratio, **common)
        net = model.model.feature_extractor.feature_extractor
    elif name == "padim":
        model = cls(pre_trained=False, **common)
        net = model.model.feature_extractor.feature_extractor
    else:
        # anomalib's STFPM always asks timm for a pretrained teacher (a download): build it as the adapter does.
        from baselines.anomalib_models.stfpm.model import teacher_from_random_init

        with teacher_from_random_init():
            model = cls(**common)
        net = model.model.teacher_model.feature_extractor
    load_backbone_weights(net, None, backbone=args.backbone, seed=args.seed)
    return model


def _same_student_init(model: Any, args: argparse.Namespace) -> bool:
    """Whether the Engine's untrained STFPM student equals the adapter's, built under the same seed."""
    import torch

    from baselines.anomalib_models.detector import seeded
    from baselines.anomalib_models.stfpm.model import StfpmDetector

    detector = StfpmDetector(backbone=args.backbone, layers=args.layers, seed=args.seed)
    with seeded(args.seed, torch.device("cpu")):
        reference = detector._build((args.image_size, args.image_size))
    ours, theirs = reference.student_model.state_dict(), model.model.student_model.state_dict()
    return all(torch.equal(ours[k], theirs[k]) for k in ours)


def _collect(batches: list[Any]) -> dict[str, tuple[float, np.ndarray, np.ndarray | None]]:
    """Raw image score, anomaly map and the Engine's own mask of every predicted image, by relative path."""
    out = {}
    for batch in batches:
        masks = batch.gt_mask if batch.gt_mask is not None else [None] * len(batch.image_path)
        for path, score, amap, mask in zip(batch.image_path, batch.pred_score, batch.anomaly_map, masks, strict=True):
            mask_np = None if mask is None else mask.reshape(mask.shape[-2:]).bool().numpy()
            out[relative(path)] = (float(score.reshape(-1)[0]), amap.reshape(amap.shape[-2:]).float().numpy(), mask_np)
    return out


def run_engine(
    name: str, data: dict[str, Any], track: Any, args: argparse.Namespace, draw: int = 0, *,
    post_processed: bool = False,
) -> Run:
    """anomalib's Engine.fit and Engine.predict on its own datamodule; raw outputs in the track's order.

    With ``post_processed``, the model keeps its default post-processor and the Engine its validation loop.
    """
    import torch
    from anomalib.engine import Engine
    from lightning.pytorch import seed_everything

    from harness.api import Predictions

    truth = data["truth"]
    notes = []
    with quiet():
        seed_everything(args.seed, workers=False, verbose=False)
        model = _lightning_model(name, args, post_processed=post_processed)
        if name == "stfpm" and draw == 0 and not post_processed:
            notes.append("student init " + ("equal" if _same_student_init(model, args) else "DIFFERS"))
        batches = None
        if args.aligned:
            batches = adapter_batches(name, len(data["train"]), args)
        else:
            seed_everything(args.seed + draw, workers=False, verbose=False)
        datamodule = _datamodule(data["engine_root"], data["category"], args, batches)
        options: dict[str, Any] = {"accelerator": "cpu", "devices": 1, "logger": False, "enable_progress_bar": False,
                                   "enable_model_summary": False}
        if name in LEARNED:
            options["max_steps"] = args.max_steps
        if not (args.validate or post_processed):
            options["limit_val_batches"] = 0
        with tempfile.TemporaryDirectory() as work:
            engine = Engine(default_root_dir=work, **options)
            start = time.perf_counter()
            engine.fit(model=model, datamodule=datamodule)
            fit_s = time.perf_counter() - start
            predicted = _collect(engine.predict(model=model, datamodule=datamodule, return_predictions=True))
    train_paths = [relative(p) for p in datamodule.train_data.samples["image_path"]]
    if train_paths != [relative(p) for p in data["train_paths"]]:
        raise RuntimeError("the Engine's training images are not the adapter's (same files, same order)")
    first = draw == 0 and not post_processed
    if name == "padim" and "padim_idx" in data and first:
        notes.append("channel subset " + ("equal" if torch.equal(model.model.idx, data["padim_idx"]) else "DIFFERS"))
    if name in LEARNED:
        notes.append(f"{engine.trainer.global_step} steps")
    order = [relative(p) for p in truth.paths]
    missing = [p for p in order if p not in predicted]
    if missing or len(predicted) != len(order):
        raise RuntimeError(f"Engine.predict returned {len(predicted)} images, the track has {len(order)} "
                           f"({len(missing)} of the track's are missing, e.g. {missing[:1]})")
    scores = np.array([predicted[p][0] for p in order], dtype=np.float64)
    maps = np.stack([predicted[p][1] for p in order]).astype(np.float32)
    engine_masks = [predicted[p][2] for p in order]
    if first and all(m is not None for m in engine_masks):
        notes.append("masks " + ("equal" if np.array_equal(np.stack(engine_masks), truth.masks) else "DIFFER"))
    side = "engine, post-processed" if post_processed else "engine" if draw == 0 else f"engine, draw {draw}"
    return Run(name, data["category"], side, track.evaluate(Predictions.of(scores=scores, maps=maps), truth), fit_s,
               scores, maps, ", ".join(notes))


def input_difference(data: dict[str, Any], size: int) -> float:
    """Largest difference, in gray levels, between the adapter's training images and the Engine's default inputs."""
    import torch
    from anomalib.data.utils.image import read_image
    from torchvision.transforms.v2 import Resize

    theirs = torch.stack([read_image(p, as_tensor=True) for p in data["train_paths"]])
    theirs = Resize((size, size), antialias=True)(theirs).permute(0, 2, 3, 1).numpy()
    return float(np.abs(data["train"].images.astype(np.float32) / 255 - theirs).max() * 255)


def _spread(draws: list[Run], metric: str) -> float | None:
    """max - min of ``metric`` over the Engine's draws (None for a single draw)."""
    values = [r.metrics[metric] for r in draws]
    return max(values) - min(values) if len(values) > 1 else None


def verdict(d_auroc: float, d_aupro: float, spreads: tuple[float | None, float | None], tolerance: float) -> str:
    """``equal`` within the tolerance, ``within engine spread`` (a sampling difference) or ``DIFFERENT``."""
    if abs(d_auroc) <= tolerance and abs(d_aupro) <= tolerance:
        return "equal"
    if all(s is not None for s in spreads) and abs(d_auroc) <= max(tolerance, spreads[0]) and abs(d_aupro) <= max(
        tolerance, spreads[1]
    ):
        return "within engine spread"
    return "DIFFERENT"


def differences(runs: list[Run], args: argparse.Namespace) -> tuple[list[list[Any]], list[str]]:
    """One row per model and category (engine minus adapter) and the pairs found different.

    A pair is ``equal`` when both differences are within the tolerance, and a sampling difference (``within
    engine spread``) when each is within the Engine's own spread over its draws; anything else is different.
    """
    from scipy.stats import spearmanr

    paired = {(r.model, r.category, r.side): r for r in runs}
    rows, failures = [], []
    for name in args.models:
        for category in args.categories:
            ours, theirs = paired[(name, category, "adapter")], paired[(name, category, "engine")]
            draws = [r for r in runs if (r.model, r.category) == (name, category)
                     and r.side.startswith("engine") and "post" not in r.side]
            d_auroc = round(theirs.metrics["image_auroc"] - ours.metrics["image_auroc"], 4) + 0.0  # no "-0"
            d_aupro = round(theirs.metrics["aupro"] - ours.metrics["aupro"], 4) + 0.0
            spreads = (_spread(draws, "image_auroc"), _spread(draws, "aupro"))
            found = verdict(d_auroc, d_aupro, spreads, args.tolerance)
            if found == "DIFFERENT":
                failures.append(f"{name}/{category}")
            scale = float(np.abs(ours.scores).max()) or 1.0
            map_corr = np.corrcoef(ours.maps.reshape(-1).astype(np.float64), theirs.maps.reshape(-1).astype(np.float64))
            rows.append([
                name, category, f"{d_auroc:+.4f}", f"{d_aupro:+.4f}", f"{spearmanr(ours.scores, theirs.scores)[0]:.4f}",
                f"{np.abs(ours.scores - theirs.scores).max() / scale:.1e}", f"{map_corr[0, 1]:.4f}",
                *("-" if x is None else f"{x:.4f}" for x in spreads), found, theirs.notes,
            ])
    return rows, failures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    version = require_anomalib()
    import torch
    from tabulate import tabulate

    from baselines.anomalib_models.memory import pin_mmap_threshold
    from harness.cards import load_card, resolve_dataset
    from harness.registry import load_target

    torch.set_num_threads(args.threads)
    pin_mmap_threshold()  # as in every harness job process; the Engine runs in this process too
    track, budget = harness_budget(args)
    card = load_card(track.default_dataset)
    root = resolve_dataset(card, args.data_root)
    print(f"anomalib {version}, torch {torch.__version__}, {args.threads} thread(s); data {root}")
    print(f"{args.backbone} {'+'.join(args.layers)} (shared random init, seed {args.seed}), {args.image_size} px, "
          f"{args.train_images or 'all'} training images, batch {args.train_batch_size} (steps) / {args.batch_size} "
          f"(forward), {args.max_steps} steps, coreset ratio {args.coreset_ratio}, Engine validation "
          f"{'on' if args.validate else 'off'}" + (", aligned (diagnostic)" if args.aligned else ""), flush=True)
    runs: list[Run] = []
    per_model = 1 + args.engine_draws + int(args.post_processed)
    total, done, input_gaps = per_model * len(args.models) * len(args.categories), 0, {}
    for category in args.categories:
        index = load_target(card.loader)(root, category)
        data = {
            "category": category,
            "engine_root": root,
            "train": track.load_train(root, card, category, budget, seed=args.seed),
            "test": track.load_test_inputs(root, card, category, budget, seed=args.seed),
            "truth": track.load_truth(root, card, category, budget, seed=args.seed),
        }
        data["train_paths"] = index[index["split"] == "train"]["image_path"].tolist()[: len(data["train"])]
        input_gaps[category] = input_difference(data, args.image_size)
        with tempfile.TemporaryDirectory() as decoded:
            if args.aligned:
                data["engine_root"] = write_decoded(data, Path(decoded))
            for name in args.models:
                for draw in range(-1, args.engine_draws + int(args.post_processed)):
                    done += 1
                    if draw < 0:
                        run = run_adapter(name, data, track, budget, args)
                    elif draw < args.engine_draws:
                        run = run_engine(name, data, track, args, draw)
                    else:
                        run = run_engine(name, data, track, args, post_processed=True)
                    runs.append(run)
                    print(f"[{done}/{total}] {name} {category} {run.side}: image AUROC "
                          f"{run.metrics['image_auroc']:.4f}, AUPRO {run.metrics['aupro']:.4f}, fit {run.fit_s:.1f} s"
                          + (f" ({run.notes})" if run.notes else ""), flush=True)
    rows = [[r.model, r.category, r.side, f"{r.metrics['image_auroc']:.4f}", f"{r.metrics['pixel_auroc']:.4f}",
             f"{r.metrics['aupro']:.4f}", f"{r.fit_s:.1f}"] for r in runs]
    print()
    print(tabulate(rows, headers=["model", "category", "side", "image AUROC", "pixel AUROC", "AUPRO", "fit s"],
                   tablefmt="github"))
    diff_rows, failures = differences(runs, args)
    print()
    print("Differences, engine - adapter. score rank corr: Spearman of the image scores; max score diff: largest "
          "|engine - adapter| image score over the adapter's largest; map corr: Pearson of all map pixels; engine "
          f"spread: max - min over {args.engine_draws} Engine draw(s).")
    headers = ["model", "category", "d image AUROC", "d AUPRO", "score rank corr", "max score diff", "map corr",
               "engine spread AUROC", "engine spread AUPRO", f"verdict (tolerance {args.tolerance})", "engine notes"]
    print(tabulate(diff_rows, headers=headers, tablefmt="github"))
    gaps = ", ".join(f"{c} {g:.2f}" for c, g in input_gaps.items())
    aligned = "; --aligned: the Engine read the adapter's pixels." if args.aligned else ""
    print(f"\nLargest difference of the default inputs (track: PIL bilinear to uint8; Engine: torchvision Resize on "
          f"floats), gray levels: {gaps}{aligned}")
    if failures:
        print(f"different beyond the tolerance {args.tolerance} and the Engine's spread: {', '.join(failures)}")
        return 1
    print(f"no difference beyond the tolerance {args.tolerance} or the Engine's own spread")
    return 0


if __name__ == "__main__":
    sys.exit(main())
