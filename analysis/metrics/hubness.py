"""Hubness: how unevenly points appear in each other's k-nearest-neighbour lists.

In high dimensions a few points (hubs) are among the k nearest neighbours of
very many others while many (antihubs) are nobody's neighbour (Radovanovic,
Nanopoulos & Ivanovic 2010). Everything here starts from the k-occurrence
N_k(x) = |{y : x in kNN(y)}|, computed from `analysis.neighbors` (exact, self
excluded, duplicates too), and is cheap on top of the search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.stats import skew

from analysis.metrics._result import MetricResult
from analysis.neighbors import NeighborGraph, kneighbors, kneighbors_between
from analysis.validation import (
    check_k,
    check_matrix,
    check_option,
    first_rows,
    row_norms,
    unit_scaled_if_huge,
)

__all__ = [
    "Hubness",
    "distance_to_centre",
    "iid_gaussian_skewness",
    "reverse_neighbours",
    "hubness",
    "hubness_between",
    "hubness_from_neighbors",
    "knn_accuracy",
]

METRICS = ("euclidean", "cosine")


@dataclass(frozen=True, eq=False)
class Hubness(MetricResult):
    """Result of :func:`hubness` (scores are Python floats).

    Attributes
    ----------
    k : int
    metric : str
    k_occurrence : ndarray of shape (n_items,), int64
        N_k of every item: how many query lists contain it.
    skewness : float or None
        Population skewness of N_k (``scipy.stats.skew``, bias=True); None when
        N_k is constant (see `notes`).
    robin_hood : float
        Share of neighbour slots that would have to move to make N_k uniform,
        ``sum |N_k - mean| / (2 sum N_k)``, in [0, 1).
    gini : float
        Gini coefficient of N_k, ``sum_i (2i - n - 1) N_(i) / (n sum N_k)`` (sorted ascending).
    atkinson : float
        Atkinson index with inequality aversion `atkinson_epsilon` (0.5):
        ``1 - mean(N_k^(1-e))^(1/(1-e)) / mean(N_k)``.
    groupie_ratio : float
        Largest hub's share of all neighbour slots, ``max N_k / (n_queries k)``.
    antihub_occurrence : float
        Share of items with N_k = 0.
    hub_occurrence : float
        Share of neighbour slots taken by hubs (N_k >= 2k): ``sum_{hubs} N_k / (n_queries k)``.
    hubs, antihubs : ndarray of int64
        Item ids with N_k >= 2k, and with N_k = 0 (ascending).
    n_items, n_queries : int
        Items counted and query lists (equal for one set).
    notes : tuple of str
        Why a value is None or special (e.g. constant N_k).
    """

    k: int
    metric: str
    k_occurrence: np.ndarray
    skewness: float | None
    robin_hood: float
    gini: float
    atkinson: float
    groupie_ratio: float
    antihub_occurrence: float
    hub_occurrence: float
    hubs: np.ndarray
    antihubs: np.ndarray
    n_items: int
    n_queries: int
    notes: tuple[str, ...] = ()

    SCALARS: ClassVar[tuple[str, ...]] = ("skewness", "robin_hood", "gini", "atkinson", "groupie_ratio", "antihub_occurrence",
               "hub_occurrence")



def _check_k_and_metric(k: Any, metric: str, n_items: int) -> int:
    check_option(metric, METRICS, what="metric")
    k = check_k(k)
    if n_items < 3:
        raise ValueError(
            f"hubness needs at least 3 points; got {n_items}. With 2, each is the other's only neighbour."
        )
    return int(k)


def hubness_from_neighbors(
    indices: Any,
    *,
    n_items: int,
    metric: str = "euclidean",
    atkinson_epsilon: float = 0.5,
) -> Hubness:
    """Hubness scores from precomputed neighbour lists.

    Parameters
    ----------
    indices : array-like of shape (n_queries, k)
        Each query's k neighbours, as item ids in ``[0, n_items)``.
    n_items : int
        Number of items that could be neighbours.
    metric : str, default="euclidean"
        Recorded in the result only.
    atkinson_epsilon : float, default=0.5
        Inequality aversion of the Atkinson index, in (0, 1) or > 1 (not 1).

    Returns
    -------
    Hubness
    """
    ind = np.asarray(indices)
    if ind.ndim != 2 or ind.shape[1] < 1 or ind.dtype.kind not in "iu":
        raise ValueError(f"indices must be an integer array of shape (n_queries, k); got {ind.shape} {ind.dtype}.")
    if ind.size and (ind.min() < 0 or ind.max() >= n_items):
        raise ValueError(f"indices must lie in [0, {n_items}); got values from {ind.min()} to {ind.max()}.")
    if ind.shape[0] < 1 or int(n_items) < 1:
        raise ValueError(
            f"hubness needs at least one query and one item; got {ind.shape[0]} neighbour lists over "
            f"{n_items} items (every index would divide by 0)."
        )
    if not (atkinson_epsilon > 0 and atkinson_epsilon != 1):
        raise ValueError(f"atkinson_epsilon must be > 0 and != 1; got {atkinson_epsilon!r}.")
    n_queries, k = ind.shape
    counts = np.bincount(ind.ravel(), minlength=n_items).astype(np.int64)
    total = float(n_queries * k)
    mean = total / n_items
    notes: list[str] = []
    if np.all(counts == counts[0]):
        skewness = None
        notes.append(
            f"Every item has N_k = {counts[0]}: the distribution has no spread, so its skewness is "
            "undefined (0/0). There is no hubness at all."
        )
    else:
        skewness = float(skew(counts.astype(np.float64)))
    sorted_counts = np.sort(counts).astype(np.float64)
    ranks = np.arange(1, n_items + 1, dtype=np.float64)
    gini = float(np.sum((2 * ranks - n_items - 1) * sorted_counts) / (n_items * total))
    e = float(atkinson_epsilon)
    # For e < 1 zero counts contribute 0; for e > 1 a single N_k = 0 makes the index 1.
    if e > 1 and np.any(counts == 0):
        atkinson = 1.0
    else:
        atkinson = float(1.0 - np.mean(counts.astype(np.float64) ** (1 - e)) ** (1 / (1 - e)) / mean)
    hub_mask = counts >= 2 * k
    return Hubness(
        k=int(k),
        metric=metric,
        k_occurrence=counts,
        skewness=skewness,
        robin_hood=float(np.abs(counts - mean).sum() / (2.0 * total)),
        gini=gini,
        atkinson=atkinson,
        groupie_ratio=float(counts.max() / total),
        antihub_occurrence=float(np.mean(counts == 0)),
        hub_occurrence=float(counts[hub_mask].sum() / total),
        hubs=np.flatnonzero(hub_mask).astype(np.int64),
        antihubs=np.flatnonzero(counts == 0).astype(np.int64),
        n_items=int(n_items),
        n_queries=int(n_queries),
        notes=tuple(notes),
    )


def _refuse_degenerate(X: np.ndarray, name: str) -> None:
    if np.all(X == X[0]):
        raise ValueError(
            f"{name} holds {X.shape[0]} identical rows: every distance is 0, so nearest neighbours "
            "(and hubness) are undefined. Remove the duplicates or pass varied data."
        )


def hubness(X: Any, *, k: int = 10, metric: str = "euclidean", atkinson_epsilon: float = 0.5,
            neighbors: NeighborGraph | None = None) -> Hubness:
    """k-occurrence hubness of a point set: who is in whose k-nearest-neighbour list.

    .. math::

        N_k(x) = \\big|\\{y \\ne x : x \\in \\mathrm{kNN}(y)\\}\\big|, \\qquad
        S_{N_k} = \\frac{\\mathbb{E}(N_k - k)^3}{\\operatorname{Var}(N_k)^{3/2}}

    (the mean of N_k is k). Self is excluded from every list, also for
    duplicated points (`analysis.neighbors.kneighbors`). Skewness is the
    population skewness (scipy's default) [1]_; the Robin Hood index,
    Gini and Atkinson indices [2]_ [3]_ measure the inequality of N_k; hubs
    have N_k >= 2k and antihubs N_k = 0 [1]_ [3]_.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    k : int, default=10
        Neighbours per point, ``1 <= k < n_samples``.
    metric : {"euclidean", "cosine"}, default="euclidean"
    atkinson_epsilon : float, default=0.5
    neighbors : NeighborGraph, optional
        A search of this ``X`` with this metric and ``k_max >= k``
        (`NeighborGraph.search`): its first k columns are read instead of
        searching again. The result equals the one without it wherever no
        row has a distance tie at its k-th place (see `NeighborGraph`), and
        always when ``k == neighbors.k_max``.

    Returns
    -------
    Hubness

    Raises
    ------
    ValueError
        ``k >= n_samples``, fewer than 3 points, identical rows only, NaN/Inf,
        an unknown metric (and zero rows with cosine); a graph of another
        row count or metric, or with ``k_max < k``.

    Notes
    -----
    Invariant to permuting the rows (N_k permutes with them), to rotations,
    translations and uniform scaling of X (euclidean), and to scaling each
    row (cosine), at any magnitude (1e-30 to 1e160: the search scales the
    data by a power of two first).

    References
    ----------
    .. [1] M. Radovanovic, A. Nanopoulos and M. Ivanovic, "Hubs in space:
       popular nearest neighbors in high-dimensional data", JMLR 11, 2010.
    .. [2] R. Feldbauer, M. Leodolter, C. Plant and A. Flexer, "Fast
       approximate hubness reduction for large high-dimensional data", IEEE
       ICBK 2018 (Robin Hood index for hubness).
    .. [3] R. Feldbauer and A. Flexer, "A comprehensive empirical comparison
       of hubness reduction in high-dimensional spaces", Knowledge and
       Information Systems 59, 2019; scikit-hubness's definitions of hub and
       antihub occurrence and the Atkinson index.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0], [10.0]])
    >>> hubness(X, k=1).k_occurrence.tolist()
    [1, 2, 1, 0]
    """
    arr = check_matrix(X, action="measuring hubness")
    k = _check_k_and_metric(k, metric, arr.shape[0])
    k = check_k(k, n=arr.shape[0] - 1, needs="other points each")
    _refuse_degenerate(arr, "X")
    if neighbors is not None:
        neighbors.check_matches(arr, metric=metric)
        _, indices = neighbors.top(k)
    else:
        # Neighbour ranks are scale-free: values beyond float32's range are scaled down exactly.
        _, indices = kneighbors(unit_scaled_if_huge(arr), k, metric=metric)
    return hubness_from_neighbors(indices, n_items=arr.shape[0], metric=metric, atkinson_epsilon=atkinson_epsilon)


def hubness_between(
    queries: Any, gallery: Any, *, k: int = 10, metric: str = "euclidean", atkinson_epsilon: float = 0.5
) -> Hubness:
    """Hubness of gallery items in the k-nearest-neighbour lists of separate queries.

    For two sets (text and image embeddings, queries and a database, two
    splits), ``N_k(g) = |{q : g in kNN_gallery(q)}|``: a gallery item that is
    every query's neighbour is a retrieval hub. The mean of N_k is
    ``k n_queries / n_gallery``; the indices use that mean.

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_features)
    gallery : array-like of shape (n_gallery, n_features)
    k : int, default=10
        ``1 <= k <= n_gallery``.
    metric : {"euclidean", "cosine"}

    Returns
    -------
    Hubness
        ``k_occurrence`` has one entry per gallery item; ``n_queries`` lists.
    """
    Q = check_matrix(queries, name="queries", action="measuring hubness")
    G = check_matrix(gallery, name="gallery", action="measuring hubness")
    if Q.shape[1] != G.shape[1]:
        raise ValueError(
            f"queries have {Q.shape[1]} features but gallery has {G.shape[1]}; both must live in the same space."
        )
    k = _check_k_and_metric(k, metric, G.shape[0])
    k = check_k(k, n=G.shape[0], needs="gallery points")
    _refuse_degenerate(G, "gallery")
    _, indices = kneighbors_between(Q, G, k, metric=metric)
    return hubness_from_neighbors(indices, n_items=G.shape[0], metric=metric, atkinson_epsilon=atkinson_epsilon)


def knn_accuracy(indices: Any, labels: Any, *, query_labels: Any = None, k: int | None = None) -> float:
    """Leave-one-out k-nearest-neighbour classification accuracy from neighbour lists.

    Each query is assigned the most common label among its neighbours
    (``indices[i]``, self already excluded); a tie goes to the tied class
    whose first member comes earliest in the list (the nearer one). With
    `query_labels` the queries are a separate set labelled by it.

    Parameters
    ----------
    indices : array-like of shape (n_queries, k) or NeighborGraph
        Neighbour lists; a `NeighborGraph` of the labelled points gives its
        first `k` columns (no new search).
    labels : array-like of shape (n_items,)
        Labels of the items the indices point at (int codes or any hashable values).
    query_labels : array-like of shape (n_queries,), optional
        The truth for each query; default ``labels`` (queries are the items).
    k : int, optional
        Vote with the first k neighbours of each list (``1 <= k <=`` its
        length); default all of them (a graph: its ``k_max``).

    Returns
    -------
    float
        Share of queries whose vote equals their label.
    """
    if isinstance(indices, NeighborGraph):
        indices = indices.top(indices.k_max if k is None else k)[1]
    elif k is not None:
        width = np.shape(indices)[-1] if np.ndim(indices) == 2 else 0
        k = check_k(k, n=width, needs="neighbours per list")
        indices = np.asarray(indices)[:, :k]
    ind = np.asarray(indices, dtype=np.int64)
    codes, inverse = np.unique(np.asarray(labels), return_inverse=True)
    item_codes = inverse.ravel()
    if query_labels is None:
        truth = item_codes
    else:
        # A query label no item has can never be predicted: code -1, never equal to a vote.
        query = np.asarray(query_labels)
        position = np.clip(np.searchsorted(codes, query), 0, codes.size - 1)
        truth = np.where(codes[position] == query, position, -1)
    if ind.ndim != 2 or truth.shape[0] != ind.shape[0]:
        raise ValueError(
            f"indices has shape {ind.shape} but there are {truth.shape[0]} query labels; give one label per query row."
        )
    if ind.size and (ind.min() < 0 or ind.max() >= item_codes.size):
        raise ValueError(
            f"indices must point at items in [0, {item_codes.size}); got values from {int(ind.min())} to "
            f"{int(ind.max())}. Pass neighbour lists of these labelled items."
        )
    votes = item_codes[ind]  # (n_queries, k)
    n_queries, k = votes.shape
    if n_queries == 0 or k == 0:
        raise ValueError(f"knn_accuracy needs at least one query with one neighbour; got indices of shape {ind.shape}.")
    # Only the k votes of each query are counted, never a (queries x classes)
    # table: that was 7.3 GB for 20,000 queries with 20,000 distinct labels.
    # count[i, j] = how often query i's j-th vote occurs among its k votes; the
    # winner is the vote at the first position holding the largest count, i.e.
    # among tied classes the one whose earliest vote is nearest.
    predicted = np.empty(n_queries, dtype=votes.dtype)
    step = max(1, (1 << 22) // (k * k))  # (step, k, k) booleans: at most 4 MiB
    for start in range(0, n_queries, step):
        block = votes[start : start + step]
        counts = (block[:, :, None] == block[:, None, :]).sum(axis=2)
        first_best = np.argmax(counts == counts.max(axis=1, keepdims=True), axis=1)
        predicted[start : start + step] = block[np.arange(block.shape[0]), first_best]
    return float(np.mean(predicted == truth))


def reverse_neighbours(indices: Any, item: int) -> tuple[np.ndarray, np.ndarray]:
    """Queries whose neighbour list contains `item`, and its rank (1 = nearest) in each list."""
    ind = np.asarray(indices)
    rows, positions = np.nonzero(ind == int(item))
    return rows.astype(np.int64), (positions + 1).astype(np.int64)


def distance_to_centre(X: Any, *, metric: str = "euclidean") -> np.ndarray:
    """Each row's distance to the data mean (cosine: to the mean direction of the unit rows).

    Radovanovic et al. (2010) explain hubs by centrality: in high dimensions
    the points nearest the data mean are near everyone, so N_k falls with
    this distance.
    """
    arr = np.asarray(check_matrix(X, action="measuring centrality"), dtype=np.float64)
    if metric == "cosine":
        norms = row_norms(arr)  # scale-free: rows at 1e160 or 1e-200 keep their direction
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise ValueError(
                f"X has {zero.size} all-zero rows (first: {first_rows(zero)}), which have no direction; "
                "drop them or use metric='euclidean'."
            )
        unit = arr / norms[:, None]
        centre = unit.mean(axis=0)
        norm = np.linalg.norm(centre)
        if norm == 0:
            raise ValueError("the unit rows average to zero: there is no mean direction to measure from.")
        return 1.0 - unit @ (centre / norm)
    return np.linalg.norm(arr - arr.mean(axis=0), axis=1)


def iid_gaussian_skewness(dimensions: Any, *, n_samples: int = 2000, k: int = 10, n_repeats: int = 5,
                          seed: int = 0) -> np.ndarray:
    """Skewness of N_k for i.i.d. standard Gaussian points, per dimension and repeat.

    The demonstration of Radovanovic et al. (2010, Fig. 1): the skewness
    rises with d. At high d one sample is noisy (a single large hub moves
    the third moment), so each dimension gets `n_repeats` seeded samples.

    Returns
    -------
    ndarray of shape (len(dimensions), n_repeats)
        NaN where N_k happened to be constant.
    """
    from analysis.data.limits import format_bytes, memory_budget_bytes

    sizes = [int(d) for d in dimensions]
    if not sizes or min(sizes) < 1 or int(n_samples) < 2 or int(n_repeats) < 1:
        raise ValueError(
            f"dimensions must be positive, n_samples >= 2 and n_repeats >= 1; got {list(dimensions)[:5]}, "
            f"{n_samples!r}, {n_repeats!r}."
        )
    # Declared sizes against the budget before drawing: one float32 sample and the
    # search's working copy of it, and the result table.
    needed = max(2 * 4 * int(n_samples) * max(sizes), 8 * len(sizes) * int(n_repeats))
    if needed > memory_budget_bytes():
        raise ValueError(
            f"n_samples={int(n_samples):,} x d={max(sizes):,} (n_repeats={int(n_repeats):,}) needs about "
            f"{format_bytes(needed)}, over the memory budget of {format_bytes(memory_budget_bytes())} "
            "(REPLENS_MEMORY_BUDGET). Use fewer samples, dimensions or repeats."
        )
    rng = np.random.default_rng(seed)
    out = np.full((len(dimensions), int(n_repeats)), np.nan)
    for i, d in enumerate(dimensions):
        for r in range(int(n_repeats)):
            X = rng.standard_normal((int(n_samples), int(d))).astype(np.float32)
            value = hubness(X, k=k).skewness
            if value is not None:
                out[i, r] = value
    return out
