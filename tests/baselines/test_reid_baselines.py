"""Baselines of the reid track and what they share: descriptor, losses, memory, merging, the hidden labels."""

from __future__ import annotations

import colorsys
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.api import Context
from harness.registry import METHODS, load_target
from harness.tracks.reid.method import ClusterMemory, ReidMethod, augment, balanced_batches

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracks" / "reid"))
from reid_cases import tiny_data  # noqa: E402

REID_METHODS = sorted(name for name, entry in METHODS.items() if entry.track == "reid")


def _run(name: str, seed: int = 0, device: str = "cpu"):
    entry = METHODS[name]
    cls = load_target(entry.target)
    method = cls(cls.make_config(dict(entry.config)))
    track, budget, train, inputs, truth = tiny_data()
    method.fit(train, budget, Context(seed=seed, device=device, log=logging.getLogger("test"), n_threads=1))
    return track, method.predict(inputs), truth


@pytest.mark.parametrize("name", REID_METHODS)
def test_every_reid_method_returns_valid_predictions(name):
    track, predictions, truth = _run(name)
    track.validate(predictions, truth)
    scores = track.evaluate(predictions, truth)
    assert all(0 <= v <= 1 for v in scores.values())


def test_same_seed_same_embeddings():
    _, first, _ = _run("cluster-contrast", seed=2)
    _, second, _ = _run("cluster-contrast", seed=2)
    np.testing.assert_array_equal(first["query_features"], second["query_features"])


def test_only_the_reference_sees_identities_and_no_method_sees_undeclared_cameras():
    seen = {}

    class Spy(ReidMethod):
        def learn(self, train):
            seen[type(self).__name__] = (train.pids, train.camids)

        def embed(self, images, cameras=None):
            seen["test_cameras"] = cameras
            return np.zeros((len(images), 2))

    class Reference(Spy):
        uses_identities = True

    class CameraAware(Spy):
        uses_cameras = True

    _, budget, train, inputs, _ = tiny_data()
    ctx = Context(seed=0, log=logging.getLogger("test"))
    for cls in (Spy, Reference, CameraAware):
        method = cls()
        method.fit(train, budget, ctx)
        method.predict(inputs)
    assert seen["Spy"] == (None, None)
    assert seen["Reference"][0] is train.pids and seen["Reference"][1] is None
    assert seen["CameraAware"][0] is None and seen["CameraAware"][1] is train.camids
    assert seen["test_cameras"] is not None  # the last one declared cameras
    assert load_target(METHODS["supervised"].target).uses_identities
    assert METHODS["supervised"].kind == "reference"
    assert not any(load_target(METHODS[n].target).uses_identities for n in REID_METHODS if n != "supervised")


def test_handcrafted_colour_histogram_matches_colorsys():
    from baselines.reid.handcrafted import describe

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (6, 4, 3), dtype=np.uint8)
    got = describe(image[None], n_stripes=1, texture_weight=0.0)[0][:128]
    counts = np.zeros(128)
    for rgb in image.reshape(-1, 3) / 255.0:
        h, s, v = colorsys.rgb_to_hsv(*rgb)
        bins = [min(int(h * 8), 7), min(int(s * 4), 3), min(int(v * 4), 3)]
        counts[(bins[0] * 4 + bins[1]) * 4 + bins[2]] += 1
    want = np.sqrt(counts / counts.sum())
    np.testing.assert_allclose(got, want / np.linalg.norm(want), atol=1e-6)


def test_batch_hard_triplet_matches_a_loop():
    from baselines.reid.supervised import batch_hard_triplet

    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3))
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    want = []
    for i in range(8):
        d = np.linalg.norm(x - x[i], axis=1)
        pos, neg = d[labels == labels[i]].max(), d[labels != labels[i]].min()
        want.append(max(0.0, pos - neg + 0.3))
    got = batch_hard_triplet(torch.tensor(x), torch.tensor(labels), 0.3)
    assert float(got) == pytest.approx(np.mean(want), rel=1e-6)


def test_cluster_memory_loss_and_hard_update():
    rng = np.random.default_rng(2)
    centroids = rng.normal(size=(3, 4))
    memory = ClusterMemory(centroids, temperature=0.5, momentum=0.2)
    x = torch.tensor(rng.normal(size=(5, 4)), dtype=torch.float32)
    y = torch.tensor([0, 0, 1, 2, 2])
    v = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
    xn = x.numpy() / np.linalg.norm(x.numpy(), axis=1, keepdims=True)
    logits = xn @ v.T / 0.5
    want = np.mean([np.log(np.exp(logits[i]).sum()) - logits[i, y[i]] for i in range(5)])
    assert float(memory.loss(x, y)) == pytest.approx(want, rel=1e-5)
    memory.update(x, y)
    rows = np.flatnonzero(y.numpy() == 0)
    hardest = rows[np.argmin(xn[rows] @ v[0])]
    new = 0.2 * v[0] + 0.8 * xn[hardest]
    np.testing.assert_allclose(memory.vectors[0].numpy(), new / np.linalg.norm(new), atol=1e-6)


def test_balanced_batches_hold_whole_identities_and_skip_outliers():
    labels = np.array([0] * 6 + [1] * 3 + [-1] * 4 + [2] * 8)
    found = balanced_batches(labels, 8, np.random.default_rng(0), per_class=4)
    rows = np.concatenate(found)
    assert not (labels[rows] == -1).any()
    assert set(np.flatnonzero(labels >= 0)) - set(rows) <= set(np.flatnonzero(labels == 0))  # 6 = 4 + 2 left over
    for batch in found:
        _, counts = np.unique(labels[batch], return_counts=True)
        assert (counts % 4 == 0).all()  # whole chunks of 4 (two chunks of one identity may share a batch)


def test_merging_keeps_clusters_whole_and_reaches_the_target():
    from baselines.reid.buc import merge_clusters

    rng = np.random.default_rng(3)
    features = rng.normal(size=(30, 5))
    labels = np.repeat(np.arange(10), 3)
    merged = merge_clusters(features, labels, 4)
    assert merged.max() + 1 == 4
    for c in range(10):
        assert len(set(merged[labels == c])) == 1


def test_augment_keeps_shape_and_is_seeded():
    images = np.random.default_rng(4).integers(0, 256, (6, 16, 8, 3), dtype=np.uint8)
    a = augment(images, np.random.default_rng(5))
    b = augment(images, np.random.default_rng(5))
    assert a.shape == images.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", REID_METHODS)
def test_every_reid_method_runs_on_cuda(name):
    track, predictions, truth = _run(name, device="cuda")
    track.validate(predictions, truth)
