"""k-NN agreement: the share of each point's nearest neighbours that two spaces have in common."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.stats import hypergeom

from analysis.metrics._result import MetricResult
from analysis.metrics._similarity_inputs import _check_pair
from analysis.neighbors import kneighbors
from analysis.validation import check_k, check_option, first_rows, row_norms, unit_scaled_if_huge

__all__ = ["NeighborAgreement", "knn_agreement"]

_KNN_METRICS = ("euclidean", "cosine")


@dataclass(frozen=True, eq=False)
class NeighborAgreement(MetricResult):
    """Result of :func:`knn_agreement`.

    Attributes
    ----------
    mean_jaccard : float
        Mean over points of the Jaccard index of their two k-NN sets, in [0, 1].
    per_point : ndarray of shape (n_samples,), float64
        ``|N_X(i) & N_Y(i)| / |N_X(i) | N_Y(i)|`` for each point.
    k : int
    metric : str
    chance_jaccard : float
        Expected Jaccard index of two independent uniformly random k-subsets of
        the other n - 1 points: what unrelated spaces score on average.
    """

    mean_jaccard: float
    per_point: np.ndarray
    k: int
    metric: str
    chance_jaccard: float

    SCALARS: ClassVar[tuple[str, ...]] = ("mean_jaccard", "chance_jaccard")


def _chance_jaccard(n_others: int, k: int) -> float:
    """E[m / (2k - m)] with m ~ Hypergeometric(population n_others, k marked, k drawn)."""
    overlap = np.arange(0, k + 1)
    pmf = hypergeom.pmf(overlap, n_others, k, k)
    return float(np.sum(pmf * overlap / (2.0 * k - overlap)))


def knn_agreement(X: Any, Y: Any, *, k: int = 10, metric: str = "euclidean",
                  neighbors: tuple[Any, Any] | None = None) -> NeighborAgreement:
    """How many of each point's k nearest neighbours are shared by two spaces (k-NN Jaccard).

    .. math::

        J_i = \\frac{|N^X_k(i) \\cap N^Y_k(i)|}{|N^X_k(i) \\cup N^Y_k(i)|}, \\qquad
        \\bar J = \\frac{1}{n} \\sum_i J_i

    where ``N^X_k(i)`` are the k nearest other rows of row i in X (self
    excluded, `analysis.neighbors.kneighbors`). With m shared neighbours,
    ``J_i = m / (2k - m)``. The measure is surveyed as "k-NN Jaccard
    similarity" by Klabunde et al. [1]_.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
    Y : array-like of shape (n_samples, n_features_y)
    k : int, default=10
        ``1 <= k <= n_samples - 1``; at ``k = n_samples - 1`` every set is
        all other points and the index is trivially 1.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Used in both spaces.
    neighbors : (NeighborGraph, NeighborGraph), optional
        Searches of X and of Y with this metric and ``k_max >= k``
        (`analysis.neighbors.NeighborGraph.search`), read instead of
        searching again; the same result wherever no row has a distance tie
        at its k-th place, and always when ``k == k_max``.

    Returns
    -------
    NeighborAgreement
        With ``chance_jaccard``, the level of unrelated spaces.

    Raises
    ------
    ValueError
        Different row counts, fewer than 2 rows, k out of range, an unknown
        metric, NaN/Inf, all rows identical (neighbours undefined), or all-zero
        rows with the cosine metric.

    Notes
    -----
    Invariant to rotations, translations and isotropic scaling of either
    space (Euclidean) and to scaling any row (cosine); symmetric in X and Y.
    Rows tied for the k-th place are broken by row number in each space, so
    exactly tied distances (e.g. points on an integer grid) can lower the
    index.

    References
    ----------
    .. [1] M. Klabunde, T. Schumacher, M. Strohmaier and F. Lemmerich,
       "Similarity of neural network models: a survey of functional and
       representational measures", arXiv:2305.06329, 2023 (ACM Computing
       Surveys 2025), section on neighbourhood-based measures.
    """
    check_option(metric, _KNN_METRICS, what="metric")
    x, y = _check_pair(X, Y, min_samples=2, why="k-NN agreement", action="finding neighbours")
    n = x.shape[0]
    k = check_k(k, n=n - 1, needs=f"other points each, of {n}")
    for arr, name in ((x, "X"), (y, "Y")):
        if np.all(arr == arr[0]):
            raise ValueError(f"{name} holds {n} identical rows: every distance is 0, so nearest "
                             "neighbours are undefined. Pass varied data.")
        if metric == "cosine":
            zero = np.flatnonzero(row_norms(arr) == 0)
            if zero.size:
                raise ValueError(f"{name} has {zero.size} all-zero rows (first: {first_rows(zero)}), which "
                                 "have no cosine distance. Drop them or use metric='euclidean'.")
    if neighbors is not None:
        if not isinstance(neighbors, tuple) or len(neighbors) != 2:
            raise ValueError("neighbors must be a pair (graph of X, graph of Y) of NeighborGraph.search results.")
        for graph, arr, name in ((neighbors[0], x, "neighbors[0], X's graph"),
                                 (neighbors[1], y, "neighbors[1], Y's graph")):
            graph.check_matches(arr, metric=metric, name=name)
        neighbours_x, neighbours_y = neighbors[0].top(k)[1], neighbors[1].top(k)[1]
    else:
        # Neighbour sets are scale-free: values beyond float32's range are scaled down exactly.
        _, neighbours_x = kneighbors(unit_scaled_if_huge(x), k, metric=metric)
        _, neighbours_y = kneighbors(unit_scaled_if_huge(y), k, metric=metric)
    # Each list holds k distinct rows, so after sorting the two side by side a shared row is
    # exactly a pair of equal neighbours.
    both = np.sort(np.concatenate([neighbours_x, neighbours_y], axis=1), axis=1)
    shared = np.count_nonzero(both[:, 1:] == both[:, :-1], axis=1)
    per_point = shared / (2.0 * k - shared)
    return NeighborAgreement(mean_jaccard=float(per_point.mean()), per_point=per_point, k=k, metric=metric,
                             chance_jaccard=_chance_jaccard(n - 1, k))
