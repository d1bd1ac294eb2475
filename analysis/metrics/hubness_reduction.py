"""Hubness reduction: secondary distances that make neighbourhoods symmetric again.

Each method rescales a pair's distance by how crowded the two points'
neighbourhoods are, so that hubs (close to everyone) lose their advantage.

Two modes (`compare_reductions`' ``mode``; the default picks by n):

- ``"exact"`` (default up to `EXACT_MAX_N` points): every pair's secondary
  distance, from float64 distance rows processed in blocks
  (`analysis.metrics._hubness_exact`); a point's re-ranked neighbours are the
  `k` points with the smallest secondary distance among all n - 1.
- ``"candidates"`` (above it, or with an explicit ``n_candidates``): each
  point's nearest candidates from `analysis.neighbors` are re-ranked. Without
  ``n_candidates`` their count doubles until the re-ranked lists of a seeded
  sample of rows agree with their exact lists; the agreement is stored in the
  result either way.

`secondary_distance_matrix` / `exact_reduction` are the plain (n, n)
reference for small n; with ``n_candidates = n - 1`` the graph versions equal it.

Methods (Feldbauer & Flexer 2019 compare them all):

- ``mutual_proximity`` (empirical) and ``mp_gaussian``: Schnitzer et al. 2012.
- ``local_scaling``: Zelnik-Manor & Perona 2005, as used by Schnitzer et al. 2012.
- ``nicdm``: non-iterative contextual dissimilarity measure, Jegou et al. 2010.
- ``csls``: cross-domain similarity local scaling, Conneau et al. 2018.
- ``dis_sim_local``: Hara et al. 2016.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from scipy.special import ndtr

from analysis.metrics import _hubness_exact as E
from analysis.metrics._result import MetricResult
from analysis.metrics.hubness import METRICS, Hubness, hubness_from_neighbors, knn_accuracy
from analysis.neighbors import NeighborGraph, kneighbors
from analysis.validation import check_k, check_matrix, check_option, max_abs, power_of_two_exponent

__all__ = [
    "EXACT_MAX_N",
    "METHODS",
    "HubnessReduction",
    "compare_reductions",
    "default_candidates",
    "exact_reduction",
    "reduce_hubness",
    "secondary_distance_matrix",
]

METHODS = ("mutual_proximity", "mp_gaussian", "local_scaling", "nicdm", "csls", "dis_sim_local")
METHOD_NAMES = {
    "mutual_proximity": "Mutual proximity (empirical)",
    "mp_gaussian": "Mutual proximity (Gaussian)",
    "local_scaling": "Local scaling",
    "nicdm": "NICDM",
    "csls": "CSLS",
    "dis_sim_local": "DisSimLocal",
}


@dataclass(frozen=True, eq=False)
class HubnessReduction(MetricResult):
    """Result of :func:`reduce_hubness`.

    Attributes
    ----------
    method : str
    k, k_scale, n_candidates : int
        ``n_candidates``: candidates re-ranked per point (n - 1 in exact mode).
    indices : ndarray of shape (n_samples, k), int64
        Re-ranked neighbours (self excluded), nearest first by secondary distance.
    secondary_distances : ndarray of shape (n_samples, k), float64
    hubness : Hubness
        Hubness of the re-ranked lists.
    hubness_before : Hubness
        Hubness of the plain k nearest neighbours.
    knn_accuracy, knn_accuracy_before : float or None
        Leave-one-out kNN accuracy with the re-ranked / plain lists (None without labels).
    mode : {"exact", "candidates"}
        ``"exact"``: full secondary distances (every pair), ``n_candidates = n - 1``.
        ``"candidates"``: each point's `n_candidates` nearest re-ranked.
    agreement : float
        Mean overlap |list & exact list| / k of the re-ranked lists with the
        exact ones over `agreement_sample` rows (1.0 in exact mode; NaN for
        empirical MP above `MP_SAMPLE_MAX_N` points, not checked).
    agreement_sample : int
        Rows compared (n in exact mode; a seeded random sample otherwise).
    agreement_hubs : float
        Over the sample, the mean N_k (after this reduction) of the listed
        neighbours divided by that of the exact lists: a skewness proxy, above 1
        when the candidate lists favour hubs more than the exact ones (1.0 in exact mode).
    """

    method: str
    k: int
    k_scale: int
    n_candidates: int
    indices: np.ndarray
    secondary_distances: np.ndarray
    hubness: Hubness
    hubness_before: Hubness
    knn_accuracy: float | None
    knn_accuracy_before: float | None
    mode: str = "exact"
    agreement: float = 1.0
    agreement_sample: int = 0
    agreement_hubs: float = 1.0


# --------------------------------------------------------------------------- graph versions


@numba.njit(cache=True)
def _mp_empiric_graph(cand_idx: np.ndarray, cand_dist: np.ndarray, n: int) -> np.ndarray:
    """|A_x u A_y| / (n - 2) for every candidate pair; A_x = {j != x, y : d(x, j) <= d(x, y)}.

    Hand-written (numba) because no library computes mutual proximity on a
    neighbour graph: per pair it needs the overlap of two neighbourhood
    prefixes, O(c) with a position lookup, O(n c^2) in all. Points outside
    a list count as farther than all of its candidates, exact whenever y's
    list reaches as far as x (always with n_candidates = n - 1).
    """
    rows, c = cand_idx.shape
    out = np.empty((rows, c))
    position = np.full(n, -1, dtype=np.int64)
    for x in range(rows):
        for m in range(c):
            position[cand_idx[x, m]] = m
        for r in range(c):
            y = cand_idx[x, r]
            d = cand_dist[x, r]
            size_x = 0
            for m in range(c):
                if m != r and cand_dist[x, m] <= d:
                    size_x += 1
            size_y = 0
            both = 0
            for m in range(c):
                j = cand_idx[y, m]
                if j == x or cand_dist[y, m] > d:
                    continue
                size_y += 1
                p = position[j]
                if p >= 0 and p != r and cand_dist[x, p] <= d:
                    both += 1
            out[x, r] = (size_x + size_y - both) / (n - 2)
        for m in range(c):
            position[cand_idx[x, m]] = -1
    return out


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with x/0 = inf for x > 0 and 0/0 = 0.

    A zero local scale comes from duplicated points: a duplicate pair is as
    close as can be (0), anything else is infinitely far on that scale.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return np.where(denominator > 0, ratio, np.where(numerator > 0, np.inf, 0.0))


def _local_stats(cand_dist: np.ndarray, k_scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(distance to the k_scale-th neighbour, mean distance to the k_scale nearest)."""
    return cand_dist[:, k_scale - 1], cand_dist[:, :k_scale].mean(axis=1)


