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
same rows give the baselines of TwoNN, effective rank, the spectrum, IsoScore
and the norm spread: with n >> d these depend on n only through the
Marchenko-Pastur spread ``(1 +- sqrt(d / rows))^2`` of the sample's
eigenvalues (effective rank 255.6 of 256 at 50,000 rows and d = 256, 255.99
at 10^6), which is why drawing all n rows (~30 s at 10^6 x 256) is not worth
it. Baselines depend only on (n, d, k, metric,
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
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from analysis.metrics.class_statistics import default_chunk_rows, iter_row_chunks
from analysis.metrics.hubness import Hubness, hubness, hubness_from_neighbors
from analysis.metrics.intrinsic_dimension import IntrinsicDimension, intrinsic_dimension
from analysis.metrics.isotropy import iso_score
from analysis.metrics.spectrum import (
    CovarianceSpectrum,
    effective_rank_from_scatter,
    spectrum_from_scatter,
)
from analysis.metrics.streaming import CovarianceSums
from analysis.neighbors import NeighborGraph
from analysis.validation import ProgressFn, max_abs, row_norms

_BASELINE_CACHE_SIZE = 8
# Most Gaussian rows behind every baseline number: an exact search of 50,000 x 768 takes ~13 s on 2 cores.
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
    Its first m rows are ``gaussian_sample(m, d, seed)`` (one generator, read in order), and
    `gaussian_chunks` yields the same rows a chunk at a time.
    """
    return np.random.default_rng((seed, 1)).standard_normal((n, d), dtype=np.float32)


def gaussian_chunks(n: int, d: int, seed: int = 0, *, chunk_rows: int | None = None) -> Iterator[np.ndarray]:
    """`gaussian_sample(n, d, seed)` in consecutive row chunks, never more than one chunk in memory.

    NumPy's Generator draws ``standard_normal`` values one after another from
    one bit stream (a buffered half word included), so chunks drawn in order
    concatenate to the whole sample exactly (tests/unit/test_report_baseline_stream.py).
    """
    rng = np.random.default_rng((seed, 1))
    rows = default_chunk_rows(d) if chunk_rows is None else max(1, int(chunk_rows))
    for part in iter_row_chunks(int(n), rows):
        yield rng.standard_normal((part.stop - part.start, d), dtype=np.float32)


def gaussian_graph(n: int, d: int, *, k_max: int, metric: str, seed: int = 0) -> NeighborGraph:
    """`NeighborGraph` of `gaussian_sample(n, d, seed)` to depth k_max: the hubness baseline at every k <= k_max.

    Slice it with `gaussian_hubness`; its first k columns are the report's baseline
    search at k (the same sample, exact search).
    """
    rows = baseline_knn_rows(n)
    # Exact: structureless Gaussian data is the approximate index's worst case, and rows is bounded.
    # gaussian_sample(rows, ...) is gaussian_sample(n, ...)[:rows], without drawing the other n - rows rows.
    return NeighborGraph.search(gaussian_sample(rows, d, seed), k_max=min(k_max, rows - 1), metric=metric,
                                exact=True)


def gaussian_hubness(graph: NeighborGraph, k: int) -> Hubness:
    """Hubness of the Gaussian sample at k, read from its graph (`gaussian_graph`; no search).

    Equals ``hubness(gaussian_sample(n, d, seed), k=k, metric=metric)``: `hubness`
    reads the same first k columns of a graph (the sample has no distance ties).
    """
    _, indices = graph.top(k)
    return hubness_from_neighbors(indices, n_items=graph.n, metric=graph.metric)


@dataclass(frozen=True)
class _SampleMoments:
    effective_rank: float
    spectrum: CovarianceSpectrum
    norm_cv: float


def _sample_moments(n: int, d: int, seed: int, progress: ProgressFn | None = None) -> _SampleMoments:
    """Effective rank, covariance spectrum and norm spread of `gaussian_sample(n, d, seed)`, streamed.

    One pass over `gaussian_chunks` accumulates the float64 sums of
    `analysis.metrics.streaming` (one d x d scatter serves the spectrum and
    the effective rank: the singular values of the centred sample are the
    square roots of its eigenvalues) and the row norms' shifted sums, so the
    n x d sample never exists: O(chunk x d + d^2) memory. The sample's
    entries are below 2**3 in absolute value with overwhelming probability,
    and products need no power-of-two rescaling (exponent 0).
    """
    sums = CovarianceSums(d)
    count = 0
    norm_shift = None
    norm_sum = norm_square = peak = 0.0
    for chunk in gaussian_chunks(n, d, seed):
        sums.update(chunk)
        peak = max(peak, max_abs(chunk))
        norms = row_norms(chunk)
        if norm_shift is None:
            norm_shift = float(norms.mean())
        norms -= norm_shift  # shifted sums (module docstring of analysis.metrics.streaming)
        norm_sum += float(norms.sum())
        norm_square += float(norms @ norms)
        count += chunk.shape[0]
        if progress is not None:
            progress(count / n, f"Gaussian baseline: {count:,} of {n:,} rows")
    scatter = sums.scatter()
    spectrum = spectrum_from_scatter(scatter, n_samples=n, exponent=0, square_total=sums.square, peak=peak)
    erank = effective_rank_from_scatter(scatter, n_samples=n, exponent=0, square_total=sums.square)
    mean_offset = norm_sum / n
    mean = float(norm_shift) + mean_offset
    std = float(np.sqrt(max(norm_square / n - mean_offset**2, 0.0)))  # population std, as numpy's default
    return _SampleMoments(effective_rank=erank.effective_rank, spectrum=spectrum,
                          norm_cv=std / mean if mean > 0 else 0.0)


def _gaussian_baseline(n: int, d: int, k_search: int, k: int, metric: str, seed: int,
                       progress: ProgressFn | None = None) -> _GaussianBaseline:
    key = (n, d, k_search, k, metric, seed)
    cached = _BASELINE_CACHE.get(key)
    if cached is not None:
        _BASELINE_CACHE.move_to_end(key)
        return cached
    started = time.perf_counter()
    # The first baseline_knn_rows(n) rows of the sample (module docstring), drawn alone.
    G_knn = gaussian_sample(baseline_knn_rows(n), d, seed)
    graph = NeighborGraph.search(G_knn, k_max=k_search, metric=metric, exact=True)
    hub = hubness(G_knn, k=k, metric=metric, neighbors=graph)
    try:
        twonn = _twonn(G_knn, graph).dimension
    except ValueError:  # every ratio 1 (or duplicates in a tiny sample): no baseline
        twonn = None
    del graph, G_knn
    # The moments come from the same rows: a pass over all n Gaussian rows cost ~30 s at 10^6 x 256 for
    # numbers that barely move with n (Marchenko-Pastur: eigenvalues within (1 +- sqrt(d / rows))^2;
    # effective rank 255.6 of 256 at 50,000 rows and d = 256, 255.99 at 10^6).
    moments = _sample_moments(baseline_knn_rows(n), d, seed, progress)
    spectrum = moments.spectrum
    baseline = _GaussianBaseline(
        hubness=hub, twonn=twonn, effective_rank=moments.effective_rank,
        spectrum=spectrum.explained_variance_ratio,
        iso_score=iso_score(spectrum.eigenvalues) if d >= 2 else None, norm_cv=moments.norm_cv,
        seconds=time.perf_counter() - started,
    )
    _BASELINE_CACHE[key] = baseline
    while len(_BASELINE_CACHE) > _BASELINE_CACHE_SIZE:
        _BASELINE_CACHE.popitem(last=False)
    return baseline
