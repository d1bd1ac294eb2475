"""The Hubness page's numbers: one neighbour graph per (data, metric), sliced for every k and reduction.

`hubness_graph` searches once, deep enough for the page's largest k and for
the candidate set every hubness reduction re-ranks at that k; `baseline_graph`
searches the report's i.i.d. Gaussian sample of the same n and d once, to the
largest k (the verdict's baseline, `analysis.verdicts.hubness_verdict`, the
report's rule); `query_gallery_graph` searches one split's rows against
another's once, to the largest k. `hubness_panel` (the main tab),
`reduction_panel` (the Reduction tab) and `query_gallery_panel` (two metadata
splits) return what the page draws from slices of them: moving the k slider
or opening another tab searches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from analysis.data.schema import Embedding
from analysis.metrics.hubness import (
    Hubness,
    _refuse_degenerate,
    distance_to_centre,
    hubness,
    hubness_from_neighbors,
    iid_gaussian_skewness,
    reverse_neighbours,
)
from analysis.metrics.hubness_reduction import (
    EXACT_MAX_N,
    METHOD_NAMES,
    HubnessReduction,
    compare_reductions,
    default_candidates,
)
from analysis.neighbors import NeighborGraph, kneighbors_between
from analysis.report.baseline import baseline_knn_rows, gaussian_graph, gaussian_hubness
from analysis.validation import check_k, check_matrix, unit_scaled_if_huge
from analysis.verdicts import Verdict, hubness_verdict

__all__ = [
    "LARGEST_K",
    "METHOD_NAMES",
    "Hubness",
    "Embedding",
    "HubnessPanel",
    "NeighborGraph",
    "QueryGalleryGraph",
    "QueryGalleryPanel",
    "ReductionPanel",
    "Verdict",
    "baseline_depth",
    "baseline_graph",
    "gaussian_demo_curve",
    "gaussian_demo_sample",
    "graph_depth",
    "hubness_graph",
    "hubness_panel",
    "query_gallery_graph",
    "query_gallery_panel",
    "reduction_panel",
    "split_names",
    "verdict",
]

# The page's k slider ends here (or at n - 1 on fewer points).
LARGEST_K = 50
# Hubs listed in the point picker, largest N_k first.
TOP_HUBS = 50
# The report's default seed: the page's baseline is the report's Gaussian sample.
BASELINE_SEED = 0


def graph_depth(n_samples: int, largest_k: int = LARGEST_K) -> int:
    """Neighbours per row the page's graph needs: every k up to `largest_k` and the reductions' candidates.

    The reductions re-rank `default_candidates(k)` neighbours, which grows with k,
    so the depth is that count at the largest k (at most ``n_samples - 1``).
    """
    largest = max(1, min(int(largest_k), n_samples - 1))
    return max(1, min(n_samples - 1, max(largest, default_candidates(largest))))


def hubness_graph(X: Any, *, metric: str, k_max: int, exact: bool | None = None) -> NeighborGraph:
    """The one neighbour search of the Hubness page, for every k <= k_max and every reduction.

    Searched on X scaled by an exact power of two when its entries exceed
    float32's range, as `hubness` does: neighbour ranks are scale-free.
    `exact` as in `NeighborGraph.search` (None: exact up to its limit, then approximate).
    """
    return NeighborGraph.search(unit_scaled_if_huge(np.asarray(X)), k_max=k_max, metric=metric, exact=exact)


def baseline_depth(n_samples: int, largest_k: int = LARGEST_K) -> int:
    """Neighbours per row the baseline graph needs: every k of the slider (at most ``n_samples - 1``)."""
    return max(1, min(int(largest_k), n_samples - 1))


def baseline_graph(n_samples: int, n_features: int, *, metric: str, k_max: int,
                   seed: int = BASELINE_SEED) -> NeighborGraph:
    """The verdict's baseline: the report's seeded i.i.d. Gaussian sample of the same n and d, searched once.

    `analysis.report.baseline.gaussian_graph`; every k <= k_max is a slice
    (`gaussian_hubness`), so moving k searches nothing.
    """
    return gaussian_graph(n_samples, n_features, k_max=k_max, metric=metric, seed=seed)


def verdict(result: Hubness, baseline_skewness: float | None, *, n: int, d: int) -> Verdict:
    """The report's hubness verdict (`analysis.verdicts.hubness_verdict`): skewness >= 1, against 2x the
    skewness of i.i.d. Gaussian data of the same n, d, k and metric (Radovanovic et al. 2010)."""
    return hubness_verdict(result, baseline_skewness, n=n, d=d)


@dataclass(frozen=True, eq=False)
class HubnessPanel:
    """Everything the Hubness tab draws for one (data, k, metric).

    Attributes
    ----------
    k : int
    metric : str
    hubness : Hubness
        `hubness(X, k=k, metric=metric)`, read from the page's graph.
    verdict : Verdict
        Level and sentence on the strength of the hubness: the report's rule
        (`analysis.verdicts.hubness_verdict`), against `baseline_skewness`.
    baseline_skewness : float or None
        Skewness of N_k of the report's i.i.d. Gaussian sample of the same n, d,
        k and metric (None without a baseline graph).
    indices : ndarray of shape (n_samples, k), int64
        Every point's k nearest neighbours (the graph's first k columns).
    top_hubs : ndarray of shape (min(50, n_samples),), int64
        Rows by N_k, largest first (stable order among ties).
    distance_to_centre : ndarray of shape (n_samples,)
        Each row's distance to the data mean (`distance_to_centre`).
    spearman : float or None
        Spearman's rho of that distance against N_k (None when N_k is constant).
    baseline_rows : int or None
        Rows of the Gaussian sample behind `baseline_skewness`: n up to
        `analysis.report.baseline.BASELINE_KNN_ROWS`, then that many (a lower bound).
    """

    k: int
    metric: str
    hubness: Hubness
    verdict: Verdict
    baseline_skewness: float | None
    indices: np.ndarray
    top_hubs: np.ndarray
    distance_to_centre: np.ndarray
    spearman: float | None
    baseline_rows: int | None = None  # Gaussian rows behind baseline_skewness (n, at most BASELINE_KNN_ROWS)

    def reverse_neighbours(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows whose k-NN list contains `item`, and its rank (1 = nearest) in each."""
        return reverse_neighbours(self.indices, item)


