"""From score maps to boxes, and the class-agnostic pseudo boxes of the two-stage methods.

- :func:`map_boxes`: boxes of the 8-connected components of a thresholded map (largest mass first), as CAM
  methods read their maps; :func:`choose_threshold` picks the threshold on the held-out split.
- :func:`ddt_maps`: Deep Descriptor Transforming (Wei et al., "Unsupervised object discovery and
  co-localization by deep descriptor transformation", Pattern Recognition 2019): the first principal component
  of the feature descriptors of the images of one class; positive projections mark the common object. PSOL
  (Zhang et al., CVPR 2020) makes its pseudo boxes this way.
- :func:`rasterize_boxes`: a score map drawn from boxes, for methods without a native map.
- :func:`center_boxes`: the centre-box floor.

Boxes are float ``(x0, y0, x1, y1)`` in the pixel-edge coordinates of the ``S`` x ``S`` image frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

__all__ = [
    "center_boxes",
    "choose_threshold",
    "apply_ddt",
    "ddt_maps",
    "fit_ddt",
    "map_boxes",
    "normalize",
    "pack_boxes",
    "rasterize_boxes",
    "resize_maps",
]

EIGHT = np.ones((3, 3), dtype=bool)
#: Thresholds on the min-max normalised map that :func:`choose_threshold` tries.
THRESHOLDS = np.round(np.arange(0.05, 1.0, 0.05), 2)


def resize_maps(maps: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize (align_corners=False) of (n, h, w) maps to (n, size, size), float64."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape[1:] == (size, size):
        return maps.astype(np.float64)
    out = F.interpolate(torch.from_numpy(maps)[:, None], size=(size, size), mode="bilinear", align_corners=False)
    return out[:, 0].double().numpy()


def normalize(score_map: np.ndarray) -> np.ndarray:
    """Min-max normalise a map to [0, 1] in float64; a constant map becomes zeros."""
    low, high = float(score_map.min()), float(score_map.max())
    if high <= low:
        return np.zeros_like(score_map, dtype=np.float64)
    return (score_map - low) / (high - low)


def map_boxes(
    score_map: np.ndarray, threshold: float, *, max_boxes: int = 5, min_share: float = 0.0, rescale: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes of the connected components of ``map > threshold``, largest score mass first.

    Args:
        score_map: float array of shape (S, S) in the image frame.
        threshold: Threshold on the min-max normalised map (on the raw map when ``rescale`` is False).
        max_boxes: Boxes kept at most.
        min_share: Components whose mass is below this share of the largest one are dropped.
        rescale: Min-max normalise the map first.

    Returns:
        (boxes float64 (k, 4), scores float64 (k,)) with 1 <= k <= max_boxes: the score of a box is its
        component's mass over the largest component's (1.0 for the first). A map with no pixel above the
        threshold gives the whole image with score 0.
    """
    values = normalize(score_map) if rescale else np.asarray(score_map, dtype=np.float64)
    labels, n_components = ndimage.label(values > threshold, structure=EIGHT)
    size_y, size_x = values.shape
    if n_components == 0:
        return np.array([[0.0, 0.0, size_x, size_y]]), np.zeros(1)
    mass = ndimage.sum_labels(values, labels, index=np.arange(1, n_components + 1))
    order = np.argsort(-mass, kind="stable")
    slices = ndimage.find_objects(labels)
    boxes, scores = [], []
    for component in order[:max_boxes]:
        share = mass[component] / mass[order[0]]
        if boxes and share < min_share:
            break
        rows, cols = slices[component]
        boxes.append([cols.start, rows.start, cols.stop, rows.stop])
        scores.append(share)
    return np.array(boxes, dtype=np.float64), np.array(scores)


def _iou_max(box: np.ndarray, gt: np.ndarray) -> float:
    from harness.metrics.localization import box_iou

    return float(box_iou(box[None], gt, validate=False).max())


def choose_threshold(
    maps: np.ndarray, gt_boxes: Sequence[np.ndarray], thresholds: np.ndarray = THRESHOLDS
) -> tuple[float, np.ndarray]:
    """The map threshold whose top box is most often right (IoU >= 0.5) on the held-out images.

    Args:
        maps: float array of shape (n_val, S, S), the held-out images' maps in the image frame.
        gt_boxes: n_val float arrays of shape (n_boxes_i, 4).
        thresholds: Candidates on the normalised map.

    Returns:
        (the chosen threshold, the GT-known accuracy of every candidate); ties go to the lowest threshold.
    """
    accuracy = np.zeros(len(thresholds))
    for j, threshold in enumerate(thresholds):
        hits = [_iou_max(map_boxes(m, threshold, max_boxes=1)[0][0], gt) >= 0.5 for m, gt in zip(maps, gt_boxes,
                                                                                                 strict=True)]
        accuracy[j] = np.mean(hits)
    return float(thresholds[int(np.argmax(accuracy))]), accuracy


