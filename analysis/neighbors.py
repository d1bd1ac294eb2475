"""Exact k-nearest neighbours: the one kNN backend every RepLens metric uses.

Hubness, k-occurrence, trustworthiness-style checks and the neighbour views all
call :func:`kneighbors`, so it has to be exact, fast on a laptop CPU, and
strict about bad input.

How it is fast
--------------
Exact kNN is one big matrix product plus a top-k selection; faiss does both
well (BLAS tiles, OpenMP heaps). Two things make this faster than a bare
``faiss.IndexFlatL2`` search of the same data:

* **Symmetry** (``n_features >= 256``): the distance matrix of a point set
  with itself is symmetric, so only the tiles on and above the diagonal are
  computed (``faiss.pairwise_L2sqr``); each off-diagonal tile feeds the heaps
  of its rows as is and the heaps of its columns transposed. That halves
  the flops for one transpose copy per tile. Cosine search runs the same
  code on unit rows, where ``||a - b||^2 = 2 - 2 cos`` ranks identically.
* **No serial norm loop** (fewer features): faiss's L2 search adds the
  squared norms in a single-threaded loop after every BLAS tile, so we run
  an inner-product search on augmented vectors instead::

      query    q_i = [x_i, 1]
      database b_j = [x_j, -||x_j||^2 / 2]
      q_i . b_j = x_i . x_j - ||x_j||^2 / 2 = (||x_i||^2 - ||x_i - x_j||^2) / 2

  so for a fixed query the largest inner product is the smallest distance.

Euclidean data are centred first (a translation: distances unchanged), so
a large common offset does not swamp the float32 products. The best
``k + 3`` candidates of that float32 search are then re-scored in float64
from the original rows and sorted again, so the returned distances carry
no cancellation error of the ``||x||^2 - 2 x.y + ||y||^2`` form.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Literal

import numpy as np

# One search sliced for every k (its own module; it calls kneighbors at run time).
from analysis.neighbor_graph import NeighborGraph
from analysis.validation import (
    check_matrix,
    max_abs,
    power_of_two_exponent,
    row_norms,
    scaled_norms,
)
from analysis.validation import first_rows as _first_rows

__all__ = ["NeighborGraph", "kneighbors", "kneighbors_of", "faiss_available", "n_threads"]

Metric = Literal["euclidean", "cosine"]
Backend = Literal["auto", "faiss", "numpy"]

_METRICS = ("euclidean", "cosine")
_BACKENDS = ("auto", "faiss", "numpy")

# Most query rows handed to one faiss.knn call (the path for few features):
# faiss tiles queries by 4096 rows, so calls of at most 4096 equal-sized
# rows never leave it a small, slow remainder tile.
_FAISS_QUERY_CHUNK = 4096
# Candidates beyond k + 1 searched in float32 and re-scored in float64.
_SPARE_CANDIDATES = 2
# Side of the square distance tiles of the symmetric faiss search, and the
# number of features from which computing only half the tiles (plus a
# transpose each) beats a plain search; measured on a 2-core AVX-512 box.
_TILE = 2048
_MIN_TILE = 512
_TRANSPOSE_STRIP = 16
_SYMMETRIC_MIN_FEATURES = 256
# Upper bound on one score block of the numpy backend (float32 elements,
# 2**24 = 64 MiB); keeps memory bounded at any n.
_NUMPY_BLOCK_ELEMENTS = 1 << 24
# Float64 elements re-scored at once, (rows, k+1, d): ~4 MiB stays in cache;
# measured 2.4x faster than 16x larger chunks at n=50,000, d=768.
_REFINE_ELEMENTS = 1 << 19


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


def kneighbors(
    X: np.ndarray,
    k: int,
    *,
    metric: Metric = "euclidean",
    backend: Backend = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row of ``X`` among the other rows.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Points, one per row. Any real dtype; the search runs in float32
        (one C-contiguous float32 working copy is made), final distances are
        recomputed in float64 from the rows of ``X`` as given.
    k : int
        Number of neighbours per point, ``1 <= k <= n_samples - 1``.
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"euclidean"``: the true Euclidean distance ``||x_i - x_j||_2`` (not
        its square). ``"cosine"``: ``1 - cos(x_i, x_j)``, in ``[0, 2]``; rows
        are L2-normalised first, so an all-zero row is an error.
    backend : {"auto", "faiss", "numpy"}, default="auto"
        ``"faiss"``: exact brute-force search with faiss, multi-threaded on
        all available cores (upper-triangle distance tiles from 256
        features up, else ``faiss.knn`` on inner products; see the module
        docstring).
        ``"numpy"``: blocked float32 matrix products with a top-k selection
        per block, no faiss needed. ``"auto"``: faiss when it can be
        imported, else numpy. Both return the same neighbours except where
        distances tie to float32 precision.

    Returns
    -------
    distances : ndarray of shape (n_samples, k), float32
        ``distances[i, j]`` is the distance from row ``i`` to its
        ``j``-th nearest other row, ascending along each row.
    indices : ndarray of shape (n_samples, k), int64
        Row numbers of those neighbours. Equal distances are listed in
        row-number order; when several rows tie for the last place, which of
        them is returned is not specified.

    Raises
    ------
    ValueError
        If ``X`` is not a 2-D real array, has fewer than 2 rows or no
        columns, contains NaN or Inf (or float64 values beyond float32's
        range), if ``k`` is not an integer in ``[1, n_samples - 1]``, if
        ``metric`` or ``backend`` is unknown, (cosine) if some rows are all
        zero, if a returned distance would overflow float32, or if the
        float32 search left a row without candidates (faiss's index -1):
        such an index never reaches the caller.
    ImportError
        If ``backend="faiss"`` and faiss cannot be imported.

    Notes
    -----
    **Self excluded.** Row ``i`` never appears in its own neighbour list, not
    even when other rows are exact duplicates of it at distance 0: the search
    asks for ``k + 1`` candidates (plus a few spares, see below), drops
    ``i`` wherever it appears and keeps the ``k`` nearest of the rest; if
    ``i`` is not among the candidates (many rows tie at distance 0), the
    farthest candidate is dropped instead. Duplicates of ``x_i`` are other
    points and are listed, at distance 0.

    **Exactness.** Candidates are chosen from float32 scores (``k + 3`` of
    them, at most ``n_samples``), then re-scored in float64
    (``sum((x_i - x_j)**2)`` from direct differences, or the cosine from
    float64 dot products and norms) and sorted again. The two spares make
    the result exact unless float32 rounding moves a true neighbour below
    two impostors; the distances are accurate to float32 output precision.

    **Conditioning.** For Euclidean search the data are centred (a
    translation, which leaves distances unchanged) before the float32
    search, so a large common offset does not swamp the distance
    differences in ``||x||^2 - 2 x.y + ||y||^2``, and divided by the power
    of two ``2**e`` at or above the largest centred coordinate (exact; ranks
    do not change under a global scale), so squared norms neither overflow
    float32 (rows at 1e20 squared to inf, faiss returned index -1) nor
    underflow it (rows at 1e-30). Cosine search normalises rows with
    norms scaled by each row's largest entry. ``kneighbors(c * X)`` returns
    the indices of ``kneighbors(X)`` and distances times ``|c|`` (cosine:
    the same distances) for any c that keeps X and the distances within float32.

    Cost: ``2 n^2 d`` flops for the product (about half that with the
    symmetric tiles), ``O(n^2)`` for the selection, ``O(n k d)`` for the
    re-scoring; memory: one float32 copy of ``X`` plus bounded tiles.

    References
    ----------
    .. [1] J. Johnson, M. Douze and H. Jegou, "Billion-scale similarity
       search with GPUs", IEEE Transactions on Big Data 7(3), 2021
       (faiss).
    .. [2] P. Ram and A. G. Gray, "Maximum inner-product search using cone
       trees", KDD 2012; Y. Bachrach et al., "Speeding up the Xbox
       recommender system using a Euclidean transformation for
       inner-product spaces", RecSys 2014 (the norm-augmentation identity
       between L2 and inner-product search).
    .. [3] scikit-learn, ``sklearn.neighbors.NearestNeighbors.kneighbors``
       (the same (distances, indices) convention; query points excluded
       when no query set is given).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> d, i = kneighbors(X, 1)
    >>> i.ravel().tolist()
    [1, 0, 1, 2]
    >>> d.ravel().tolist()
    [1.0, 1.0, 2.0, 4.0]
    """
    X = _check_X(X)
    n_samples = X.shape[0]
    k = _check_k(k, n_samples)
    if metric not in _METRICS:
        raise ValueError(
            f"metric must be one of {_METRICS}; got {metric!r}. "
            "Use 'euclidean' for L2 distance or 'cosine' for 1 - cosine similarity."
        )
    if backend not in _BACKENDS:
        raise ValueError(
            f"backend must be one of {_BACKENDS}; got {backend!r}. "
            "Use 'auto' to pick faiss when it is installed."
        )
    faiss = _faiss()
    if backend == "faiss" and faiss is None:
        raise ImportError(
            "backend='faiss' was requested but faiss could not be imported. "
            "Install faiss-cpu or use backend='numpy' (or 'auto')."
        )
    use_faiss = backend != "numpy" and faiss is not None

    # One candidate more than asked, to drop the query itself, plus a few
    # spares so that float32 near-ties at the k-th place are settled by the
    # float64 re-scoring rather than by rounding.
    n_candidates = min(n_samples, k + 1 + _SPARE_CANDIDATES)
    n_features = X.shape[1]
    symmetric = use_faiss and n_features >= _SYMMETRIC_MIN_FEATURES and n_samples >= 2 * _MIN_TILE
    # Euclidean needs the norm-augmented layout except on the symmetric
    # path, which takes plain (centred) rows.
    augmented = metric == "euclidean" and not symmetric
    if metric == "euclidean":
        database, exponent = _centred(X, augmented=augmented)
    else:
        database, inv_norms = _normalised(X)

    if use_faiss:
        faiss.omp_set_num_threads(n_threads())
    if symmetric:
        candidates = _search_faiss_symmetric(faiss, database, n_candidates)
    elif use_faiss:
        candidates = _search_faiss(faiss, database, n_candidates, augmented, n_features)
    else:
        candidates = _search_numpy(database, n_candidates, augmented, n_features)
    del database
    _refuse_missing_candidates(candidates)

    if metric == "euclidean":
        # float64 squares of the raw differences are safe unless the data
        # are extremely small (or large); then they are summed in units of 4**exponent.
        exponent = exponent if not -400 < exponent < 400 else 0
        exact = _refine_euclidean(X, candidates, exponent)
    else:
        exact = _refine_cosine(X, candidates, inv_norms)
    distances, indices = _drop_self_and_sort(exact, candidates, k)
    if metric == "euclidean":
        # Squared distances were summed in units of 2**exponent (exact scaling).
        distances = np.ldexp(np.sqrt(np.maximum(distances, 0.0)), exponent)
    distances = distances.astype(np.float32)
    if not np.isfinite(distances).all():
        raise ValueError(
            "X's neighbour distances exceed float32's range (about 3.4e38), the dtype of the "
            "returned distances. Rescale X first, e.g. X / np.abs(X).max(); neighbour ranks do "
            "not change under a global scale."
        )
    return distances, indices


