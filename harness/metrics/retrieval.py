"""Person re-identification retrieval metrics: mAP and CMC under the Market-1501 protocol.

For every query the gallery is ranked by distance, nearest first, after removing the
gallery images that the protocol ignores:

* junk images (identity -1) are removed for every query;
* images of the query's identity taken by the query's camera are removed for that query;
* distractors (identity 0) stay in the gallery as false matches.

The true matches ("good" images) of a query are the remaining gallery images of its
identity. Average precision is the mean over a query's true matches of the precision at
each of their ranks; CMC rank-k is the share of queries whose first true match is among
the first k. A query without any true match is skipped (it counts in neither mAP nor CMC,
as in the official Market-1501 code and torchreid). Ties in distance are broken against
the true match (a true match at the same distance as a false one ranks after it), as in
``harness.metrics.ranking``; with continuous distances there are no ties and the values
equal torchreid's ``eval_market1501``. Higher is better for every metric here.

:func:`reid_map_cmc` averages the per-query values of :func:`reid_per_query`;
:func:`reid_resampled` averages the same values under many bootstrap resamples of the
queries at once (one matrix product), so a confidence interval costs one evaluation.

Reference:
    Zheng, Shen, Tian, Wang, Wang, Tian, "Scalable Person Re-identification: A Benchmark",
    ICCV 2015.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.metrics._validation import (
    MetricInputError,
    as_array,
    check_finite,
    check_ndim,
    check_same_length,
)

__all__ = ["reid_map_cmc", "reid_per_query", "reid_resampled"]

JUNK_ID = -1
"""Identity of junk gallery images, removed for every query."""

QUERIES_PER_BLOCK = 64
"""Query rows compared at a time; 64 rows of a Market gallery fit in the L2 cache."""


def _reid_ranks_validate(ranks: Any, caller: str) -> None:
    """Check that ``ranks`` is a non-empty sequence of positive integers."""
    if not ranks or any(isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 1 for r in ranks):
        msg = f"Argument `ranks` of {caller} must be a non-empty sequence of positive integers; got {ranks!r}."
        raise MetricInputError(msg)


def _reid_validate(
    distmat: Any, q_ids: Any, g_ids: Any, q_cams: Any, g_cams: Any, caller: str
) -> tuple[np.ndarray, ...]:
    """Check the distance matrix and the identity and camera vectors."""
    distmat = as_array(distmat, "distmat", caller)
    check_ndim(distmat, "distmat", caller, 2, "(n_queries, n_gallery)")
    check_finite(distmat, "distmat", caller)
    vectors = {}
    for name, value in (("q_ids", q_ids), ("g_ids", g_ids), ("q_cams", q_cams), ("g_cams", g_cams)):
        array = as_array(value, name, caller)
        if array.ndim != 1 or array.dtype.kind not in "iu":
            msg = (
                f"Argument `{name}` of {caller} must be a 1-D integer array; got dtype {array.dtype} and shape "
                f"{array.shape}. Map identity and camera labels to integers first."
            )
            raise MetricInputError(msg)
        vectors[name] = array.astype(np.int64, copy=False)
    check_same_length({"distmat": distmat, "q_ids": vectors["q_ids"], "q_cams": vectors["q_cams"]}, caller)
    check_same_length({"distmat.T": distmat.T, "g_ids": vectors["g_ids"], "g_cams": vectors["g_cams"]}, caller)
    return distmat, vectors["q_ids"], vectors["g_ids"], vectors["q_cams"], vectors["g_cams"]


def _reid_format(
    distmat: Any, q_ids: Any, g_ids: Any, q_cams: Any, g_cams: Any, caller: str, *, validate: bool
) -> tuple[np.ndarray, ...]:
    """Return the inputs as arrays (validated when asked): float distances, int64 identities and cameras."""
    if validate:
        distmat, q_ids, g_ids, q_cams, g_cams = _reid_validate(distmat, q_ids, g_ids, q_cams, g_cams, caller)
    else:
        distmat = as_array(distmat, "distmat", caller)
        q_ids, g_ids, q_cams, g_cams = (
            as_array(v, "ids", caller).astype(np.int64, copy=False) for v in (q_ids, g_ids, q_cams, g_cams)
        )
    if distmat.dtype.kind != "f" or distmat.dtype == np.float16:
        distmat = distmat.astype(np.float64 if distmat.dtype.kind in "iu" else np.float32)
    return distmat, q_ids, g_ids, q_cams, g_cams


def _same_identity_pairs(q_ids: np.ndarray, g_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return all (query, gallery) index pairs of the same identity, grouped by query, as two int64 arrays."""
    gallery_by_id = np.argsort(g_ids, kind="stable")
    start = np.searchsorted(g_ids[gallery_by_id], q_ids, side="left")
    count = np.searchsorted(g_ids[gallery_by_id], q_ids, side="right") - start
    pair_query = np.repeat(np.arange(q_ids.size), count)
    offset = np.arange(pair_query.size) - np.repeat(np.cumsum(count) - count, count)
    return pair_query, gallery_by_id[np.repeat(start, count) + offset]


