"""The compiled client step (FedMF, PFedRec): the same runs as the batched tensor step and the per-client loop,
independent of the thread count, its sample order, its refusals, and how ``simulate`` picks an engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fedsim_cases import one_thread, random_histories  # noqa: F401 - one_thread is an autouse fixture

from harness.tracks.fedrec.fedsim import (
    FedConfig,
    client_update_loop,
    compiled,
    item_tables,
    layout_round,
    make_model,
    pack_clients,
    sample_round,
    simulate,
)
from methods.plgc.model import PLGCView

pytest.importorskip("numba")
from harness.tracks.fedrec.fedsim import _kernels  # noqa: E402 - needs numba

SEED = 0
N_USERS, N_ITEMS, DIM = 30, 50, 6


@pytest.fixture(scope="module")
def data():
    """Random histories of 3..25 items per user (some users draw an item twice as a negative)."""
    return random_histories(N_USERS, N_ITEMS, max_length=25, seed=SEED + 1)


CONFIG = FedConfig(n_rounds=3, clients_per_round=20, local_epochs=2, batch_size=8, n_negatives=4, lr=0.5,
                   item_lr=20.0)


@pytest.mark.parametrize("name", ["mf", "pfedrec"])
def test_compiled_run_equals_the_batched_run_and_the_per_client_loop(data, name):
    model = make_model(name, DIM)
    fast = simulate(model, data, CONFIG, seed=SEED, engine="compiled")
    batched = simulate(model, data, CONFIG, seed=SEED, engine="batched")
    loop = simulate(model, data, CONFIG, seed=SEED, client_step=client_update_loop, clients_per_chunk=1)
    assert (fast.extra["engine"], batched.extra["engine"], loop.extra["engine"]) == ("compiled", "batched", "batched")
    for other in (batched, loop):
        np.testing.assert_array_equal(fast.val_hr, other.val_hr)
        np.testing.assert_array_equal(fast.bytes_up, other.bytes_up)
        np.testing.assert_allclose(fast.train_loss, other.train_loss, rtol=1e-5)
        torch.testing.assert_close(fast.final_state.items, other.final_state.items, atol=1e-4, rtol=1e-4)
        for key, value in fast.final_state.private.items():
            torch.testing.assert_close(value, other.final_state.private[key], atol=1e-4, rtol=1e-4, msg=key)
        if name == "pfedrec":
            every = torch.arange(N_USERS)
            torch.testing.assert_close(item_tables(fast.final_state, every), item_tables(other.final_state, every),
                                       atol=1e-4, rtol=1e-4)
    initial = make_model(name, DIM).init_private(N_USERS, _after_shared(model))
    untouched = ~torch.isin(torch.arange(N_USERS), _participants_of_every_round(data))
    for key, value in fast.final_state.private.items():  # who never took part keeps its initial parameters
        torch.testing.assert_close(value[untouched], initial[key][untouched], atol=0, rtol=0)


def _after_shared(model):
    generator = torch.Generator().manual_seed(SEED)
    model.init_shared(N_ITEMS, generator)  # simulate's draw order: shared, then private
    return generator


def _participants_of_every_round(data):
    from harness.tracks.fedrec.fedsim.simulation import _participants, _round_generator  # noqa: PLC0415 - private helpers

    return torch.cat([_participants(data.n_users, CONFIG.clients_per_round, _round_generator(SEED, r))
                      for r in range(CONFIG.n_rounds)]).unique()


def _samples(data, n_epochs=2):
    generator = torch.Generator().manual_seed(SEED)
    return sample_round(data.train_indptr, data.train_items, data.exclude, torch.arange(N_USERS), n_negatives=4,
                        n_epochs=n_epochs, generator=generator)


@pytest.mark.parametrize("name", ["mf", "pfedrec"])
def test_compiled_step_does_not_depend_on_the_number_of_threads(data, name):
    model = make_model(name, DIM)
    generator = torch.Generator().manual_seed(SEED)
    items, _ = model.init_shared(N_ITEMS, generator)
    private = model.init_private(N_USERS, generator)
    samples = _samples(data)
    outputs = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        own = {k: v.clone() for k, v in private.items()}
        upload, losses, n_rows, personal = compiled.round_update(model, own, items, samples, batch_size=8, lr=0.5,
                                                                 item_lr=20.0, keep_personal=True)
        outputs.append((upload, losses, n_rows, own, personal))
    (up1, loss1, rows1, own1, personal1), (up2, loss2, rows2, own2, personal2) = outputs
    assert rows1 == rows2 == sum(len(set(s.tolist())) for s in _client_items(samples))
    assert torch.equal(up1, up2) and torch.equal(loss1, loss2)
    assert all(torch.equal(a, b) for a, b in zip(personal1, personal2, strict=True))
    row_indptr, row_items, _ = personal1
    for p, items_of_p in enumerate(_client_items(samples)):  # each participant's distinct items, ascending
        assert row_items[row_indptr[p] : row_indptr[p + 1]].tolist() == sorted(set(items_of_p.tolist()))
    assert all(torch.equal(own1[k], own2[k]) for k in own1)


def _client_items(samples):
    return [samples.items[int(samples.indptr[p]) : int(samples.indptr[p + 1])] for p in range(len(samples.users))]


def test_epoch_order_is_the_stable_ascending_key_order_of_the_batched_layout(data):
    samples = _samples(data, n_epochs=3)
    keys = samples.keys.clone()
    keys[:, 1::3] = keys[:, ::3][:, : keys[:, 1::3].shape[1]]  # many ties, resolved by position
    samples = type(samples)(samples.users, samples.indptr, samples.items, samples.labels, keys, samples.n_positives)
    layout = layout_round(samples, N_ITEMS)
    n = int(samples.indptr[-1])
    order, scratch, digits = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    buckets = np.zeros(256, np.int64)
    for epoch in range(3):
        for p in range(N_USERS):
            first, size = int(samples.indptr[p]), int(samples.indptr[p + 1] - samples.indptr[p])
            assert _kernels._epoch_order(keys[epoch].numpy(), first, size, order, scratch, digits, buckets)
            expected = first + np.argsort(keys[epoch, first : first + size].numpy(), kind="stable")
            np.testing.assert_array_equal(order[:size], expected)
            np.testing.assert_array_equal(layout.order[epoch, first : first + size].numpy(), expected)


def test_keys_that_are_not_uniform_draws_are_refused(data):
    samples = _samples(data)
    odd = type(samples)(samples.users, samples.indptr, samples.items, samples.labels, samples.keys / 3,
                        samples.n_positives)
    model = make_model("mf", DIM)
    generator = torch.Generator().manual_seed(SEED)
    items, _ = model.init_shared(N_ITEMS, generator)
    with pytest.raises(ValueError, match="sample_round"):
        compiled.round_update(model, model.init_private(N_USERS, generator), items, odd, batch_size=8, lr=0.5,
                              item_lr=20.0)
    batch = pack_clients(odd, torch.arange(N_USERS), N_ITEMS)  # the batched layout sorts any keys
    for p in range(N_USERS):
        first, size = int(odd.indptr[p]), int(odd.indptr[p + 1] - odd.indptr[p])
        expected = odd.items[first + torch.argsort(odd.keys[0, first : first + size], stable=True)]
        assert torch.equal(batch.item_index[p][batch.samples[p, 0, :size]], expected)


def test_simulate_picks_the_compiled_step_where_it_applies(data, monkeypatch):
    config = FedConfig(n_rounds=1, clients_per_round=5, batch_size=8)
    assert simulate(make_model("mf", DIM), data, config, seed=SEED).extra["engine"] == "compiled"
    assert simulate(make_model("ncf", DIM), data, config, seed=SEED).extra["engine"] == "batched"
    assert simulate(make_model("pfedrec", DIM), data, config, seed=SEED, view=PLGCView()).extra["engine"] == "batched"
    assert simulate(make_model("mf", DIM), data, config, seed=SEED, clients_per_chunk=4).extra["engine"] == "batched"
    with pytest.raises(ValueError, match="FedMF and PFedRec"):
        simulate(make_model("ncf", DIM), data, config, seed=SEED, engine="compiled")
    with pytest.raises(ValueError, match="FedMF and PFedRec"):
        simulate(make_model("mf", DIM), data, config, seed=SEED, view=PLGCView(), engine="compiled")
    with pytest.raises(ValueError, match="unknown"):
        simulate(make_model("mf", DIM), data, config, seed=SEED, engine="fast")
    with pytest.raises(TypeError, match="NeuralCF"):
        compiled.round_update(make_model("ncf", DIM), {}, torch.zeros(N_ITEMS, DIM), _samples(data), batch_size=8,
                              lr=0.1, item_lr=1.0)
    monkeypatch.setattr(compiled, "is_available", lambda: False)  # without numba: batched, and a clear refusal
    assert simulate(make_model("mf", DIM), data, config, seed=SEED).extra["engine"] == "batched"
    with pytest.raises(RuntimeError, match="numba"):
        simulate(make_model("mf", DIM), data, config, seed=SEED, engine="compiled")


def test_samples_the_kernel_would_read_out_of_bounds_with_are_refused(data):
    samples = _samples(data)
    model = make_model("mf", DIM)
    generator = torch.Generator().manual_seed(SEED)
    items, _ = model.init_shared(N_ITEMS, generator)
    private = model.init_private(N_USERS, generator)
    bad_item = samples.items.clone()
    bad_item[3] = N_ITEMS
    bad_user = samples.users.clone()
    bad_user[-1] = N_USERS
    for broken, message in [
        (type(samples)(samples.users, samples.indptr, bad_item, samples.labels, samples.keys, samples.n_positives),
         "an item lies outside"),
        (type(samples)(bad_user, samples.indptr, samples.items, samples.labels, samples.keys, samples.n_positives),
         "a participant lies outside"),
        (type(samples)(samples.users, samples.indptr[:-1], samples.items, samples.labels, samples.keys,
                       samples.n_positives), "indptr"),
    ]:
        with pytest.raises(ValueError, match=message):
            compiled.round_update(model, private, items, broken, batch_size=8, lr=0.5, item_lr=20.0)


def test_harness_loads_numba_only_when_the_compiled_step_runs():
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = ("import sys, harness.tracks.fedrec.fedsim, harness.tracks.fedrec; "
            "assert 'numba' not in sys.modules, 'numba loaded on import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_warm_up_compiles_the_kernel_the_round_uses(data):
    compiled.warm_up()
    assert _kernels._train_participants.signatures  # compiled or loaded from the cache
    before = len(_kernels._train_participants.signatures)
    simulate(make_model("pfedrec", DIM), data, FedConfig(n_rounds=1, batch_size=8), seed=SEED)
    simulate(make_model("mf", DIM), data, FedConfig(n_rounds=1, batch_size=8), seed=SEED)
    assert len(_kernels._train_participants.signatures) == before  # no second compilation in a job
