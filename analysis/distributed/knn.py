"""Exact k nearest neighbours across dask workers by partitioned search.

The rows of ``X`` are split into blocks ``B_1 .. B_m``. One task per pair
(query block ``Q_a``, database block ``B_b``) runs faiss's exact search
(``faiss.knn``) of ``Q_a`` against ``B_b`` for the ``c = k + 3`` best candidates
(``k + 1`` to drop the query itself, plus the two spares of
:func:`analysis.neighbors.kneighbors`), on the same float32 working rows as the
single-machine path (centred and divided by ``2**e`` for Euclidean, unit rows
for cosine). The task then re-scores its candidates in float64 from the raw
rows exactly like :mod:`analysis.neighbors.refinement`::

    euclidean:  d^2(i, j) = sum_l ((x_jl - x_il) / 2**e')^2     (direct differences)
    cosine:     d(i, j)   = 1 - (x_i / ||x_i||) . (x_j / ||x_j||)

gives the query itself an infinite distance, and returns its ``c`` candidates.
For each query block the per-database-block candidate lists are merged
pairwise on the workers (a k-way merge as a binary tree), keeping the ``k``
smallest by ``(distance, row number)``. Every true neighbour is among its own
block's ``c`` float32 candidates whenever it is among the ``c`` of the whole
database, so the result equals ``kneighbors(X, k, metric=metric)``: the same
distances and the same indices except where several rows tie for the k-th place.

Memory: a task holds two blocks, their float32 copies and ``block_rows x c``
candidates; the client receives only the ``(n, k)`` results.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.distributed._blocks import is_dask_array, row_blocks, tree_reduce
from analysis.distributed.client import get_client, worker_threads
from analysis.neighbors import kneighbors
from analysis.neighbors.checks import _METRICS, _check_k
from analysis.neighbors.conditioning import _REFINE_ELEMENTS
from analysis.validation import check_option, first_rows, power_of_two_exponent, scaled_norms

__all__ = ["distributed_kneighbors"]

# As analysis.neighbors: candidates beyond k + 1 searched in float32, re-scored in float64.
_SPARE_CANDIDATES = 2
_MAX_DEFAULT_BLOCK = 65_536


def _block_stats(block: np.ndarray, start: int) -> dict[str, Any]:
    """Column sums (float64), extremes and non-finite rows of one block (the conditioning pass)."""
    block = np.asarray(block)
    finite = np.isfinite(block).all(axis=1) if block.dtype.kind == "f" else np.ones(len(block), bool)
    good = block if finite.all() else block[finite]
    return {"sum": good.sum(axis=0, dtype=np.float64), "max": good.max(axis=0, initial=-np.inf).astype(np.float64),
            "min": good.min(axis=0, initial=np.inf).astype(np.float64),
            "bad": np.flatnonzero(~finite) + start, "n": int(block.shape[0])}


def _combine_stats(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {"sum": a["sum"] + b["sum"], "max": np.maximum(a["max"], b["max"]),
            "min": np.minimum(a["min"], b["min"]), "bad": np.concatenate([a["bad"], b["bad"]]),
            "n": a["n"] + b["n"]}


def _working_rows(block: np.ndarray, metric: str, mean: np.ndarray | None,
                  exponent: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Float32 search rows of one block, element for element those of `analysis.neighbors.conditioning`."""
    if metric == "euclidean":
        if block.dtype == np.float32 and exponent < 127:
            rows = np.subtract(block, mean.astype(np.float32))
            return np.ldexp(rows, -exponent, out=rows), None
        return np.ldexp(np.asarray(block, dtype=np.float64) - mean, -exponent).astype(np.float32), None
    block64 = block.astype(np.float64, copy=False)
    norms = scaled_norms(block64)
    if (norms == 0).any():
        raise ValueError("zero rows")  # reported with row numbers by the caller's pre-check
    return (block64 / norms[:, None]).astype(np.float32), 1.0 / norms


