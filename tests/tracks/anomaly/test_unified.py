"""The unified protocol: one job pools every category's good images; metrics per category, averaged."""

import numpy as np
import pandas as pd
import pytest

from harness.api import Predictions
from harness.cards import load_card, resolve_dataset
from harness.cli import main
from harness.errors import UnknownNameError
from harness.metrics import anomaly as m
from harness.metrics import resample as r
from harness.runner import plan_run
from harness.tracks.anomaly import AnomalyTrack, AnomalyTruth, upsample_maps
from harness.tracks.anomaly.track import UNIFIED

SMALL = {"image_size": 32, "train_max_images": 3, "mask_size": 32}


@pytest.fixture(scope="module")
def synth(data_root):
    card = load_card("synth_mvtec_ad")
    return resolve_dataset(card, data_root), card


def test_unified_grid_has_one_pooled_subset_and_rejects_a_category(synth, data_root):
    root, card = synth
    track = AnomalyTrack()
    assert track.grid_subsets(root, card, track.budget("unified")) == [UNIFIED]
    assert track.grid_subsets(root, card, track.budget("default")) == track.subsets(root, card)
    plan = plan_run("anomaly", budget="unified", data_root=data_root, method_names=["pixel-gaussian"], seeds=[0])
    assert [job.subset for job in plan.jobs] == [UNIFIED]
    with pytest.raises(UnknownNameError, match="subset"):
        plan_run("anomaly", budget="unified", data_root=data_root, subsets=["nut"], method_names=["pixel-gaussian"])


def test_pooled_loading_keeps_every_category_and_its_rows(synth):
    root, card = synth
    track = AnomalyTrack()
    budget = track.budget("unified", **SMALL)
    categories = track.subsets(root, card)
    train = track.load_train(root, card, UNIFIED, budget)
    assert len(train) == 3 * len(categories)
    truth = track.load_truth(root, card, UNIFIED, budget)
    inputs = track.load_test_inputs(root, card, UNIFIED, budget)
    assert set(vars(inputs)) == {"images", "xyz"} and len(inputs) == len(truth)
    assert [name for name, _ in truth.groups()] == categories
    one = track.load_truth(root, card, "nut", budget)
    rows = dict(truth.groups())["nut"]
    np.testing.assert_array_equal(truth.labels[rows], one.labels)
    np.testing.assert_array_equal(truth.masks[rows], one.masks)
    assert [truth.paths[i] for i in rows] == one.paths
    moved = truth.take(np.random.default_rng(0).permutation(len(truth)))
    assert sorted(moved.categories) == sorted(truth.categories)


def _pooled(rng, sizes=(9, 14, 7)):
    labels, masks, categories = [], [], []
    for k, n in enumerate(sizes):
        lab = (np.arange(n) % 3 == 0).astype(int)
        mask = np.zeros((n, 12, 12), dtype=bool)
        mask[lab == 1, 2:6, 3:9] = True
        labels.append(lab)
        masks.append(mask)
        categories += [f"c{k}"] * n
    truth = AnomalyTruth(np.concatenate(labels), np.concatenate(masks), [""] * len(categories),
                         categories=categories)
    preds = Predictions.of(scores=rng.integers(0, 4, len(categories)).astype(float),
                           maps=rng.random((len(categories), 6, 6)).astype(np.float32))
    return truth, preds


def test_pooled_metrics_are_the_mean_of_the_per_category_metrics():
    rng = np.random.default_rng(0)
    truth, preds = _pooled(rng)
    track = AnomalyTrack()
    got = track.evaluate(preds, truth)
    up = upsample_maps(preds["maps"], (12, 12))
    per = []
    for name in ("c0", "c1", "c2"):
        rows = np.array([c == name for c in truth.categories])
        per.append({"image_auroc": m.image_auroc(preds["scores"][rows], truth.labels[rows]),
                    "aupro": m.aupro(up[rows], truth.masks[rows])})
    assert got["image_auroc"] == pytest.approx(np.mean([p["image_auroc"] for p in per]))
    assert got["aupro"] == pytest.approx(np.mean([p["aupro"] for p in per]))
    diagnostics = track.diagnostics(preds, truth)
    assert diagnostics["category.c1.image_auroc"][0] == pytest.approx(per[1]["image_auroc"])
    assert set(diagnostics["breakdown.category"]) == {"c0", "c1", "c2"}


def test_pooled_resamples_average_the_per_category_weighted_auroc():
    rng = np.random.default_rng(1)
    truth, preds = _pooled(rng)
    track = AnomalyTrack()
    items = track.item_results(preds, truth)
    weights = rng.integers(0, 3, (5, len(truth))).astype(float)
    weights[:, truth.labels == 1] += 1  # every category keeps both classes
    weights[:, truth.labels == 0] += 1
    got = track.resample_metrics(items, weights)["image_auroc"]
    want = np.mean([r.weighted_auroc(items["score"][items["category"] == k], items["label"][items["category"] == k],
                                     weights[:, items["category"] == k]) for k in range(3)], axis=0)
    np.testing.assert_allclose(got, want)
    ones = track.resample_metrics(items, np.ones((1, len(truth))))["image_auroc"][0]
    assert ones == pytest.approx(track.evaluate(preds, truth)["image_auroc"])


def test_unified_run_writes_the_per_category_table(data_root, tmp_path):
    results = tmp_path / "results"
    args = ["run", "anomaly", "--budget", "unified", "--methods", "pixel-gaussian", "--seeds", "0", "--no-progress",
            *[x for key, value in SMALL.items() for x in ("--set", f"{key}={value}")], "--results", str(results)]
    assert main(args) == 0
    assert main(["leaderboard", "anomaly", "--budget", "unified", "--results", str(results)]) == 0
    table = pd.read_csv(results / "leaderboards" / "anomaly" / "unified.csv")
    assert set(table["category"]) == set(AnomalyTrack().subsets(*resolve_dataset_of(data_root)))
    assert (table["n_seeds"] == 1).all()
    text = (results / "leaderboards" / "anomaly" / "unified.md").read_text()
    assert "## synth_mvtec_ad: image_auroc" in text and "| pixel-gaussian |" in text
    per_defect = pd.read_csv(results / "leaderboards" / "anomaly" / "per_defect.csv")
    assert "nut" in set(per_defect["subset"])  # records name their own category, not the pooled subset


def resolve_dataset_of(data_root):
    card = load_card("synth_mvtec_ad")
    return resolve_dataset(card, data_root), card
