"""Dimensional collapse of an embedding table: effective rank, stable rank, uniformity.

The table is a float array of shape (n_samples, n_dims), one embedding per row (e.g. the
item or user embeddings of a recommender, or the features of a self-supervised encoder).
Higher effective and stable rank mean less collapse; uniformity is a log-mean of
similarities, where lower (more negative) means more uniformly spread embeddings.
Singular values come from LAPACK (``numpy.linalg.svd``) in float64: O(n d min(n, d)) time.

References:
    Roy, Vetterli, "The effective rank: A measure of effective dimensionality",
    EUSIPCO 2007.
    Rudelson, Vershynin, "Sampling from large matrices: an approach through geometric
    functional analysis", J. ACM 2007 (stable rank).
    Wang, Isola, "Understanding Contrastive Representation Learning through Alignment and
    Uniformity on the Hypersphere", ICML 2020.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.metrics._validation import MetricInputError, as_array, check_finite, check_ndim

__all__ = ["effective_rank", "stable_rank", "uniformity"]

EXACT_PAIR_LIMIT = 1 << 23
"""Default largest number of pairs that :func:`uniformity` sums exactly (about 4100 rows)."""

ROWS_PER_BLOCK = 1024
#: Sampled pairs whose rows are gathered at once (two (block, dim) float64 copies), so the sampled path's memory
#: does not grow with ``max_pairs`` x dim (8.4M pairs of 32 dimensions gathered whole: 4.3 GB).
PAIRS_PER_BLOCK = 1 << 16
"""Rows of the Gram matrix computed at a time by the exact uniformity."""


def _collapse_validate(embeddings: Any, caller: str, *, validate: bool) -> np.ndarray:
    """Check a finite, non-empty 2-D table; return it as float64."""
    embeddings = as_array(embeddings, "embeddings", caller)
    if validate:
        check_ndim(embeddings, "embeddings", caller, 2, "(n_samples, n_dims)")
        check_finite(embeddings, "embeddings", caller)
    return embeddings.astype(np.float64)


def _singular_values(embeddings: np.ndarray, caller: str) -> np.ndarray:
    """Return the singular values, descending, raising when they are all zero."""
    singular_values = np.linalg.svd(embeddings, compute_uv=False)
    if singular_values[0] == 0:
        msg = (
            f"Argument `embeddings` of {caller} is all zeros (shape {embeddings.shape}); the rank measures are "
            "0 / 0 then. Check that the embeddings were trained and extracted."
        )
        raise MetricInputError(msg)
    return singular_values


def effective_rank(embeddings: Any, *, validate: bool = True) -> float:
    """Effective rank (Roy & Vetterli 2007): exp of the entropy of the normalised singular values.

    With singular values s_i and p_i = s_i / sum(s), erank = exp(-sum p_i log p_i), where
    0 log 0 = 0. The embeddings are not centred. RankMe (Garrido et al. 2023) is the same
    quantity with a small epsilon added to p_i.

    Args:
        embeddings: float array of shape (n_samples, n_dims); NaN or inf raise.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The effective rank in [1, min(n_samples, n_dims)], as a Python float.

    Raises:
        MetricInputError: On a wrong shape, a non-finite value, or an all-zero table.

    Example:
        >>> round(effective_rank(np.eye(4)), 6)
        4.0
    """
    caller = "effective_rank"
    singular_values = _singular_values(_collapse_validate(embeddings, caller, validate=validate), caller)
    p = singular_values / singular_values.sum()
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def stable_rank(embeddings: Any, *, validate: bool = True) -> float:
    """Stable rank, ||A||_F^2 / ||A||_2^2: the sum of squared singular values over the largest one squared.

    Args:
        embeddings: float array of shape (n_samples, n_dims); NaN or inf raise.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The stable rank in [1, min(n_samples, n_dims)], as a Python float.

    Raises:
        MetricInputError: On a wrong shape, a non-finite value, or an all-zero table.

    Example:
        >>> stable_rank(np.diag([2.0, 1.0]))
        1.25
    """
    caller = "stable_rank"
    singular_values = _singular_values(_collapse_validate(embeddings, caller, validate=validate), caller)
    return float(np.sum(singular_values**2) / singular_values[0] ** 2)


def _logmeanexp(values: np.ndarray) -> float:
    """Return log(mean(exp(values))) computed without overflow."""
    peak = values.max()
    return float(peak + np.log(np.mean(np.exp(values - peak))))


def uniformity(
    embeddings: Any, *, t: float = 2.0, max_pairs: int = EXACT_PAIR_LIMIT, seed: int = 0, validate: bool = True
) -> float:
    """Uniformity (Wang & Isola 2020): log of the mean of exp(-t ||x - y||^2) over pairs of rows.

    Rows are L2-normalised first; the pairs are all unordered pairs of distinct rows, as
    ``torch.pdist`` in the authors' code. Two paths:

    * exact, when n (n - 1) / 2 <= ``max_pairs``: the Gram matrix in blocks of 1024 rows,
      O(n^2 d) time and O(1024 n) memory;
    * sampled, otherwise: ``max_pairs`` pairs of distinct rows drawn uniformly with
      replacement from ``numpy.random.default_rng(seed)``, O(max_pairs d) time. The mean
      inside the log is then unbiased, with a relative standard error of about
      sqrt(var / max_pairs) (below 1e-3 for 2**23 pairs of typical embeddings).

    Args:
        embeddings: float array of shape (n_samples, n_dims); NaN or inf raise.
        t: Temperature of the Gaussian kernel, > 0; 2 in the paper.
        max_pairs: Largest number of pairs summed exactly; above it pairs are sampled.
        seed: Seed of the pair sampler; the exact path does not use it.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        Uniformity in [-4 t, 0], as a Python float; lower is more uniform.

    Raises:
        MetricInputError: On a wrong shape, a non-finite value, fewer than 2 rows, an
            all-zero row (it has no direction), ``t <= 0`` or ``max_pairs < 1``.

    Example:
        >>> round(uniformity(np.array([[1.0, 0.0], [-1.0, 0.0]])), 6)
        -8.0
    """
    caller = "uniformity"
    x = _collapse_validate(embeddings, caller, validate=validate)
    norms = np.linalg.norm(x, axis=1)
    if validate:
        if not (isinstance(t, (int, float, np.floating)) and t > 0):
            msg = f"Argument `t` of {caller} must be a number > 0; got {t!r}. The paper uses t = 2."
            raise MetricInputError(msg)
        if isinstance(max_pairs, bool) or not isinstance(max_pairs, (int, np.integer)) or max_pairs < 1:
            msg = f"Argument `max_pairs` of {caller} must be a positive integer; got {max_pairs!r}."
            raise MetricInputError(msg)
        if len(x) < 2:
            msg = f"Argument `embeddings` of {caller} must have at least 2 rows to form a pair; got {len(x)}."
            raise MetricInputError(msg)
        if (norms == 0).any():
            row = int(np.flatnonzero(norms == 0)[0])
            msg = (
                f"Argument `embeddings` of {caller} has an all-zero row at index {row} "
                f"({int(np.count_nonzero(norms == 0))} in all); it has no direction to normalise. "
                "Drop such rows or fix the encoder."
            )
            raise MetricInputError(msg)
    x = x / norms[:, None]
    n = len(x)
    if n * (n - 1) // 2 <= max_pairs:
        exponents = []
        for begin in range(0, n - 1, ROWS_PER_BLOCK):
            block = x[begin : begin + ROWS_PER_BLOCK]
            gram = block @ x[begin + 1 :].T  # row i of the block against rows after it
            rows, cols = np.triu_indices(len(block), m=n - begin - 1)
            squared = np.maximum(2.0 - 2.0 * gram[rows, cols], 0.0)
            exponents.append(-t * squared)
        return _logmeanexp(np.concatenate(exponents))
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, size=max_pairs)
    second = (first + rng.integers(1, n, size=max_pairs)) % n  # uniform over the other rows
    exponents = np.empty(max_pairs)
    for begin in range(0, max_pairs, PAIRS_PER_BLOCK):  # gathered rows of a block only: O(block x dim) memory
        pairs = slice(begin, begin + PAIRS_PER_BLOCK)
        dots = np.einsum("ij,ij->i", x[first[pairs]], x[second[pairs]])
        exponents[pairs] = -t * np.maximum(2.0 - 2.0 * dots, 0.0)
    return _logmeanexp(exponents)