def hubness_panel(X: Any, *, k: int, metric: str, graph: NeighborGraph,
                  baseline: NeighborGraph | None = None) -> HubnessPanel:
    """The Hubness tab for k and metric, from `graph` and the `baseline_graph` (no search)."""
    result = hubness(X, k=k, metric=metric, neighbors=graph)
    n, d = np.shape(X)
    base_skew = base_rows = None
    if baseline is not None:
        if baseline.metric != metric or baseline.n != baseline_knn_rows(n):
            raise ValueError(f"baseline: a graph of {baseline.n:,} rows ({baseline.metric}) is not the Gaussian "
                             f"baseline of {n:,} rows ({metric}); build it with baseline_graph(n, d, ...).")
        base_skew, base_rows = gaussian_hubness(baseline, k).skewness, baseline.n
    _, indices = graph.top(k)
    distance = distance_to_centre(X, metric=metric)
    rho = None if result.skewness is None else float(spearmanr(distance, result.k_occurrence).statistic)
    top = np.argsort(result.k_occurrence, kind="stable")[::-1][:TOP_HUBS].astype(np.int64)
    return HubnessPanel(k=int(k), metric=metric, hubness=result,
                        verdict=verdict(result, base_skew, n=n if base_rows is None else base_rows, d=d),
                        baseline_skewness=base_skew, indices=np.asarray(indices), top_hubs=top,
                        distance_to_centre=distance, spearman=rho, baseline_rows=base_rows)