def _refuse_missing_candidates(candidates: np.ndarray) -> None:
    """Raise when the float32 search left a row without candidates (index -1).

    faiss marks an empty heap slot with -1 (e.g. when every score is NaN
    after an overflow); such an index would silently point at the last row.
    """
    missing = np.flatnonzero((candidates < 0).any(axis=1))
    if missing.size:
        raise ValueError(
            f"the float32 neighbour search found no candidates for {missing.size} rows (first: "
            f"{_first_rows(missing)}): their scores were not finite. Check X for values near "
            "float32's limits and rescale it, e.g. X / np.abs(X).max()."
        )


# --------------------------------------------------------------------------
# validation


def _check_X(X: object) -> np.ndarray:
    """Return ``X`` as a 2-D real ndarray (no copy when it already is one)."""
    arr = check_matrix(X, min_samples=2, action="computing neighbours")
    if arr.dtype.kind == "f":
        if arr.dtype.itemsize > 4:
            # float64 values beyond float32's range would become inf in the
            # float32 search; row max/min are reductions, no n x d temporary.
            limit = float(np.finfo(np.float32).max)
            too_big = (arr.max(axis=1) > limit) | (arr.min(axis=1) < -limit)
            if too_big.any():
                bad = np.flatnonzero(too_big)
                raise ValueError(
                    f"X has values beyond float32's range (|x| > {limit:.3g}) in "
                    f"{bad.size} rows (first: {_first_rows(bad)}). Rescale X, "
                    "e.g. X / np.abs(X).max()."
                )
    return arr


