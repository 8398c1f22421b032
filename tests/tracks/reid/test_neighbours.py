"""k-reciprocal Jaccard distances against a dense per-image loop of Zhong et al.'s definition; DBSCAN on them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import DBSCAN

from harness.tracks.reid import neighbours


def _dense_jaccard(features: np.ndarray, k1: int, k2: int) -> np.ndarray:
    """Zhong et al. (CVPR 2017), eq. 5-12, on a dense n x n matrix: the reference, one image at a time."""
    n = len(features)
    sq = ((features[:, None, :] - features[None, :, :]) ** 2).sum(-1)
    ranked = np.argsort(sq, axis=1, kind="stable")

    def recip(i: int, k: int) -> list[int]:
        return [j for j in ranked[i, : k + 1] if i in ranked[j, : k + 1]]

    v = np.zeros((n, n))
    half = round(k1 / 2)
    for i in range(n):
        base = recip(i, k1)
        expanded = set(base)
        for j in base:
            cand = recip(j, half)
            if len(set(cand) & set(base)) > 2 / 3 * len(cand):
                expanded |= set(cand)
        cols = sorted(expanded)
        w = np.exp(-sq[i, cols])
        v[i, cols] = w / w.sum()
    if k2 > 1:
        v = np.stack([v[ranked[i, :k2]].mean(axis=0) for i in range(n)])
    out = np.ones((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = 1 - np.minimum(v[i], v[j]).sum() / np.maximum(v[i], v[j]).sum()
    return out


@pytest.mark.parametrize(("k1", "k2", "seed"), [(5, 1, 0), (6, 3, 1), (8, 4, 2)])
def test_sparse_jaccard_equals_the_dense_definition(k1, k2, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, 8))
    features = centres[rng.integers(0, 5, 40)] + 0.6 * rng.normal(size=(40, 8))
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    sparse = neighbours.jaccard_distances(features, k1=k1, k2=k2).toarray()
    dense = _dense_jaccard(features, k1, k2)
    got = np.where(sparse > 0, sparse, 1.0)
    np.fill_diagonal(got, np.diag(sparse))
    np.testing.assert_allclose(got, dense, atol=1e-9)
    assert np.allclose(np.diag(sparse), 0, atol=1e-9)


def test_dbscan_on_the_sparse_matrix_matches_dbscan_on_the_dense_one():
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(4, 6)) * 3
    features = centres[np.repeat(np.arange(4), 10)] + 0.3 * rng.normal(size=(40, 6))
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    sparse = neighbours.jaccard_distances(features, k1=8, k2=3)
    dense = np.where(sparse.toarray() > 0, sparse.toarray(), 1.0)
    np.fill_diagonal(dense, 0.0)
    for eps in (0.3, 0.5, 0.7):
        want = DBSCAN(eps=eps, min_samples=4, metric="precomputed").fit_predict(dense)
        got = neighbours.dbscan_labels(sparse, eps=eps, min_samples=4)
        np.testing.assert_array_equal(got, want)
    labels = neighbours.dbscan_labels(sparse, eps=0.6, min_samples=4)
    assert labels.max() + 1 == 4 and (labels >= 0).all()
