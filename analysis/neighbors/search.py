"""Float32 candidate search backends (scores: larger = closer): numpy blocks, faiss query
chunks and faiss's symmetric upper-triangle tiles; and the faiss import and thread count they use.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType

import numpy as np

from analysis.neighbors.conditioning import _AugmentedQueries, _row_chunks

# Most query rows handed to one faiss.knn call (the path for few features):
# faiss tiles queries by 4096 rows, so calls of at most 4096 equal-sized
# rows never leave it a small, slow remainder tile.
_FAISS_QUERY_CHUNK = 4096
# Side of the square distance tiles of the symmetric faiss search (measured on a
# 2-core AVX-512 box), and the rows per transposed strip.
_TILE = 2048
_TRANSPOSE_STRIP = 16
# Upper bound on one score block of the numpy backend (float32 elements,
# 2**24 = 64 MiB); keeps memory bounded at any n.
_NUMPY_BLOCK_ELEMENTS = 1 << 24


@functools.cache
def _faiss() -> ModuleType | None:
    """Import faiss once; None when it is not installed or fails to load."""
    try:
        import faiss  # optional, and ~0.5 s to import: only on first use
    except Exception:  # ImportError, or a broken shared library
        return None
    return faiss


def faiss_available() -> bool:
    """Whether the faiss backend can be used in this environment."""
    return _faiss() is not None


def n_threads() -> int:
    """Cores this process may run on (respects CPU affinity / cgroups)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _query_chunk(n: int) -> int:
    """Rows per faiss call: at most ``_FAISS_QUERY_CHUNK``, all chunks equal.

    Equal chunks avoid a last, tiny call whose BLAS tiles run far below peak.
    """
    n_chunks = -(-n // _FAISS_QUERY_CHUNK)
    return -(-n // n_chunks)



def _search_faiss(faiss, database, n_candidates, augmented, n_features) -> np.ndarray:
    n = database.shape[0]
    chunk = _query_chunk(n)
    # Cosine: the queries are the database rows themselves, no copy needed.
    queries = _AugmentedQueries(database, n_features, chunk) if augmented else None
    candidates = np.empty((n, n_candidates), dtype=np.int64)
    for start, stop in _row_chunks(n, chunk):
        block = queries(start, stop) if queries is not None else database[start:stop]
        _, idx = faiss.knn(block, database, n_candidates, metric=faiss.METRIC_INNER_PRODUCT)
        candidates[start:stop] = idx
    return candidates


def _search_faiss_symmetric(faiss, rows, n_candidates) -> np.ndarray:
    """Self-kNN from the upper triangle of tiles of the (symmetric) distance matrix.

    ``rows`` (n, d) is C-contiguous: centred rows for Euclidean, unit rows
    for cosine, where squared L2 = 2 - 2 cos ranks exactly like cosine
    distance. Because ``D[I, J] = D[J, I].T``, each off-diagonal tile is
    computed once by
    ``faiss.pairwise_L2sqr`` (faiss's BLAS, one fused sgemm) and fed to the
    row heaps of ``I`` as is and to those of ``J`` transposed: half the
    flops of a plain search, for one transpose copy per tile. That copy
    costs ~1.5 ns per element against ``2 d / peak`` for the product, so it
    pays from a few hundred features up (``_SYMMETRIC_MIN_FEATURES``).
    """
    n, n_features = rows.shape
    swig_ptr = faiss.swig_ptr
    best = np.empty((n, n_candidates), dtype=np.float32)
    candidates = np.empty((n, n_candidates), dtype=np.int64)
    heaps = faiss.float_maxheap_array_t()  # keeps the smallest distances
    heaps.k, heaps.nh = n_candidates, n
    heaps.val, heaps.ids = swig_ptr(best), swig_ptr(candidates)
    heaps.heapify()

    # At least two tiles per side (3 of 4 tiles computed) even for small n;
    # equal tiles, so no small, slow last one.
    n_tiles = max(2, -(-n // _TILE))
    size = -(-n // n_tiles)
    tile_buffer = np.empty(size * size, dtype=np.float32)
    transposed_buffer = np.empty(size * size, dtype=np.float32)
    for i0, i1 in _row_chunks(n, size):
        ni = i1 - i0
        for j0, j1 in _row_chunks(n, size):
            if j0 < i0:
                continue
            nj = j1 - j0
            tile = tile_buffer[: ni * nj].reshape(ni, nj)
            faiss.pairwise_L2sqr(
                n_features,
                ni,
                swig_ptr(rows[i0:i1]),
                nj,
                swig_ptr(rows[j0:j1]),
                swig_ptr(tile),
            )
            heaps.addn(nj, swig_ptr(tile), j0, i0, ni)
            if j0 == i0:  # a diagonal tile holds both halves already
                continue
            transposed = transposed_buffer[: ni * nj].reshape(nj, ni)
            _transpose_into(transposed, tile)
            heaps.addn(ni, swig_ptr(transposed), i0, j0, nj)
    return candidates


def _transpose_into(out: np.ndarray, tile: np.ndarray) -> None:
    """``out[...] = tile.T`` in 16-row strips (cache-friendly).

    A plain ``np.copyto(out, tile.T)`` walks the source with a stride of one
    row per element and ran 3-4x slower than these strips. It runs in this
    thread only: splitting it over a Python thread pool gained ~20% on an
    idle machine but, next to faiss's spinning OpenMP workers, stalled badly
    when other processes competed for the cores.
    """
    for r0 in range(0, tile.shape[0], _TRANSPOSE_STRIP):
        np.copyto(out[:, r0 : r0 + _TRANSPOSE_STRIP], tile[r0 : r0 + _TRANSPOSE_STRIP].T)


def _search_numpy(database, n_candidates, augmented, n_features) -> np.ndarray:
    n = database.shape[0]
    rows_per_block = int(np.clip(_NUMPY_BLOCK_ELEMENTS // n, 1, 4096))
    scores = np.empty((min(rows_per_block, n), n), dtype=np.float32)
    candidates = np.empty((n, n_candidates), dtype=np.int64)
    queries = _AugmentedQueries(database, n_features, rows_per_block) if augmented else None
    for start, stop in _row_chunks(n, rows_per_block):
        block_queries = queries(start, stop) if queries is not None else database[start:stop]
        block = scores[: stop - start]
        np.matmul(block_queries, database.T, out=block)
        candidates[start:stop] = _top_columns(block, n_candidates)
    return candidates


def _top_columns(scores: np.ndarray, c: int) -> np.ndarray:
    """Column indices of the ``c`` largest entries of each row, unordered.

    A plain ``np.argpartition`` over a (b, n) block writes a (b, n) int64
    array and is ~10x slower than the matrix product that produced the
    block. Instead: the c-th largest score among the first ``m`` columns is a
    lower bound on the row's c-th largest overall, so ``scores >= bound``
    keeps every true top-c entry plus a few others (about ``c * n / m``), and
    ``np.argpartition`` then runs on those few only. Ties can only add
    candidates, never drop a true one.
    """
    b, n = scores.shape
    sample = min(n, max(16 * c, 2048))
    if sample == n:
        return np.argpartition(scores, n - c, axis=1)[:, n - c :]
    bound = np.partition(scores[:, :sample], sample - c, axis=1)[:, sample - c]
    flat = np.flatnonzero(scores >= bound[:, None])
    rows, cols = np.divmod(flat, n)
    counts = np.bincount(rows, minlength=b)
    width = int(counts.max())
    # Scatter the surviving entries into a (b, width) table padded with -inf.
    position = np.arange(flat.size) - np.repeat(np.cumsum(counts) - counts, counts)
    values = np.full((b, width), -np.inf, dtype=np.float32)
    values[rows, position] = scores.ravel()[flat]
    columns = np.zeros((b, width), dtype=np.int64)
    columns[rows, position] = cols
    best = np.argpartition(values, width - c, axis=1)[:, width - c :]
    return np.take_along_axis(columns, best, axis=1)