@dataclass(frozen=True, eq=False)
class ReductionPanel:
    """Everything the Reduction tab draws for one (data, k, metric).

    Attributes
    ----------
    results : dict of str to HubnessReduction
        `compare_reductions(X, k=k, metric=metric, labels=labels)`, in `METHOD_NAMES` order.
    before : Hubness
        Hubness of the plain k nearest neighbours.
    table : polars.DataFrame
        One row per method ("none" first): skewness, Robin Hood, antihubs, kNN accuracy.
    method_names : list of str
        Display names of the methods, in `results` order.
    n_candidates, k_scale : int
        Candidates re-ranked per point (n - 1 in exact mode; the largest over the
        methods otherwise), and the neighbours of the local statistics.
    knn_accuracy_before : float or None
    has_labels : bool
    mode : {"exact", "candidates"}
        How the reductions ran (`compare_reductions`'s default: exact up to
        `EXACT_MAX_N` points).
    agreement_sample : int
        Rows on which the candidate lists were checked against exact ones (n in exact mode).
    """

    k: int
    metric: str
    results: dict[str, HubnessReduction]
    before: Hubness
    table: pl.DataFrame
    method_names: list[str]
    n_candidates: int
    k_scale: int
    knn_accuracy_before: float | None
    has_labels: bool
    mode: str = "exact"
    agreement_sample: int = 0

    @property
    def mode_note(self) -> str:
        """One sentence: exact, or the candidate counts and their agreement with exact on the sample."""
        if self.mode == "exact":
            return (f"Exact: every point's secondary distance to all {self.agreement_sample - 1:,} others "
                    f"(full matrices up to {EXACT_MAX_N:,} points).")
        checked = [r for r in self.results.values() if r.agreement == r.agreement]  # NaN: not checked
        if not checked:
            return f"Above {EXACT_MAX_N:,} points each method re-ranks its candidates (column 'candidates')."
        worst = min(checked, key=lambda r: r.agreement)
        return (f"Above {EXACT_MAX_N:,} points each method re-ranks its candidates (column 'candidates', grown "
                f"until {self.agreement_sample} sampled rows agree with exact); the 'agreement' column is the "
                f"overlap of those rows' lists with the exact ones (lowest: {worst.agreement:.1%}, "
                f"{METHOD_NAMES[worst.method]}).")

    @property
    def skewness_after(self) -> list[float | None]:
        return [r.hubness.skewness for r in self.results.values()]

    @property
    def knn_accuracy_after(self) -> list[float | None] | None:
        return [r.knn_accuracy for r in self.results.values()] if self.has_labels else None


def reduction_panel(X: Any, *, k: int, metric: str, graph: NeighborGraph, labels: Any = None) -> ReductionPanel:
    """Every hubness reduction at k, re-ranking candidates read from `graph` (no search when it is deep enough)."""
    results = compare_reductions(X, k=k, metric=metric, labels=labels, neighbors=graph)
    first = next(iter(results.values()))
    before = first.hubness_before
    table = pl.DataFrame({
        "method": ["none", *(METHOD_NAMES[m] for m in results)],
        "skewness": [before.skewness, *(r.hubness.skewness for r in results.values())],
        "Robin Hood": [before.robin_hood, *(r.hubness.robin_hood for r in results.values())],
        "antihubs": [before.antihub_occurrence, *(r.hubness.antihub_occurrence for r in results.values())],
        "kNN accuracy": [first.knn_accuracy_before, *(r.knn_accuracy for r in results.values())],
        "candidates": [None, *(r.n_candidates for r in results.values())],
        "agreement": [None, *(r.agreement for r in results.values())],
    })
    return ReductionPanel(k=int(k), metric=metric, results=results, before=before, table=table,
                          method_names=[METHOD_NAMES[m] for m in results],
                          n_candidates=max(r.n_candidates for r in results.values()),
                          k_scale=first.k_scale, knn_accuracy_before=first.knn_accuracy_before,
                          has_labels=labels is not None, mode=first.mode, agreement_sample=first.agreement_sample)


def split_names(embedding: Embedding) -> list[str] | None:
    """The embedding's metadata splits, sorted (`Embedding.splits`), or None with fewer than two."""
    names = embedding.splits()
    return names if len(names) >= 2 else None


