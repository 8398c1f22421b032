"""Pseudo labels from embeddings: k-reciprocal Jaccard distances and DBSCAN (the Cluster-Contrast recipe).

The neighbour search and the clustering come from scikit-learn (:class:`~sklearn.neighbors.NearestNeighbors`,
:class:`~sklearn.cluster.DBSCAN`); what is written here is the k-reciprocal encoding of Zhong et al. (CVPR
2017, "Re-ranking Person Re-identification with k-reciprocal Encoding"), as Cluster-Contrast uses it for
clustering: the k1-reciprocal neighbours of every image, expanded by those of its neighbours that share at
least two thirds of their own k1/2-reciprocal set with it, weighted by ``exp(-d)``, averaged over the k2 nearest
neighbours (local query expansion), and compared by the Jaccard distance of the weighted sets. The sets are
sparse (a few dozen images each), so the distances are computed through an inverted index in ``O(n k^2)`` and
returned as a sparse matrix whose missing entries are distance 1: the method scales to Market-1501's 12,936
training images without an n x n dense matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["dbscan_labels", "jaccard_distances", "k_reciprocal_sets"]


def _neighbours(features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices (n, k), Euclidean distances (n, k)) of the k nearest neighbours, self first."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(features))
    search = NearestNeighbors(n_neighbors=k).fit(features)
    distances, indices = search.kneighbors(features)
    return indices, distances


def k_reciprocal_sets(features: np.ndarray, k1: int = 20) -> list[np.ndarray]:
    """Each image's expanded k1-reciprocal neighbour set (indices, itself included).

    Args:
        features: float array (n, d), L2-normalised embeddings.
        k1: Neighbours of the reciprocal test (Zhong et al.: 20).
    """
    n = len(features)
    indices, _ = _neighbours(features, k1 + 1)
    near = [set(row.tolist()) for row in indices]
    half = max(1, round(k1 / 2))
    half_near = [set(row[: half + 1].tolist()) for row in indices]

    def reciprocal(i: int, neighbours: list[set[int]], rows: np.ndarray) -> list[int]:
        return [j for j in rows.tolist() if i in neighbours[j]]

    out = []
    for i in range(n):
        base = reciprocal(i, near, indices[i])
        expanded = set(base)
        for j in base:
            candidate = reciprocal(j, half_near, indices[j, : half + 1])
            if len(set(candidate) & set(base)) > 2 / 3 * len(candidate):
                expanded.update(candidate)
        out.append(np.array(sorted(expanded), dtype=np.int64))
    return out


def jaccard_distances(features: np.ndarray, *, k1: int = 20, k2: int = 6) -> sp.csr_matrix:
    """k-reciprocal Jaccard distances of every pair of images that share a neighbour.

    Args:
        features: float array (n, d), L2-normalised embeddings.
        k1: Neighbours of the reciprocal test.
        k2: Neighbours of the local query expansion (1 = none).

    Returns:
        Sparse (n, n) float64 CSR matrix of distances in [0, 1]; a pair not stored has distance 1. The diagonal
        is stored (distance 0, kept as a tiny positive value so that the sparse structure holds it).
    """
    features = np.asarray(features, dtype=np.float64)
    n = len(features)
    sets = k_reciprocal_sets(features, k1)
    rows = np.repeat(np.arange(n), [len(s) for s in sets])
    cols = np.concatenate(sets) if n else np.zeros(0, dtype=np.int64)
    squared = np.maximum(2.0 - 2.0 * np.einsum("ij,ij->i", features[rows], features[cols]), 0.0)
    weights = sp.csr_matrix((np.exp(-squared), (rows, cols)), shape=(n, n))
    weights = sp.csr_matrix(weights.multiply(1.0 / np.maximum(weights.sum(axis=1), 1e-12)))
    if k2 > 1:
        indices, _ = _neighbours(features, k2)
        expand = sp.csr_matrix((np.full(indices.size, 1.0 / indices.shape[1]),
                                (np.repeat(np.arange(n), indices.shape[1]), indices.ravel())), shape=(n, n))
        weights = sp.csr_matrix(expand @ weights)
    weights.sort_indices()
    by_column = weights.tocsc()
    out_rows, out_cols, out_vals = [], [], []
    for i in range(n):
        start, stop = weights.indptr[i], weights.indptr[i + 1]
        cols_i, vals_i = weights.indices[start:stop], weights.data[start:stop]
        shared = np.zeros(n)
        for c, v in zip(cols_i, vals_i, strict=True):
            lo, hi = by_column.indptr[c], by_column.indptr[c + 1]
            shared[by_column.indices[lo:hi]] += np.minimum(v, by_column.data[lo:hi])
        partners = np.flatnonzero(shared > 0)
        partners = np.union1d(partners, [i])
        distance = 1.0 - shared[partners] / (2.0 - shared[partners])
        out_rows.append(np.full(len(partners), i))
        out_cols.append(partners)
        out_vals.append(np.maximum(distance, 1e-12))
    matrix = sp.csr_matrix((np.concatenate(out_vals), (np.concatenate(out_rows), np.concatenate(out_cols))),
                           shape=(n, n))
    return sp.csr_matrix(matrix.maximum(matrix.T))


def dbscan_labels(distances: sp.csr_matrix, *, eps: float = 0.6, min_samples: int = 4) -> np.ndarray:
    """DBSCAN on precomputed sparse distances: int64 labels (n,), ``-1`` for outliers (scikit-learn's DBSCAN)."""
    from sklearn.cluster import DBSCAN

    return DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit_predict(distances).astype(np.int64)