def pack_boxes(per_image: Sequence[tuple[np.ndarray, np.ndarray]], max_boxes: int) -> dict[str, np.ndarray]:
    """The track's ``boxes``, ``box_scores`` and ``n_boxes`` arrays from per-image (boxes, scores) pairs."""
    n_images = len(per_image)
    boxes = np.zeros((n_images, max_boxes, 4), dtype=np.float32)
    scores = np.zeros((n_images, max_boxes), dtype=np.float32)
    counts = np.zeros(n_images, dtype=np.int64)
    for i, (b, s) in enumerate(per_image):
        k = min(len(b), max_boxes)
        boxes[i, :k], scores[i, :k], counts[i] = b[:k], s[:k], k
    return {"boxes": boxes, "box_scores": scores, "n_boxes": counts}


def rasterize_boxes(boxes: np.ndarray, scores: np.ndarray, n_boxes: np.ndarray, size: int) -> np.ndarray:
    """Score maps (n, size, size) drawn from boxes: each pixel takes the highest score of the boxes covering it.

    Scores are first mapped to ``(0, 1]`` by rank (the top box 1.0, the next lower), so thresholding the map
    reveals the boxes in decreasing confidence.
    """
    n_images, n_max = scores.shape
    maps = np.zeros((n_images, size, size), dtype=np.float32)
    for i in range(n_images):
        for rank in range(int(n_boxes[i]) - 1, -1, -1):
            x0, y0, x1, y1 = np.clip(np.round(boxes[i, rank]).astype(int), 0, size)
            maps[i, y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)] = (n_max - rank) / n_max
    return maps


def center_boxes(n_images: int, size: int, fraction: float) -> np.ndarray:
    """(n_images, 4) copies of the centred square box whose side is ``fraction`` of the image side."""
    half = 0.5 * fraction * size
    box = np.array([size / 2 - half, size / 2 - half, size / 2 + half, size / 2 + half])
    return np.tile(box, (n_images, 1))


def fit_ddt(
    features: np.ndarray, labels: np.ndarray, reference: np.ndarray | None = None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """DDT statistics per class: the mean descriptor and the first principal component of the class's images.

    Args:
        features: float array of shape (n, C, h, w), the images' feature maps.
        labels: int array of shape (n,): the statistics are computed per class (the images that share the
            object, as PSOL does with the image labels of the training set).
        reference: Optional float array (n, h', w') of the same images (e.g. their class activation maps, any
            resolution): the component's sign is chosen so that the projection correlates positively with it
            within each class. Without it, the sign whose positive side covers fewer locations is kept (the
            object is the smaller part of an image).

    Returns:
        label -> (mean float64 (C,), unit direction float64 (C,)).
    """
    n_channels, height, width = features.shape[1:]
    out = {}
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        descriptors = features[rows].transpose(0, 2, 3, 1).reshape(-1, n_channels).astype(np.float64)
        mean = descriptors.mean(axis=0)
        centred = descriptors - mean
        _, vectors = np.linalg.eigh(centred.T @ centred / max(1, len(centred) - 1))
        direction = vectors[:, -1]
        projection = centred @ direction
        if reference is not None:
            ref = resize_maps(reference[rows], height) if reference.shape[1:] != (height, width) else reference[rows]
            flip = np.corrcoef(projection, np.asarray(ref).reshape(-1))[0, 1] < 0
        else:
            flip = (projection > 0).mean() > 0.5
        out[int(label)] = (mean, -direction if flip else direction)
    return out


def apply_ddt(statistics: dict[int, tuple[np.ndarray, np.ndarray]], features: np.ndarray, labels: np.ndarray):
    """DDT maps (n, h, w), float64: each image's descriptors projected with its class's statistics."""
    out = np.zeros((len(features), *features.shape[2:]))
    for i, (feature, label) in enumerate(zip(features, labels, strict=True)):
        mean, direction = statistics[int(label)]
        out[i] = np.einsum("chw,c->hw", feature - mean[:, None, None], direction)
    return out


def ddt_maps(features: np.ndarray, labels: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """DDT maps of the images the statistics come from (:func:`fit_ddt` then :func:`apply_ddt`).

    Returns:
        float64 array of shape (n, h, w); positive values mark the common object.
    """
    return apply_ddt(fit_ddt(features, labels, reference), features, labels)
