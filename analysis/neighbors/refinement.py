"""Exact re-scoring of the float32 candidates in float64, and removal of each row from its own list."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from analysis.neighbors import conditioning
from analysis.neighbors.conditioning import _row_chunks
from analysis.neighbors.search import n_threads


def _for_row_chunks(n: int, rows: int, work, *, elements: int, n_features: int) -> None:
    """Call ``work(start, stop)`` over row chunks, on all cores when it pays.

    With long rows the float64 re-scoring is BLAS dots and array arithmetic
    that release the GIL: two threads ran it 1.7x faster at d=768. With short
    rows the time goes to numpy's per-row gather, which holds the GIL, and
    threads were slower (measured at d=64); below ~1M elements the pool
    costs more than it saves.
    """
    chunks = list(_row_chunks(n, rows))
    workers = min(n_threads(), len(chunks))
    if workers < 2 or elements < (1 << 20) or n_features < 256:
        for start, stop in chunks:
            work(start, stop)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(work, start, stop) for start, stop in chunks]:
            future.result()


def _refine_in_chunks(X: np.ndarray, candidates: np.ndarray, work) -> None:
    """Run ``work(start, stop)`` over cache-sized chunks of the candidate rows (`_for_row_chunks`)."""
    rows = max(1, conditioning._REFINE_ELEMENTS // (candidates.shape[1] * X.shape[1]))
    _for_row_chunks(X.shape[0], rows, work, elements=candidates.size * X.shape[1], n_features=X.shape[1])


def _refine_euclidean(X: np.ndarray, candidates: np.ndarray, exponent: int = 0) -> np.ndarray:
    """Squared distances ``sum((x_i - x_j)**2) / 4**exponent`` in float64, shape (n, c).

    Direct differences, not the norm expansion: no cancellation. The
    differences are divided by ``2**exponent`` (exact) when that is needed
    to keep their squares inside float64's range (tiny float64 data).
    """
    sq_dist = np.empty(candidates.shape, dtype=np.float64)

    def work(start: int, stop: int) -> None:
        diff = X[candidates[start:stop]].astype(np.float64, copy=False)
        diff -= X[start:stop, None, :]
        if exponent:
            np.ldexp(diff, -exponent, out=diff)
        if diff.shape[-1] >= 256:
            # (b, c, 1, d) @ (b, c, d, 1): one BLAS dot per candidate, the
            # fastest for long rows...
            sq_dist[start:stop] = np.matmul(diff[:, :, None, :], diff[:, :, :, None])[..., 0, 0]
        else:  # ...while short rows pay less in einsum's single loop.
            sq_dist[start:stop] = np.einsum("ijk,ijk->ij", diff, diff)

    _refine_in_chunks(X, candidates, work)
    return sq_dist


def _refine_cosine(X: np.ndarray, candidates: np.ndarray, inv_norms: np.ndarray) -> np.ndarray:
    """Cosine distances ``1 - x_i.x_j / (||x_i|| ||x_j||)`` in float64, shape (n, c)."""
    dist = np.empty(candidates.shape, dtype=np.float64)

    def work(start: int, stop: int) -> None:
        cand = candidates[start:stop]
        # Unit rows before the dot products: products of raw rows at 1e-200
        # (or 1e200) would underflow (overflow) float64.
        neighbours = X[cand].astype(np.float64) * inv_norms[cand][:, :, None]
        queries = X[start:stop].astype(np.float64) * inv_norms[start:stop, None]
        if neighbours.shape[-1] >= 256:
            dots = np.matmul(neighbours, queries[:, :, None])[..., 0]
        else:
            dots = np.einsum("ijk,ik->ij", neighbours, queries)
        dist[start:stop] = 1.0 - dots

    _refine_in_chunks(X, candidates, work)
    # Rounding can push 1 - cos a hair outside [0, 2].
    return np.clip(dist, 0.0, 2.0, out=dist)


def _drop_self_and_sort(
    exact: np.ndarray, candidates: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index, sort by (distance, index), keep ``k``.

    ``exact`` holds squared Euclidean or cosine distances (float64). Giving
    the query itself an infinite distance sends it to the end, where it is
    cut off; when it is not among the candidates the farthest one is cut.
    """
    n = candidates.shape[0]
    exact[candidates == np.arange(n)[:, None]] = np.inf  # our own array: in place
    order = np.argsort(exact, axis=1)
    # argsort leaves equal distances in any order; re-sort the (rare) rows
    # with ties by (distance, index), 4x cheaper than lexsorting every row.
    sorted_exact = np.take_along_axis(exact, order, axis=1)
    tied = np.flatnonzero((sorted_exact[:, 1:] == sorted_exact[:, :-1]).any(axis=1))
    if tied.size:
        order[tied] = np.lexsort((candidates[tied], exact[tied]), axis=-1)
    order = order[:, :k]
    indices = np.take_along_axis(candidates, order, axis=1)
    distances = np.take_along_axis(exact, order, axis=1)
    return distances, indices

