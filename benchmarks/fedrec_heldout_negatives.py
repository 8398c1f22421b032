"""What a held-out item drawn as a training negative costs a method that scores with a client's own item table.

The fedrec track draws training negatives outside a user's training items (budget ``training_negatives="train"``),
so a user's validation item (and, alike, its test item) is sometimes drawn as a negative in a round. A method
that scores with the table the client fine-tuned (PFedRec; PLGC's local/global mix) then pushes that item down
its own table; FedAvg dilutes the same step in the global table. This script runs FedMF, PFedRec and PLGC (on
FedMF, without the decorrelation loss) on the ML-100K-sized synthetic subset under the ``default`` budget (one
seed) and splits the validation HR@10 of the final state by whether the user drew its validation item as a
negative in the last round; for the personalised methods it also scores with the global table instead.

Usage: python benchmarks/fedrec_heldout_negatives.py [--rounds 40] [--seed 0] [--data-root PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
from _fedrec_default import default_fed_data
from tabulate import tabulate

from harness.tracks.fedrec import fed_config
from harness.tracks.fedrec.fedsim import FedData, make_model, sample_round, simulate
from harness.tracks.fedrec.fedsim.scoring import candidate_scores
from harness.tracks.fedrec.fedsim.simulation import _participants, _round_generator
from methods.plgc.model import PLGCView

#: Name -> (score model, PLGC view or None).
METHODS = {
    "fedmf": ("mf", None),
    "pfedrec": ("pfedrec", None),
    "fedmf-plgc-no-decorr": ("mf", PLGCView(decorrelation_weight=0.0)),
}


def _hits(model, state, data) -> torch.Tensor:
    scores = candidate_scores(model, state, data.val_candidates)
    return (scores[:, 1:] >= scores[:, :1]).sum(1) < 10


def _drew_validation_item(data: FedData, config, seed: int, round_index: int) -> torch.Tensor:
    """True for the users that drew their validation item as a training negative in round ``round_index``."""
    generator = _round_generator(seed, round_index)
    users = _participants(data.n_users, config.clients_per_round, generator)
    samples = sample_round(data.train_indptr, data.train_items, data.exclude, users,
                           n_negatives=config.n_negatives, n_epochs=config.local_epochs, generator=generator)
    owner = users[torch.repeat_interleave(torch.arange(len(users)), samples.indptr[1:] - samples.indptr[:-1])]
    drawn = (samples.labels == 0) & (samples.items == data.val_candidates[owner, 0])
    out = torch.zeros(data.n_users, dtype=torch.bool)
    out[owner[drawn]] = True
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="rounds of each run (default: the default budget's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the runs")
    parser.add_argument("--data-root", type=Path, default=None, help="data root (default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, budget, data = default_fed_data(args.data_root, args.rounds)
    config = fed_config(budget)
    drawn = _drew_validation_item(data, config, args.seed, config.n_rounds - 1)
    rows = []
    for name, (model_name, view) in METHODS.items():
        model = make_model(model_name, budget.embedding_dim)
        state = simulate(model, data, config, seed=args.seed, view=view).final_state
        hits = _hits(model, state, data).double()
        scored_with = "own local/global mix" if view is not None else "own table" if state.personal is not None \
            else "global table"
        row = [name, scored_with, f"{hits.mean():.3f}", f"{hits[drawn].mean():.3f}", f"{hits[~drawn].mean():.3f}"]
        rows.append(row)
        if state.personal is not None:
            shared = _hits(model, dataclasses.replace(state, personal=None, alpha=None), data).double()
            rows.append([name, "global table instead", f"{shared.mean():.3f}", f"{shared[drawn].mean():.3f}",
                         f"{shared[~drawn].mean():.3f}"])
    print(f"{data.n_users} users; {100 * drawn.double().mean():.1f}% drew their validation item as a training "
          f"negative in the last round ({config.n_rounds} rounds, seed {args.seed}); validation HR@10 of the "
          "final state:")
    print(tabulate(rows, headers=["method", "scored with", "all users", "drew it", "did not"], tablefmt="github"))


if __name__ == "__main__":
    main()