def _gaussian_survival(d: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    # P(D > d) under N(mean, std^2); a zero std is a step at the mean.
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (d - mean) / std
    return np.where(std > 0, ndtr(-z), (d < mean).astype(np.float64))


def _secondary_on_graph(method: str, cand_idx: np.ndarray, cand_dist: np.ndarray, st: E.PointStats,
                        metric: str) -> np.ndarray:
    """Secondary distance of every (point, candidate) pair, shape (n, c)."""
    n = cand_idx.shape[0]
    if method == "mutual_proximity":
        return _mp_empiric_graph(cand_idx, cand_dist, n)
    return E.secondary(method, cand_dist, np.arange(n), cand_idx, st, metric)


def _as_vectors(X: np.ndarray, metric: str) -> np.ndarray:
    V = np.asarray(X, dtype=np.float64)
    if metric == "cosine":
        V = V / np.linalg.norm(V, axis=1, keepdims=True)
    return V


def _rerank(secondary: np.ndarray, cand_idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    # Stable: ties (mutual proximity's values are counts) keep the primary
    # order, since candidates are sorted by distance.
    order = np.argsort(secondary, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cand_idx, order, axis=1), np.take_along_axis(secondary, order, axis=1)


# --------------------------------------------------------------------------- full-matrix reference


def _pairwise(X: np.ndarray, metric: str) -> np.ndarray:
    V = _as_vectors(X, metric)
    if metric == "cosine":
        return np.clip(1.0 - V @ V.T, 0.0, 2.0)
    return np.sqrt(np.maximum(((V[:, None, :] - V[None, :, :]) ** 2).sum(axis=2), 0.0))


def secondary_distance_matrix(X: Any, method: str, *, metric: str = "euclidean", k_scale: int = 5) -> np.ndarray:
    """The exact (n, n) secondary distance matrix of a method (small n: test reference).

    Formulas, with primary distances d, each point's distances to all others
    D_x, its k_scale-th neighbour distance sigma_x and mean k_scale-neighbour
    distance mu_x (self excluded):

    - mutual_proximity: ``|{j != x, y : d(x,j) <= d(x,y) or d(y,j) <= d(y,x)}| / (n - 2)``,
      i.e. 1 - the empirical probability that j is farther from both.
    - mp_gaussian: ``1 - SF_x(d) SF_y(d)`` with SF the survival function of
      a normal fitted to D_x (independence assumption of Schnitzer et al. 2012).
    - local_scaling: ``1 - exp(-d^2 / (sigma_x sigma_y))``.
    - nicdm: ``d / sqrt(mu_x mu_y)``.
    - csls: ``2 d - mu_x - mu_y`` (with cosine distance, minus CSLS of Conneau et al. 2018).
    - dis_sim_local: ``||x - y||^2 - ||x - c_x||^2 - ||y - c_y||^2`` with c_x the
      centroid of x's k_scale nearest neighbours (of the unit vectors for cosine).

    The diagonal is +inf (self is never a neighbour).
    """
    arr = check_matrix(X, min_samples=3, action="reducing hubness")
    _check_method(method, metric)
    n = arr.shape[0]
    if method not in ("mutual_proximity", "mp_gaussian"):  # the others use a local scale
        _check_positive("k_scale", k_scale, n)
    D = _pairwise(arr, metric)
    np.fill_diagonal(D, np.inf)
    order = np.argsort(D, axis=1, kind="stable")[:, : n - 1]
    sorted_d = np.take_along_axis(D, order, axis=1)
    if method == "mutual_proximity":
        closer = D[:, :, None] <= D[:, None, :]  # closer[x, j, y]: d(x,j) <= d(x,y)
        out = np.empty((n, n))
        for x in range(n):
            for y in range(n):
                mask = closer[x, :, y] | closer[y, :, x]
                mask[[x, y]] = False
                out[x, y] = mask.sum() / (n - 2)
    elif method == "mp_gaussian":
        mean, std = sorted_d.mean(axis=1), sorted_d.std(axis=1)
        out = 1.0 - _gaussian_survival(D, mean[:, None], std[:, None]) * _gaussian_survival(D, mean[None, :], std[None, :])
    else:
        kth, mean_k = _local_stats(sorted_d, k_scale)
        if method == "local_scaling":
            out = 1.0 - np.exp(-_safe_ratio(D**2, np.outer(kth, kth)))
        elif method == "nicdm":
            out = _safe_ratio(D, np.sqrt(np.outer(mean_k, mean_k)))
        elif method == "csls":
            out = 2.0 * D - mean_k[:, None] - mean_k[None, :]
        else:
            V = _as_vectors(arr, metric)
            to_centroid = np.sum((V - V[order[:, :k_scale]].mean(axis=1)) ** 2, axis=1)
            squared = D**2 if metric == "euclidean" else 2.0 * D
            out = squared - to_centroid[:, None] - to_centroid[None, :]
    np.fill_diagonal(out, np.inf)
    return out


def exact_reduction(X: Any, method: str, *, k: int = 10, metric: str = "euclidean",
                    k_scale: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Full-matrix re-ranked neighbours: (indices, secondary distances), each (n, k).

    The reference for :func:`reduce_hubness` (small n only: O(n^2) memory,
    O(n^3) for mutual proximity). Ties in the secondary distance (mutual
    proximity's are counts) are broken by the primary distance, as on the graph.
    """
    arr = check_matrix(X, min_samples=3, action="reducing hubness")
    _check_positive("k", k, arr.shape[0])
    secondary = secondary_distance_matrix(arr, method, metric=metric, k_scale=k_scale)
    primary = _pairwise(arr, metric)
    np.fill_diagonal(primary, np.inf)  # self last even where every secondary distance is inf
    order = np.lexsort((primary, secondary), axis=1)[:, :k]
    return order.astype(np.int64), np.take_along_axis(secondary, order, axis=1)


# --------------------------------------------------------------------------- public API


def _check_method(method: str, metric: str) -> None:
    check_option(method, METHODS, what="method")
    check_option(metric, METRICS, what="metric")


def _check_positive(name: str, value: Any, n: int) -> int:
    """An integer in [1, n - 1] (a neighbourhood size among the n - 1 other points)."""
    return check_k(value, n=n - 1, what=name, needs="other points each")


def default_candidates(k: int, *, k_scale: int = 5) -> int:
    """Candidates per point the candidate mode starts from: ``max(k, k_scale, min(100, 5k))`` (before capping at n - 1).

    A `NeighborGraph` at least this deep serves the reduction without a new search.
    """
    return max(int(k), int(k_scale), min(100, 5 * int(k)))


EXACT_MAX_N = 5000
"""Largest n the default mode computes exactly: the (n, n) float64 distances
(200 MB at n = 5,000) plus int32 rank counts for empirical MP (100 MB) stay
in memory, and all six methods take about a second per 1,000 rows squared
(~10 s at 2,000 x 500 on a busy 2-core machine, see tests/bench/bench_hubness_reduction.py);
above it a candidate count is chosen on a sample."""
AGREEMENT_SAMPLE = 200
"""Rows whose exact re-ranked lists (against all n points) the candidate mode is checked on."""
AGREEMENT_OVERLAP = 0.99
AGREEMENT_HUBS = 0.05
"""The candidate count grows (doubling, up to MAX_AUTO_CANDIDATES) until the sample's
re-ranked lists overlap the exact ones by AGREEMENT_OVERLAP and `agreement_hubs` is
within AGREEMENT_HUBS of 1."""
MAX_AUTO_CANDIDATES = 800
FULL_MOMENTS_MAX_N = 20000
"""Up to this n MP-Gaussian's normal is fitted to all n - 1 distances of a point
(streamed); above it to the distances to a seeded sample of MOMENT_COLUMNS points."""
MOMENT_COLUMNS = 5000
MP_SAMPLE_MAX_N = 20000
"""Above this n the exact sample lists of empirical MP (one pass over all n^2
distances) are not computed: its agreement is NaN, its candidate count the default."""


def _candidate_graph(X: np.ndarray, k: int, k_scale: int, n_candidates: int | None, metric: str,
                     uses_scale: bool, neighbors: NeighborGraph | None = None):
    n = X.shape[0]
    k = _check_positive("k", k, n)
    # Mutual proximity has no local scale: its default need not fit a tiny n.
    scale = _check_positive("k_scale", k_scale, n) if uses_scale else 1
    c = default_candidates(k, k_scale=scale) if n_candidates is None else int(n_candidates)
    c = min(c, n - 1)
    if c < max(k, scale):
        raise ValueError(f"n_candidates={c} must be at least k={k} and k_scale={scale} (and < n).")
    if neighbors is not None and neighbors.k_max >= c:
        # The first c columns of a deeper search are the c-neighbour search.
        return c, neighbors.top(c)
    return c, kneighbors(X, c, metric=metric)


def _float64_graph(V: np.ndarray, cand_idx: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Candidate distances recomputed in float64 (the search's are float32), rows re-sorted by them.

    float32 distances shift the local statistics in their 7th digit and tie
    near-equal candidates; the exact mode uses float64 throughout.
    """
    out = np.empty(cand_idx.shape)
    for rows in E.row_blocks(len(V), cand_idx.shape[1] * V.shape[1]):
        diff = V[rows, None, :] - V[cand_idx[rows]]
        sq = np.einsum("ijk,ijk->ij", diff, diff)
        out[rows] = 0.5 * sq if metric == "cosine" else np.sqrt(sq)  # unit rows: 1 - cos = |u - v|^2 / 2
    order = np.lexsort((cand_idx, out), axis=1)
    return np.take_along_axis(cand_idx, order, axis=1), np.take_along_axis(out, order, axis=1)


def _graph_stats(V: np.ndarray, cand_idx: np.ndarray, cand_dist: np.ndarray, metric: str, k_scale: int,
                 need_moments: bool) -> E.PointStats:
    n = V.shape[0]
    ks = min(k_scale, cand_idx.shape[1])
    kth, mean_k, to_centroid = E.local_stats(V, cand_dist, cand_idx, metric, ks)
    if not need_moments:
        return E.PointStats(kth, mean_k, to_centroid, np.zeros(n), np.ones(n))
    columns = None
    if n > FULL_MOMENTS_MAX_N:
        columns = np.sort(np.random.default_rng(0).choice(n, MOMENT_COLUMNS, replace=False))
    mean, std = E.streamed_moments(V, metric, columns)
    return E.PointStats(kth, mean_k, to_centroid, mean, std)


def _agreement(indices: np.ndarray, exact: np.ndarray, rows: np.ndarray, k_occurrence: np.ndarray):
    """(mean overlap / k, mean N_k of the listed over that of the exact lists) on the sample rows."""
    got = indices[rows]
    k = got.shape[1]
    overlap = np.mean([np.intersect1d(a, b).size / k for a, b in zip(got, exact, strict=True)])
    hubs_exact = k_occurrence[exact].mean()
    ratio = k_occurrence[got].mean() / hubs_exact if hubs_exact > 0 else 1.0
    return float(overlap), float(ratio)


def _agrees(overlap: float, ratio: float) -> bool:
    return overlap >= AGREEMENT_OVERLAP and abs(ratio - 1.0) <= AGREEMENT_HUBS


def compare_reductions(
    X: Any,
    *,
    k: int = 10,
    metric: str = "euclidean",
    k_scale: int = 5,
    n_candidates: int | None = None,
    labels: Any = None,
    methods: tuple[str, ...] = METHODS,
    neighbors: NeighborGraph | None = None,
    mode: str = "auto",
) -> dict[str, HubnessReduction]:
    """Every requested reduction, sharing one distance pass or one candidate graph (see :func:`reduce_hubness`).

    Parameters are those of :func:`reduce_hubness`, plus ``methods``, the
    reductions to run (default all of `METHODS`).
    """
    arr = check_matrix(X, min_samples=3, action="reducing hubness")
    for method in methods:
        _check_method(method, metric)
    check_option(mode, ("auto", "exact", "candidates"), what="mode")
    n = arr.shape[0]
    if neighbors is not None:
        neighbors.check_matches(arr, metric=metric)
    uses_scale = any(m not in ("mutual_proximity", "mp_gaussian") for m in methods)
    k = _check_positive("k", k, n)
    scale = _check_positive("k_scale", k_scale, n) if uses_scale else max(1, min(int(k_scale), n - 1))
    if labels is not None and np.asarray(labels).shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one per row of X; got {np.shape(labels)}.")
    if np.all(arr == arr[0]):
        raise ValueError("X holds identical rows only: every distance is 0 and neighbours are undefined.")
    # The candidate distances come back in float32, where data below ~1e-38
    # flushes to zero and ties every candidate: bring tiny data to order 1 by an
    # exact power of two, and the distances that carry units back after.
    peak = max_abs(arr)
    exponent = power_of_two_exponent(peak) if 0.0 < peak < 2.0**-64 else 0
    if exponent:
        arr = np.ldexp(np.asarray(arr, dtype=np.float64), -exponent)
        neighbors = None  # its float32 distances of such data have flushed to zero: search the rescaled copy
    if mode == "auto":
        mode = "exact" if n_candidates is None and n <= EXACT_MAX_N else "candidates"
    V = E.as_vectors(arr, metric)
    if mode == "exact":
        _, (_, plain) = _candidate_graph(arr, k, scale, max(k, scale), metric, uses_scale, neighbors)
        lists, _ = E.exact_lists(V, metric, methods, k, scale)
        info = {m: (n - 1, 1.0, n, 1.0) for m in methods}
    else:
        lists, info, plain = _candidate_mode(arr, V, k, scale, n_candidates, metric, uses_scale, methods, neighbors)
    before = hubness_from_neighbors(plain[:, :k], n_items=n, metric=metric)
    accuracy_before = None if labels is None else knn_accuracy(plain[:, :k], labels)
    results = {}
    for method in methods:
        indices, distances = lists[method]
        if exponent and metric == "euclidean":  # CSLS is in distance units, DisSimLocal in squared ones
            distances = np.ldexp(distances, {"csls": 1, "dis_sim_local": 2}.get(method, 0) * exponent)
        c, overlap, sample, ratio = info[method]
        results[method] = HubnessReduction(
            method=method, k=int(k), k_scale=int(k_scale), n_candidates=int(c), indices=indices,
            secondary_distances=distances,
            hubness=hubness_from_neighbors(indices, n_items=n, metric=metric),
            hubness_before=before,
            knn_accuracy=None if labels is None else knn_accuracy(indices, labels),
            knn_accuracy_before=accuracy_before,
            mode=mode, agreement=overlap, agreement_sample=int(sample), agreement_hubs=ratio,
        )
    return results


def _candidate_mode(arr, V, k, scale, n_candidates, metric, uses_scale, methods, neighbors):
    """Re-rank candidate graphs, growing the count (unless given) until a sample agrees with exact."""
    n = arr.shape[0]
    c, (_, plain) = _candidate_graph(arr, k, scale, n_candidates, metric, uses_scale, neighbors)
    before = plain[:, :k]
    sample = np.sort(np.random.default_rng(0).choice(n, min(n, AGREEMENT_SAMPLE), replace=False))
    exact = st = None
    lists, info = {}, {}
    pending = list(methods)
    while True:
        cand_idx, cand_dist = _float64_graph(V, plain, metric)
        if st is None:
            st = _graph_stats(V, cand_idx, cand_dist, metric, scale, "mp_gaussian" in methods)
            checked = [m for m in methods if m != "mutual_proximity" or n <= MP_SAMPLE_MAX_N]
            exact = E.sample_lists(V, metric, checked, k, sample, st)
        for method in list(pending):
            secondary = _secondary_on_graph(method, cand_idx, cand_dist, st, metric)
            lists[method] = _rerank(secondary, cand_idx, k)
            if method not in exact:
                info[method] = (c, np.nan, 0, np.nan)
                pending.remove(method)
                continue
            k_occ = np.bincount(lists[method][0].ravel(), minlength=n)
            overlap, ratio = _agreement(lists[method][0], exact[method][0], sample, k_occ)
            info[method] = (c, overlap, sample.size, ratio)
            if n_candidates is not None or _agrees(overlap, ratio):
                pending.remove(method)
        if not pending or c >= min(n - 1, MAX_AUTO_CANDIDATES):
            break
        c, (_, plain) = _candidate_graph(arr, k, scale, min(2 * c, n - 1, MAX_AUTO_CANDIDATES), metric,
                                         uses_scale, neighbors)
    return lists, info, before


def reduce_hubness(
    X: Any,
    method: str = "mutual_proximity",
    *,
    k: int = 10,
    metric: str = "euclidean",
    k_scale: int = 5,
    n_candidates: int | None = None,
    labels: Any = None,
    neighbors: NeighborGraph | None = None,
    mode: str = "auto",
) -> HubnessReduction:
    """Re-rank each point's neighbours by a hubness-reducing secondary distance.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    method : {"mutual_proximity", "mp_gaussian", "local_scaling", "nicdm", "csls", "dis_sim_local"}
        Formulas in :func:`secondary_distance_matrix`.
    k : int, default=10
        Neighbours per point after re-ranking (and for the hubness scores).
    metric : {"euclidean", "cosine"}, default="euclidean"
        The primary distance.
    k_scale : int, default=5
        Neighbourhood size of the local statistics (sigma_x, mu_x, centroids).
    n_candidates : int, optional
        Candidates per point re-ranked (candidate mode). Default: none up to
        `EXACT_MAX_N` points (exact mode); above, grown from
        ``max(k, k_scale, min(100, 5k))`` by doubling (at most
        `MAX_AUTO_CANDIDATES`) until a sample of `AGREEMENT_SAMPLE` rows agrees
        with exact (overlap >= `AGREEMENT_OVERLAP`, `agreement_hubs` within
        `AGREEMENT_HUBS` of 1). Given, it is used as is (at most n - 1; ``n - 1``
        reproduces the full-matrix version exactly) and the agreement reported.
    labels : array-like of shape (n_samples,), optional
        Adds leave-one-out kNN accuracy before and after.
    neighbors : NeighborGraph, optional
        A search of this ``X`` with this metric (`NeighborGraph.search`).
        When its ``k_max`` reaches the candidates needed (``n_candidates``
        as resolved above), the candidate set is its first columns and
        nothing is searched; otherwise (or for data below ``2**-64``, whose
        float32 distances flush to zero) the candidates are searched as
        without it. Results equal those without it wherever no row has a
        distance tie at the last candidate's place (see `NeighborGraph`),
        and always when ``k_max`` equals the candidates needed. In exact mode
        only its first k columns are read (the lists before reduction).
    mode : {"auto", "exact", "candidates"}, default="auto"
        ``"auto"``: exact when ``n_candidates`` is None and n <= `EXACT_MAX_N`,
        else candidates. Exact mode holds the (n, n) float64 distances (and
        int32 rank counts for empirical MP): 300 MB at n = 5,000.

    Returns
    -------
    HubnessReduction

    References
    ----------
    .. [1] D. Schnitzer, A. Flexer, M. Schedl and G. Widmer, "Local and global
       scaling reduce hubs in space", JMLR 13, 2012.
    .. [2] L. Zelnik-Manor and P. Perona, "Self-tuning spectral clustering", NIPS 2005.
    .. [3] H. Jegou, C. Schmid, H. Harzallah and J. Verbeek, "Accurate image
       search using the contextual dissimilarity measure", IEEE TPAMI 32(1), 2010.
    .. [4] A. Conneau, G. Lample, M. Ranzato, L. Denoyer and H. Jegou, "Word
       translation without parallel data", ICLR 2018.
    .. [5] K. Hara, I. Suzuki, K. Kobayashi, K. Fukumizu and M. Radovanovic,
       "Flexible hubness removal ... / Localized centering", AAAI 2015 and
       K. Hara et al., "Reducing hubness: a cause of vulnerability in
       recommender systems" (DisSimLocal as in scikit-hubness), 2016.
    .. [6] R. Feldbauer and A. Flexer, "A comprehensive empirical comparison of
       hubness reduction in high-dimensional spaces", Knowledge and
       Information Systems 59, 2019.
    """
    return compare_reductions(X, k=k, metric=metric, k_scale=k_scale, n_candidates=n_candidates,
                              labels=labels, methods=(method,), neighbors=neighbors, mode=mode)[method]