def _search_pair(query: np.ndarray, q_start: int, base: np.ndarray, b_start: int, *, k: int,
                 metric: str, mean: np.ndarray | None, exponent: int, refine_exponent: int,
                 threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidates of the rows of ``query`` in ``base``: float64 distances and global row numbers.

    Returns arrays of shape (len(query), c) with ``c = min(k + 3, len(base))``;
    squared Euclidean or cosine distances, the query itself at +inf.
    """
    import faiss

    faiss.omp_set_num_threads(threads)
    q32, q_inv = _working_rows(query, metric, mean, exponent)
    b32, b_inv = _working_rows(base, metric, mean, exponent)
    c = min(k + 1 + _SPARE_CANDIDATES, base.shape[0])
    # L2 on unit rows ranks as cosine: ||a - b||^2 = 2 - 2 cos.
    _, local = faiss.knn(q32, b32, c, metric=faiss.METRIC_L2)
    del q32, b32
    if (local < 0).any():
        rows = np.flatnonzero((local < 0).any(axis=1)) + q_start
        raise ValueError(
            f"the float32 neighbour search found no candidates for {rows.size} rows (first: "
            f"{first_rows(rows)}): their scores were not finite. Rescale X, e.g. X / np.abs(X).max()."
        )
    exact = np.empty(local.shape, dtype=np.float64)
    d = query.shape[1]
    step = max(1, _REFINE_ELEMENTS // (c * d))
    for start in range(0, query.shape[0], step):
        stop = min(start + step, query.shape[0])
        cand = local[start:stop]
        if metric == "euclidean":  # analysis.neighbors.refinement._refine_euclidean
            diff = base[cand].astype(np.float64, copy=False)
            diff -= query[start:stop, None, :]
            if refine_exponent:
                np.ldexp(diff, -refine_exponent, out=diff)
            if d >= 256:
                exact[start:stop] = np.matmul(diff[:, :, None, :], diff[:, :, :, None])[..., 0, 0]
            else:
                exact[start:stop] = np.einsum("ijk,ijk->ij", diff, diff)
        else:  # analysis.neighbors.refinement._refine_cosine
            neighbours = base[cand].astype(np.float64) * b_inv[cand][:, :, None]
            queries = query[start:stop].astype(np.float64) * q_inv[start:stop, None]
            if d >= 256:
                dots = np.matmul(neighbours, queries[:, :, None])[..., 0]
            else:
                dots = np.einsum("ijk,ik->ij", neighbours, queries)
            exact[start:stop] = np.clip(1.0 - dots, 0.0, 2.0)
    indices = local + b_start
    exact[indices == (q_start + np.arange(query.shape[0]))[:, None]] = np.inf  # the query itself
    return exact, indices


def _merge(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], *,
           k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest of two candidate lists per row, sorted by (distance, row number)."""
    dist = np.concatenate([a[0], b[0]], axis=1)
    idx = np.concatenate([a[1], b[1]], axis=1)
    order = np.lexsort((idx, dist), axis=-1)[:, :k]
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(idx, order, axis=1)


def _zero_rows(block: np.ndarray, start: int) -> np.ndarray:
    return np.flatnonzero(~np.asarray(block).any(axis=1)) + start


def distributed_kneighbors(
    X: Any,
    k: int,
    *,
    metric: str = "euclidean",
    scheduler: Any,
    block_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row of ``X`` among the other rows, on a dask cluster.

    Equals :func:`analysis.neighbors.kneighbors` ``(X, k, metric=metric)``; see
    the module docstring for the partitioned search and merge.

    Parameters
    ----------
    X : numpy array, numpy memmap or dask.array.Array of shape (n_samples, n_features)
        A numpy array is shipped to the workers block by block; a memmap is
        read by the workers from its file (same path on every worker); a dask
        array is computed on the workers chunk by chunk.
    k : int
        Neighbours per row, ``1 <= k <= n_samples - 1``.
    metric : {"euclidean", "cosine"}, default="euclidean"
        As in :func:`analysis.neighbors.kneighbors` (true distance, or ``1 - cos``).
    scheduler : None, str or distributed.Client
        See :func:`analysis.distributed.client.get_client`. ``None`` runs
        ``kneighbors`` in memory.
    block_rows : int, optional
        Rows per block (query and database). Default: a dask array's own
        chunks, else about two blocks per worker, at most 65,536 rows.

    Returns
    -------
    distances : ndarray of shape (n_samples, k), float32
    indices : ndarray of shape (n_samples, k), int64

    Raises
    ------
    ValueError
        As ``kneighbors``: bad shape or dtype, NaN/Inf rows, float64 values
        beyond float32's range, ``k`` out of range, unknown metric, (cosine)
        all-zero rows, or distances beyond float32; and an unreachable scheduler.
    """
    check_option(metric, _METRICS, what="metric",
                 hint="Use 'euclidean' for L2 distance or 'cosine' for 1 - cosine similarity.")
    client = get_client(scheduler)
    if client is None:
        return kneighbors(X.compute() if is_dask_array(X) else X, k, metric=metric)
    if block_rows is not None and int(block_rows) < 1:
        raise ValueError(f"block_rows must be a positive integer; got {block_rows!r}.")
    n_workers = max(1, len(client.nthreads()))
    n_rows = int(X.shape[0])
    if block_rows is None and not is_dask_array(X):
        block_rows = min(_MAX_DEFAULT_BLOCK, max(1, -(-n_rows // (2 * n_workers))))
    blocks = row_blocks(client, X, block_rows)
    if n_rows < 2:
        raise ValueError(f"X needs at least 2 samples to compute neighbours; got {n_rows}. Pass more rows.")
    k = _check_k(k, n_rows)

    stats = tree_reduce(client, [client.submit(_block_stats, f, s, pure=False)
                                 for f, (s, _) in zip(blocks.futures, blocks.bounds, strict=True)],
                        _combine_stats).result()
    if stats["bad"].size:
        bad = np.sort(stats["bad"])
        raise ValueError(f"X contains NaN or Inf in {bad.size} rows (first: {first_rows(bad)}). "
                         "Drop or impute these rows before computing neighbours.")
    limit = float(np.finfo(np.float32).max)
    if blocks.dtype.kind == "f" and blocks.dtype.itemsize > 4 and (stats["max"].max() > limit or stats["min"].min() < -limit):
        raise ValueError(f"X has values beyond float32's range (|x| > {limit:.3g}). Rescale X, "
                         "e.g. X / np.abs(X).max().")
    mean, exponent, refine_exponent = None, 0, 0
    if metric == "euclidean":
        # analysis.neighbors.conditioning._centred: centre, divide by 2**e >= the largest centred entry.
        mean = stats["sum"] / n_rows
        exponent = power_of_two_exponent(max(float((stats["max"] - mean).max()), float((mean - stats["min"]).max())))
        refine_exponent = exponent if not -400 < exponent < 400 else 0
    else:
        zero = np.concatenate(client.gather([client.submit(_zero_rows, f, s, pure=False) for f, (s, _)
                                             in zip(blocks.futures, blocks.bounds, strict=True)]))
        if zero.size:
            raise ValueError(
                f"metric='cosine' is undefined for all-zero rows; X has {zero.size} zero rows (first: "
                f"{first_rows(zero)}). Drop them, e.g. X[np.linalg.norm(X, axis=1) > 0], or use "
                "metric='euclidean'.")

    threads = worker_threads(client)
    merged = []
    for q_future, (q_start, _) in zip(blocks.futures, blocks.bounds, strict=True):
        pairs = [client.submit(_search_pair, q_future, q_start, b_future, b_start, k=k, metric=metric,
                               mean=mean, exponent=exponent, refine_exponent=refine_exponent,
                               threads=threads, pure=False)
                 for b_future, (b_start, _) in zip(blocks.futures, blocks.bounds, strict=True)]
        merged.append(tree_reduce(client, pairs, _merge, k=k))
    parts = client.gather(merged)
    distances = np.concatenate([p[0] for p in parts])
    indices = np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False)
    if metric == "euclidean":
        distances = np.ldexp(np.sqrt(np.maximum(distances, 0.0)), refine_exponent)
    distances = distances.astype(np.float32)
    if not np.isfinite(distances).all():
        raise ValueError(
            "X's neighbour distances exceed float32's range (about 3.4e38), the dtype of the returned "
            "distances. Rescale X first, e.g. X / np.abs(X).max(); neighbour ranks do not change under "
            "a global scale.")
    return distances, indices
