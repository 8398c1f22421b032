"""Tests of SNARM: residuals against slow loops, Perlin masks, post-processing, end-to-end fit/predict."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import ndimage

from harness.api import Context
from harness.registry import METHODS, method_config
from harness.tracks.anomaly import AnomalyTrack
from methods.snarm import Snarm
from methods.snarm.anomaly_map import anomaly_maps, fuse_heads, gaussian_smooth, pooled_max_score
from methods.snarm.model import HEAD_SPECS, SCAN_KINDS, SnarmNet, build_backbone, scan_order, snarm_loss
from methods.snarm.residuals import (
    greedy_coreset,
    intra_residual,
    knn_mean_residual,
    n_references,
    residual_tokens,
    residual_transform,
    select_references,
)
from methods.snarm.synth_anomalies import perlin_mask, perlin_noise, synthesize_anomalies

SEED = 0
#: Tiny end-to-end job: image side, training and test images, optimizer steps.
IMAGE_SIZE, N_TRAIN, N_TEST, MAX_STEPS = 32, 8, 4, 2
SNARM_METHODS = sorted(name for name, entry in METHODS.items() if entry.target == "methods.snarm:Snarm")


def _generator(offset: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(SEED + offset)


# ----------------------------------------------------------------------------- slow references


def _slow_knn_mean_residual(queries, bank, k, query_groups=None, bank_groups=None):
    out = torch.empty_like(queries)
    for i, q in enumerate(queries):
        rows = []
        for j, b in enumerate(bank):
            excluded = query_groups is not None and int(bank_groups[j]) in {int(g) for g in query_groups[i].flatten()}
            if not excluded:
                rows.append((math.dist(q.tolist(), b.tolist()), j))
        nearest = [j for _, j in sorted(rows)[:k]]
        out[i] = bank[nearest].mean(dim=0) - q
    return out


def _slow_select_references(scores, ratio):
    n_images, n_patches = scores.shape
    n_ref = min(n_patches, max(1, math.floor(ratio * n_patches + 0.5)))
    out = torch.zeros(n_images, n_patches, dtype=torch.bool)
    for i in range(n_images):
        for j in sorted(range(n_patches), key=lambda p: (float(scores[i, p]), p))[:n_ref]:
            out[i, j] = True
    return out


def _slow_intra_residual(features, is_reference):
    out = torch.zeros_like(features)
    for b in range(features.shape[0]):
        for p in range(features.shape[1]):
            candidates = [
                (math.dist(features[b, p].tolist(), features[b, r].tolist()), r)
                for r in range(features.shape[1])
                if is_reference[b, r] and r != p
            ]
            if candidates:
                out[b, p] = features[b, min(candidates)[1]] - features[b, p]
    return out


def _slow_greedy(points, n_select, first):
    chosen = [first]
    while len(chosen) < n_select:
        dist = [min(math.dist(p.tolist(), points[c].tolist()) for c in chosen) for p in points]
        chosen.append(int(np.argmax(dist)))
    return chosen


def _slow_pooled_max(maps, kernel, stride):
    out = []
    for m in maps:
        best = -math.inf
        for top in range(0, m.shape[0] - kernel + 1, stride):
            for left in range(0, m.shape[1] - kernel + 1, stride):
                best = max(best, float(m[top : top + kernel, left : left + kernel].mean()))
        out.append(best)
    return torch.tensor(out)


def _assert_close(got, want, atol=1e-5):
    assert torch.allclose(got.double(), want.double(), atol=atol), f"got {got}\nwant {want}"


# ----------------------------------------------------------------------------- residuals


@pytest.mark.parametrize("k", [1, 3, 20])
@pytest.mark.parametrize("chunk_size", [2, 64])
def test_knn_mean_residual_matches_slow_loop(k, chunk_size):
    queries = torch.randn(7, 5, generator=_generator())
    bank = torch.randn(11, 5, generator=_generator(1))
    got = knn_mean_residual(queries, bank, k=k, chunk_size=chunk_size)
    _assert_close(got, _slow_knn_mean_residual(queries, bank, min(k, 11)))


@pytest.mark.parametrize("group_shape", [(7,), (7, 2)], ids=["one-group", "two-groups"])
def test_knn_mean_residual_excludes_own_groups(group_shape):
    queries = torch.randn(7, 4, generator=_generator())
    bank = torch.randn(12, 4, generator=_generator(1))
    bank_groups = torch.arange(12) % 4
    query_groups = torch.randint(0, 4, group_shape, generator=_generator(2))
    got = knn_mean_residual(queries, bank, k=3, query_groups=query_groups, bank_groups=bank_groups, chunk_size=3)
    want = _slow_knn_mean_residual(queries, bank, 3, query_groups.view(7, -1), bank_groups)
    _assert_close(got, want)


def test_knn_mean_residual_of_a_bank_member_with_k1_is_zero():
    bank = torch.randn(6, 3, generator=_generator())
    assert knn_mean_residual(bank, bank, k=1).abs().max() == 0


def test_knn_mean_residual_needs_both_groups():
    with pytest.raises(ValueError, match="needs both query_groups and bank_groups"):
        knn_mean_residual(torch.zeros(1, 2), torch.zeros(3, 2), query_groups=torch.zeros(1))


@pytest.mark.parametrize("ratio", [0.05, 0.5, 0.75, 1.0])
def test_select_references_matches_slow_loop_with_ties(ratio):
    scores = torch.randint(0, 3, (4, 10), generator=_generator()).float()  # three levels: many ties
    got = select_references(scores, ratio)
    assert torch.equal(got, _slow_select_references(scores, ratio))
    assert (got.sum(dim=1) == n_references(10, ratio)).all()


def test_n_references_is_three_quarters_of_the_patches():
    assert n_references(256, 0.75) == 192
    assert n_references(1, 0.1) == 1


def test_intra_residual_matches_slow_loop():
    features = torch.randn(3, 9, 4, generator=_generator())
    is_reference = select_references(torch.rand(3, 9, generator=_generator(1)), 0.75)
    _assert_close(intra_residual(features, is_reference), _slow_intra_residual(features, is_reference))


def test_intra_residual_single_reference_gives_zero_for_itself():
    features = torch.randn(1, 4, 2, generator=_generator())
    is_reference = torch.tensor([[False, True, False, False]])
    got = intra_residual(features, is_reference)
    assert got[0, 1].abs().max() == 0
    _assert_close(got[0, 0], features[0, 1] - features[0, 0])


def test_residual_transform_averages_channel_pairs_of_abs_and_square():
    r = torch.tensor([[-1.0, 2.0, -3.0, 4.0]])
    want = torch.tensor([[1.5, 3.5, 2.5, 12.5]])
    _assert_close(residual_transform(r), want)
    with pytest.raises(ValueError, match="even number of channels; got 3"):
        residual_transform(torch.zeros(1, 3))


@pytest.mark.parametrize("use_intra", [True, False])
def test_residual_tokens_shapes_and_references_from_inter_norm(use_intra):
    features = torch.randn(2, 6, 4, 4, generator=_generator())
    inter = torch.randn(2, 6, 4, 4, generator=_generator(1))
    tokens, is_reference = residual_tokens(features, inter, reference_ratio=0.75, use_intra=use_intra)
    assert tokens.shape == (2, 16, 12 if use_intra else 6)
    norms = inter.flatten(2).norm(dim=1)
    assert torch.equal(is_reference, _slow_select_references(norms, 0.75))


def test_greedy_coreset_matches_slow_greedy_without_projection():
    points = torch.randn(20, 3, generator=_generator())
    got = greedy_coreset(points, 6, seed=SEED, projection_dim=8)
    assert got.tolist() == _slow_greedy(points, 6, int(got[0]))
    assert len(set(greedy_coreset(torch.randn(50, 300), 10, seed=1).tolist())) == 10


# ----------------------------------------------------------------------------- synthetic anomalies


def test_perlin_noise_is_deterministic_and_bounded():
    a = perlin_noise(32, (4, 2), rng=np.random.default_rng(SEED))
    b = perlin_noise(32, (4, 2), rng=np.random.default_rng(SEED))
    assert a.dtype == np.float32 and a.shape == (32, 32)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= 1.0 + 1e-6
    assert a[0, 0] == 0  # zero on the lattice points


def test_perlin_mask_is_binary_and_deterministic_from_seed():
    masks = [perlin_mask(64, rng=np.random.default_rng(s)) for s in (SEED, SEED, SEED + 1)]
    assert all(m.dtype == np.bool_ and m.shape == (64, 64) for m in masks)
    np.testing.assert_array_equal(masks[0], masks[1])
    coverage = np.mean([perlin_mask(64, rng=np.random.default_rng(s)).mean() for s in range(40)])
    assert 0.01 < coverage < 0.3


def test_synthesize_anomalies_is_deterministic_and_consistent():
    images = np.random.default_rng(SEED).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    out1 = synthesize_anomalies(images, 12, seed=SEED, anomaly_probability=0.7)
    out2 = synthesize_anomalies(images, 12, seed=SEED, anomaly_probability=0.7)
    for a, b in zip(out1, out2, strict=True):
        np.testing.assert_array_equal(a, b)
    samples, masks, sources, donors = out1
    assert samples.dtype == np.uint8 and masks.dtype == np.float32
    assert set(np.unique(masks)) <= {0.0, 1.0}
    np.testing.assert_array_equal(sources, np.arange(12) % 5)
    for i in range(12):
        outside = masks[i] == 0
        np.testing.assert_array_equal(samples[i][outside], images[sources[i]][outside])
        assert (donors[i] != sources[i]) == bool(masks[i].any())
    assert masks.any(axis=(1, 2)).sum() >= 4


def test_synthesize_anomalies_rejects_non_square_images():
    with pytest.raises(ValueError, match=r"shape \(n_images, S, S, 3\); got \(2, 8, 9, 3\)"):
        synthesize_anomalies(np.zeros((2, 8, 9, 3), dtype=np.uint8), 1, seed=0)


# ----------------------------------------------------------------------------- post-processing


@pytest.mark.parametrize("sigma", [0.5, 2.0, 4.0])
def test_gaussian_smooth_matches_scipy_reflect(sigma):
    maps = torch.rand(2, 9, 13, generator=_generator(), dtype=torch.float64)
    want = ndimage.gaussian_filter(maps.numpy(), sigma=(0, sigma, sigma), mode="reflect", truncate=4.0)
    _assert_close(gaussian_smooth(maps, sigma), torch.from_numpy(want), atol=1e-10)


@pytest.mark.parametrize(("kernel", "stride"), [(1, 1), (3, 2), (4, 1), (6, 3)])
def test_pooled_max_score_matches_slow_loop(kernel, stride):
    maps = torch.rand(3, 8, 8, generator=_generator())
    _assert_close(pooled_max_score(maps, kernel_size=kernel, stride=stride), _slow_pooled_max(maps, kernel, stride))


def test_fuse_heads_takes_the_sigmoid_after_upsampling_each_head():
    logits = torch.randn(2, 3, 4, 4, generator=_generator()) * 4
    got = fuse_heads(logits, 16)
    up = torch.nn.functional.interpolate(logits, size=(16, 16), mode="bilinear", align_corners=False)
    _assert_close(got, torch.sigmoid(up).mean(dim=1))
    assert got.shape == (2, 16, 16)
    # Not the same as upsampling the fused patch probabilities (the order the public code avoids).
    late = torch.nn.functional.interpolate(torch.sigmoid(logits).mean(dim=1, keepdim=True), size=(16, 16),
                                           mode="bilinear", align_corners=False)[:, 0]
    assert not torch.allclose(got, late, atol=1e-4)
    _assert_close(fuse_heads(logits, 4), torch.sigmoid(logits).mean(dim=1))  # at patch size: no resampling


def test_anomaly_maps_scales_smoothing_and_returns_float32_maps_float64_scores():
    patch_maps = torch.zeros(2, 8, 8)
    patch_maps[1, 4, 4] = 1.0
    maps, scores = anomaly_maps(patch_maps, 64)
    assert maps.shape == (2, 64, 64) and maps.dtype == torch.float32 and scores.dtype == torch.float64
    assert scores[0] == 0 and scores[1] > 0
    # At 256 px the smoothing is sigma 4 and the window 16 x 16 at stride 2, as in the public code.
    big = torch.rand(1, 256, 256, generator=_generator())
    up, score = anomaly_maps(big, 256)
    smooth = gaussian_smooth(big.double(), 4.0)
    _assert_close(up, smooth.float())
    _assert_close(score, _slow_pooled_max(smooth, 16, 2))


# ----------------------------------------------------------------------------- network


@pytest.mark.parametrize("kind", SCAN_KINDS)
def test_scan_order_is_a_permutation(kind):
    order = scan_order(5, 4, kind)
    assert sorted(order.tolist()) == list(range(20))


def test_scan_orders_on_a_small_grid():
    assert scan_order(2, 3, "row").tolist() == [0, 1, 2, 3, 4, 5]
    assert scan_order(2, 3, "col").tolist() == [0, 3, 1, 4, 2, 5]
    assert scan_order(2, 3, "snake").tolist() == [0, 1, 2, 5, 4, 3]
    assert scan_order(2, 3, "row_reversed").tolist() == [5, 4, 3, 2, 1, 0]
    assert scan_order(2, 3, "col_reversed").tolist() == [5, 2, 4, 1, 3, 0]
    with pytest.raises(ValueError, match="scan kind must be one of"):
        scan_order(2, 2, "spiral")


def test_default_heads_read_the_public_codes_four_scans_with_dilation_in_the_prediction_conv_only():
    net = SnarmNet(6, n_heads=4, d_model=4)
    assert [head.scan for head in net.heads] == ["row", "col", "row_reversed", "col_reversed"]
    for head, (_, dilation) in zip(net.heads, HEAD_SPECS, strict=False):
        assert head.out[0].dilation == (dilation, dilation)
        assert torch.equal(head._order(3, 4, torch.device("cpu"))[0], scan_order(3, 4, head.scan))


class _Recorder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = None

    def forward(self, x):
        self.seen = x.detach().clone()
        return x * 0


@pytest.mark.parametrize("mixer", ["mamba", "mlp"])
def test_heads_mix_only_the_high_residual_tokens_in_scan_order(mixer):
    net = SnarmNet(6, mixer=mixer, n_heads=len(HEAD_SPECS), d_model=4)
    tokens = torch.randn(2, 12, 6, generator=_generator())
    is_reference = select_references(torch.rand(2, 12, generator=_generator(1)), 0.75)
    for head, (kind, _) in zip(net.heads, HEAD_SPECS, strict=True):
        block = head.blocks[0]
        block.mixer = _Recorder()
        head(tokens, ~is_reference, 3, 4)
        order = scan_order(3, 4, kind)
        local = block.local(head.proj(tokens), 3, 4)  # norm and 3 x 3 convolution over the grid
        for b in range(2):
            want = local[b, [p for p in order.tolist() if not is_reference[b, p]]]
            _assert_close(block.mixer.seen[b], want)


def test_navigated_block_adds_the_mixed_high_tokens_and_the_convolved_references_to_its_input():
    net = SnarmNet(6, mixer="mlp", n_heads=1, d_model=4)
    head, block = net.heads[0], net.heads[0].blocks[0]
    z = torch.randn(2, 12, 4, generator=_generator())
    is_reference = select_references(torch.rand(2, 12, generator=_generator(1)), 0.75)
    order, inverse = head._order(3, 4, z.device)
    high_pos = torch.argsort(is_reference[:, order].to(torch.uint8), dim=1, stable=True)[:, :3]
    got = block(z, high_pos, order, inverse, 3, 4)
    local = block.local(z, 3, 4)
    want = z + local
    for b in range(2):
        high = [p for p in order.tolist() if not is_reference[b, p]]
        want[b, high] = z[b, high] + block.mixer(local[b, high])
    _assert_close(got, want)


def test_snarm_loss_prefers_logits_that_match_the_target():
    target = torch.zeros(1, 2, 2)
    low = snarm_loss(torch.full((1, 3, 2, 2), -8.0), target)
    high = snarm_loss(torch.full((1, 3, 2, 2), 8.0), target)
    assert 0 < low < high


# ----------------------------------------------------------------------------- end to end


def _tiny_data():
    rng = np.random.default_rng(SEED)
    train = SimpleNamespace(images=rng.integers(0, 256, (N_TRAIN, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8))
    test = SimpleNamespace(images=rng.integers(0, 256, (N_TEST, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8))
    budget = AnomalyTrack().budget("smoke", image_size=IMAGE_SIZE, max_steps=MAX_STEPS, batch_size=4)
    return train, test, budget


def _fit_predict(overrides=None, *, seed=SEED, device="cpu"):
    train, test, budget = _tiny_data()
    method = Snarm(Snarm.make_config(overrides))
    method.fit(train, budget, Context(seed=seed, device=device, n_threads=1))
    return method.predict(test)


@pytest.mark.parametrize("name", SNARM_METHODS)
def test_each_registered_config_fits_and_predicts_valid_arrays(name):
    predictions = _fit_predict(method_config(name))
    scores, maps = predictions["scores"], predictions["maps"]
    assert scores.shape == (N_TEST,) and scores.dtype == np.float64
    assert maps.shape == (N_TEST, IMAGE_SIZE, IMAGE_SIZE) and maps.dtype == np.float32
    assert np.isfinite(scores).all() and np.isfinite(maps).all()
    assert ((maps >= 0) & (maps <= 1)).all()


def test_registered_ablations_are_the_expected_configs():
    assert SNARM_METHODS == ["snarm", "snarm-mlp", "snarm-no-intra", "snarm-one-head"]
    assert method_config("snarm-no-intra") == {"use_intra": False}
    assert method_config("snarm-mlp") == {"mixer": "mlp"}
    assert method_config("snarm-one-head") == {"n_heads": 1}


def test_same_seed_same_outputs_other_seed_other_outputs():
    a, b, c = _fit_predict(), _fit_predict(), _fit_predict(seed=SEED + 1)
    np.testing.assert_array_equal(a["maps"], b["maps"])
    np.testing.assert_array_equal(a["scores"], b["scores"])
    assert not np.array_equal(a["maps"], c["maps"])


def test_fit_leaves_the_global_torch_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    _fit_predict()
    assert torch.equal(before, torch.get_rng_state())


def test_invalid_config_names_the_key():
    train, _, budget = _tiny_data()
    expected = r"config of method 'snarm': mixer must be one of mamba, mlp; got 'gru'"
    with pytest.raises(ValueError, match=expected):
        Snarm(Snarm.make_config({"mixer": "gru"})).fit(train, budget, Context(seed=SEED))
    with pytest.raises(ValueError, match=r"config of method 'snarm': local_pool must be >= 1 and odd; got 4"):
        Snarm.make_config({"local_pool": 4})


def test_backbone_layers_and_weights_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match=r"layers of backbone 'resnet18' must be among .*got \['layer9'\]"):
        build_backbone("resnet18", ("layer9",))
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        build_backbone("resnet18", ("layer2",), weights=str(missing))
    wrong = tmp_path / "wrong.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ValueError, match=r"wrong.pt' does not fit backbone 'resnet18'"):
        build_backbone("resnet18", ("layer2",), weights=str(wrong))


def test_local_checkpoint_is_loaded(tmp_path):
    source = build_backbone("resnet18", ("layer2", "layer3"))
    path = tmp_path / "resnet18.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    loaded = build_backbone("resnet18", ("layer2", "layer3"), weights=str(path))
    for key, value in source.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_predict_gives_valid_arrays():
    predictions = _fit_predict(device="cuda")
    assert predictions["maps"].shape == (N_TEST, IMAGE_SIZE, IMAGE_SIZE)
    assert np.isfinite(predictions["maps"]).all() and np.isfinite(predictions["scores"]).all()
