"""Pseudo-pair self-similarity learning: pair selection, memories, intra/inter modules, a tiny fit."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from harness.api import Context
from harness.registry import METHODS, load_target
from harness.tracks.reid.track import ReidTest, ReidTrack, ReidTrain
from methods.pseudo_pair.method import (
    cluster_positives,
    largest_drop_partners,
    mutual_partners,
    pair_batches,
    positives_matrix,
    pseudo_pairs,
    top_similarities,
)
from methods.pseudo_pair.modules import (
    InstanceMemory,
    InterSimilarity,
    IntraSimilarity,
    diversity_loss,
    part_pool,
    positive_blocks,
)

NAMES = ("pseudo-pair", "pseudo-pair-no-inter", "pseudo-pair-no-intra", "pseudo-pair-clusters")


def _grouped_features(sizes: tuple[int, ...], noise: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit features of groups around orthogonal centres, and each row's group."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    centres = np.eye(16)[: len(sizes)]
    feats = centres[groups] + noise * rng.standard_normal((len(groups), 16))
    return feats / np.linalg.norm(feats, axis=1, keepdims=True), groups


def test_top_similarities_match_a_brute_force_sort():
    feats, _ = _grouped_features((3, 4, 5), noise=0.3)
    indices, sims = top_similarities(feats, 5, block=4)
    full = feats @ feats.T
    np.fill_diagonal(full, -np.inf)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :5]
    np.testing.assert_allclose(sims, np.take_along_axis(full, expected, axis=1), rtol=1e-5)
    assert not (indices == np.arange(len(feats))[:, None]).any()


def test_the_cut_falls_at_the_steepest_drop_of_the_sorted_curve():
    indices = np.array([[5, 6, 7, 8, 9], [1, 2, 3, 4, 0]])
    sims = np.array([[0.9, 0.88, 0.5, 0.45, 0.3], [0.9, 0.8, 0.75, 0.3, 0.29]])
    partners = largest_drop_partners(indices, sims)
    assert partners[0].tolist() == [5, 6]
    assert partners[1].tolist() == [1, 2, 3]


def test_pseudo_pairs_recover_constructed_groups():
    sizes = (3, 4, 5, 2)
    feats, groups = _grouped_features(sizes)
    partners = pseudo_pairs(feats, top_k=8)
    for i, found in enumerate(partners):
        assert sorted(found.tolist()) == [j for j in np.flatnonzero(groups == groups[i]) if j != i]


def test_mutual_filter_keeps_reciprocal_partners_only():
    partners = [np.array([1, 2]), np.array([0]), np.array([1]), np.array([3])]
    kept = mutual_partners(partners)
    assert [k.tolist() for k in kept] == [[1], [0], [], []]


def test_positives_include_self_and_cluster_mates_but_not_outliers():
    partners = cluster_positives(np.array([0, 1, 0, -1, 1, 0]))
    assert [p.tolist() for p in partners] == [[2, 5], [4], [0, 5], [], [1], [0, 2]]
    dense = positives_matrix(partners).toarray()
    assert dense.diagonal().all() and dense.sum() == 6 + 8
    assert (dense == dense.T).all()


def test_pair_batches_put_a_partner_after_each_anchor():
    partners = [np.array([1]), np.array([0]), np.zeros(0, dtype=np.int64), np.array([4]), np.array([3])]
    positives = positives_matrix(partners)
    out = pair_batches(positives, 4, np.random.default_rng(0))
    assert sum(len(b) for b in out) == 2 * 3  # ceil(5 / 2) anchors, each with a partner
    dense = positives.toarray()
    for rows in out:
        half = len(rows) // 2
        for a, b in zip(rows[:half], rows[half:], strict=True):
            assert dense[a, b] and (a != b or a == 2)


def test_positive_blocks_pair_each_block_with_the_same_block_of_positives():
    pos = torch.tensor([[True, False, True], [False, True, False]])
    blocks = positive_blocks(pos, 2)
    assert blocks.shape == (4, 6)
    assert torch.nonzero(blocks[0]).flatten().tolist() == [0, 4]  # image 0 part 0: (0, 0) and (2, 0)
    assert torch.nonzero(blocks[1]).flatten().tolist() == [1, 5]
    assert torch.nonzero(blocks[3]).flatten().tolist() == [3]


def test_memory_loss_is_cross_entropy_and_survives_its_own_update():
    torch.manual_seed(0)
    memory = InstanceMemory(torch.randn(6, 4), temperature=0.1, momentum=0.5)
    feats = torch.randn(3, 4, requires_grad=True)
    labels = torch.tensor([0, 3, 5])
    positives = F.one_hot(labels, 6).bool()
    loss = memory.loss(feats, positives)
    expected = F.cross_entropy(F.normalize(feats, dim=1) @ memory.vectors.T / 0.1, labels)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    before = memory.vectors.clone()
    memory.update(feats, labels)
    loss.backward()  # the update replaced the buffer instead of writing into the one the graph holds
    assert feats.grad is not None and torch.isfinite(feats.grad).all()
    assert torch.equal(memory.vectors[1], before[1])
    assert torch.allclose(memory.vectors.norm(dim=1), torch.ones(6))


def test_memory_update_averages_repeated_rows():
    memory = InstanceMemory(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), temperature=0.1, momentum=0.0)
    memory.update(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([0, 0]))
    assert torch.allclose(memory.vectors[0], torch.tensor([1.0, 1.0]) / 2**0.5)


def test_multi_positive_loss_averages_the_positives_log_probabilities():
    memory = InstanceMemory(torch.eye(3), temperature=1.0, momentum=0.0)
    feats = torch.tensor([[1.0, 1.0, 0.0]])
    loss = memory.loss(feats, torch.tensor([[True, True, False]]))
    log_prob = F.log_softmax(F.normalize(feats, dim=1) @ torch.eye(3), dim=1)
    assert float(loss) == pytest.approx(float(-(log_prob[0, 0] + log_prob[0, 1]) / 2), rel=1e-6)


def test_diversity_loss_is_one_for_identical_and_zero_for_disjoint_attentions():
    same = torch.rand(2, 1, 8).expand(2, 3, 8)
    assert float(diversity_loss(same)) == pytest.approx(1.0, rel=1e-5)
    disjoint = torch.eye(8)[:3].expand(2, 3, 8)
    assert float(diversity_loss(disjoint)) == pytest.approx(0.0, abs=1e-7)
    attention = torch.rand(2, 3, 8, requires_grad=True)
    diversity_loss(attention).backward()
    with torch.no_grad():
        moved = (attention - 0.5 * attention.grad).clamp_min(0)
    assert float(diversity_loss(moved)) < float(diversity_loss(attention).detach())


def test_intra_similarity_gives_one_local_feature_per_branch():
    module = IntraSimilarity(16, 3)
    attention, local = module(torch.randn(5, 16, 8, 4))
    assert attention.shape == local.shape == (5, 3, 16)
    assert ((attention > 0) & (attention < 1)).all()


def test_part_pool_splits_the_map_into_horizontal_stripes():
    x = torch.arange(8.0).view(1, 1, 8, 1).expand(1, 2, 8, 3)
    parts = part_pool(x, 4)
    assert parts.shape == (1, 4, 2)
    assert parts[0, :, 0].tolist() == [0.5 + 1, 2.5 + 3, 4.5 + 5, 6.5 + 7]  # mean + max of two rows each


def test_deformable_alignment_with_zero_offsets_is_a_plain_convolution():
    torch.manual_seed(0)
    module = InterSimilarity(16, inner=6)
    with torch.no_grad():
        module.weight.copy_(torch.randn_like(module.weight))
    b = torch.randn(2, 6, 8, 4)
    offsets = torch.zeros(2, 18, 8, 4)
    np.testing.assert_allclose(module.align(b, offsets).detach().numpy(),
                               F.conv2d(b, module.weight.detach(), padding=1).numpy(), rtol=1e-4, atol=1e-5)


def test_deformable_alignment_follows_its_offsets():
    module = InterSimilarity(16, inner=4)  # identity kernel at initialisation
    b = torch.randn(1, 4, 8, 4)
    offsets = torch.zeros(1, 18, 8, 4)
    offsets[:, 0::2] = 1.0  # every tap one row down (torchvision: (dy, dx) per tap)
    shifted = module.align(b, offsets).detach()
    torch.testing.assert_close(shifted[:, :, :-1], b[:, :, 1:])
    assert torch.equal(shifted[:, :, -1], torch.zeros_like(shifted[:, :, -1]))


def test_inter_similarity_starts_as_the_reduced_partner_and_trains_its_offsets():
    torch.manual_seed(0)
    module = InterSimilarity(16, inner=8)
    a, b = torch.randn(3, 16, 8, 4), torch.randn(3, 16, 8, 4)
    reduced_a, gathered = module(a, b)
    assert reduced_a.shape == gathered.shape == (3, 8, 8, 4)
    reduced = module.reduce(torch.cat([a, b]))
    torch.testing.assert_close(reduced_a, reduced[:3])
    torch.testing.assert_close(gathered, reduced[3:], rtol=1e-4, atol=1e-5)
    (1 - F.cosine_similarity(part_pool(reduced_a, 4), part_pool(gathered, 4), dim=2)).mean().backward()
    assert module.offsets.weight.grad.abs().sum() > 0


def _fit(name: str, seed: int = 0, device: str = "cpu", tmp_path=None, epochs: int = 2):
    entry = METHODS[name]
    cls = load_target(entry.target)
    method = cls(cls.make_config(dict(entry.config)))
    rng = np.random.default_rng(seed)
    train = ReidTrain(rng.integers(0, 256, (24, 32, 16, 3), dtype=np.uint8), pids=None, camids=None, n_cameras=2)
    test = ReidTest(rng.integers(0, 256, (5, 32, 16, 3), dtype=np.uint8),
                    rng.integers(0, 256, (7, 32, 16, 3), dtype=np.uint8), None, None)
    budget = ReidTrack().budget("smoke", height=32, width=16, batch_size=8, epochs=epochs, train_max_images=0)
    ctx = Context(seed=seed, device=device, log=logging.getLogger("test"), n_threads=1,
                  **({"work_dir": tmp_path} if tmp_path is not None else {}))
    method.fit(train, budget, ctx)
    return method, method.predict(test)


@pytest.mark.parametrize("name", NAMES)
def test_every_variant_fits_and_embeds(name, tmp_path):
    method, predictions = _fit(name, tmp_path=tmp_path)
    assert predictions["query_features"].shape == (5, 128)
    assert predictions["gallery_features"].shape == (7, 128)
    assert np.isfinite(predictions["query_features"]).all() and np.isfinite(predictions["gallery_features"]).all()
    assert str(predictions["distance"]) == "cosine"
    assert len(method.pseudo_history) == 2
    assert (method.model.intra is None) == (name == "pseudo-pair-no-intra")
    assert (method.model.inter is None) == (name == "pseudo-pair-no-inter")


def test_same_seed_same_embeddings():
    first = _fit("pseudo-pair", seed=3, epochs=1)[1]
    second = _fit("pseudo-pair", seed=3, epochs=1)[1]
    np.testing.assert_array_equal(first["query_features"], second["query_features"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fits_on_cuda():
    _, predictions = _fit("pseudo-pair", device="cuda")
    assert np.isfinite(predictions["query_features"]).all()
