"""Predict throughput of each anomaly method against its backbone's forward pass alone.

For every method: fit on one category of the embedded data under a budget, then time
``predict`` on ``--n-images`` decoded test images (the runner's data path: one uint8 batch),
and time the budget's backbone alone (timm, forward to the budget's deepest layer) on the same
images at the same size and batch size. Prints one table: images per second of each, and the
ratio (the target on a GPU is at least 10%).

Usage: python benchmarks/anomaly_throughput.py [--device cuda] [--budget default] [--n-images 256]
       [--set image_size=256 ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

from harness.api import Context
from harness.cards import load_card, resolve_dataset
from harness.cli._base import parse_overrides
from harness.registry import method_config, methods, methods_of, tracks


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def backbone_images_per_s(budget, images: np.ndarray, device: str, repeats: int) -> float:
    """Forward-only throughput of the budget's backbone up to its deepest layer."""
    import timm
    import torch

    layer_index = {"layer1": 1, "layer2": 2, "layer3": 3, "layer4": 4}
    out_indices = tuple(layer_index[name] for name in budget.layers)
    model = timm.create_model(budget.backbone, pretrained=False, features_only=True, out_indices=out_indices)
    model = model.eval().to(device)
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            for first in range(0, len(images), budget.batch_size):
                batch = torch.from_numpy(images[first : first + budget.batch_size]).to(device)
                batch = (batch.permute(0, 3, 1, 2).float() / 255 - mean) / std
                model(batch)
            _sync(device)
            times.append(time.perf_counter() - start)
    return len(images) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--budget", default="default")
    parser.add_argument("--subset", default="nut")
    parser.add_argument("--methods", default="", help="comma-separated; default every anomaly method")
    parser.add_argument("--n-images", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one budget field, as `parbench run --set` (e.g. --set image_size=256)")
    args = parser.parse_args()
    track = tracks.get("anomaly")()
    budget = track.budget(args.budget, **{**parse_overrides(args.overrides), "device": args.device})
    card = load_card(track.default_dataset)
    root = resolve_dataset(card, args.data_root)
    train = track.load_train(root, card, args.subset, budget)
    test = track.load_test_inputs(root, card, args.subset, budget)
    reps = -(-args.n_images // len(test))
    test.images = np.concatenate([test.images] * reps)[: args.n_images]
    backbone = backbone_images_per_s(budget, test.images, args.device, args.repeats)
    names = args.methods.split(",") if args.methods else methods_of("anomaly")
    rows = []
    for name in names:
        cls = methods.get(name)
        method = cls(cls.make_config(method_config(name)))
        ctx = Context(seed=0, device=args.device, work_dir=Path("/tmp"), n_threads=2)
        start = time.perf_counter()
        method.fit(train, budget, ctx)
        fit_s = time.perf_counter() - start
        method.predict(test)  # warm-up
        times = []
        for _ in range(args.repeats):
            _sync(args.device)
            start = time.perf_counter()
            method.predict(test)
            _sync(args.device)
            times.append(time.perf_counter() - start)
        per_s = args.n_images / statistics.median(times)
        rows.append([name, f"{fit_s:.2f}", f"{per_s:.1f}", f"{backbone:.1f}", f"{per_s / backbone:.1%}"])
    print(f"device {args.device}, budget {args.budget}: {budget.backbone} at {budget.image_size} px, "
          f"batch {budget.batch_size}, {args.n_images} test images")
    headers = ["method", "fit s", "predict img/s", "backbone img/s", "predict / backbone"]
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
