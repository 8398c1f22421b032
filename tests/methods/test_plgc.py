"""PLGC's pieces against slow references: the NTK weight, the decorrelation loss; config and ablations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.errors import BudgetError
from harness.registry import method_config, method_kind
from harness.tracks.fedrec.fedsim import make_model
from methods.plgc import PLGC
from methods.plgc.model import (
    MIN_DECORRELATION_SAMPLES,
    VARIANCE_EPS,
    PLGCView,
    decorrelation_loss,
    ntk_alignment,
    ntk_weight,
    private_jacobian,
)

SEED = 0
N_CLIENTS, N_SAMPLES, DIM = 3, 12, 4


@pytest.fixture(autouse=True)
def _torch_seed():
    torch.manual_seed(SEED)


def _inputs(name):
    model = make_model(name, DIM)
    generator = torch.Generator().manual_seed(SEED)
    private = {k: v[:N_CLIENTS] for k, v in model.init_private(5, generator).items()}
    _, dense = model.init_shared(7, generator)
    dense = {k: v.expand(N_CLIENTS, *v.shape).clone() for k, v in dense.items()}
    emb = torch.randn(N_CLIENTS, N_SAMPLES, DIM, generator=generator)
    return model, private, emb, dense


def _slow_kernel(model, private, emb, dense, client):
    """The empirical NTK of one client, entry by entry: K[s, t] = <d f_s / d theta, d f_t / d theta>."""
    params = {k: v[client : client + 1].clone().requires_grad_() for k, v in private.items()}
    one_dense = {k: v[client : client + 1] for k, v in dense.items()}
    grads = []
    for s in range(N_SAMPLES):
        logit = model.logits(params, emb[client : client + 1, s : s + 1], one_dense)[0, 0]
        grads.append(torch.cat([g.flatten() for g in torch.autograd.grad(logit, list(params.values()))]))
    kernel = torch.tensor([[float(torch.dot(a, b)) for b in grads] for a in grads])
    return kernel, torch.stack(grads)


@pytest.mark.parametrize("name", ["mf", "ncf", "pfedrec", "ncf-autodiff"])
def test_jacobian_and_alignment_against_per_sample_autograd(name):
    model, private, emb, dense = _inputs(name.split("-")[0])
    if name.endswith("autodiff"):
        model.private_jacobian = None  # the generic forward-mode path
    labels = (torch.rand(N_CLIENTS, N_SAMPLES) < 0.3).float()
    mask = torch.ones(N_CLIENTS, N_SAMPLES, dtype=torch.bool)
    mask[2, 9:] = False  # padding is left out
    jacobian = private_jacobian(model, private, emb, dense)
    fast = ntk_alignment(jacobian, labels, mask)
    for client in range(N_CLIENTS):
        kernel, grads = _slow_kernel(model, private, emb, dense, client)
        np.testing.assert_allclose(jacobian[client].numpy(), grads.numpy(), rtol=1e-5, atol=1e-6)
        keep = mask[client].numpy()
        k = kernel.numpy()[np.ix_(keep, keep)].astype(np.float64)
        y = 2 * labels[client].numpy()[keep].astype(np.float64) - 1
        slow = y @ k @ y / (np.linalg.norm(k, "fro") * (y @ y))
        assert fast[client].item() == pytest.approx(slow, rel=1e-4, abs=1e-6), (client, fast[client].item(), slow)
        assert 0 <= fast[client].item() <= 1 + 1e-6


def test_ntk_weight_favours_the_better_aligned_table_and_handles_zeros():
    assert ntk_weight(torch.tensor([0.6, 0.0, 0.2]), torch.tensor([0.2, 0.0, 0.6])).tolist() == pytest.approx(
        [0.75, 0.5, 0.25])
    zero = torch.zeros(2, 5, 3)
    labels = torch.ones(2, 5)
    assert ntk_alignment(zero, labels, torch.ones(2, 5, dtype=torch.bool)).tolist() == [0.0, 0.0]


def _slow_decorrelation(emb, mask):
    out = []
    for z, m in zip(emb.numpy().astype(np.float64), mask.numpy(), strict=True):
        rows = z[m]
        if len(rows) < MIN_DECORRELATION_SAMPLES:
            out.append(0.0)
            continue
        centred = rows - rows.mean(0)
        std = np.sqrt((centred**2).mean(0) + VARIANCE_EPS)
        d = rows.shape[1]
        total = 0.0
        for i in range(d):
            for j in range(d):
                if i != j:
                    total += (np.mean(centred[:, i] * centred[:, j]) / (std[i] * std[j])) ** 2
        out.append(total / (d * (d - 1)))
    return np.array(out)


def test_decorrelation_loss_against_a_double_loop():
    emb = torch.randn(4, 20, 5)
    emb[1, :, 3] = emb[1, :, 0] * 2 + 0.01 * torch.randn(20)  # two dimensions nearly the same: large loss
    mask = torch.ones(4, 20, dtype=torch.bool)
    mask[2, 12:] = False
    mask[3, MIN_DECORRELATION_SAMPLES - 1 :] = False  # too few samples: no loss
    fast = decorrelation_loss(emb, mask).numpy()
    np.testing.assert_allclose(fast, _slow_decorrelation(emb, mask), rtol=1e-4, atol=1e-6)
    assert fast[3] == 0.0 and fast[1] > fast[0]
    collapsed = torch.randn(1, 30, 1).expand(1, 30, 4) * torch.tensor([1.0, -2.0, 3.0, 0.5])
    assert decorrelation_loss(collapsed, torch.ones(1, 30, dtype=torch.bool)).item() == pytest.approx(1.0, abs=1e-2)


def test_decorrelation_gradient_spreads_the_dimensions():
    emb = (torch.randn(1, 64, 1) * torch.ones(1, 1, 4) + 0.1 * torch.randn(1, 64, 4)).requires_grad_()
    mask = torch.ones(1, 64, dtype=torch.bool)
    before = decorrelation_loss(emb, mask).item()
    step = torch.autograd.grad(decorrelation_loss(emb, mask).sum(), emb)[0]
    after = decorrelation_loss((emb - 5.0 * step).detach(), mask).item()
    assert after < before


def test_fixed_weighting_and_no_regulariser():
    class Batch:
        users = torch.arange(3)

    view = PLGCView(weighting="fixed", fixed_weight=0.3, decorrelation_weight=0.0)
    assert view.weights(None, {}, None, None, {}, Batch()).tolist() == pytest.approx([0.3] * 3)
    assert view.regulariser is None and PLGCView().regulariser is not None


def test_config_is_checked_and_ablations_are_registered():
    budget = type("B", (), {"embedding_dim": 4})()
    with pytest.raises(BudgetError, match="base must be one of fedmf, fedncf, pfedrec; got 'bpr'"):
        PLGC(PLGC.make_config({"base": "bpr"})).build_model(budget)
    with pytest.raises(BudgetError, match="weighting must be one of ntk, fixed"):
        PLGC(PLGC.make_config({"weighting": "learned"})).make_view(budget)
    assert PLGC(PLGC.make_config({"base": "fedncf"})).build_model(budget).update_groups[0] == (
        "private", "items", "dense")
    assert method_config("fedmf-plgc-fixed-weight") == {"base": "fedmf", "weighting": "fixed"}
    assert method_config("fedmf-plgc-no-decorr") == {"base": "fedmf", "decorrelation_weight": 0.0}
    assert {method_kind(n) for n in ("fedmf-plgc", "fedncf-plgc", "pfedrec-plgc")} == {"method"}
