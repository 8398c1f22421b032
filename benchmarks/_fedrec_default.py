"""The data both fedrec benchmarks run on: the ML-100K-sized subset of the synthetic MovieLens default."""

from __future__ import annotations

import tempfile
from pathlib import Path

from harness.cards import load_card, resolve_dataset
from harness.tracks.fedrec import FedRecBudget, FedRecTrack
from harness.tracks.fedrec.fedsim import FedData

SUBSET = "ml100k_size"


def default_fed_data(data_root: Path | None, n_rounds: int) -> tuple[FedRecTrack, FedRecBudget, FedData]:
    """The track, its ``default`` budget with ``n_rounds`` rounds, and the clients' data of :data:`SUBSET`.

    The data is generated under ``data_root`` (default: a temporary folder, removed once the data is loaded).
    """
    with tempfile.TemporaryDirectory() as tmp:
        card = load_card("synth_movielens")
        track = FedRecTrack()
        root = resolve_dataset(card, data_root or Path(tmp))
        track.subsets(root, card)
        budget = track.budget("default", n_rounds=n_rounds)
        return track, budget, FedData.from_train(track.load_train(root, card, SUBSET, budget))
