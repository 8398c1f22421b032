"""Tiny in-memory WSOL data for method and box tests: coloured squares and discs on noise, exact boxes."""

from __future__ import annotations

import numpy as np

from harness.tracks.wsol.track import WsolImages, WsolTrain


def shapes(n_per_class: int, *, n_classes: int = 3, size: int = 32, seed: int = 0):
    """(images uint8 (n, S, S, 3), labels, boxes) with one or two objects of the class per image."""
    rng = np.random.default_rng(seed)
    images, labels, boxes = [], [], []
    for label in range(n_classes):
        colour = np.array([(label * 97) % 255, (label * 151 + 60) % 255, (label * 53 + 120) % 255])
        for _ in range(n_per_class):
            image = (rng.random((size, size, 3)) * 90).astype(np.uint8)
            found = []
            for _ in range(2 if rng.random() < 0.3 else 1):
                side = int(rng.integers(size // 5, size // 2))
                x0, y0 = (int(v) for v in rng.integers(0, size - side, 2))
                image[y0 : y0 + side, x0 : x0 + side] = colour
                found.append([x0, y0, x0 + side, y0 + side])
            images.append(image)
            labels.append(label)
            boxes.append(np.array(found, dtype=np.float64))
    return np.stack(images), np.array(labels, dtype=np.int64), boxes


def train_and_test(seed: int = 0) -> tuple[WsolTrain, WsolImages, np.ndarray, list[np.ndarray]]:
    """A training set (with a held-out split) and a test set with truth."""
    images, labels, _ = shapes(8, seed=seed)
    val_images, val_labels, val_boxes = shapes(2, seed=seed + 1)
    test_images, test_labels, test_boxes = shapes(3, seed=seed + 2)
    train = WsolTrain(images, labels, ("a", "b", "c"), val_images, val_labels, val_boxes)
    return train, WsolImages(test_images), test_labels, test_boxes
