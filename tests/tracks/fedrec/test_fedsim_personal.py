"""Personal item tables stored as own rows over downloaded versions, against dense (n_users, n_items, dim) tables."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fedsim_cases import one_thread, random_histories  # noqa: F401 - one_thread is an autouse fixture

from harness.tracks.fedrec.fedsim import FedConfig, PersonalTables, compiled, item_tables, make_model, simulate
from harness.tracks.fedrec.fedsim import simulation as simulation_module
from methods.plgc.model import PLGCView

SEED = 0
N_USERS, N_ITEMS, DIM = 20, 50, 4


class DenseTables:
    """Every client's table held whole: what the simulator kept before :class:`PersonalTables` (the reference)."""

    def __init__(self, dense: torch.Tensor) -> None:
        self.dense = dense

    @classmethod
    def start(cls, n_users: int, table: torch.Tensor) -> DenseTables:
        return cls(table.expand(n_users, *table.shape).clone())

    def clone(self) -> DenseTables:
        return DenseTables(self.dense.clone())

    def gather(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        return self.dense[users].clone() if items is None else self.dense[users[:, None], items]

    def replace(self, users, table, row_indptr, row_items, rows, *, version):  # noqa: ARG002 - same signature
        self.dense[users] = table
        for p, user in enumerate(users.tolist()):
            segment = slice(int(row_indptr[p]), int(row_indptr[p + 1]))
            self.dense[user, row_items[segment]] = rows[segment]


def _random_round(rng: np.random.Generator, n_users: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Some users in a random order, each with distinct random items (some none), as (users, row_indptr, items)."""
    users = rng.permutation(n_users)[: rng.integers(1, n_users + 1)]
    counts = rng.integers(0, 12, size=len(users))
    items = np.concatenate([rng.choice(N_ITEMS, size=c, replace=False) for c in counts])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return torch.as_tensor(users), torch.as_tensor(indptr), torch.as_tensor(items, dtype=torch.int64)


def test_tables_read_as_the_dense_tables_through_many_rounds():
    rng = np.random.default_rng(SEED)
    start = torch.as_tensor(rng.standard_normal((N_ITEMS, DIM)), dtype=torch.float32)
    sparse, dense = PersonalTables.start(N_USERS, start), DenseTables.start(N_USERS, start)
    snapshots = []
    for version in range(1, 9):
        table = torch.as_tensor(rng.standard_normal((N_ITEMS, DIM)), dtype=torch.float32)
        users, indptr, items = _random_round(rng, N_USERS)
        rows = torch.as_tensor(rng.standard_normal((len(items), DIM)), dtype=torch.float32)
        sparse.replace(users, table, indptr, items, rows, version=version)
        dense.replace(users, table, indptr, items, rows, version=version)
        snapshots.append((sparse.clone(), dense.clone()))
        every = torch.arange(N_USERS)
        assert torch.equal(sparse.gather(every), dense.gather(every))
        asked = torch.as_tensor(rng.permutation(N_USERS)[:7])
        wanted = torch.as_tensor(rng.integers(0, N_ITEMS, size=(7, 30)))  # repeated items: ties in the search
        assert torch.equal(sparse.gather(asked, wanted), dense.gather(asked, wanted))
        assert set(sparse.versions) == set(sparse.base.unique().tolist())  # tables no client uses are freed
    for old_sparse, old_dense in snapshots:  # a snapshot does not move with later rounds
        assert torch.equal(old_sparse.gather(torch.arange(N_USERS)), old_dense.gather(torch.arange(N_USERS)))


def test_a_version_id_names_one_table():
    tables = PersonalTables.start(3, torch.zeros(N_ITEMS, DIM))
    with pytest.raises(ValueError, match="version 0"):
        tables.replace(torch.tensor([1]), torch.ones(N_ITEMS, DIM), torch.tensor([0, 0]),
                       torch.zeros(0, dtype=torch.int64), torch.zeros(0, DIM), version=0)


def test_memory_grows_with_the_sampled_rows_not_with_users_times_items():
    n_users, n_items = 400, 5000
    tables = PersonalTables.start(n_users, torch.zeros(n_items, DIM))
    counts = torch.full((n_users,), 20)
    indptr = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(counts, 0)])
    items = torch.arange(20).repeat(n_users)
    tables.replace(torch.arange(n_users), torch.ones(n_items, DIM), indptr, items, torch.ones(20 * n_users, DIM),
                   version=1)
    assert len(tables.versions) == 1
    dense_bytes = n_users * n_items * DIM * 4
    own_bytes = 20 * n_users * (DIM * 4 + 8)
    assert tables.nbytes <= own_bytes + n_items * DIM * 4 + 16 * (n_users + 1)
    assert tables.nbytes < dense_bytes / 20


CASES = {  # name: (model, view, engine, clients per round)
    "pfedrec-compiled-all": ("pfedrec", None, "compiled", 0),
    "pfedrec-compiled-sampled": ("pfedrec", None, "compiled", 12),
    "pfedrec-batched-sampled": ("pfedrec", None, "batched", 12),
    "fedmf-plgc": ("mf", PLGCView(), "auto", 12),
    "fedmf-plgc-fixed-weight": ("mf", PLGCView("fixed", 0.5, 1.0), "auto", 0),
    "fedmf-plgc-no-decorr": ("mf", PLGCView("ntk", 0.5, 0.0), "auto", 12),
    "fedncf-plgc": ("ncf", PLGCView(), "auto", 12),
    "pfedrec-plgc": ("pfedrec", PLGCView(), "auto", 12),
}


@pytest.mark.parametrize("case", list(CASES))
def test_runs_are_those_of_dense_tables(case, monkeypatch):
    name, view, engine, per_round = CASES[case]
    if engine == "compiled" and not compiled.is_available():
        pytest.skip("the compiled client step needs numba")
    data = random_histories(N_USERS, N_ITEMS, max_length=18, seed=SEED + 3)
    config = FedConfig(n_rounds=4, clients_per_round=per_round, local_epochs=2, batch_size=8, lr=0.5, item_lr=20.0)
    model = make_model(name, DIM)
    sparse = simulate(model, data, config, seed=SEED, view=view, engine=engine)
    monkeypatch.setattr(simulation_module, "PersonalTables", DenseTables)
    dense = simulate(model, data, config, seed=SEED, view=view, engine=engine)
    assert isinstance(dense.final_state.personal, DenseTables)
    assert isinstance(sparse.final_state.personal, PersonalTables)
    np.testing.assert_array_equal(sparse.val_hr, dense.val_hr)
    np.testing.assert_array_equal(sparse.train_loss, dense.train_loss)
    every = torch.arange(N_USERS)
    for which in ("best_state", "final_state"):
        got, want = getattr(sparse, which), getattr(dense, which)
        assert torch.equal(item_tables(got, every), item_tables(want, every)), which
    if per_round:  # clients that sat out rounds still read the table of the round they last took part in
        assert len(sparse.final_state.personal.versions) > 1
