"""Speed of PatchCore's greedy coreset: anomalib's ``KCenterGreedy`` against the buffered sampler, side by side.

Both samplers run in one process on the same memory bank, with glibc's mmap threshold pinned as in every harness
job (:mod:`baselines.anomalib_models.memory`), one torch thread, torch's and numpy's generators seeded alike
before each run. The bank is the one the anomaly track's ``default`` budget builds per category: 20 training
images, ResNet-18 ``layer1`` + ``layer2`` (64 + 128 = 192 channels) on a grid of ``image_size / 4`` squared
patches, coreset ratio 0.1; its values are random normal (the selection's cost does not depend on them).

Prints one table: per image size, the bank's size, the seconds of each sampler (median over ``--repeats``),
the ratio, and whether the selected indices are equal (they must be: the same float operations in the same
order), with the load average of the machine (timings on a shared machine vary with it).

Usage: python benchmarks/patchcore_coreset.py [--sizes 96,128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time

import numpy as np
import torch
from anomalib.models.components import KCenterGreedy
from tabulate import tabulate

from baselines.anomalib_models.memory import pin_mmap_threshold
from baselines.anomalib_models.patchcore.coreset import BufferedKCenterGreedy

N_TRAIN, N_CHANNELS, STRIDE, RATIO = 20, 192, 4, 0.1


def _run(sampler_cls: type, bank: torch.Tensor, seed: int) -> tuple[float, list[int]]:
    torch.manual_seed(seed)
    np.random.seed(seed)
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # anomalib's progress bar per centre
        chosen = sampler_cls(embedding=bank, sampling_ratio=RATIO).select_coreset_idxs()
    return time.perf_counter() - start, chosen


def main() -> None:
    """Parse the arguments and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="96,128", help="image sizes, comma-separated (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each sampler (default: %(default)s)")
    args = parser.parse_args()
    pin_mmap_threshold()
    torch.set_num_threads(1)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        n_patches = N_TRAIN * (size // STRIDE) ** 2
        bank = torch.randn(n_patches, N_CHANNELS, generator=torch.Generator().manual_seed(size))
        times: dict[str, list[float]] = {"anomalib": [], "buffered": []}
        same = True
        for repeat in range(args.repeats):
            t_ref, ref = _run(KCenterGreedy, bank, repeat)
            t_new, new = _run(BufferedKCenterGreedy, bank, repeat)
            times["anomalib"].append(t_ref)
            times["buffered"].append(t_new)
            same &= ref == new
        ref_s, new_s = statistics.median(times["anomalib"]), statistics.median(times["buffered"])
        rows.append([size, n_patches, int(n_patches * RATIO), f"{ref_s:.2f}", f"{new_s:.2f}", f"{ref_s / new_s:.1f}x",
                     "yes" if same else "NO"])
    print(tabulate(rows, headers=["image px", "patches", "centres", "anomalib s", "buffered s", "speed-up",
                                  "same centres"], tablefmt="github"))
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; one torch thread, median of "
          f"{args.repeats}, mmap threshold pinned as in a job")


if __name__ == "__main__":
    main()
