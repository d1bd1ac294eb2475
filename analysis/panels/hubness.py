"""The Hubness page's numbers: one neighbour graph per (data, metric), sliced for every k and reduction.

`hubness_graph` searches once, deep enough for the page's largest k and for
the candidate set every hubness reduction re-ranks at that k; `hubness_panel`
(the main tab), `reduction_panel` (the Reduction tab) and
`query_gallery_panel` (two metadata splits) return what the page draws.
Moving the k slider or opening another tab reads the same graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from analysis.metrics.hubness import (
    Hubness,
    distance_to_centre,
    hubness,
    hubness_between,
    iid_gaussian_skewness,
    reverse_neighbours,
)
from analysis.metrics.hubness_reduction import (
    METHOD_NAMES,
    HubnessReduction,
    compare_reductions,
    default_candidates,
)
from analysis.neighbors import NeighborGraph
from analysis.validation import unit_scaled_if_huge

__all__ = [
    "LARGEST_K",
    "METHOD_NAMES",
    "Hubness",
    "HubnessPanel",
    "NeighborGraph",
    "QueryGalleryPanel",
    "ReductionPanel",
    "gaussian_demo_curve",
    "gaussian_demo_sample",
    "graph_depth",
    "hubness_graph",
    "hubness_panel",
    "query_gallery_panel",
    "reduction_panel",
    "split_names",
    "verdict",
]

# The page's k slider ends here (or at n - 1 on fewer points).
LARGEST_K = 50
# Hubs listed in the point picker, largest N_k first.
TOP_HUBS = 50


def graph_depth(n_samples: int, largest_k: int = LARGEST_K) -> int:
    """Neighbours per row the page's graph needs: every k up to `largest_k` and the reductions' candidates.

    The reductions re-rank `default_candidates(k)` neighbours, which grows with k,
    so the depth is that count at the largest k (at most ``n_samples - 1``).
    """
    largest = max(1, min(int(largest_k), n_samples - 1))
    return max(1, min(n_samples - 1, max(largest, default_candidates(largest))))


def hubness_graph(X: Any, *, metric: str, k_max: int) -> NeighborGraph:
    """The one neighbour search of the Hubness page, for every k <= k_max and every reduction.

    Searched on X scaled by an exact power of two when its entries exceed
    float32's range, as `hubness` does: neighbour ranks are scale-free.
    """
    return NeighborGraph.search(unit_scaled_if_huge(np.asarray(X)), k_max=k_max, metric=metric)


def verdict(result: Hubness) -> str:
    """A plain sentence on how strong the hubness is (thresholds of Feldbauer & Flexer 2019)."""
    if result.skewness is None:
        return "No hubness: every point is equally often a neighbour."
    if result.skewness < 0.5:
        return f"Little hubness (skewness {result.skewness:.2f} < 0.5)."
    if result.skewness < 1.5:
        return f"Moderate hubness (skewness {result.skewness:.2f})."
    return (f"Strong hubness (skewness {result.skewness:.2f} > 1.5): {result.hubs.size:,} hubs take "
            f"{result.hub_occurrence:.0%} of all neighbour slots and {result.antihub_occurrence:.0%} of points "
            "are nobody's neighbour. Try a reduction below.")


@dataclass(frozen=True, eq=False)
class HubnessPanel:
    """Everything the Hubness tab draws for one (data, k, metric).

    Attributes
    ----------
    k : int
    metric : str
    hubness : Hubness
        `hubness(X, k=k, metric=metric)`, read from the page's graph.
    verdict : str
        One sentence on the strength of the hubness.
    indices : ndarray of shape (n_samples, k), int64
        Every point's k nearest neighbours (the graph's first k columns).
    top_hubs : ndarray of shape (min(50, n_samples),), int64
        Rows by N_k, largest first (stable order among ties).
    distance_to_centre : ndarray of shape (n_samples,)
        Each row's distance to the data mean (`distance_to_centre`).
    spearman : float or None
        Spearman's rho of that distance against N_k (None when N_k is constant).
    """

    k: int
    metric: str
    hubness: Hubness
    verdict: str
    indices: np.ndarray
    top_hubs: np.ndarray
    distance_to_centre: np.ndarray
    spearman: float | None

    def reverse_neighbours(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows whose k-NN list contains `item`, and its rank (1 = nearest) in each."""
        return reverse_neighbours(self.indices, item)


def hubness_panel(X: Any, *, k: int, metric: str, graph: NeighborGraph) -> HubnessPanel:
    """The Hubness tab for k and metric, from `graph` (no search)."""
    result = hubness(X, k=k, metric=metric, neighbors=graph)
    _, indices = graph.top(k)
    distance = distance_to_centre(X, metric=metric)
    rho = None if result.skewness is None else float(spearmanr(distance, result.k_occurrence).statistic)
    top = np.argsort(result.k_occurrence, kind="stable")[::-1][:TOP_HUBS].astype(np.int64)
    return HubnessPanel(k=int(k), metric=metric, hubness=result, verdict=verdict(result),
                        indices=np.asarray(indices), top_hubs=top, distance_to_centre=distance, spearman=rho)


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
        Candidates re-ranked per point, and the neighbours of the local statistics.
    knn_accuracy_before : float or None
    has_labels : bool
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
    })
    return ReductionPanel(k=int(k), metric=metric, results=results, before=before, table=table,
                          method_names=[METHOD_NAMES[m] for m in results], n_candidates=first.n_candidates,
                          k_scale=first.k_scale, knn_accuracy_before=first.knn_accuracy_before,
                          has_labels=labels is not None)


def split_names(metadata: pl.DataFrame | None) -> tuple[np.ndarray, list[str]] | None:
    """The metadata's split column as strings and its sorted values, or None without two splits."""
    if metadata is None or "split" not in metadata.columns:
        return None
    split = metadata["split"].cast(pl.Utf8).to_numpy()
    names = sorted(set(split))
    return (split, names) if len(names) >= 2 else None


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


def query_gallery_panel(X: Any, split: np.ndarray, *, query: str, gallery: str, k: int,
                        metric: str) -> QueryGalleryPanel:
    """`hubness_between` of the `query` rows against the `gallery` rows (its own search: another point set).

    `hubness` is None when k exceeds the gallery's size (the page says so).
    """
    q_rows, g_rows = np.flatnonzero(split == query), np.flatnonzero(split == gallery)
    arr = np.asarray(X)
    result = None if k > g_rows.size else hubness_between(arr[q_rows], arr[g_rows], k=k, metric=metric)
    return QueryGalleryPanel(query=query, gallery=gallery, n_queries=int(q_rows.size), n_gallery=int(g_rows.size),
                             k=int(k), hubness=result)


def gaussian_demo_curve(dimensions: tuple[int, ...], *, n_samples: int = 2000, k: int = 10) -> np.ndarray:
    """Skewness of N_k of i.i.d. Gaussian points per dimension (the teaching demo's curve)."""
    return iid_gaussian_skewness(dimensions, n_samples=n_samples, k=k)


def gaussian_demo_sample(d: int, *, n_samples: int = 2000, k: int = 10) -> Hubness:
    """Hubness of one seeded sample of i.i.d. standard Gaussian points in d dimensions."""
    X = np.random.default_rng(d).standard_normal((n_samples, d)).astype(np.float32)
    return hubness(X, k=k)
