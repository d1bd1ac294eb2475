"""Exact neighbours of given query points: chosen rows of X (`kneighbors_of`) or the rows of
another point set (`kneighbors_between`).
"""

from __future__ import annotations

import numpy as np

from analysis.neighbors import conditioning
from analysis.neighbors.checks import _METRICS, Metric, _check_k, _check_X
from analysis.neighbors.conditioning import _row_chunks
from analysis.validation import (
    check_k,
    check_matrix,
    check_option,
    max_abs,
    power_of_two_exponent,
    row_norms,
    scaled_norms,
)
from analysis.validation import first_rows as _first_rows


def kneighbors_of(
    X: np.ndarray,
    rows: np.ndarray,
    k: int,
    *,
    metric: Metric = "euclidean",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of a few chosen rows of ``X`` (self excluded).

    For a handful of query rows (the Explore page's chosen point) a direct
    ``(q, n)`` float64 distance computation from differences, a block of
    rows at a time, is cheaper than the all-points search of
    :func:`kneighbors` and exact: it gives the same neighbours wherever
    distances do not tie.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    rows : ndarray of int, shape (n_queries,)
        Row numbers of the query points.
    k : int
        ``1 <= k <= n_samples - 1``.
    metric : {"euclidean", "cosine"}
        As in :func:`kneighbors`.

    Returns
    -------
    distances : ndarray of shape (n_queries, k), float32, ascending
    indices : ndarray of shape (n_queries, k), int64; row ``rows[q]`` never appears in line q.
    """
    X = _check_X(X)
    n_samples = X.shape[0]
    k = _check_k(k, n_samples)
    check_option(metric, _METRICS, what="metric")
    rows = np.asarray(rows, dtype=np.int64).ravel()
    if rows.size and (rows.min() < 0 or rows.max() >= n_samples):
        raise ValueError(f"rows must be in [0, {n_samples}); got {rows.tolist()[:5]}.")
    # Direct float64 differences (or dot products), a block of rows at a time:
    # exact even for data with a large common offset, where the expansion
    # ||x||^2 - 2 x.y + ||y||^2 cancels, and memory stays bounded at any n.
    queries = X[rows].astype(np.float64)
    if metric == "cosine":
        norms = row_norms(X)
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise ValueError(
                f"cosine distance is undefined for all-zero rows; X has {zero.size} "
                f"(rows {_first_rows(zero)}). Drop them or use metric='euclidean'."
            )
        queries /= scaled_norms(queries)[:, None]
    dist = np.empty((rows.size, n_samples), dtype=np.float64)
    block = max(1, conditioning._REFINE_ELEMENTS // max(1, X.shape[1]))
    for start in range(0, n_samples, block):
        chunk = X[start : start + block].astype(np.float64)
        if metric == "cosine":
            chunk /= norms[start : start + block, None]
            dist[:, start : start + block] = 1.0 - queries @ chunk.T
        else:
            for q, query in enumerate(queries):
                dist[q, start : start + block] = np.sqrt(((chunk - query) ** 2).sum(axis=1))
    dist[np.arange(rows.size), rows] = np.inf  # self excluded
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, axis=1).astype(np.float32), order.astype(np.int64)


def kneighbors_between(
    queries: np.ndarray,
    database: np.ndarray,
    k: int,
    *,
    metric: Metric = "euclidean",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of each query row among the rows of another set.

    For two sets (queries and a gallery): nothing is excluded, a query equal
    to a database row finds it at distance 0. Candidates come from a float32
    matrix product a block of queries at a time (``k + 8`` per query, so
    float32 rounding cannot push a true neighbour out), then are re-scored
    from float64 differences and sorted, as in :func:`kneighbors`.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features)
    database : ndarray of shape (n_database, n_features)
    k : int
        ``1 <= k <= n_database``.
    metric : {"euclidean", "cosine"}

    Returns
    -------
    distances : ndarray of shape (n_queries, k), float32, ascending
    indices : ndarray of shape (n_queries, k), int64 (rows of `database`)
    """
    Q = check_matrix(queries, name="queries", action="computing neighbours")
    D = check_matrix(database, name="database", action="computing neighbours")
    if Q.shape[1] != D.shape[1]:
        raise ValueError(f"queries have {Q.shape[1]} features, database {D.shape[1]}: they must match.")
    check_option(metric, _METRICS, what="metric")
    k = check_k(k, n=D.shape[0], needs="database points")
    Q64, D64 = Q.astype(np.float64), D.astype(np.float64)
    if metric == "cosine":
        for name, arr in (("queries", Q64), ("database", D64)):
            norms = scaled_norms(arr)
            zero = np.flatnonzero(norms == 0)
            if zero.size:
                raise ValueError(
                    f"cosine distance is undefined for all-zero rows; {name} has {zero.size} "
                    f"(rows {_first_rows(zero)}). Drop them or use metric='euclidean'."
                )
            arr /= norms[:, None]
    if metric == "euclidean":
        # Centre both sets on the database mean (distances do not change): far
        # from the origin, float32 scores x.y - |y|^2/2 cancel and pick wrong candidates.
        centre = D64.mean(axis=0)
        Q64, D64 = Q64 - centre, D64 - centre
        # A power of two brings both sets to order 1 (exact): float32 scores
        # of rows at 1e20 would overflow, at 1e-30 underflow.
        exponent = power_of_two_exponent(max(max_abs(Q64), max_abs(D64)))
        Q64, D64 = np.ldexp(Q64, -exponent), np.ldexp(D64, -exponent)
    D32 = D64.astype(np.float32)
    half_sq = 0.5 * np.einsum("ij,ij->i", D32, D32)
    n_candidates = min(D.shape[0], int(k) + 8)
    out_d = np.empty((Q.shape[0], k), dtype=np.float32)
    out_i = np.empty((Q.shape[0], k), dtype=np.int64)
    block = max(1, conditioning._REFINE_ELEMENTS // max(1, D.shape[0]) * 8)
    for start, stop in _row_chunks(Q.shape[0], block):
        q64 = Q64[start:stop]
        # Larger score = nearer: x.y (cosine) or x.y - |y|^2/2 (euclidean).
        scores = q64.astype(np.float32) @ D32.T
        if metric == "euclidean":
            scores -= half_sq
        if n_candidates < D.shape[0]:
            cand = np.argpartition(-scores, n_candidates - 1, axis=1)[:, :n_candidates]
        else:
            cand = np.broadcast_to(np.arange(D.shape[0]), scores.shape).copy()
        if metric == "cosine":
            exact = 1.0 - np.einsum("qd,qcd->qc", q64, D64[cand])
        else:
            exact = np.sqrt(((D64[cand] - q64[:, None, :]) ** 2).sum(axis=2))
        order = np.lexsort((cand, exact), axis=1)[:, :k]
        out_i[start:stop] = np.take_along_axis(cand, order, axis=1)
        out_d[start:stop] = np.take_along_axis(exact, order, axis=1)
    if metric == "euclidean":
        out_d = np.ldexp(out_d.astype(np.float64), exponent).astype(np.float32)
        if not np.isfinite(out_d).all():
            raise ValueError(
                "neighbour distances exceed float32's range (about 3.4e38), the dtype of the "
                "returned distances. Rescale queries and database by the same factor first."
            )
    return out_d, out_i