def _check_k(k: object, n_samples: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ValueError(f"k must be a positive integer; got {k!r} of type {type(k).__name__}.")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be a positive integer; got k={k}. Use k >= 1.")
    if k >= n_samples:
        raise ValueError(f"k={k} needs at least {k + 1} samples; got {n_samples}. Use a smaller k.")
    return k



# --------------------------------------------------------------------------
# float32 working copies


def _row_chunks(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(start + size, n)


def _centred(X: np.ndarray, *, augmented: bool) -> tuple[np.ndarray, int]:
    """Float32 copy of ``(X - mean) / 2**e``; with ``augmented``, the database side of
    the L2 -> inner-product reduction. Returns it and the exponent ``e``.

    Plain: shape (n, d). Augmented: shape (n, d + 1) with
    ``B[:, d] = -||B[:, :d]||^2 / 2``. (Padding the width to a multiple of
    16 was measured: no faster at d=64.)

    The mean is accumulated in float64 (a float32 running sum over 50,000
    rows would leave a residual offset); for float32 input it is then
    rounded to float32, which only shifts every row by the same vector (a
    translation: distances unchanged) and lets the cast and the centring
    fuse into one float32 pass.

    ``2**e`` is the power of two at or above the largest centred
    coordinate, so every stored coordinate lies in [-1, 1]: squared norms
    and products can neither overflow float32 (rows at 1e20 would reach
    1e40 > 3.4e38, faiss would then return index -1) nor underflow it
    (rows at 1e-30 would square to 0). Dividing by a power of two is exact,
    and neighbour ranks do not change under a global scale.
    """
    n, d = X.shape
    mean = X.mean(axis=0, dtype=np.float64)
    # max_i |x_ij - mean_j| from the column extremes: no n x d temporary.
    high = np.asarray(X.max(axis=0), dtype=np.float64) - mean
    low = mean - np.asarray(X.min(axis=0), dtype=np.float64)
    exponent = power_of_two_exponent(max(float(high.max()), float(low.max())))
    width = d + 1 if augmented else d
    database = np.empty((n, width), dtype=np.float32)
    centred = database[:, :d]
    if X.dtype == np.float32 and exponent < 127:
        np.subtract(X, mean.astype(np.float32), out=centred)
        np.ldexp(centred, -exponent, out=centred)
    else:
        # Centre and scale in float64, a block of rows at a time, before the
        # cast: values beyond float32's range become order 1 first.
        for start, stop in _row_chunks(n, max(1, _REFINE_ELEMENTS // max(1, d))):
            centred[start:stop] = np.ldexp(np.asarray(X[start:stop], dtype=np.float64) - mean, -exponent)
    if augmented:
        # Norms of the stored float32 rows, so that in exact arithmetic every
        # query scores highest against itself and its duplicates.
        np.einsum("ij,ij->i", centred, centred, out=database[:, d])
        database[:, d] *= -0.5
    return database, exponent


class _AugmentedQueries:
    """Query side ``[x - mean, 1]``, rows ``start:stop``, in one reused buffer."""

    def __init__(self, database: np.ndarray, n_features: int, max_rows: int):
        self.database = database
        self.n_features = n_features
        self.buffer = np.empty((min(max_rows, database.shape[0]), database.shape[1]), np.float32)

    def __call__(self, start: int, stop: int) -> np.ndarray:
        queries = self.buffer[: stop - start]
        np.copyto(queries, self.database[start:stop])
        queries[:, self.n_features] = 1.0
        return queries


def _normalised(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 unit rows for cosine search, and float64 ``1 / ||x_i||``.

    Norms are scale-free (`analysis.validation.scaled_norms`): a row at 1e20
    in float32 or 1e-200 in float64 keeps its direction.
    """
    n, d = X.shape
    norms = np.empty(n, dtype=np.float64)
    database = np.empty((n, d), dtype=np.float32)
    # float64 norms (the exact re-scoring divides by them), in cache-sized
    # chunks so that no n x d float64 temporary is made.
    for start, stop in _row_chunks(n, max(1, _REFINE_ELEMENTS // d)):
        block = X[start:stop].astype(np.float64, copy=False)
        norms[start:stop] = scaled_norms(block)
        with np.errstate(divide="ignore", invalid="ignore"):
            database[start:stop] = block / norms[start:stop, None]
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"metric='cosine' is undefined for all-zero rows; X has {zero.size} "
            f"zero rows (first: {_first_rows(zero)}). Drop them, e.g. "
            "X[np.linalg.norm(X, axis=1) > 0], or use metric='euclidean'."
        )
    return database, 1.0 / norms


def _query_chunk(n: int) -> int:
    """Rows per faiss call: at most ``_FAISS_QUERY_CHUNK``, all chunks equal.

    Equal chunks avoid a last, tiny call whose BLAS tiles run far below peak.
    """
    n_chunks = -(-n // _FAISS_QUERY_CHUNK)
    return -(-n // n_chunks)


# --------------------------------------------------------------------------
# candidate search (float32 scores, larger = closer)


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


# --------------------------------------------------------------------------
# exact re-scoring and self removal


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


def _refine_rows(X: np.ndarray, candidates: np.ndarray) -> int:
    return max(1, _REFINE_ELEMENTS // (candidates.shape[1] * X.shape[1]))


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

    _for_row_chunks(
        X.shape[0],
        _refine_rows(X, candidates),
        work,
        elements=candidates.size * X.shape[1],
        n_features=X.shape[1],
    )
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

    _for_row_chunks(
        X.shape[0],
        _refine_rows(X, candidates),
        work,
        elements=candidates.size * X.shape[1],
        n_features=X.shape[1],
    )
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
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}; got {metric!r}.")
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
    block = max(1, _REFINE_ELEMENTS // max(1, X.shape[1]))
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
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}; got {metric!r}.")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= D.shape[0]:
        raise ValueError(f"k must be an integer in [1, {D.shape[0]}] (the database size); got {k!r}.")
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
    block = max(1, _REFINE_ELEMENTS // max(1, D.shape[0]) * 8)
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
