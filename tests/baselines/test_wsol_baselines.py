import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.api import Context
from harness.metrics.localization import box_iou
from harness.tracks.wsol import WsolTrack
from harness.tracks.wsol import boxes as wb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracks" / "wsol"))
from wsol_cases import train_and_test  # noqa: E402


def test_map_boxes_finds_every_component_largest_mass_first():
    score_map = np.zeros((20, 20))
    score_map[2:6, 3:9] = 1.0  # mass 24
    score_map[10:18, 10:18] = 0.8  # mass 51.2
    score_map[0, 19] = 0.9  # one pixel
    boxes, scores = wb.map_boxes(score_map, 0.5, max_boxes=5, min_share=0.0)
    assert boxes.tolist() == [[10, 10, 18, 18], [3, 2, 9, 6], [19, 0, 20, 1]]
    assert scores[0] == 1.0 and (np.diff(scores) < 0).all()
    kept, _ = wb.map_boxes(score_map, 0.5, min_share=0.2)
    assert len(kept) == 2
    empty, empty_scores = wb.map_boxes(np.zeros((4, 6)), 0.5)
    assert empty.tolist() == [[0, 0, 6, 4]] and empty_scores.tolist() == [0.0]


def test_map_boxes_are_eight_connected():
    score_map = np.zeros((6, 6))
    score_map[1, 1] = score_map[2, 2] = 1.0  # diagonal neighbours: one component
    boxes, _ = wb.map_boxes(score_map, 0.5)
    assert boxes.tolist() == [[1, 1, 3, 3]]


def test_choose_threshold_picks_the_best_on_held_out_boxes():
    score_map = np.zeros((10, 10))
    score_map[2:8, 2:8] = 0.5
    score_map[4:6, 4:6] = 1.0
    gt = [np.array([[2.0, 2.0, 8.0, 8.0]])]
    threshold, accuracy = wb.choose_threshold(score_map[None], gt)
    assert accuracy[wb.THRESHOLDS < 0.5].all() and not accuracy[wb.THRESHOLDS >= 0.5].any()
    assert threshold == wb.THRESHOLDS[0]


def test_rasterized_boxes_reveal_boxes_in_score_order():
    boxes = np.array([[[0, 0, 4, 4], [5, 5, 10, 10]]], dtype=np.float32)
    maps = wb.rasterize_boxes(boxes, np.array([[0.9, 0.2]]), np.array([2]), 10)
    top, _ = wb.map_boxes(maps[0], 0.75, max_boxes=5)
    assert top.tolist() == [[0, 0, 4, 4]]
    both, _ = wb.map_boxes(maps[0], 0.25, max_boxes=5)
    assert sorted(both.tolist()) == [[0, 0, 4, 4], [5, 5, 10, 10]]


def test_center_boxes_and_ddt_sign():
    assert wb.center_boxes(2, 10, 0.4).tolist() == [[3.0, 3.0, 7.0, 7.0]] * 2
    rng = np.random.default_rng(0)
    features = rng.normal(0, 0.1, (6, 4, 5, 5))
    features[:, 0, 1:3, 1:3] += 3.0  # the shared object: a strong channel-0 response in a corner
    maps = wb.ddt_maps(features, np.zeros(6, dtype=int))
    assert (maps[:, 1:3, 1:3] > 0).all() and (maps[:, 3:, 3:] < 0).all()


def test_center_box_floor_chooses_its_side_on_the_held_out_split():
    from baselines.wsol import CenterBox

    train, inputs, _, _ = train_and_test()
    method = CenterBox()
    method.fit(train, WsolTrack().budget("smoke"), Context(seed=0, log=logging.getLogger("test")))
    size = train.val_images.shape[1]
    best = max(
        np.mean([box_iou(wb.center_boxes(1, size, f), gt).max() >= 0.5 for gt in train.val_boxes])
        for f in np.linspace(0.1, 1.0, 19)
    )
    chosen = np.mean([box_iou(wb.center_boxes(1, size, method.fraction), gt).max() >= 0.5 for gt in train.val_boxes])
    assert chosen == pytest.approx(best)
    predictions = method.predict(inputs)
    assert (predictions["class_scores"] == 0).all()
