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

The package holds one responsibility per module: this one the public API
(:func:`kneighbors` and the path it takes); `checks` the argument checks;
`conditioning` the centred / normalised float32 working copies; `search`
the float32 candidate search backends (numpy, faiss); `refinement` the
exact float64 re-scoring and self removal; `queries` the neighbours of a
few chosen rows or of another point set.
"""

from __future__ import annotations

import numpy as np

# One search sliced for every k (its own module; it calls kneighbors at run time).
from analysis.neighbor_graph import NeighborGraph
from analysis.neighbors.checks import _BACKENDS, _METRICS, Backend, Metric, _check_k, _check_X
from analysis.neighbors.conditioning import _centred, _normalised
from analysis.neighbors.queries import kneighbors_between, kneighbors_of
from analysis.neighbors.refinement import _drop_self_and_sort, _refine_cosine, _refine_euclidean
from analysis.neighbors.search import (
    _faiss,
    _search_faiss,
    _search_faiss_symmetric,
    _search_numpy,
    faiss_available,
    n_threads,
)
from analysis.validation import check_option
from analysis.validation import first_rows as _first_rows

__all__ = [
    "NeighborGraph",
    "kneighbors",
    "kneighbors_of",
    "kneighbors_between",
    "faiss_available",
    "n_threads",
]

# Candidates beyond k + 1 searched in float32 and re-scored in float64.
_SPARE_CANDIDATES = 2
# Smallest n and number of features from which kneighbors takes the symmetric
# tiles of `search._search_faiss_symmetric`; measured on a 2-core AVX-512 box.
_MIN_TILE = 512
_SYMMETRIC_MIN_FEATURES = 256


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
    check_option(metric, _METRICS, what="metric",
                 hint="Use 'euclidean' for L2 distance or 'cosine' for 1 - cosine similarity.")
    check_option(backend, _BACKENDS, what="backend", hint="Use 'auto' to pick faiss when it is installed.")
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

