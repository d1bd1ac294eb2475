"""The report's baseline of structureless data: i.i.d. Gaussian points of the same n and d.

Baselines
---------
*Structureless data of the same size*: one seeded sample of n i.i.d.
standard Gaussian points in d dimensions (float32), measured with the same k
and metric. Hubness of such data grows with n as well as d (measured with
`analysis.metrics.hubness`, k = 10: skewness 6-8 at n = 2,000 and 23 at
n = 50,000 for d = 768), so the baseline is computed at the same n and d
up to `BASELINE_KNN_ROWS` rows (the report's second exact kNN search).
Above that, the kNN baselines (hubness, TwoNN) come from the first
`BASELINE_KNN_ROWS` rows of the same seeded sample, searched exactly, so the
report never repeats the user's full-size search (issue 17): at n = 10^6 that
search alone would cost hours. Because Gaussian hubness grows with n, the
subsample's skewness is then a lower bound of the full-size value, and the
report says so beside the finding and in ``metrics.settings.baseline``. The
same sample gives the baselines of TwoNN, effective rank, the spectrum,
IsoScore and the norm spread. Baselines depend only on (n, d, k, metric,
seed) and are kept in a small in-process cache, so reporting several layers
of one run pays for each shape once.

*Uniform points on the same sphere*: the analytic expectation of Wang &
Isola's uniformity (`analysis.metrics.sphere.uniform_sphere_uniformity`).

*Shuffled labels*: neural collapse of the same features with the labels
permuted (seeded): the value when classes carry no information. Nearest-
class-mean accuracy is measured on the training rows themselves, and in high
dimension class means overfit; the shuffled-label accuracy is the honest
chance level (the majority-class share is quoted beside it).

*Uniformly random codes*: n codes drawn uniformly from the K codes (seeded).

This module computes the Gaussian one; the shuffled-label and random-code baselines are
computed beside their metrics in `analysis.report.diagnosis`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from analysis.metrics.hubness import Hubness, hubness, hubness_from_neighbors
from analysis.metrics.intrinsic_dimension import IntrinsicDimension, intrinsic_dimension
from analysis.metrics.isotropy import iso_score
from analysis.metrics.spectrum import covariance_spectrum, effective_rank
from analysis.neighbors import NeighborGraph
from analysis.validation import row_norms

_BASELINE_CACHE_SIZE = 8
# Most Gaussian rows searched for the kNN baselines: an exact search of 50,000 x 768 takes ~13 s on 2 cores.
BASELINE_KNN_ROWS = 50_000


def baseline_knn_rows(n: int) -> int:
    """Rows of the Gaussian sample whose neighbours give the hubness and TwoNN baselines: n, at most
    `BASELINE_KNN_ROWS`."""
    return min(int(n), BASELINE_KNN_ROWS)
_BASELINE_CACHE: OrderedDict[tuple, _GaussianBaseline] = OrderedDict()


def _twonn(X: np.ndarray, graph: NeighborGraph) -> IntrinsicDimension:
    """TwoNN from the report's graph: of X (Euclidean), or of its unit rows (cosine, from the chords)."""
    if graph.metric == "cosine":
        return intrinsic_dimension(_unit_rows(X), neighbors=graph.unit_chords())
    return intrinsic_dimension(X, neighbors=graph)


def _unit_rows(X: np.ndarray) -> np.ndarray:
    # Scale-free norms (`row_norms`): float32 rows at 1e20 would square to inf and become 0.
    arr = np.asarray(X, dtype=np.float64)
    return arr / row_norms(arr)[:, None]


def _norm_cv(norms: np.ndarray) -> float | None:
    mean = float(norms.mean())
    return float(norms.std() / mean) if mean > 0 else None


@dataclass(frozen=True)
class _GaussianBaseline:
    """What i.i.d. standard Gaussian data of the same n and d give (see the module docstring)."""

    hubness: Hubness | None
    twonn: float | None
    effective_rank: float
    spectrum: np.ndarray  # explained-variance ratios, descending
    iso_score: float | None
    norm_cv: float
    seconds: float


def gaussian_sample(n: int, d: int, seed: int = 0) -> np.ndarray:
    """The baseline's structureless data: n i.i.d. standard Gaussian points in d dimensions, float32.

    Seeded by ``(seed, 1)``: the report and the Hubness page measure the very same sample.
    """
    return np.random.default_rng((seed, 1)).standard_normal((n, d), dtype=np.float32)


def gaussian_graph(n: int, d: int, *, k_max: int, metric: str, seed: int = 0) -> NeighborGraph:
    """`NeighborGraph` of `gaussian_sample(n, d, seed)` to depth k_max: the hubness baseline at every k <= k_max.

    Slice it with `gaussian_hubness`; its first k columns are the report's baseline
    search at k (the same sample, exact search).
    """
    rows = baseline_knn_rows(n)
    # Exact: structureless Gaussian data is the approximate index's worst case, and rows is bounded.
    return NeighborGraph.search(gaussian_sample(n, d, seed)[:rows], k_max=min(k_max, rows - 1), metric=metric,
                                exact=True)


def gaussian_hubness(graph: NeighborGraph, k: int) -> Hubness:
    """Hubness of the Gaussian sample at k, read from its graph (`gaussian_graph`; no search).

    Equals ``hubness(gaussian_sample(n, d, seed), k=k, metric=metric)``: `hubness`
    reads the same first k columns of a graph (the sample has no distance ties).
    """
    _, indices = graph.top(k)
    return hubness_from_neighbors(indices, n_items=graph.n, metric=graph.metric)


def _gaussian_baseline(n: int, d: int, k_search: int, k: int, metric: str, seed: int) -> _GaussianBaseline:
    key = (n, d, k_search, k, metric, seed)
    cached = _BASELINE_CACHE.get(key)
    if cached is not None:
        _BASELINE_CACHE.move_to_end(key)
        return cached
    started = time.perf_counter()
    G = gaussian_sample(n, d, seed)
    G_knn = G[: baseline_knn_rows(n)]  # the whole sample up to BASELINE_KNN_ROWS (module docstring)
    graph = NeighborGraph.search(G_knn, k_max=k_search, metric=metric, exact=True)
    hub = hubness(G_knn, k=k, metric=metric, neighbors=graph)
    try:
        twonn = _twonn(G_knn, graph).dimension
    except ValueError:  # every ratio 1 (or duplicates in a tiny sample): no baseline
        twonn = None
    del graph
    erank = effective_rank(G).effective_rank
    spectrum = covariance_spectrum(G)
    baseline = _GaussianBaseline(
        hubness=hub, twonn=twonn, effective_rank=erank, spectrum=spectrum.explained_variance_ratio,
        iso_score=iso_score(spectrum.eigenvalues) if d >= 2 else None, norm_cv=float(_norm_cv(row_norms(G)) or 0.0),
        seconds=time.perf_counter() - started,
    )
    _BASELINE_CACHE[key] = baseline
    while len(_BASELINE_CACHE) > _BASELINE_CACHE_SIZE:
        _BASELINE_CACHE.popitem(last=False)
    return baseline
