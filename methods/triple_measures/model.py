"""Triple measures of a query candidate, and their fusion with a best-versus-second-best uncertainty.

Pure numpy, no harness import. Notation: a pool of ``n`` rows, ``C`` classes, a labelled set ``L`` (size
``l``) and an unlabelled set ``U`` (size ``u``). Each row carries a label vector ``q``: the one-hot label
for a labelled row, the classifier's estimated class probabilities for an unlabelled one. The similarity
of two rows is an RBF kernel weighted by their label vectors::

    W[i, j] = K[i, j] * <q_i, q_j>,    K[i, j] = exp(-gamma * ||x_i - x_j||^2)

so two rows are similar when they are close *and* (are believed to) share a class. Querying candidate
``s`` moves it from ``U`` to ``L``; the discrepancy between the two sets afterwards is the squared
maximum mean discrepancy under ``W``, whose three terms are the triple measures::

    D(s) = S(L+s, L+s) / (l+1)^2  -  2 S(L+s, U-s) / ((l+1)(u-1))  +  S(U-s, U-s) / (u-1)^2

with ``S(A, B)`` the sum of ``W`` over A x B. The first term grows when ``s`` resembles the labelled rows
(low diversity), the second rewards ``s`` for representing the unlabelled rows, the third is what stays
unlabelled. A good query has a small ``D(s)``.

Cost: ``K`` is computed once per pool (O(n^2 d)). Per round, ``A = K[:, L] Y_L`` is updated in O(n C)
per revealed label (:meth:`TripleMeasureState.reveal`); ``B = K[:, U] P_U`` depends on the current
probabilities and costs one O(n u C) product; then every candidate's ``D(s)`` costs O(C). Within a batch,
each chosen row joins ``L`` with its estimated probabilities as label vector (O(n C) update).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "TripleMeasureState",
    "bvsb_uncertainty",
    "fuse",
    "median_gamma",
    "rbf_kernel",
    "triple_measure_discrepancy",
]


def median_gamma(features: np.ndarray) -> float:
    """RBF width by the median heuristic: ``1 / median`` of the squared distances between distinct rows.

    Args:
        features: float array of shape (n, d), n >= 2.

    Returns:
        gamma > 0 (1.0 when every distance is 0).

    Example:
        >>> median_gamma(np.array([[0.0], [1.0], [3.0]]))
        0.25
    """
    sq = _squared_distances(features)
    upper = sq[np.triu_indices(len(features), k=1)]
    median = float(np.median(upper)) if upper.size else 0.0
    return 1.0 / median if median > 0 else 1.0


def _squared_distances(features: np.ndarray) -> np.ndarray:
    norms = np.einsum("ij,ij->i", features, features)
    sq = norms[:, None] + norms[None, :] - 2.0 * features @ features.T
    np.maximum(sq, 0.0, out=sq)
    np.fill_diagonal(sq, 0.0)
    return sq


def rbf_kernel(features: np.ndarray, *, gamma: float) -> np.ndarray:
    """RBF kernel matrix ``exp(-gamma ||x_i - x_j||^2)``: float64 array of shape (n, n), ones on the diagonal."""
    return np.exp(-gamma * _squared_distances(np.asarray(features, dtype=np.float64)))


def bvsb_uncertainty(proba: np.ndarray) -> np.ndarray:
    """Best-versus-second-best uncertainty ``1 - (p_best - p_second)``, in [0, 1], higher = more uncertain.

    Args:
        proba: float array of shape (n, C), C >= 2, rows summing to 1.

    Returns:
        float64 array of shape (n,); ties between the two top classes give 1.

    Example:
        >>> bvsb_uncertainty(np.array([[0.5, 0.3, 0.2], [0.9, 0.1, 0.0]])).round(2).tolist()
        [0.8, 0.2]
    """
    top2 = -np.partition(-np.asarray(proba, dtype=np.float64), 1, axis=1)[:, :2]
    return 1.0 - (top2[:, 0] - top2[:, 1])


def fuse(discrepancy: np.ndarray, uncertainty: np.ndarray | None, *, beta: float) -> np.ndarray:
    """Score of each candidate: ``uncertainty + beta * r``, with ``r`` the min-max rescaled ``-discrepancy``.

    ``r`` is 1 for the candidate that leaves the smallest discrepancy and 0 for the largest (all 1 when
    every candidate ties), so both parts lie in [0, 1]. Without ``uncertainty`` the score is ``r``.
    """
    spread = float(discrepancy.max() - discrepancy.min())
    representative = (discrepancy.max() - discrepancy) / spread if spread > 0 else np.ones_like(discrepancy)
    return representative if uncertainty is None else uncertainty + beta * representative


class TripleMeasureState:
    """The kernel of one pool and the label-side sums, updated per query instead of recomputed.

    Args:
        kernel: float64 array of shape (n, n), symmetric, e.g. :func:`rbf_kernel` of the pool.
        n_classes: Number of classes C.
        weighted: Weight the kernel by the label vectors' inner product (False: plain MMD, every
            label vector is treated as the same constant).
    """

    def __init__(self, kernel: np.ndarray, n_classes: int, *, weighted: bool = True) -> None:
        self.kernel = kernel
        self.n_classes = n_classes
        self.weighted = weighted
        self.labelled: list[int] = []
        self.vectors = np.zeros((len(kernel), n_classes if weighted else 1))
        self.a_sum = np.zeros_like(self.vectors)  # A = K[:, L] @ Q_L

    def _vector(self, label_or_proba: np.ndarray | int) -> np.ndarray:
        if not self.weighted:
            return np.ones(1)
        if np.ndim(label_or_proba) == 0:
            one_hot = np.zeros(self.n_classes)
            one_hot[int(label_or_proba)] = 1.0
            return one_hot
        return np.asarray(label_or_proba, dtype=np.float64)

    def reveal(self, rows: np.ndarray, labels: np.ndarray) -> None:
        """Add labelled rows with their labels: ``A += K[:, r] y_r^T`` for each, O(n C) per row."""
        for row, label in zip(np.asarray(rows).tolist(), np.asarray(labels).tolist(), strict=True):
            vector = self._vector(int(label))
            self.vectors[row] = vector
            self.a_sum += np.outer(self.kernel[:, row], vector)
            self.labelled.append(row)

    def select(self, proba: np.ndarray, unlabelled: np.ndarray, batch_size: int, *, beta: float,
               use_uncertainty: bool = True) -> np.ndarray:
        """Choose ``batch_size`` rows of ``unlabelled`` greedily by the fused score.

        Args:
            proba: float array of shape (n, C), the classifier's probabilities for every pool row.
            unlabelled: int array of shape (u,), the unlabelled rows.
            batch_size: Rows to choose.
            beta: Weight of the representativeness term against the uncertainty.
            use_uncertainty: Fuse with :func:`bvsb_uncertainty` (False: representativeness only).

        Returns:
            int64 array of shape (batch_size,), in the order chosen.
        """
        unlabelled = np.asarray(unlabelled, dtype=np.int64)
        vectors = self.vectors.copy()
        vectors[unlabelled] = proba[unlabelled] if self.weighted else 1.0
        a_sum = self.a_sum.copy()
        b_sum = self.kernel[:, unlabelled] @ vectors[unlabelled]  # B = K[:, U] @ Q_U
        labelled = np.asarray(self.labelled, dtype=np.int64)
        uncertainty = bvsb_uncertainty(proba) if use_uncertainty else None
        chosen: list[int] = []
        remaining = unlabelled.copy()
        for _ in range(batch_size):
            if len(remaining) == 1:
                chosen.append(int(remaining[0]))
                break
            d = triple_measure_discrepancy(a_sum, b_sum, vectors, labelled, remaining)
            score = fuse(d, None if uncertainty is None else uncertainty[remaining], beta=beta)
            pick = int(remaining[int(np.argmax(score))])
            chosen.append(pick)
            # the chosen row joins L with its estimated label vector: O(n C)
            column = np.outer(self.kernel[:, pick], vectors[pick])
            a_sum += column
            b_sum -= column
            labelled = np.append(labelled, pick)
            remaining = remaining[remaining != pick]
        return np.asarray(chosen, dtype=np.int64)


def triple_measure_discrepancy(
    a_sum: np.ndarray, b_sum: np.ndarray, vectors: np.ndarray, labelled: np.ndarray, unlabelled: np.ndarray
) -> np.ndarray:
    """``D(s)`` for every ``s`` in ``unlabelled``, from the running sums (see the module docstring).

    Args:
        a_sum: float array of shape (n, C), ``K[:, L] @ Q_L``.
        b_sum: float array of shape (n, C), ``K[:, U] @ Q_U``.
        vectors: float array of shape (n, C), the label vector of every row.
        labelled: int array of shape (l,), l >= 1.
        unlabelled: int array of shape (u,), u >= 2.

    Returns:
        float64 array of shape (u,); assumes ``K[s, s] = 1`` (an RBF kernel).
    """
    n_l, n_u = len(labelled), len(unlabelled)
    q_u = vectors[unlabelled]
    s_ll = float(np.sum(vectors[labelled] * a_sum[labelled]))
    s_lu = float(np.sum(q_u * a_sum[unlabelled]))
    s_uu = float(np.sum(q_u * b_sum[unlabelled]))
    w_sl = np.sum(q_u * a_sum[unlabelled], axis=1)
    w_su = np.sum(q_u * b_sum[unlabelled], axis=1)
    w_ss = np.sum(q_u * q_u, axis=1)
    within_labelled = (s_ll + 2.0 * w_sl + w_ss) / (n_l + 1) ** 2
    cross = (s_lu - w_sl + w_su - w_ss) / ((n_l + 1) * (n_u - 1))
    within_unlabelled = (s_uu - 2.0 * w_su + w_ss) / (n_u - 1) ** 2
    return within_labelled - 2.0 * cross + within_unlabelled
