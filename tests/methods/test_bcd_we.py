import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.api import Context
from harness.registry import METHODS, load_target
from harness.tracks.wsol import WsolTrack
from methods.bcd_we.detector import build_detector, weighted_entropy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracks" / "wsol"))
from wsol_cases import train_and_test  # noqa: E402

WSOL_METHODS = sorted(name for name, entry in METHODS.items() if entry.track == "wsol")


def _run(name: str, seed: int = 0, device: str = "cpu"):
    entry = METHODS[name]
    cls = load_target(entry.target)
    method = cls(cls.make_config(dict(entry.config)))
    train, inputs, _, _ = train_and_test()
    budget = WsolTrack().budget("smoke", max_boxes=3)
    method.fit(train, budget, Context(seed=seed, device=device, log=logging.getLogger("test"), n_threads=1))
    return method.predict(inputs), inputs


@pytest.mark.parametrize("name", WSOL_METHODS)
def test_every_wsol_method_returns_valid_predictions(name):
    predictions, inputs = _run(name)
    n_images = len(inputs)
    assert predictions["class_scores"].shape == (n_images, 3)
    assert predictions["boxes"].shape == (n_images, 3, 4)
    n_boxes = predictions["n_boxes"]
    assert ((n_boxes >= 1) & (n_boxes <= 3)).all()
    for i in range(n_images):
        used = predictions["boxes"][i, : n_boxes[i]]
        assert (used[:, 2] >= used[:, 0]).all() and (used[:, 3] >= used[:, 1]).all()
        scores = predictions["box_scores"][i, : n_boxes[i]]
        assert (np.diff(scores) <= 1e-6).all()  # decreasing confidence
    assert np.isfinite(predictions["maps"]).all()


def test_same_seed_same_predictions_on_cpu():
    first, _ = _run("bcd-we", seed=3)
    second, _ = _run("bcd-we", seed=3)
    for key in first.arrays:
        np.testing.assert_array_equal(first[key], second[key])


def test_weighted_entropy_is_zero_when_certain_and_largest_at_one_half():
    certain = torch.tensor([[[30.0], [-30.0]]])
    assert float(weighted_entropy(certain)) < 1e-4
    half = torch.zeros(1, 4, 1)
    assert float(weighted_entropy(half)) == pytest.approx(np.log(2), rel=1e-5)
    mixed = torch.tensor([[[0.0], [3.0]]])
    p = 1 / (1 + np.exp(-3.0))
    entropy = [np.log(2), -(p * np.log(p) + (1 - p) * np.log(1 - p))]
    weights = [0.5, p]
    assert float(weighted_entropy(mixed)) == pytest.approx(np.dot(weights, entropy) / sum(weights), rel=1e-5)


def test_weighted_entropy_pushes_probabilities_away_from_one_half():
    logits = torch.tensor([[[0.4], [-0.3]]], requires_grad=True)
    weighted_entropy(logits).backward()
    assert logits.grad[0, 0, 0] < 0 and logits.grad[0, 1, 0] > 0  # descent moves them to 1 and 0


def test_detector_has_one_foreground_class_and_keeps_the_image_size():
    from harness.tracks.wsol.nets import build_backbone

    detector = build_detector(build_backbone("resnet18", "layer2"), 32, max_boxes=4)
    detector.eval()
    with torch.no_grad():
        out = detector([torch.rand(3, 32, 32)])
    assert len(out[0]["boxes"]) <= 4
    assert set(out[0]["labels"].tolist()) <= {0}
    assert (out[0]["boxes"] <= 32).all()


def test_detector_learns_boxes_of_the_objects_size_not_points():
    """One bright square per image: after training, the top boxes have about the square's size (the regression
    head starts at the pseudo boxes' typical half side, so its distances cannot all die at zero)."""
    from harness.tracks.wsol.nets import build_backbone
    from methods.bcd_we.detector import detect, train_detector

    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, size=(24, 32, 32, 3), dtype=np.uint8)
    boxes = []
    for image in images:
        x, y = rng.integers(2, 16, size=2)
        image[y : y + 14, x : x + 14] = 230
        boxes.append(np.array([[x, y, x + 14, y + 14]], dtype=np.float64))
    torch.manual_seed(0)
    detector = build_detector(build_backbone("resnet18", "layer2"), 32, max_boxes=3)
    budget = WsolTrack().budget("smoke", localizer_epochs=4, batch_size=8)
    train_detector(detector, images, boxes, images[:0], budget, we_weight=0.0, seed=0, device=torch.device("cpu"))
    found, _ = detect(detector, images, 8, torch.device("cpu"))
    sides = np.array([[b[0, 2] - b[0, 0], b[0, 3] - b[0, 1]] for b, _ in found])
    assert np.median(sides) > 7.0, sides


def test_regression_head_starts_at_the_typical_half_side_in_anchor_units():
    from harness.tracks.wsol.nets import build_backbone
    from methods.bcd_we.detector import _init_box_prior

    detector = build_detector(build_backbone("resnet18", "layer2"), 32, max_boxes=3)  # stride 8: anchors of 8 px
    _init_box_prior(detector, [np.array([[0.0, 0.0, 12.0, 16.0]]), np.array([[4.0, 4.0, 20.0, 20.0]] * 2)])
    bias = detector.head.regression_head.bbox_reg.bias
    np.testing.assert_allclose(bias.detach().numpy(), np.full(4, 8.0 / 8.0))  # median (w + h) / 4 = 8 px


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", WSOL_METHODS)
def test_every_wsol_method_runs_on_cuda(name):
    predictions, inputs = _run(name, device="cuda")
    assert predictions["boxes"].shape[0] == len(inputs) and np.isfinite(predictions["maps"]).all()
