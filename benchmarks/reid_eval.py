"""Re-ID mAP and CMC at the Market-1501 test size: the harness's ``reid_map_cmc`` against torchreid's Python loop.

3,368 queries and 15,913 gallery images by default: 751 test identities seen by 6 cameras, distractors (identity
0) and junk images (identity -1) in the gallery; random float32 embeddings of dimension 256 built around one
centre per identity (plus a camera offset and noise, so that mAP is moderate), and their float32 Euclidean
distance matrix. Both sides run in this process on the same matrix, ``--repeats`` times each, interleaved.

The reference, :func:`torchreid_eval_market1501`, is written here after torchreid's pure-Python
``torchreid.metrics.rank.eval_market1501`` (the path torchreid takes without its Cython extension): one
``argsort`` of every gallery row, then per query the removal of the gallery images of the query's identity and
camera, the cumulative sum of the matches, the CMC curve clipped at 1 and the average precision as the mean of
the precision at each match, computed element by element as torchreid does. torchreid's dataset loader drops the
junk images before evaluation, so the reference receives the gallery without them; the harness receives the
whole gallery and removes them itself. The values must agree to 1e-6 (ties in distance between a true and a false
match, which float32 distances make possible, are broken against the match by the harness and arbitrarily by
``argsort``; they move mAP by far less than that). For information a third row times the same loop with
torchreid's element-by-element precision list replaced by one numpy division, its slowest line.

Usage: python benchmarks/reid_eval.py [--queries 3368] [--gallery 15913] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from tabulate import tabulate

N_IDENTITIES = 751
N_CAMERAS = 6
DIM = 256
#: Shares of the gallery that are distractors (identity 0) and junk (identity -1), about those of Market-1501.
DISTRACTOR_SHARE, JUNK_SHARE = 0.14, 0.08
#: Scale of the identity centres against unit noise: 0.8 gives mAP about 0.47 and rank-1 about 0.79.
CENTRE_SCALE = 0.8
#: Agreement required between the two engines.
TOLERANCE = 1e-6
RANKS = (1, 5, 10)


def make_distmat(n_queries: int, n_gallery: int, seed: int = 0):
    """Float32 Euclidean distances of identity-structured embeddings, with ids and cameras of both sides."""
    rng = np.random.default_rng(seed)
    centres = CENTRE_SCALE * rng.standard_normal((N_IDENTITIES, DIM)).astype(np.float32)
    camera_offsets = 0.6 * rng.standard_normal((N_CAMERAS, DIM)).astype(np.float32)
    q_ids = rng.permutation(np.arange(n_queries) % N_IDENTITIES + 1)
    q_cams = rng.integers(0, N_CAMERAS, n_queries)
    n_distractors, n_junk = round(DISTRACTOR_SHARE * n_gallery), round(JUNK_SHARE * n_gallery)
    n_true = n_gallery - n_distractors - n_junk
    g_ids = np.concatenate([np.arange(n_true) % N_IDENTITIES + 1, np.zeros(n_distractors, dtype=np.int64),
                            np.full(n_junk, -1)])
    g_ids = g_ids[rng.permutation(n_gallery)]
    g_cams = rng.integers(0, N_CAMERAS, n_gallery)

    def embed(ids, cams):
        # Distractors and junk lie near a random identity's centre too (a wrong detection of some person).
        near = np.where(ids > 0, ids - 1, rng.integers(0, N_IDENTITIES, ids.size))
        spread = np.where(ids > 0, 1.0, 1.6).astype(np.float32)[:, None]
        noise = rng.standard_normal((ids.size, DIM), dtype=np.float32)
        return centres[near] + camera_offsets[cams] + spread * noise

    q, g = embed(q_ids, q_cams), embed(g_ids, g_cams)
    squared = (q * q).sum(1)[:, None] + (g * g).sum(1)[None] - 2 * (q @ g.T)
    distmat = np.sqrt(np.maximum(squared, 0, out=squared), out=squared).astype(np.float32, copy=False)
    return distmat, q_ids, g_ids, q_cams, g_cams


def torchreid_eval_market1501(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50, *, elementwise=True):
    """torchreid's Python ``eval_market1501``, rewritten: returns the CMC curve (float32) and mAP.

    ``elementwise=False`` replaces torchreid's element-by-element precision list by one numpy division (for
    information: the same loop without its slowest line).
    """
    n_queries, n_gallery = distmat.shape
    max_rank = min(max_rank, n_gallery)
    indices = np.argsort(distmat, axis=1)
    matches = (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int32)
    curves, average_precisions = [], []
    for q in range(n_queries):
        order = indices[q]
        removed = (g_pids[order] == q_pids[q]) & (g_camids[order] == q_camids[q])
        hits = matches[q][~removed]  # 1 at the positions of true matches in the ranked, filtered gallery
        if not np.any(hits):
            continue  # the query's identity has no image in another camera
        curve = hits.cumsum()
        curve[curve > 1] = 1
        curves.append(curve[:max_rank])
        hits_so_far = hits.cumsum()
        if elementwise:
            precision = np.asarray([n_hits / (position + 1.0) for position, n_hits in enumerate(hits_so_far)])
        else:
            precision = hits_so_far / np.arange(1.0, hits.size + 1.0)
        average_precisions.append((precision * hits).sum() / hits.sum())
    if not curves:
        raise ValueError("no query has a true match in the gallery")
    cmc = np.asarray(curves).astype(np.float32).sum(0) / float(len(curves))
    return cmc, float(np.mean(average_precisions))


def _as_metrics(reference: tuple[np.ndarray, float]) -> dict[str, float]:
    cmc, mean_ap = reference
    return {"mAP": mean_ap} | {f"rank{k}": float(cmc[k - 1]) for k in RANKS}


def _set_threads(n_threads: int) -> None:
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - a scikit-learn dependency

    threadpool_limits(n_threads)
    try:
        import numba  # noqa: PLC0415

        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=3368, help="queries (default: the Market-1501 test size)")
    parser.add_argument("--gallery", type=int, default=15913, help="gallery images, distractors and junk included")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each engine; the median is printed")
    parser.add_argument("--threads", type=int, default=1, help="threads of numpy's BLAS and of numba (default: 1)")
    args = parser.parse_args()
    _set_threads(max(1, args.threads))
    from harness.metrics import retrieval  # noqa: PLC0415 - after the thread limits

    distmat, q_ids, g_ids, q_cams, g_cams = make_distmat(args.queries, args.gallery)
    kept = g_ids != -1  # torchreid's loader drops junk images before evaluation
    reference_args = (distmat[:, kept], q_ids, g_ids[kept], q_cams, g_cams[kept])

    start = time.perf_counter()
    retrieval.reid_map_cmc(distmat[:8], q_ids[:8], g_ids, q_cams[:8], g_cams)  # compiles or loads any kernel
    warm_s = time.perf_counter() - start
    engines = {
        "harness reid_map_cmc": lambda: retrieval.reid_map_cmc(distmat, q_ids, g_ids, q_cams, g_cams, ranks=RANKS),
        "torchreid eval_market1501 (Python)": lambda: _as_metrics(torchreid_eval_market1501(*reference_args)),
        "torchreid loop, numpy precision (info)": lambda: _as_metrics(
            torchreid_eval_market1501(*reference_args, elementwise=False)
        ),
    }
    seconds = {name: [] for name in engines}
    values = {}
    for _ in range(args.repeats):  # interleaved, so that a change of load hits every engine alike
        for name, engine in engines.items():
            start = time.perf_counter()
            values[name] = engine()
            seconds[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    ours_name = next(iter(engines))
    ours, names = values[ours_name], list(values[ours_name])
    rows = [
        [name, *(f"{values[name][n]:.8f}" for n in names), f"{medians[name]:.3f}",
         f"{medians[name] / medians[ours_name]:.1f}", f"{max(abs(values[name][n] - ours[n]) for n in names):.1e}"]
        for name in engines
    ]
    n_valid = int(sum(np.any((g_ids == q) & (g_cams != c)) for q, c in zip(q_ids, q_cams, strict=True)))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{args.queries} queries x {args.gallery} gallery ({int(kept.sum())} without junk), {N_IDENTITIES} "
          f"identities, {N_CAMERAS} cameras, dim {DIM}, {n_valid} queries with a true match; "
          f"{args.threads} thread(s) of {len(os.sched_getaffinity(0))} CPU cores; seconds: median of {args.repeats} "
          f"runs; first call {warm_s:.2f} s (not counted); load average {load}")
    print(tabulate(rows, headers=["engine", *names, "seconds", "time / harness", "max |diff|"],
                   disable_numparse=True, colalign=("left", *["right"] * (len(names) + 3))))
    difference = max(abs(values[name][n] - ours[n]) for name in engines for n in names)
    print(f"largest difference to the harness {difference:.2e} (tolerance {TOLERANCE:g})")
    if difference > TOLERANCE:
        raise SystemExit("the engines disagree")


if __name__ == "__main__":
    main()
