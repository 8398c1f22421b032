"""Per-defect breakdowns: per-image records against sklearn and slow loops, truth fields, the written tables."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from harness.api import Predictions
from harness.cards import load_card, resolve_dataset
from harness.tracks.anomaly import AnomalyTrack, AnomalyTruth, synth
from harness.tracks.anomaly.breakdown import (
    PREFIX,
    breakdown_frame,
    breakdown_tables,
    detection_table,
    per_defect_table,
    per_image,
)


def _random_job(rng, n_good=13, kinds=("crack", "hole", "stain"), per_kind=7, size=8):
    defects = ["good"] * n_good + [k for k in kinds for _ in range(per_kind)]
    labels = np.array([int(d != "good") for d in defects])
    scores = rng.integers(0, 6, len(labels)).astype(float)  # few values: many ties
    masks = np.zeros((len(labels), size, size), dtype=bool)
    for i in np.flatnonzero(labels):
        masks[i, : rng.integers(1, size), : rng.integers(1, size)] = True
    severity = np.where(labels == 1, rng.random(len(labels)), np.nan)
    return scores, labels, defects, severity, masks


@pytest.mark.parametrize("seed", range(5))
def test_outrank_averaged_per_type_is_sklearn_auroc_of_good_against_that_type(seed):
    rng = np.random.default_rng(seed)
    scores, labels, defects, severity, masks = _random_job(rng)
    out = per_image(scores, labels, defects, severity, masks)
    kinds = out[PREFIX + "defect"]
    for kind in ("crack", "hole", "stain"):
        keep = np.array([d in ("good", kind) for d in defects])
        want = roc_auc_score(labels[keep], scores[keep])
        assert np.mean(out[PREFIX + "outrank"][kinds == kind]) == pytest.approx(want, abs=1e-12)
    assert np.mean(out[PREFIX + "outrank"]) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize(("seed", "fpr"), [(0, 0.1), (1, 0.1), (2, 0.2), (3, 0.0), (4, 0.5)])
def test_detection_threshold_is_the_lowest_that_flags_at_most_fpr_of_good_images(seed, fpr):
    rng = np.random.default_rng(seed)
    scores, labels, defects, severity, masks = _random_job(rng)
    out = per_image(scores, labels, defects, severity, masks, fpr=fpr)
    good = scores[labels == 0]
    # slow reference: every candidate threshold (the good scores), the lowest whose flagged share is <= fpr
    threshold = min(t for t in good if np.mean(good > t) <= fpr + 1e-12)
    want = (scores[labels == 1] > threshold).astype(float)
    np.testing.assert_array_equal(out[PREFIX + "detected"], want)
    assert out[PREFIX + "fpr"][0] == pytest.approx(np.mean(good > threshold))
    assert out[PREFIX + "fpr"][0] <= fpr + 1e-12


def test_records_keep_type_severity_and_area_of_the_defective_images_only():
    rng = np.random.default_rng(7)
    scores, labels, defects, severity, masks = _random_job(rng)
    out = per_image(scores, labels, defects, severity, masks)
    bad = np.flatnonzero(labels)
    assert list(out[PREFIX + "defect"]) == [defects[i] for i in bad]
    np.testing.assert_array_equal(out[PREFIX + "severity"], severity[bad])
    np.testing.assert_allclose(out[PREFIX + "area"], [masks[i].sum() / masks[i].size for i in bad])
    no_good = per_image(scores[bad], labels[bad], [defects[i] for i in bad], severity[bad], masks[bad])
    assert np.isnan(no_good[PREFIX + "outrank"]).all() and np.isnan(no_good[PREFIX + "detected"]).all()


def test_recorded_severity_reads_the_manifest_and_is_nan_elsewhere(tmp_path):
    root = tmp_path / "synth"
    synth.generate(root, **synth.PRESETS["tiny"])
    manifest = json.loads((root / synth.MANIFEST).read_text())
    paths = [str(root / "nut" / "test" / "crack" / "001.png"), str(root / "nut" / "test" / "good" / "000.png"),
             str(tmp_path / "real" / "bottle" / "test" / "broken" / "000.png"), "x.png"]
    got = synth.recorded_severity(paths)
    assert got[0] == manifest["categories"]["nut"]["severity"]["crack"]["001"]
    assert np.isnan(got[1:]).all()


@pytest.fixture(scope="module")
def synth_root(data_root):
    card = load_card("synth_mvtec_ad")
    return resolve_dataset(card, data_root), card


def test_truth_carries_defect_types_and_severities_and_take_moves_them(synth_root):
    root, card = synth_root
    track = AnomalyTrack()
    budget = track.budget("smoke")
    truth = track.load_truth(root, card, "nut", budget)
    assert set(truth.defects) == {"good", *synth.DEFECTS["nut"]}
    assert all((d == "good") == (label == 0) for d, label in zip(truth.defects, truth.labels, strict=True))
    assert np.isnan(truth.severity[truth.labels == 0]).all()
    assert np.isfinite(truth.severity[truth.labels == 1]).all()
    assert ((truth.severity[truth.labels == 1] >= 0) & (truth.severity[truth.labels == 1] < 1)).all()
    order = np.random.default_rng(0).permutation(len(truth))
    moved = truth.take(order)
    assert moved.defects == [truth.defects[i] for i in order]
    np.testing.assert_array_equal(moved.severity, truth.severity[order])
    # default fields when a caller builds the truth without them
    plain = AnomalyTruth(np.array([0, 1]), np.zeros((2, 4, 4), dtype=bool), ["a", "b"])
    assert plain.defects == ["good", "defect"] and np.isnan(plain.severity).all()


def test_track_diagnostics_use_the_truth_and_the_image_scores(synth_root):
    root, card = synth_root
    track = AnomalyTrack()
    truth = track.load_truth(root, card, "nut", track.budget("smoke"))
    scores = truth.labels + np.random.default_rng(0).random(len(truth))
    preds = Predictions.of(scores=scores, maps=np.zeros((len(truth), 4, 4), dtype=np.float32))
    out = track.diagnostics(preds, truth)
    assert len(out[PREFIX + "defect"]) == int(truth.labels.sum())
    assert np.mean(out[PREFIX + "outrank"]) == pytest.approx(roc_auc_score(truth.labels, scores))


def _frame_of_jobs(tmp_path):
    rng = np.random.default_rng(3)
    rows, diagnostics = [], {}
    for method in ("a", "b"):
        for subset in ("s1", "s2"):
            for seed in (0, 1):
                key = f"{method}-{subset}-{seed}"
                scores, labels, defects, severity, masks = _random_job(rng, kinds=("crack", subset))
                if method == "a":
                    scores = scores + 3 * labels  # a separates better
                diagnostics[key] = per_image(scores, labels, defects, severity, masks)
                rows.append({"job_key": key, "status": "ok", "dataset": "d", "method": method, "subset": subset,
                             "seed": seed})
    rows.append({"job_key": "failed", "status": "error", "dataset": "d", "method": "a", "subset": "s1", "seed": 9})
    return pd.DataFrame(rows), diagnostics


def test_tables_average_per_seed_then_over_categories_and_bin_by_severity(tmp_path):
    rows, diagnostics = _frame_of_jobs(tmp_path)
    frame = breakdown_frame(rows, diagnostics)
    assert len(frame) == 2 * 2 * 2 * 14 and set(frame["seed"]) == {0, 1}
    table = per_defect_table(frame)
    # the crack type exists in both subsets: its mean row averages the per-(subset, seed) AUROCs
    per_job = {key: np.mean(d[PREFIX + "outrank"][d[PREFIX + "defect"] == "crack"]) for key, d in diagnostics.items()}
    want = np.mean([np.mean([per_job[f"a-{s}-{seed}"] for s in ("s1", "s2")]) for seed in (0, 1)])
    got = table[(table["method"] == "a") & (table["subset"] == "mean") & (table["defect"] == "crack")]["auroc"]
    assert got.item() == pytest.approx(want)
    one = table[(table["method"] == "b") & (table["subset"] == "s2") & (table["defect"] == "s2")]
    assert one["n_seeds"].item() == 2 and one["n_images"].item() == 7
    detection = detection_table(frame)
    sev = detection[(detection["by"] == "severity") & (detection["method"] == "a")]
    assert sev["n_images"].sum() == 2 * 2 * 14
    low = frame[(frame["method"] == "a") & (frame["severity"] < 0.2)]
    assert sev[sev["bin"] == "[0, 0.2)"]["detected"].item() == pytest.approx(low["detected"].mean())
    area = detection[(detection["by"] == "area") & (detection["method"] == "b")]
    assert area["n_images"].sum() == 2 * 2 * 14


def test_breakdown_tables_write_csv_markdown_and_figures(tmp_path):
    rows, diagnostics = _frame_of_jobs(tmp_path)
    written = breakdown_tables(rows, tmp_path / "out", diagnostics)
    names = {p.name for p in written}
    assert {"per_defect.csv", "per_defect.md", "detection.csv", "detection.md", "d-per_defect.png",
            "d-detection.png"} <= names
    text = (tmp_path / "out" / "per_defect.md").read_text()
    assert "## d: mean over categories" in text and "## d: s1" in text
    assert text.index("| a ") < text.index("| b ")  # best first
    assert "detection rate by severity" in (tmp_path / "out" / "detection.md").read_text()
    assert breakdown_tables(rows, tmp_path / "none", {}) == []
