import numpy as np
import pytest

from harness.api import Predictions
from harness.cards import load_card, resolve_dataset
from harness.errors import InvalidPredictionError
from harness.metrics import localization as loc
from harness.tracks.wsol import WsolTrack, scale_boxes
from harness.tracks.wsol import boxes as wb


@pytest.fixture(scope="module")
def synth(data_root):
    card = load_card("synth_cub")
    return resolve_dataset(card, data_root), card


@pytest.fixture(scope="module")
def smoke_truth(synth):
    root, card = synth
    track = WsolTrack()
    return track.load_truth(root, card, "all", track.budget("smoke"))


def _perfect(truth, max_boxes=5):
    size = truth.image_size
    found = [(b, np.linspace(1.0, 0.5, len(b))) for b in truth.boxes]
    packed = wb.pack_boxes(found, max_boxes)
    maps = wb.rasterize_boxes(packed["boxes"], packed["box_scores"], packed["n_boxes"], size)
    scores = np.eye(truth.n_classes, dtype=np.float32)[truth.labels]
    return Predictions.of(class_scores=scores, maps=maps, **packed)


def test_scale_boxes_follows_the_resize():
    boxes = scale_boxes(np.array([[0.0, 0.0, 200.0, 100.0]]), 200, 100, 64)
    assert boxes.tolist() == [[0.0, 0.0, 64.0, 64.0]]


def test_inputs_carry_no_truth_and_held_out_images_are_not_trained_on(synth):
    root, card = synth
    track = WsolTrack()
    budget = track.budget("smoke")
    train = track.load_train(root, card, "all", budget)
    inputs = track.load_test_inputs(root, card, "all", budget)
    truth = track.load_truth(root, card, "all", budget)
    assert set(vars(inputs)) == {"images"}
    assert inputs.images.shape == (len(truth), 32, 32, 3) and inputs.images.dtype == np.uint8
    assert len(truth) == budget.test_max_images
    assert train.images.shape[1:] == (32, 32, 3)
    assert np.bincount(train.labels).max() <= budget.train_per_class
    assert len(train.val_boxes) == len(train.val_labels) == budget.val_per_class * train.n_classes
    weak = {im.tobytes() for im in train.images}
    assert not any(im.tobytes() in weak for im in train.val_images)
    for boxes in truth.boxes + train.val_boxes:
        assert (boxes >= 0).all() and (boxes <= 32 + 1e-9).all()
    order = np.arange(len(truth))[::-1]
    assert truth.take(order).paths == truth.paths[::-1]


def test_perfect_predictions_score_one_and_a_wrong_class_only_hurts_class_metrics(smoke_truth):
    track = WsolTrack()
    perfect = _perfect(smoke_truth)
    track.validate(perfect, smoke_truth)
    scores = track.evaluate(perfect, smoke_truth)
    for name in ("gt_known_loc", "top1_loc", "top5_loc", "top1_cls", "multi_recall", "max_box_acc_30"):
        assert scores[name] == pytest.approx(1.0), name
    wrong = dict(perfect.arrays)
    wrong["class_scores"] = np.roll(perfect["class_scores"], 1, axis=1)
    wrong_scores = track.evaluate(Predictions(wrong), smoke_truth)
    assert wrong_scores["top1_cls"] == 0.0 and wrong_scores["top1_loc"] == 0.0
    assert wrong_scores["gt_known_loc"] == 1.0


def test_one_box_per_image_cannot_find_every_object(smoke_truth):
    track = WsolTrack()
    perfect = _perfect(smoke_truth)
    one = dict(perfect.arrays)
    one["n_boxes"] = np.ones(len(smoke_truth), dtype=np.int64)
    scores = track.evaluate(Predictions(one), smoke_truth)
    n_gt = np.array([len(b) for b in smoke_truth.boxes])
    assert scores["gt_known_loc"] == 1.0
    assert scores["multi_recall"] == pytest.approx(len(n_gt) / n_gt.sum())


def test_evaluate_matches_the_metric_functions_and_resampling_with_unit_weights(smoke_truth):
    track = WsolTrack()
    rng = np.random.default_rng(0)
    n_images, size = len(smoke_truth), smoke_truth.image_size
    x0 = rng.uniform(0, size / 2, (n_images, 3, 2))
    boxes = np.concatenate([x0, x0 + rng.uniform(2, size / 2, (n_images, 3, 2))], axis=2).astype(np.float32)
    predictions = Predictions.of(
        class_scores=rng.integers(0, 3, (n_images, smoke_truth.n_classes)).astype(np.float32),  # ties
        boxes=boxes, box_scores=np.sort(rng.random((n_images, 3)), axis=1)[:, ::-1].astype(np.float32),
        n_boxes=rng.integers(1, 4, n_images), maps=rng.random((n_images, 8, 8)).astype(np.float32),
    )
    track.validate(predictions, smoke_truth)
    scores = track.evaluate(predictions, smoke_truth)
    top = np.clip(boxes[:, 0].astype(np.float64), 0, size)
    assert scores["gt_known_loc"] == pytest.approx(loc.corloc(top, smoke_truth.boxes))
    items = track.item_results(predictions, smoke_truth)
    resampled = track.resample_metrics(items, np.ones((2, n_images)))
    for name, values in resampled.items():
        if np.isnan(scores[name]):
            assert np.isnan(values).all()
        else:
            np.testing.assert_allclose(values, scores[name], atol=1e-12, err_msg=name)


def test_validate_rejects_bad_predictions(smoke_truth):
    track = WsolTrack()
    perfect = _perfect(smoke_truth).arrays
    for key, value, match in [
        ("n_boxes", np.zeros(len(smoke_truth), dtype=np.int64), "n_boxes"),
        ("class_scores", np.full((len(smoke_truth), smoke_truth.n_classes), np.nan, dtype=np.float32), "finite"),
        ("boxes", perfect["boxes"][:, :, [2, 1, 0, 3]], "x0 <= x1"),
        ("maps", perfect["maps"][:, 0], "shape"),
    ]:
        broken = {**perfect, key: value}
        with pytest.raises(InvalidPredictionError, match=match):
            track.validate(Predictions(broken), smoke_truth)
