import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from harness.api import Predictions
from harness.cards import load_card, resolve_dataset
from harness.errors import InvalidPredictionError
from harness.metrics import anomaly as m
from harness.tracks.anomaly import AnomalyTrack, AnomalyTruth, upsample_maps


@pytest.fixture(scope="module")
def synth(data_root):
    card = load_card("synth_mvtec_ad")
    return resolve_dataset(card, data_root), card


def test_upsample_matches_torch_bilinear_and_is_identity_at_same_size():
    rng = np.random.default_rng(0)
    maps = rng.random((5, 7, 9)).astype(np.float32)
    want = F.interpolate(torch.from_numpy(maps)[:, None], size=(21, 18), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(upsample_maps(maps, (21, 18), chunk=2), want[:, 0].numpy(), rtol=1e-6)
    assert upsample_maps(maps, (7, 9)) is not None and np.array_equal(upsample_maps(maps, (7, 9)), maps)


def test_inputs_carry_no_truth_and_truth_matches_the_index(synth):
    root, card = synth
    track = AnomalyTrack()
    budget = track.budget("smoke")
    subset = track.budget_subsets["smoke"][0]
    inputs = track.load_test_inputs(root, card, subset, budget)
    truth = track.load_truth(root, card, subset, budget)
    assert set(vars(inputs)) == {"images", "xyz"} and inputs.xyz is None  # no path: it would name the defect
    assert inputs.images.dtype == np.uint8 and inputs.images.shape[1:] == (64, 64, 3)
    assert len(inputs) == len(truth)
    assert truth.masks.shape == (len(truth), 64, 64) and truth.masks.dtype == bool
    assert ((truth.labels == 1) == truth.masks.reshape(len(truth), -1).any(axis=1)).all()
    train = track.load_train(root, card, subset, budget)
    assert len(train) == budget.train_max_images
    order = np.array([3, 0, 2, 1])
    assert (inputs.take(order).images == inputs.images[order]).all()
    moved = truth.take(order)
    assert (moved.labels == truth.labels[order]).all() and moved.paths == [truth.paths[i] for i in order]


def test_evaluate_perfect_and_inverted_maps(synth):
    root, card = synth
    track = AnomalyTrack()
    budget = track.budget("smoke")
    truth = track.load_truth(root, card, "nut", budget)
    maps = truth.masks.astype(np.float32)
    perfect = Predictions.of(scores=truth.labels.astype(float), maps=maps)
    track.validate(perfect, truth)
    scores = track.evaluate(perfect, truth)
    assert scores["image_auroc"] == 1.0 and scores["image_ap"] == 1.0 and scores["image_f1_max"] == 1.0
    assert scores["pixel_auroc"] == 1.0 and scores["aupro"] == pytest.approx(1.0)
    inverted = Predictions.of(scores=-truth.labels.astype(float), maps=-maps)
    assert track.evaluate(inverted, truth)["image_auroc"] == 0.0


def test_evaluate_equals_the_metric_functions_on_upsampled_maps():
    rng = np.random.default_rng(1)
    masks = np.zeros((6, 16, 16), dtype=bool)
    masks[3:, 4:9, 5:11] = True
    truth = AnomalyTruth(np.array([0, 0, 0, 1, 1, 1]), masks, [f"{i}.png" for i in range(6)])
    preds = Predictions.of(scores=rng.random(6), maps=rng.random((6, 8, 8)).astype(np.float32))
    got = AnomalyTrack().evaluate(preds, truth)
    up = upsample_maps(preds["maps"], (16, 16))
    assert got["pixel_auroc"] == m.pixel_auroc(up, masks)
    assert got["aupro"] == m.aupro(up, masks)
    assert got["image_auroc"] == m.image_auroc(preds["scores"], truth.labels)


@pytest.mark.parametrize(
    ("scores", "maps", "message"),
    [
        (np.zeros(5), np.zeros((6, 8, 8)), r"scores'\] must have shape \(6,\); got \(5,\)"),
        (np.zeros(6), np.zeros((6, 8)), r"maps'\] must have shape \(6, -1, -1\); got \(6, 8\)"),
        (np.zeros(6), np.full((6, 8, 8), np.nan), r"maps'\] must be finite; got nan at index \(0, 0, 0\)"),
        (np.zeros(6, dtype=np.int64), np.zeros((6, 8, 8)), r"scores'\] must have dtype kind 'f'"),
    ],
)
def test_invalid_predictions_name_the_array(scores, maps, message):
    truth = AnomalyTruth(np.array([0, 0, 0, 1, 1, 1]), np.zeros((6, 16, 16), dtype=bool), [""] * 6)
    with pytest.raises(InvalidPredictionError, match=message):
        AnomalyTrack().validate(Predictions.of(scores=scores, maps=maps), truth)


def test_budgets_are_complete_and_distinct():
    track = AnomalyTrack()
    hashes = {track.budget(name).hash() for name in ("smoke", "default", "paper")}
    assert len(hashes) == 3
    assert track.budget("paper").mask_size == 0 and track.budget("paper").device == "cuda"
    # the default runs the embedded data at the size it is written at
    assert track.budget("default").image_size == 128


def test_cpu_preset_reads_real_data_at_256_px_on_the_cpu(tmp_path):
    from harness.runner import plan_run

    track = AnomalyTrack()
    budget = track.budget("cpu-256")
    assert (budget.image_size, budget.mask_size, budget.device, budget.train_max_images) == (256, 256, "cpu", 40)
    assert track.budget_datasets["cpu-256"] == "mvtec_ad"
    with pytest.raises(Exception, match=r"dataset 'mvtec_ad' .* is not in .*mvtec_ad\. Download it from"):
        plan_run("anomaly", budget="cpu-256", data_root=tmp_path, method_names=["pixel-gaussian"], seeds=[0])


def test_figure_panels_show_the_same_images_whatever_the_test_order(synth):
    from harness.tracks.anomaly.figures import _pick

    root, card = synth
    track = AnomalyTrack()
    budget = track.budget("smoke")
    truth = track.load_truth(root, card, track.budget_subsets["smoke"][0], budget)
    order = np.random.default_rng(5).permutation(len(truth))
    moved = truth.take(order)
    assert [truth.paths[i] for i in _pick(truth.labels, truth.paths)] == [
        moved.paths[i] for i in _pick(moved.labels, moved.paths)
    ]
