"""Peak memory and seconds per round of every federated fedrec method against the size of the data (users x items).

Each (dataset, method) runs in a fresh process: the method's ``fit`` for ``--rounds`` rounds of the ``default``
budget (every client each round, dim 32), then its ``predict`` (sampled and full-ranking scores, item tables), as a
job runs them. The table gives the process's peak resident memory (``ru_maxrss``: Python, torch, the data, the run
and the predictions), the memory of the personal item tables at the end (methods with one: PFedRec and PLGC), what
dense per-client tables (users x items x dim float32) would take, and seconds per round. The ``default`` budget
allows 4096 MiB per job.

Datasets:

- ``ml100k_size``: the ML-100K-sized subset of the synthetic default (943 x 1682);
- ``ml1m_size``: a synthetic set the size of MovieLens-1M (6,040 users, 3,706 items, about 1M ratings, at least 20
  per user), written by the fedrec generator with the ML-1M counts; used when the real MovieLens-1M is not under
  ``--realdata``;
- ``lastfm_2k``: the real HetRec 2011 Lastfm-2K files (1,892 users, 17,632 artists) when they are under
  ``--realdata`` (``<realdata>/lastfm_2k/hetrec2011-lastfm-2k/user_artists.dat``);
- ``movielens_1m``: the real MovieLens-1M (``<realdata>/movielens_1m/ml-1m/ratings.dat``) when it is there.

Usage: python benchmarks/fedrec_memory.py [--rounds 3] [--realdata ../shared/realdata] [--methods fedmf,pfedrec]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

METHODS = ("fedmf", "fedncf", "pfedrec", "fedmf-plgc", "fedncf-plgc", "pfedrec-plgc", "popularity", "central-mf")
#: Generator parameters of the ML-1M-sized synthetic set: the ML-100K-sized preset with MovieLens-1M's counts.
ML1M_SIZE = {"n_users": 6040, "n_items": 3706, "median_activity": 96.0, "max_activity": 2314}
REPO = Path(__file__).resolve().parent.parent


def _interactions(name: str, realdata: Path, scratch: Path):
    """The interactions of a dataset of the table."""
    from harness.data.interactions import load_lastfm_2k, load_movielens_1m, load_movielens_100k
    from harness.tracks.fedrec import synth

    if name == "ml100k_size":
        synth.generate_subset(scratch / name, seed=0, params=synth.PRESETS["ml100k_size"])
        return load_movielens_100k(scratch, name)
    if name == "ml1m_size":
        synth.generate_subset(scratch / name, seed=0, params={**synth.PRESETS["ml100k_size"], **ML1M_SIZE})
        return load_movielens_100k(scratch, name)
    if name == "lastfm_2k":
        return load_lastfm_2k(realdata / "lastfm_2k", "hetrec2011-lastfm-2k")
    return load_movielens_1m(realdata / "movielens_1m", "ml-1m")


def _child(dataset: str, method_name: str, rounds: int, realdata: Path) -> dict:
    """Run one (dataset, method) in this process; return its measurements."""
    import numpy as np
    import torch

    from harness.api import Context
    from harness.registry import method_config, methods
    from harness.tracks.fedrec import FedRecInputs, FedRecTrack, FedRecTrain, embedding_users
    from harness.tracks.fedrec.split import leave_one_out

    with tempfile.TemporaryDirectory() as tmp:
        split = leave_one_out(_interactions(dataset, realdata, Path(tmp)))
    budget = FedRecTrack().budget("default", n_rounds=rounds)
    train = FedRecTrain(split.n_items, split.train_indptr, split.train_items, split.val_candidates, split.summary)
    inputs = FedRecInputs(split.test_candidates, split.n_items,
                          embedding_users(split.n_users, budget.n_embedding_users))
    method_cls = methods.get(method_name)
    method = method_cls(method_cls.make_config(method_config(method_name)))
    started = time.perf_counter()
    method.fit(train, budget, Context(seed=0))
    fit_s = time.perf_counter() - started
    method.predict(inputs)
    result = getattr(method, "result_", None)
    personal = None if result is None else result.best_state.personal
    return {
        "users": split.n_users, "items": split.n_items, "train": int(split.summary["n_train"]),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "personal_mib": None if personal is None else personal.nbytes / 2**20,
        "dense_mib": split.n_users * split.n_items * budget.embedding_dim * 4 / 2**20,
        "s_per_round": (result.seconds if result is not None else fit_s) / rounds,
        "val_hr": float(np.max(result.val_hr)) if result is not None else float("nan"),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each run (default 3)")
    parser.add_argument("--realdata", type=Path, default=REPO.parent / "shared" / "realdata",
                        help="folder of the real datasets (default ../shared/realdata)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--datasets", default="ml100k_size,ml1m_size,lastfm_2k,movielens_1m",
                        help="comma-separated datasets (real ones are skipped when absent)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], args.rounds, args.realdata)))
        return
    present = {
        "lastfm_2k": (args.realdata / "lastfm_2k" / "hetrec2011-lastfm-2k" / "user_artists.dat").is_file(),
        "movielens_1m": (args.realdata / "movielens_1m" / "ml-1m" / "ratings.dat").is_file(),
    }
    rows = []
    for dataset in args.datasets.split(","):
        if not present.get(dataset, True):
            print(f"{dataset}: not under {args.realdata}; left out", file=sys.stderr)
            continue
        for method_name in args.methods.split(","):
            command = [sys.executable, __file__, "--child", dataset, method_name, "--rounds", str(args.rounds),
                       "--realdata", str(args.realdata)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
                rows.append([dataset, method_name, "", "", "failed: " + tail[0], "", "", "", ""])
                continue
            m = json.loads(done.stdout.strip().splitlines()[-1])
            personal = "" if m["personal_mib"] is None else f"{m['personal_mib']:.1f}"
            rows.append([dataset, method_name, f"{m['users']} x {m['items']}", m["train"], f"{m['peak_mib']:.0f}",
                         personal, f"{m['dense_mib']:.0f}", f"{m['s_per_round']:.2f}", f"{m['val_hr']:.4f}"])
            print(tabulate([rows[-1]], tablefmt="plain"), file=sys.stderr, flush=True)
    headers = ["dataset", "method", "users x items", "train", "peak MiB", "personal tables MiB",
               "dense tables MiB", "s / round", f"val HR@10 ({args.rounds} rounds)"]
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