def _padded(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Scatter ``values`` (sorted by ``group``) into rows of a (n_groups, max_count) matrix padded with +inf."""
    count = np.bincount(group, minlength=n_groups)
    out = np.full((n_groups, max(1, int(count.max(initial=0)))), np.inf, dtype=values.dtype)
    column = np.arange(group.size) - np.repeat(np.cumsum(count) - count, count)
    out[group, column] = values
    return out


def _count_at_most(
    distmat: np.ndarray, columns: np.ndarray | None, goods: np.ndarray, n_goods: np.ndarray
) -> np.ndarray:
    """Count, for every query q and its j-th true match, the gallery distances <= that match's distance.

    One vectorised comparison pass over a block of rows per true match, with the rows sorted
    by their number of true matches so that no pass is wasted; ``columns`` restricts the
    gallery (junk removed) when given.

    Returns:
        int64 array of the shape of ``goods``, (n_queries, max_goods).
    """
    counts = np.zeros(goods.shape, dtype=np.int64)
    rows_by_goods = np.argsort(-n_goods, kind="stable")
    rows_by_goods = rows_by_goods[n_goods[rows_by_goods] > 0]
    for begin in range(0, rows_by_goods.size, QUERIES_PER_BLOCK):
        rows = rows_by_goods[begin : begin + QUERIES_PER_BLOCK]
        block = distmat[rows] if columns is None else distmat[np.ix_(rows, columns)]
        flags = np.empty(block.shape, dtype=bool)
        for j in range(int(n_goods[rows[0]])):
            n_active = int(np.count_nonzero(n_goods[rows] > j))  # a prefix: rows are sorted
            np.less_equal(block[:n_active], goods[rows[:n_active], j, None], out=flags[:n_active])
            counts[rows[:n_active], j] = flags[:n_active].view(np.uint8).sum(axis=1, dtype=np.int64)
    return counts


def _reid_compute(
    distmat: np.ndarray, q_ids: np.ndarray, g_ids: np.ndarray, q_cams: np.ndarray, g_cams: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return, for every query, its average precision, the 0-based rank of its first true match and ``valid``.

    With the true matches of a query sorted by distance, the j-th (0-based) one ranks after
    j true matches and after every kept false match at a distance <= its own (ties against
    it), so its rank is ``#(kept gallery <= d_j) - #(true matches <= d_j) + j``.
    """
    n_queries = q_ids.size
    pair_query, pair_gallery = _same_identity_pairs(q_ids, g_ids)
    removed = (g_cams[pair_gallery] == q_cams[pair_query]) | (g_ids[pair_gallery] == JUNK_ID)
    good_query, good_gallery = pair_query[~removed], pair_gallery[~removed]
    good_distance = distmat[good_query, good_gallery]
    order = np.lexsort((good_distance, good_query))
    good_query, good_distance = good_query[order], good_distance[order]
    n_goods = np.bincount(good_query, minlength=n_queries)
    goods = _padded(good_distance, good_query, n_queries)
    # Same-identity same-camera images of the query: removed from its ranking only.
    own_camera = removed & (g_ids[pair_gallery] != JUNK_ID)
    own = _padded(distmat[pair_query[own_camera], pair_gallery[own_camera]], pair_query[own_camera], n_queries)
    junk = g_ids == JUNK_ID
    at_most = _count_at_most(distmat, np.flatnonzero(~junk) if junk.any() else None, goods, n_goods)
    at_most -= np.count_nonzero(own[:, None, :] <= goods[:, :, None], axis=2)
    at_most -= np.count_nonzero(goods[:, None, :] <= goods[:, :, None], axis=2)  # the true matches themselves
    valid = n_goods > 0
    j = np.arange(goods.shape[1])
    rank = at_most + j  # 0-based rank of each true match
    precision = np.where(j < n_goods[:, None], (j + 1) / (rank + 1.0), 0.0)
    average_precision = np.full(n_queries, np.nan)
    average_precision[valid] = precision[valid].sum(axis=1) / n_goods[valid]
    return average_precision, np.where(valid, rank[:, 0], -1), valid


def reid_per_query(
    distmat: Any,
    q_ids: Any,
    g_ids: Any,
    q_cams: Any,
    g_cams: Any,
    *,
    validate: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average precision and first-true-match rank of every query under the Market-1501 protocol.

    The per-query values that :func:`reid_map_cmc` averages, kept for every query in query
    order, for bootstrap resampling over queries (:func:`reid_resampled`). Cost as for
    :func:`reid_map_cmc`.

    Args:
        distmat: float array of shape (n_queries, n_gallery), smaller means more similar;
            NaN or inf raise. Ties are broken against the true match.
        q_ids: int array of shape (n_queries,), identity of each query.
        g_ids: int array of shape (n_gallery,), identity of each gallery image; -1 is junk,
            0 a distractor.
        q_cams: int array of shape (n_queries,), camera of each query.
        g_cams: int array of shape (n_gallery,), camera of each gallery image.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        ``(average_precision, first_rank, valid)``: float64 array of shape (n_queries,) in
        (0, 1], NaN for a query without a true match; int64 array of shape (n_queries,), the
        0-based rank of the query's first true match in its filtered ranking, -1 for a query
        without one; bool array of shape (n_queries,), True for a query with a true match.
        A gallery without any true match gives all-invalid arrays (no error).

    Raises:
        MetricInputError: On shapes that do not match, a non-finite distance, or non-integer
            identities or cameras.

    Example:
        >>> distmat = np.array([[0.1, 0.5, 0.2], [0.3, 0.2, 0.9]])
        >>> ap, first_rank, valid = reid_per_query(distmat, np.array([3, 4]), np.array([1, 2, 3]),
        ...                                        np.array([0, 0]), np.array([1, 1, 1]))
        >>> ap.tolist(), first_rank.tolist(), valid.tolist()
        ([0.5, nan], [1, -1], [True, False])
    """
    arrays = _reid_format(distmat, q_ids, g_ids, q_cams, g_cams, "reid_per_query", validate=validate)
    return _reid_compute(*arrays)


def reid_map_cmc(
    distmat: Any,
    q_ids: Any,
    g_ids: Any,
    q_cams: Any,
    g_cams: Any,
    *,
    ranks: tuple[int, ...] = (1, 5, 10),
    validate: bool = True,
) -> dict[str, float]:
    """Mean average precision and CMC rank-k accuracies under the Market-1501 protocol.

    The means of :func:`reid_per_query` over the queries with a true match. Cost: per block
    of 64 queries, one comparison pass over the gallery per true match of a query (about 15
    passes on Market-1501) and no sort of the gallery: O(n_queries * n_gallery *
    mean_true_matches) time and O(64 * n_gallery) extra memory.

    Args:
        distmat: float array of shape (n_queries, n_gallery), smaller means more similar;
            NaN or inf raise.
        q_ids: int array of shape (n_queries,), identity of each query.
        g_ids: int array of shape (n_gallery,), identity of each gallery image; -1 is junk,
            0 a distractor.
        q_cams: int array of shape (n_queries,), camera of each query.
        g_cams: int array of shape (n_gallery,), camera of each gallery image.
        ranks: The k of the CMC values to report.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        ``{"mAP": ..., "rank1": ..., "rank5": ..., "rank10": ...}`` (one ``rank<k>`` per entry
        of ``ranks``), Python floats in [0, 1], averaged over the queries with a true match.

    Raises:
        MetricInputError: On shapes that do not match, a non-finite distance, non-integer
            identities or cameras, bad ``ranks``, or when no query has a true match.

    Example:
        >>> distmat = np.array([[0.1, 0.5, 0.2], [0.3, 0.2, 0.9]])
        >>> out = reid_map_cmc(distmat, np.array([1, 2]), np.array([1, 2, 3]), np.array([0, 0]),
        ...                    np.array([1, 1, 1]), ranks=(1,))
        >>> out["mAP"], out["rank1"]
        (1.0, 1.0)
    """
    caller = "reid_map_cmc"
    if validate:
        _reid_ranks_validate(ranks, caller)
    arrays = _reid_format(distmat, q_ids, g_ids, q_cams, g_cams, caller, validate=validate)
    average_precision, first_rank, valid = _reid_compute(*arrays)
    if not valid.any():
        msg = (
            f"No query of {caller} has a true match in the gallery (same identity, other camera, identity "
            "not -1); mAP and CMC are undefined. Check that query and gallery identities use the same labels."
        )
        raise MetricInputError(msg)
    result = {"mAP": float(average_precision[valid].mean())}
    for rank in ranks:
        result[f"rank{int(rank)}"] = float(np.mean(first_rank[valid] < rank))
    return result


def _reid_resampled_validate(
    average_precision: Any, first_rank: Any, valid: Any, weights: Any, ranks: Any, caller: str
) -> tuple[np.ndarray, ...]:
    """Check the per-query values of :func:`reid_per_query`, the weights and the ranks."""
    _reid_ranks_validate(ranks, caller)
    average_precision = as_array(average_precision, "ap", caller).astype(np.float64, copy=False)
    first_rank = as_array(first_rank, "first_rank", caller)
    valid = as_array(valid, "valid", caller)
    weights = as_array(weights, "weights", caller).astype(np.float64, copy=False)
    for name, array in (("ap", average_precision), ("first_rank", first_rank), ("valid", valid)):
        check_ndim(array, name, caller, 1, "(n_queries,)")
    if first_rank.dtype.kind not in "iu" or valid.dtype != np.bool_:
        msg = (
            f"Arguments `first_rank` and `valid` of {caller} must be an integer and a bool array, as "
            f"reid_per_query returns them; got dtypes {first_rank.dtype} and {valid.dtype}."
        )
        raise MetricInputError(msg)
    check_ndim(weights, "weights", caller, 2, "(n_resamples, n_queries)")
    check_same_length(
        {"ap": average_precision, "first_rank": first_rank, "valid": valid, "weights.T": weights.T}, caller
    )
    check_finite(weights, "weights", caller)
    if (weights < 0).any():
        msg = f"Argument `weights` of {caller} must be non-negative (counts of a resample); got {weights.min()}."
        raise MetricInputError(msg)
    check_finite(average_precision[valid], "ap[valid]", caller)
    return average_precision, first_rank, valid, weights


def reid_resampled(
    ap: Any,
    first_rank: Any,
    valid: Any,
    weights: Any,
    *,
    ranks: tuple[int, ...] = (1, 5, 10),
    validate: bool = True,
) -> dict[str, np.ndarray]:
    """Mean AP and CMC rank-k of each of many weighted resamples of the queries, from :func:`reid_per_query`.

    Each value is a weighted mean over the valid queries, ``weights @ x / weights @ valid``;
    with bootstrap counts as weights (:func:`harness.stats.bootstrap_weights`) it equals
    :func:`reid_map_cmc` on the resample built by repeating each query its count of times,
    and with unit weights it equals :func:`reid_map_cmc`. Cost: one (n_resamples, n_queries)
    by (n_queries, 1 + len(ranks)) matrix product.

    Args:
        ap: float array of shape (n_queries,), average precision per query; its value for an
            invalid query is ignored (NaN there is fine).
        first_rank: int array of shape (n_queries,), 0-based rank of each query's first true
            match; ignored for an invalid query.
        valid: bool array of shape (n_queries,), True for a query with a true match.
        weights: float array of shape (n_resamples, n_queries), non-negative weights (counts)
            of the queries in each resample.
        ranks: The k of the CMC values to report.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        ``{"mAP": ..., "rank1": ..., ...}`` (one ``rank<k>`` per entry of ``ranks``), float64
        arrays of shape (n_resamples,) in [0, 1]; NaN in a resample whose valid queries all
        have zero weight.

    Raises:
        MetricInputError: On shapes that do not match, wrong dtypes, negative or non-finite
            weights, a non-finite AP of a valid query, or bad ``ranks``.

    Example:
        >>> ap, first_rank, valid = np.array([1.0, 0.5, np.nan]), np.array([0, 1, -1]), np.array([True, True, False])
        >>> out = reid_resampled(ap, first_rank, valid, np.array([[1.0, 1.0, 1.0], [0.0, 2.0, 1.0]]), ranks=(1,))
        >>> out["mAP"].tolist(), out["rank1"].tolist()
        ([0.75, 0.5], [0.5, 0.0])
    """
    if validate:
        ap, first_rank, valid, weights = _reid_resampled_validate(
            ap, first_rank, valid, weights, ranks, "reid_resampled"
        )
    else:
        ap, first_rank, valid, weights = (np.asarray(a) for a in (ap, first_rank, valid, weights))
    valid = valid.astype(bool, copy=False)
    columns = [np.where(valid, ap, 0.0)] + [valid & (first_rank < rank) for rank in ranks]
    totals = weights @ np.column_stack([valid, *columns]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (totals[:, 1:] / totals[:, :1]).T.copy()
    names = ["mAP"] + [f"rank{int(rank)}" for rank in ranks]
    return dict(zip(names, means, strict=True))
