"""Intrinsic dimension from nearest-neighbour distances: TwoNN and the Levina-Bickel MLE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from analysis.metrics._result import MetricResult
from analysis.neighbors import NeighborGraph
from analysis.validation import check_k, check_matrix, check_option, max_abs, power_of_two_exponent

__all__ = ["IntrinsicDimension", "intrinsic_dimension"]

METHODS = ("twonn", "mle")


@dataclass(frozen=True, eq=False)
class IntrinsicDimension(MetricResult):
    """Result of :func:`intrinsic_dimension`.

    Attributes
    ----------
    dimension : float
    method : str
    k : int
        Neighbours used (2 for TwoNN).
    n_used : int
        Distinct points the estimate is based on.
    n_duplicates : int
        Rows dropped because they repeat an earlier row (a zero distance
        would divide by zero; duplicates carry no information on dimension).
    knn_recall : float or None
        Recall@k of the approximate neighbour search the estimate read
        (`analysis.neighbors.approximate`, measured on sampled rows); None
        when its neighbours were exact.
    """

    dimension: float
    method: str
    k: int
    n_used: int
    n_duplicates: int
    knn_recall: float | None = None

    SCALARS: ClassVar[tuple[str, ...]] = ("dimension",)


def intrinsic_dimension(X: Any, *, method: str = "twonn", k: int = 10,
                        neighbors: NeighborGraph | None = None, exact: bool | None = None) -> IntrinsicDimension:
    """Intrinsic dimension of a point cloud from its nearest-neighbour distances.

    - ``"twonn"`` (Facco et al. 2017): with r1, r2 each point's first and
      second neighbour distances, mu = r2 / r1 is Pareto(d)-distributed, and
      the maximum-likelihood estimate is ``d = n / sum_i log mu_i``.
    - ``"mle"`` (Levina & Bickel 2005) with k neighbours: per point
      ``m_i = [ (1/(k-1)) sum_{j<k} log(T_k / T_j) ]^{-1}``, averaged as
      ``[mean_i 1/m_i]^{-1}`` (the correction of MacKay & Ghahramani 2005).

    Duplicate rows are dropped first (reported in ``n_duplicates``): a zero
    neighbour distance would divide by zero. Both estimates depend only on
    ratios of distances, so they are invariant to a global scale ``c X`` at
    any magnitude (the search runs on ``X / 2**e``, an exact rescaling).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    method : {"twonn", "mle"}, default="twonn"
    k : int, default=10
        Neighbours for ``"mle"`` (>= 2); TwoNN always uses 2.
    neighbors : NeighborGraph, optional
        A Euclidean search of this ``X`` (`NeighborGraph.search`), read
        instead of searching again: each distinct point's first k distances
        to other distinct points (copies of one point count once). The
        result is bit-identical to the one without it. Only when duplicate
        rows leave some point fewer than k distinct neighbours within the
        graph's ``k_max`` is the search run as without it.
    exact : bool, optional
        The search's kind when no usable `neighbors` is given: None searches
        exactly up to `analysis.neighbors.approximate.EXACT_LIMIT` distinct
        rows and through an approximate index above it (its measured recall
        is the result's ``knn_recall``); True always exact, False always approximate.

    Returns
    -------
    IntrinsicDimension

    Raises
    ------
    ValueError
        Unknown method, k < 2, fewer than k + 1 distinct points, NaN/Inf; a
        graph of another row count or not Euclidean.

    References
    ----------
    .. [1] E. Facco, M. d'Errico, A. Rodriguez and A. Laio, "Estimating the
       intrinsic dimension of datasets by a minimal neighborhood
       information", Scientific Reports 7, 2017.
    .. [2] E. Levina and P. J. Bickel, "Maximum likelihood estimation of
       intrinsic dimension", NIPS 2005.
    .. [3] D. J. C. MacKay and Z. Ghahramani, "Comments on 'Maximum likelihood
       estimation of intrinsic dimension' by E. Levina and P. Bickel", 2005.
    """
    check_option(method, METHODS, what="method")
    checked = check_matrix(X, action="estimating the intrinsic dimension")
    k = 2 if method == "twonn" else k
    k = check_k(k, minimum=2)
    from_graph = None
    if neighbors is not None:
        neighbors.check_matches(checked, metric="euclidean")
        from_graph = _from_graph(checked, neighbors, int(k))
    recall = None
    if from_graph is not None:
        distances, n_distinct = from_graph
        recall = neighbors.knn.recall
    else:
        arr = np.asarray(checked, dtype=np.float64)
        unique = np.unique(arr, axis=0)
        n_distinct = unique.shape[0]
        if n_distinct <= k:
            raise ValueError(
                f"X has {n_distinct} distinct points; estimating the intrinsic dimension with k = {k} needs at "
                f"least {k + 1}."
            )
        # Distance ratios are scale-free: search X / 2**e, which keeps rows at 1e160 inside the
        # float32 search and rows at 1e-200 out of underflow. Exact up to the search's limit, then an
        # approximate index whose measured recall the result carries (`exact` as NeighborGraph.search).
        graph = NeighborGraph.search(np.ldexp(unique, -power_of_two_exponent(max_abs(unique))), k_max=int(k),
                                     exact=exact)
        distances, recall = graph.distances, graph.knn.recall
    duplicates = checked.shape[0] - n_distinct
    distances = distances.astype(np.float64)
    if method == "twonn":
        log_mu = np.log(distances[:, 1] / distances[:, 0])
        total = log_mu.sum()
        if not total > 0:
            raise ValueError("every point's two nearest neighbours are equally far: TwoNN is undefined here.")
        dimension = n_distinct / total
    else:
        logs = np.log(distances[:, -1:] / distances[:, :-1])  # log(T_k / T_j), j < k
        inverse = logs.mean(axis=1)  # 1 / m_i
        if not inverse.mean() > 0:
            raise ValueError("all k nearest neighbours are equally far: the MLE is undefined here.")
        dimension = 1.0 / inverse.mean()
    return IntrinsicDimension(dimension=float(dimension), method=method, k=int(k), n_used=int(n_distinct),
                              n_duplicates=int(duplicates), knn_recall=recall)


def _from_graph(X: np.ndarray, graph: NeighborGraph, k: int) -> tuple[np.ndarray, int] | None:
    """(each distinct point's k distances to other distinct points, number of distinct points) from a graph.

    The points come in the order of ``np.unique(X, axis=0)`` (lexicographic),
    the order in which the search without a graph sums them: the same sum, bit
    for bit. Without duplicates (every first distance > 0) and without ties in
    the first column that order is one argsort of that column, which spares
    the row sort and float64 copy of ``np.unique`` (seconds at n = 50,000, d =
    768). None when the graph cannot give the answer: the caller searches.
    """
    if graph.distances[:, 0].min() > 0:
        column = X[:, 0]
        order = np.argsort(column, kind="stable")
        ordered = column[order]
        if not (ordered[1:] == ordered[:-1]).any():
            if X.shape[0] <= k or graph.k_max < k:
                return None
            return _normal_or_none(graph.distances[order, :k]), X.shape[0]
    unique, first, group = np.unique(np.asarray(X, dtype=np.float64), axis=0, return_index=True,
                                     return_inverse=True)
    if unique.shape[0] <= k:
        return None
    distances = _distinct_distances(graph, first, group.ravel(), k)
    return None if distances is None else (distances, unique.shape[0])


def _normal_or_none(distances: np.ndarray) -> np.ndarray | None:
    # Below float32's smallest normal number the graph's distances lost precision
    # (data near 1e-38 or smaller); the search without a graph rescales first.
    return None if distances.min() < np.finfo(np.float32).tiny else distances


def _distinct_distances(graph: NeighborGraph, first: np.ndarray, group: np.ndarray, k: int) -> np.ndarray | None:
    """Distances from each distinct point to its k nearest other distinct points, from a graph of all rows.

    ``first[u]`` is the first row holding distinct point ``u`` (the order of
    ``np.unique``) and ``group[i]`` the distinct point of row ``i``. A line
    of the graph keeps the neighbours that are the first copy of another
    point: the searched set without duplicates, in the same order, at the
    same (float32) distances, since a ratio of distances is unchanged by the
    exact ``2**e`` rescaling the search without a graph applies. None when
    some point keeps fewer than k (duplicates filled its line) or a distance
    lost its precision.
    """
    indices = graph.indices[first]
    keep = (first[group[indices]] == indices) & (group[indices] != np.arange(first.size)[:, None])
    if (keep.sum(axis=1) < k).any():
        return None
    # Stable: the kept columns, in the graph's (distance, row) order.
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    return _normal_or_none(np.take_along_axis(graph.distances[first], order, axis=1))