@dataclass(frozen=True, eq=False)
class QueryGalleryGraph:
    """The `k_max` nearest `gallery` rows of every `query` row (one search; every k <= k_max is a slice).

    Not a `NeighborGraph`: queries and gallery are two point sets, so no row is excluded.
    """

    query: str
    gallery: str
    n_queries: int
    n_gallery: int
    metric: str
    indices: np.ndarray  # (n_queries, k_max), int64: gallery positions, nearest first

    @property
    def k_max(self) -> int:
        return int(self.indices.shape[1])


def query_gallery_graph(embedding: Embedding, *, query: str, gallery: str, metric: str,
                        k_max: int) -> QueryGalleryGraph:
    """Search the `query` split's rows against the `gallery` split's once, to ``min(k_max, gallery size)``.

    Rows from `Embedding.rows` (the one reader of the split column). The checks
    and the search of `hubness_between` (same features, no NaN, a gallery of
    distinct rows, `kneighbors_between`), done once for every k.
    """
    q_rows, g_rows = embedding.rows(query), embedding.rows(gallery)
    arr = np.asarray(embedding.X)
    Q = check_matrix(arr[q_rows], name="queries", action="measuring hubness")
    G = check_matrix(arr[g_rows], name="gallery", action="measuring hubness")
    _refuse_degenerate(G, "gallery")
    _, indices = kneighbors_between(Q, G, min(int(k_max), G.shape[0]), metric=metric)
    indices = np.asarray(indices)
    indices.flags.writeable = False  # shared by every k through the page's cache
    return QueryGalleryGraph(query=query, gallery=gallery, n_queries=int(q_rows.size), n_gallery=int(g_rows.size),
                             metric=metric, indices=indices)


@dataclass(frozen=True, eq=False)
class QueryGalleryPanel:
    """Hubness of gallery rows in the k-NN lists of query rows (two metadata splits)."""

    query: str
    gallery: str
    n_queries: int
    n_gallery: int
    k: int
    hubness: Hubness | None  # None when k exceeds the gallery

    @property
    def mean_k_occurrence(self) -> float:
        """Mean N_k over the gallery: k * n_queries / n_gallery."""
        return self.k * self.n_queries / self.n_gallery


def query_gallery_panel(pair: QueryGalleryGraph, *, k: int) -> QueryGalleryPanel:
    """`hubness_between` of the query rows against the gallery rows at k, from `pair`'s first k columns (no search).

    `hubness` is None when k exceeds the gallery's size (the page says so).
    Equals ``hubness_between(X[query rows], X[gallery rows], k=k, metric=metric)``
    wherever no query has a distance tie at its k-th place (always at ``k == pair.k_max``).
    """
    k = check_k(k)
    if k > pair.n_gallery:
        result = None
    else:
        k = check_k(k, n=pair.k_max, needs="gallery neighbours searched per query",
                    hint=f"Or search deeper: query_gallery_graph(..., k_max={k}).")
        result = hubness_from_neighbors(pair.indices[:, :k], n_items=pair.n_gallery, metric=pair.metric)
    return QueryGalleryPanel(query=pair.query, gallery=pair.gallery, n_queries=pair.n_queries,
                             n_gallery=pair.n_gallery, k=int(k), hubness=result)


def gaussian_demo_curve(dimensions: tuple[int, ...], *, n_samples: int = 2000, k: int = 10) -> np.ndarray:
    """Skewness of N_k of i.i.d. Gaussian points per dimension (the teaching demo's curve)."""
    return iid_gaussian_skewness(dimensions, n_samples=n_samples, k=k)


def gaussian_demo_sample(d: int, *, n_samples: int = 2000, k: int = 10) -> Hubness:
    """Hubness of one seeded sample of i.i.d. standard Gaussian points in d dimensions."""
    X = np.random.default_rng(d).standard_normal((n_samples, d)).astype(np.float32)
    return hubness(X, k=k)
