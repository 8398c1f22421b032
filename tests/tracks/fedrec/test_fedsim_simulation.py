"""The federated simulator the fedrec baselines run on: vectorised client step against the per-client loop,
FedAvg weighting, private parameters kept on the clients, sampling, bytes, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fedsim_cases import one_thread, random_histories  # noqa: F401 - one_thread is an autouse fixture

from harness.metrics.ranking import hit_rate_at_k
from harness.tracks.fedrec.fedsim import (
    FedConfig,
    UpdateSums,
    accumulate_update,
    apply_fedavg,
    client_update,
    client_update_loop,
    make_model,
    pack_clients,
    round_bytes,
    sample_negatives,
    sample_round,
    simulate,
    validation_hit_rate,
)
from harness.tracks.fedrec.fedsim import simulation as simulation_module
from harness.tracks.fedrec.fedsim.scoring import candidate_scores, item_tables
from methods.plgc.model import PLGCView

SEED = 0
N_USERS, N_ITEMS, DIM = 24, 60, 6
ATOL = 2e-5


@pytest.fixture(scope="module")
def data():
    """Random histories of 3..20 items per user, validation item outside the history."""
    return random_histories(N_USERS, N_ITEMS, max_length=20, seed=SEED)


def _round(data, n_epochs=2, users=None):
    generator = torch.Generator().manual_seed(SEED)
    users = torch.arange(N_USERS) if users is None else users
    return sample_round(data.train_indptr, data.train_items, data.exclude, users, n_negatives=3,
                        n_epochs=n_epochs, generator=generator)


def test_round_samples_are_the_clients_own_positives_and_untouched_negatives(data):
    samples = _round(data)
    for p, user in enumerate(samples.users.tolist()):
        segment = slice(int(samples.indptr[p]), int(samples.indptr[p + 1]))
        items, labels = samples.items[segment], samples.labels[segment]
        history = data.train_items[data.train_indptr[user] : data.train_indptr[user + 1]]
        assert sorted(items[labels == 1].tolist()) == sorted(history.tolist())
        assert (labels == 0).sum() == 3 * len(history) and not set(items[labels == 0].tolist()) & set(history.tolist())
    excluded = torch.zeros(4, 10, dtype=torch.bool)
    excluded[:, :9] = True
    draws = sample_negatives(torch.arange(4).repeat(50), excluded, torch.Generator().manual_seed(1))
    assert draws.unique().tolist() == [9]


def test_packing_keeps_each_clients_samples_in_a_permuted_order(data):
    samples = _round(data)
    batch = pack_clients(samples, torch.arange(N_USERS), N_ITEMS)
    for b in range(N_USERS):
        segment = slice(int(samples.indptr[b]), int(samples.indptr[b + 1]))
        expected = sorted(zip(samples.items[segment].tolist(), samples.labels[segment].tolist(), strict=True))
        for epoch in range(2):
            mask = batch.sample_mask[b, epoch]
            items = batch.item_index[b][batch.samples[b, epoch][mask]]
            got = sorted(zip(items.tolist(), batch.labels[b, epoch][mask].tolist(), strict=True))
            assert got == expected
        assert batch.item_index[b][batch.item_mask[b]].unique().numel() == int(batch.item_mask[b].sum())
    alone = pack_clients(samples, torch.tensor([5]), N_ITEMS)
    n = int(alone.sample_mask[0, 0].sum())
    both = batch.item_index[5][batch.samples[5, :, :n]]
    assert torch.equal(alone.item_index[0][alone.samples[0, :, :n]], both)  # same order packed alone or not


@pytest.mark.parametrize("name", ["mf", "ncf", "pfedrec"])
@pytest.mark.parametrize("with_regulariser", [False, True], ids=["plain", "decorrelation"])
def test_vectorised_client_step_equals_the_per_client_loop(data, name, with_regulariser):
    model = make_model(name, DIM)
    generator = torch.Generator().manual_seed(SEED)
    items, dense = model.init_shared(N_ITEMS, generator)
    private_all = model.init_private(N_USERS, generator)
    batch = pack_clients(_round(data), torch.arange(N_USERS), N_ITEMS)
    b = len(batch.users)
    rows = items[batch.item_index] + 0.1 * torch.randn(b, batch.item_index.shape[1], DIM, generator=generator)
    regulariser = PLGCView().regulariser if with_regulariser else None
    dense_b = {k: v.expand(b, *v.shape).clone() for k, v in dense.items()}
    kwargs = {"batch_size": 7, "lr": 0.5, "item_lr": 5.0, "regulariser": regulariser}
    fast = client_update(model, private_all, rows, dense_b, batch.samples, batch.labels, batch.sample_mask, **kwargs)
    for c in range(b):
        n = int(batch.sample_mask[c, 0].sum())
        one = slice(c, c + 1)
        slow = client_update_loop(
            model, {k: v[one] for k, v in private_all.items()}, rows[one], {k: v[one] for k, v in dense_b.items()},
            batch.samples[one, :, :n], batch.labels[one, :, :n], batch.sample_mask[one, :, :n], **kwargs,
        )
        for k in private_all:
            torch.testing.assert_close(fast[0][k][one], slow[0][k], atol=ATOL, rtol=1e-4)
        torch.testing.assert_close(fast[1][one], slow[1], atol=ATOL, rtol=1e-4)
        for k in dense_b:
            torch.testing.assert_close(fast[2][k][one], slow[2][k], atol=ATOL, rtol=1e-4)


@pytest.mark.parametrize(("name", "with_view"), [("mf", False), ("pfedrec", True)])
def test_simulation_with_the_loop_gives_the_same_run(data, name, with_view):
    config = FedConfig(n_rounds=3, clients_per_round=15, local_epochs=2, batch_size=8, lr=0.5, item_lr=20.0)
    model = make_model(name, DIM)
    view = PLGCView() if with_view else None
    fast = simulate(model, data, config, seed=SEED, view=view, clients_per_chunk=8)
    slow = simulate(model, data, config, seed=SEED, view=view, client_step=client_update_loop, clients_per_chunk=1)
    np.testing.assert_array_equal(fast.val_hr, slow.val_hr)
    np.testing.assert_array_equal(fast.bytes_up, slow.bytes_up)
    torch.testing.assert_close(fast.final_state.items, slow.final_state.items, atol=1e-4, rtol=1e-4)
    if with_view:
        every = torch.arange(N_USERS)
        torch.testing.assert_close(item_tables(fast.final_state, every), item_tables(slow.final_state, every),
                                   atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(fast.final_state.alpha, slow.final_state.alpha, atol=1e-5, rtol=1e-5)
    again = simulate(model, data, config, seed=SEED, view=view)
    torch.testing.assert_close(again.final_state.items, fast.final_state.items, atol=1e-5, rtol=1e-5)


def test_fedavg_is_the_data_weighted_mean_of_the_clients_tables():
    global_items = torch.randn(5, 2)
    dense = {"w": torch.zeros(3)}
    uploads = [  # (rows touched, their new values, dense change, weight)
        ([0, 2], torch.randn(2, 2), torch.ones(3), 3.0),
        ([2, 4], torch.randn(2, 2), -torch.ones(3), 1.0),
    ]
    sums = UpdateSums.zeros_like(global_items, dense)
    for rows, values, dense_delta, weight in uploads:
        index = torch.tensor([rows + [0]])  # one padding row, masked
        mask = torch.tensor([[True, True, False]])
        delta = torch.cat([values - global_items[rows], torch.full((1, 2), 99.0)])[None]
        accumulate_update(sums, index, mask, delta, {"w": dense_delta[None]}, torch.tensor([weight]))
    new_items, new_dense = apply_fedavg(global_items, dense, sums)
    tables = []
    for rows, values, _, _ in uploads:  # each client's full table: the global one with its rows replaced
        table = global_items.clone()
        table[rows] = values
        tables.append(table)
    expected = (3.0 * tables[0] + 1.0 * tables[1]) / 4.0
    torch.testing.assert_close(new_items, expected)
    torch.testing.assert_close(new_dense["w"], torch.full((3,), 0.5))


def test_private_parameters_never_reach_the_server(data, monkeypatch):
    seen = []
    original = simulation_module.accumulate_update

    def spy(sums, item_index, item_mask, item_delta, dense_delta, weights):
        seen.append((item_delta.shape, set(dense_delta), weights.clone()))
        original(sums, item_index, item_mask, item_delta, dense_delta, weights)

    monkeypatch.setattr(simulation_module, "accumulate_update", spy)
    model = make_model("ncf", DIM)
    config = FedConfig(n_rounds=1, clients_per_round=10, batch_size=8, lr=0.5, item_lr=20.0)
    result = simulate(model, data, config, seed=SEED, clients_per_chunk=4)
    dense_names = set(model.init_shared(N_ITEMS, torch.Generator())[1])
    assert seen and all(names == dense_names and shape[-1] == DIM for shape, names, _ in seen)
    assert sum(len(w) for *_, w in seen) == 10
    generator = torch.Generator().manual_seed(SEED)
    model.init_shared(N_ITEMS, generator)  # the draw order of simulate: shared, then private
    initial = model.init_private(N_USERS, generator)["user"]
    changed = (result.final_state.private["user"] != initial).any(1)
    assert int(changed.sum()) == 10  # only the round's participants trained their private rows


def test_validation_hit_rate_equals_the_ranking_metric_with_ties(data):
    model = make_model("mf", DIM)
    config = FedConfig(n_rounds=1, batch_size=8, lr=0.5, item_lr=20.0)
    state = simulate(model, data, config, seed=SEED).final_state
    state.items[data.val_candidates[:4, 0]] = state.items[data.val_candidates[:4, 1]]  # ties with a negative
    scores = candidate_scores(model, state, data.val_candidates).numpy()
    relevance = np.zeros(scores.shape, dtype=bool)
    relevance[:, 0] = True
    for k in (1, 3, 10):
        assert validation_hit_rate(model, state, data, k=k) == pytest.approx(hit_rate_at_k(scores, relevance, k=k))


def test_bytes_of_a_round():
    up, down = round_bytes(n_participants=3, n_uploaded_rows=10, n_items=100, dim=8, n_dense=5)
    assert up == 10 * (8 * 4 + 8) + 3 * 5 * 4 and down == 3 * (100 * 8 + 5) * 4


def test_batches_of_clients_respect_both_limits_and_cover_everyone():
    sizes = torch.tensor([5, 300, 40, 41, 7, 1000, 6, 39])
    chunks = simulation_module._chunks(sizes, 3, 200)
    assert sorted(torch.cat(chunks).tolist()) == list(range(8))
    assert [sizes[c].tolist() for c in chunks] == [[5, 6, 7], [39, 40, 41], [300], [1000]]
    assert [c.tolist() for c in simulation_module._chunks(sizes, 1, 0)] == [[i] for i in torch.argsort(sizes).tolist()]


@pytest.mark.parametrize("name", ["mf", "pfedrec"])
def test_closed_form_vjp_equals_autograd(name):
    model = make_model(name, 6)
    generator = torch.Generator().manual_seed(3)
    private = {k: v[:4].clone().requires_grad_(True) for k, v in model.init_private(9, generator).items()}
    if name == "pfedrec":
        private["bias"] = torch.randn(4, generator=generator).requires_grad_(True)
    item_emb = torch.randn(4, 5, 6, generator=generator).requires_grad_(True)
    grad = torch.randn(4, 5, generator=generator)
    grad[1, 3:] = 0.0  # padding
    d_private, d_items, d_dense = model.logit_vjp(private, item_emb, {}, grad)
    (model.logits(private, item_emb, {}) * grad).sum().backward()
    torch.testing.assert_close(d_items, item_emb.grad)
    for key, value in private.items():
        torch.testing.assert_close(d_private[key], value.grad, msg=key)
    assert d_dense == {}


def test_per_sample_bce_equals_torchs_on_random_logits_with_ties():
    from harness.tracks.fedrec.fedsim.client import _bce_with_logits  # noqa: PLC0415 - private helper

    generator = torch.Generator().manual_seed(4)
    logits = torch.cat([torch.randn(500, generator=generator) * 8, torch.tensor([0.0, 0.0, 40.0, -40.0, 90.0, -90.0])])
    logits[100:200] = logits[0]  # ties
    labels = (torch.rand(len(logits), generator=generator) > 0.5).float()
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits.double(), labels.double(), reduction="none")
    torch.testing.assert_close(_bce_with_logits(logits, labels).double(), expected, atol=1e-6, rtol=1e-5)
