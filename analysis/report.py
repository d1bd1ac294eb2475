"""All diagnostics of one embedding in one call: `diagnose` -> `Report` (HTML / JSON).

`diagnose` runs every metric that applies to an embedding (hubness, sphere
uniformity, isotropy, effective rank and covariance spectrum, TwoNN intrinsic
dimension, neural collapse when there are labels, codebook usage when there
are codes, and data-quality checks), compares each with a baseline computed
for the same number of samples n and features d, and gives it a plain
verdict -- "good", "warning", "problem" or "info" -- with the reason in one or
two sentences that quote the numbers.

Baselines
---------
*Structureless data of the same size*: one seeded sample of n i.i.d.
standard Gaussian points in d dimensions (float32), measured with the same k
and metric. Hubness of such data grows with n as well as d (measured with
`analysis.metrics.hubness`, k = 10: skewness 6-8 at n = 2,000 and 23 at
n = 50,000 for d = 768), so the baseline is computed at the same n and d,
never on a subsample; that is the report's second exact kNN search. The
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

Verdicts and thresholds
-----------------------
The literature gives few hard cut-offs; where it gives none, the threshold is
a sensible multiple of the baseline, named here so that a user can judge it.

=====================  ==================================================================
finding                rule (first that matches)
=====================  ==================================================================
duplicates             share of rows repeating an earlier row: >= 50 % problem, >= 1 %
                       warning, > 0 info, else good (duplicates are each other's
                       neighbours at distance 0 and break TwoNN).
zero_rows              any all-zero row: warning (no direction: cosine, uniformity and
                       isotropy leave them out), else good.
norm_spread            coefficient of variation of the row norms: >= 1 warning, >= 0.5
                       info, else good (our rule of thumb; low-norm points become hubs,
                       Radovanovic et al. 2010). Baseline: the Gaussian's CV, about
                       1/sqrt(2d).
hubness                skewness S_Nk of N_k undefined (constant) or < 1: good (S_Nk near
                       0 means no hubness and above 1 a clearly right-skewed N_k,
                       Radovanovic, Nanopoulos & Ivanovic 2010; the app's Hubness page
                       reads 0.5 / 1.5 bands after Feldbauer & Flexer 2019); >= 1 and
                       >= 2x the Gaussian baseline: warning; >= 1 otherwise: info
                       (hubness the dimension alone explains). Factor 2 because one
                       Gaussian sample's skewness varies by up to 2x between seeds
                       at d >= 64 (measured: 2.5-5.2 over 12 seeds, n = 600, d = 64).
uniformity             share f = (U - U_ref) / (0 - U_ref) of the way from the uniform-
                       sphere value U_ref to total collapse (U = 0): f >= 0.9 problem,
                       f >= 0.5 warning, f >= 0.15 info, else good (Wang & Isola 2020;
                       bands ours). Info instead of a warning or problem when the
                       classes have collapsed (NC1 < 0.1): C points cannot be uniform.
                       Above 20,000 rows it is estimated from random pairs to a
                       standard error of 0.01 (the bands are ~0.6 wide at d = 768).
isotropy               mean cosine between rows (Ethayarajh 2019): >= 0.9 problem,
                       >= 0.5 warning (a narrow cone), >= 0.1 info, else good.
                       Baseline 0 (directions symmetric about the origin).
effective_rank         erank / min(n - 1, d): < 1.5 directions (with a ceiling >= 10)
                       problem (complete collapse); < 10 % warning (dimensional
                       collapse, Jing et al. 2022; RankMe, Garrido et al. 2023) -- info
                       instead when the classes have collapsed (NC1 < 0.1), where
                       C - 1 directions are expected (Papyan et al. 2020); < 30 % info;
                       else good.
spectrum               share of variance on the top principal direction >= 50 % and
                       >= 10x the Gaussian's top share (in low d one direction of a few
                       always holds much): warning (one dominant, "rogue" direction,
                       Timkey & van Schijndel 2021); else info (directions needed for
                       90 % of the variance, against the Gaussian's).
intrinsic_dimension    info (TwoNN, Facco et al. 2017), against d and against the
                       Gaussian's TwoNN at the same n (where the estimator saturates).
class_balance          largest / smallest class >= 10: warning (imbalanced classes do
                       not collapse to a simplex ETF; minority collapse, Fang et al.
                       2021); else info.
nc1                    NC1 < 0.1 and nearest-class-mean accuracy >= 95 %: info,
                       "collapsed" (Papyan, Han & Donoho 2020); NC1 >= half the
                       shuffled-label NC1: warning (labels barely structure the
                       features); else info.
ncc_accuracy           accuracy <= shuffled-label accuracy + 5 points: warning (no better
                       than chance); >= 90 %: good; else info.
nc2                    info: distance of the centred class means to a simplex ETF (0).
codebook_dead          dead share > 50 % and > 25 points above random codes: problem
                       (codebook collapse, van den Oord et al. 2017; Lancucki et al.
                       2020); > 10 % and > 5 points above random: warning; else good.
codebook_perplexity    perplexity < 25 % of random codes': warning; else good.
=====================  ==================================================================

A metric that cannot run on the data (too few distinct points, one class,
...) becomes an "info" finding that says why, rather than an error.

Cost
----
Two exact kNN searches of n points (the data and the Gaussian baseline;
``analysis.neighbors.kneighbors``, O(n^2 d)) dominate; everything else is
O(n d^2) or less. Each is one `NeighborGraph` with ``max(k, 2)``
neighbours, shared: hubness reads its first k columns and TwoNN
(`intrinsic_dimension`) its first two distances to distinct points. With the
cosine metric TwoNN is measured on the unit rows, from the same graph's
chords sqrt(2 (1 - cos)). Only when duplicate rows fill a point's whole
neighbour list does TwoNN search again (without them).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis._export import Exported, Stages, json_safe
from analysis.data.inspect import summarize_embedding
from analysis.data.schema import Embedding, encode_labels
from analysis.metrics.codebook import codebook_usage
from analysis.metrics.hubness import Hubness, hubness
from analysis.metrics.intrinsic_dimension import IntrinsicDimension, intrinsic_dimension
from analysis.metrics.isotropy import iso_score, isotropy
from analysis.metrics.neural_collapse import NeuralCollapse, neural_collapse
from analysis.metrics.spectrum import CovarianceSpectrum, covariance_spectrum, effective_rank
from analysis.metrics.sphere import uniformity
from analysis.neighbors import NeighborGraph
from analysis.validation import check_matrix, max_abs, row_norms

__all__ = [
    "PAGES",
    "VERDICTS",
    "Finding",
    "Report",
    "diagnose",
]

ProgressFn = Callable[[float, str], None]

VERDICTS = ("good", "warning", "problem", "info")
#: URL paths of the app pages that explain each finding.
PAGES = ("hubness", "geometry", "collapse", "codebook", "explore", "information")
REPORT_FORMAT = "replens-report/1"
METRICS = ("euclidean", "cosine")

# --- thresholds (see the module docstring for the sources) ---------------------------------
DUPLICATE_PROBLEM_SHARE = 0.5
DUPLICATE_WARNING_SHARE = 0.01
NORM_CV_WARNING = 1.0
NORM_CV_INFO = 0.5
HUBNESS_SKEW = 1.0
HUBNESS_BASELINE_FACTOR = 2.0
UNIFORMITY_PROBLEM = 0.9
UNIFORMITY_WARNING = 0.5
UNIFORMITY_INFO = 0.15
MEAN_COSINE_PROBLEM = 0.9
MEAN_COSINE_WARNING = 0.5
MEAN_COSINE_INFO = 0.1
ERANK_COMPLETE_COLLAPSE = 1.5
ERANK_WARNING_SHARE = 0.10
ERANK_INFO_SHARE = 0.30
TOP_DIRECTION_WARNING = 0.5
TOP_DIRECTION_BASELINE_FACTOR = 10.0
IMBALANCE_WARNING = 10.0
NC1_COLLAPSED = 0.1
NCC_COLLAPSED = 0.95
NC1_SHUFFLED_SHARE = 0.5
NCC_GOOD = 0.9
NCC_CHANCE_MARGIN = 0.05
DEAD_PROBLEM = 0.5
DEAD_PROBLEM_EXCESS = 0.25
DEAD_WARNING = 0.1
DEAD_WARNING_EXCESS = 0.05
PERPLEXITY_WARNING_SHARE = 0.25
# Sampled uniformity (n > 20,000): the verdict bands are ~0.6 wide at d = 768, so 0.01 is plenty.
UNIFORMITY_STANDARD_ERROR = 0.01

# Rows of the code-usage rank plot kept in the report (log-spaced ranks).
_RANK_POINTS = 400
_BASELINE_CACHE_SIZE = 8
_BASELINE_CACHE: OrderedDict[tuple, _GaussianBaseline] = OrderedDict()


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Finding:
    """One diagnostic with its verdict.

    Attributes
    ----------
    key : str
        Stable identifier (``"hubness"``, ``"nc1"``, ...).
    title : str
    value : float or None
        The measured number (None when not computed).
    baseline : float or None
        The same number for the baseline (None when there is none).
    baseline_note : str
        How the baseline was computed.
    verdict : {"good", "warning", "problem", "info"}
    reason : str
        One or two plain sentences with the numbers.
    page : str
        URL path of the app page that explains it (one of `PAGES`).
    """

    key: str
    title: str
    value: float | None
    baseline: float | None
    baseline_note: str
    verdict: str
    reason: str
    page: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}.")
        if self.page not in PAGES:
            raise ValueError(f"page must be one of {PAGES}; got {self.page!r}.")
        for name in ("value", "baseline"):
            number = getattr(self, name)
            if number is not None:
                number = float(number)
                object.__setattr__(self, name, number if math.isfinite(number) else None)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "value": self.value, "baseline": self.baseline,
                "baseline_note": self.baseline_note, "verdict": self.verdict, "reason": self.reason,
                "page": self.page}


@dataclass(frozen=True, eq=False)
class Report(Exported):
    """Every diagnostic of one embedding (see `diagnose`).

    Attributes
    ----------
    n_samples, n_features, n_classes : int
        ``n_classes`` is 0 without labels.
    findings : tuple of Finding
        In reading order: data quality, hubness, geometry, classes, codebook.
    metrics : dict
        Raw numbers by family (JSON-ready after `to_dict`).
    source : str
        Name of the data (file name, run layer and step, or as given).
    seconds : float
        Wall time of `diagnose`.
    series : dict
        Arrays the figures need (k-occurrence histograms, spectra, class
        sizes, code usage), so `to_html` recomputes nothing.
    timings : dict of str to float
        Seconds per stage.
    """

    n_samples: int
    n_features: int
    n_classes: int
    findings: tuple[Finding, ...]
    metrics: dict[str, Any]
    source: str
    seconds: float
    series: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def finding(self, key: str) -> Finding | None:
        """The finding with this key, or None."""
        return next((f for f in self.findings if f.key == key), None)

    def verdict_counts(self) -> dict[str, int]:
        """How many findings have each verdict, in the order problem, warning, info, good."""
        return {v: sum(f.verdict == v for f in self.findings) for v in ("problem", "warning", "info", "good")}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: Python numbers, lists and None (never NaN, never numpy types).

        Keys: ``format``, ``source``, ``n_samples``, ``n_features``,
        ``n_classes``, ``seconds``, ``summary`` (verdict counts),
        ``findings`` (list of `Finding.to_dict`), ``metrics``, ``timings``
        and ``series`` (the figure data, compact).
        """
        return json_safe({
            "format": REPORT_FORMAT,
            "source": self.source,
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "seconds": self.seconds,
            "summary": self.verdict_counts(),
            "findings": [f.to_dict() for f in self.findings],
            "metrics": self.metrics,
            "timings": self.timings,
            "series": self.series,
        })

    def _html(self) -> str:
        from analysis.views.report import report_html  # plotly lives in analysis.views only

        return report_html(self)


# ------------------------------------------------------------------------------ helpers


def _fmt(value: float | None) -> str:
    if value is None:
        return "undefined"
    if value == 0:
        return "0"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _pct(value: float) -> str:
    return f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.2%}"


def _not_computed(key: str, title: str, page: str, exc: Exception) -> Finding:
    return Finding(key=key, title=title, value=None, baseline=None, baseline_note="",
                   verdict="info", reason=f"Not computed: {exc}", page=page)


def _histogram(counts: np.ndarray) -> dict[str, list[int]]:
    values, frequency = np.unique(np.asarray(counts, dtype=np.int64), return_counts=True)
    return {"values": values.tolist(), "counts": frequency.tolist()}


def _rounded(values: np.ndarray, digits: int = 6) -> list[float]:
    """Compact floats for JSON: `digits` significant digits."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64)]


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


def _gaussian_baseline(n: int, d: int, k_search: int, k: int, metric: str, seed: int) -> _GaussianBaseline:
    key = (n, d, k_search, k, metric, seed)
    cached = _BASELINE_CACHE.get(key)
    if cached is not None:
        _BASELINE_CACHE.move_to_end(key)
        return cached
    started = time.perf_counter()
    G = np.random.default_rng((seed, 1)).standard_normal((n, d), dtype=np.float32)
    graph = NeighborGraph.search(G, k_max=k_search, metric=metric)
    hub = hubness(G, k=k, metric=metric, neighbors=graph)
    try:
        twonn = _twonn(G, graph).dimension
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


# ------------------------------------------------------------------------------ input


def _as_embedding(embedding: Any, labels: Any, source: str | None) -> Embedding:
    if isinstance(embedding, Embedding):
        emb = embedding
        if labels is not None:
            codes, names = _encode(labels, emb.n_samples)
            emb = Embedding(X=emb.X, labels=codes, label_names=names, metadata=emb.metadata, name=emb.name)
    else:
        X = check_matrix(embedding, name="embedding", min_samples=3, action="running the report")
        if X.dtype.kind == "f" and max_abs(X) > float(np.finfo(np.float32).max):
            # An Embedding holds float32 (DESIGN.md section 2): such values would become inf.
            raise ValueError(
                f"embedding has values beyond float32's range (largest |x| = {max_abs(X):.3g} > 3.4e38), "
                "and the report stores embeddings as float32. Rescale it first, e.g. X / np.abs(X).max(): "
                "every finding but the raw norm statistics is invariant to a global scale."
            )
        codes, names = (None, None) if labels is None else _encode(labels, X.shape[0])
        emb = Embedding(X=X, labels=codes, label_names=names, name="array")
    if source is not None:
        emb = Embedding(X=emb.X, labels=emb.labels, label_names=emb.label_names, metadata=emb.metadata,
                        name=str(source))
    return emb


def _encode(labels: Any, n: int) -> tuple[np.ndarray, tuple[str, ...] | None]:
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"labels must have shape ({n},), one per row of the embedding; got shape {arr.shape}."
        )
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64), None
    if arr.dtype.kind == "f" and np.isfinite(arr).all() and np.array_equal(arr, np.round(arr)):
        return arr.astype(np.int64), None
    if arr.dtype.kind == "f":
        raise ValueError("labels must be integer class codes or strings; got non-integer or NaN floats.")
    codes, names = encode_labels(arr)
    return codes, names


# ------------------------------------------------------------------------------ findings


def _data_findings(summary: dict[str, Any], norm_cv: float | None, norms: np.ndarray,
                   baseline: _GaussianBaseline | None, n: int) -> list[Finding]:
    out = []
    dup = int(summary["n_duplicate_rows"])
    share = dup / n
    if share >= DUPLICATE_PROBLEM_SHARE:
        verdict, what = "problem", "Most rows repeat an earlier row"
    elif share >= DUPLICATE_WARNING_SHARE:
        verdict, what = "warning", "Many rows repeat an earlier row"
    elif dup:
        verdict, what = "info", "A few rows repeat an earlier row"
    else:
        verdict, what = "good", "No duplicate rows"
    reason = f"{what} ({dup:,} of {n:,}, {_pct(share)})."
    if dup:
        reason += (" Duplicates are each other's nearest neighbours at distance 0: they inflate kNN accuracy, "
                   "and TwoNN leaves them out.")
    out.append(Finding("duplicates", "Duplicate rows", share, 0.0, "distinct points have none", verdict,
                       reason, "explore"))
    zero = int(summary["n_zero_rows"])
    if zero:
        one = zero == 1
        reason = (f"{zero:,} {'row is' if one else 'rows are'} all zero: {'it has' if one else 'they have'} no "
                  f"direction, so uniformity and isotropy leave {'it' if one else 'them'} out and cosine distance is "
                  "undefined (padding or dead inputs?).")
    else:
        reason = "No all-zero rows."
    out.append(Finding("zero_rows", "All-zero rows", float(zero), 0.0, "real inputs have none",
                       "warning" if zero else "good", reason, "explore"))
    if norm_cv is not None:
        median = float(np.median(norms))
        spread = (f"Row norms vary with a coefficient of variation of {norm_cv:.2f} (median {_fmt(median)}, "
                  f"largest {_fmt(float(norms.max()))})")
        if norm_cv >= NORM_CV_WARNING:
            verdict, reason = "warning", (spread + ". Euclidean neighbours then follow the norm, and low-norm "
                                          "points become hubs: consider metric='cosine' or normalising rows.")
        elif norm_cv >= NORM_CV_INFO:
            verdict, reason = "info", spread + ": norms carry part of the geometry."
        else:
            verdict, reason = "good", spread + ": norms are comparable."
        out.append(Finding("norm_spread", "Spread of row norms", norm_cv,
                           None if baseline is None else baseline.norm_cv,
                           "coefficient of variation of the norms of i.i.d. Gaussian rows (same d), about 1/sqrt(2d)",
                           verdict, reason, "explore"))
    return out


def _hubness_finding(hub: Hubness, base: Hubness | None, n: int, d: int, k: int, metric: str) -> Finding:
    skew = hub.skewness
    base_skew = None if base is None else base.skewness
    note = (f"skewness of N_k for {n:,} i.i.d. standard Gaussian points in d = {d} (seeded), same k = {k} and "
            f"{metric} distance")
    compare = "" if base_skew is None else f" i.i.d. Gaussian data of the same size (n = {n:,}, d = {d}) gives {base_skew:.2f}."
    tail = (f" {hub.hubs.size:,} hubs (N_k >= {2 * k}) take {_pct(hub.hub_occurrence)} of all neighbour slots and "
            f"{_pct(hub.antihub_occurrence)} of points are nobody's neighbour.")
    if skew is None:
        verdict, reason = "good", "No hubness: every point is equally often a neighbour (N_k is constant)."
    elif skew < HUBNESS_SKEW:
        verdict, reason = "good", f"Little hubness (skewness of N_k {skew:.2f} < {HUBNESS_SKEW:g})." + compare
    elif base_skew is not None and skew >= HUBNESS_BASELINE_FACTOR * max(base_skew, 0.0):
        verdict = "warning"
        reason = (f"Strong hubness (skewness {skew:.2f}), more than {HUBNESS_BASELINE_FACTOR:g}x what the dimension "
                  f"alone gives:{compare}{tail} kNN retrieval and classification suffer; try a reduction.")
    else:
        verdict = "info"
        reason = (f"Hubness (skewness {skew:.2f} > {HUBNESS_SKEW:g}), but no more than high dimension alone "
                  f"explains:{compare}{tail}")
    return Finding("hubness", "Hubness (skewness of k-occurrence)", skew, base_skew, note, verdict, reason,
                   "hubness")


def _uniformity_finding(value: float, reference: float, d: int, dropped: int,
                        collapsed_classes: int | None) -> Finding:
    share = (value - reference) / (0.0 - reference) if reference < 0 else 0.0
    numbers = f"Uniformity {value:.3f} against {reference:.3f} for uniform points on the same sphere (d = {d})"
    if share >= UNIFORMITY_PROBLEM:
        verdict, reason = "problem", numbers + ": nearly all points share one direction (collapse)."
    elif share >= UNIFORMITY_WARNING:
        verdict, reason = "warning", (numbers + ": the points crowd into a small part of the sphere (a narrow cone, "
                                      "or a few tight clusters).")
    elif share >= UNIFORMITY_INFO:
        verdict, reason = "info", numbers + ": less uniform than the sphere allows (clusters or anisotropy)."
    else:
        verdict, reason = "good", numbers + ": the directions cover the sphere nearly uniformly."
    if collapsed_classes is not None and verdict in ("warning", "problem"):
        verdict = "info"
        reason = (numbers + f": the points crowd around the {collapsed_classes} collapsed class means, as neural "
                  "collapse implies.")
    if dropped:
        reason += f" {dropped:,} all-zero {'row was' if dropped == 1 else 'rows were'} left out."
    return Finding("uniformity", "Uniformity on the sphere (Wang & Isola)", value, reference,
                   "log E exp(-2||x-y||^2) for x, y uniform on the unit sphere S^(d-1), exact expectation",
                   verdict, reason, "geometry")


def _isotropy_finding(mean_cosine: float, score: float, base_iso: float | None) -> Finding:
    extra = f" IsoScore {score:.2f}" + ("" if base_iso is None else f" (Gaussian of the same n, d: {base_iso:.2f})") + "."
    if mean_cosine >= MEAN_COSINE_PROBLEM:
        verdict, reason = "problem", f"Mean cosine {mean_cosine:.2f}: almost every pair points the same way."
    elif mean_cosine >= MEAN_COSINE_WARNING:
        verdict, reason = "warning", (f"Mean cosine {mean_cosine:.2f}: the vectors sit in a narrow cone (anisotropy), "
                                      "so cosine similarities are all high; centring the data helps.")
    elif mean_cosine >= MEAN_COSINE_INFO:
        verdict, reason = "info", f"Mean cosine {mean_cosine:.2f}: a common direction shifts every vector a little."
    else:
        verdict, reason = "good", f"Mean cosine {mean_cosine:.2f}: directions spread around the origin."
    if base_iso is not None and score < 0.5 * base_iso:
        # A different question from the mean cosine: how evenly the variance spreads over directions.
        extra += " That low IsoScore means the variance uses few directions; see the spectrum and effective rank."
    return Finding("isotropy", "Isotropy (mean cosine)", mean_cosine, 0.0,
                   "0 for directions symmetric about the origin (e.g. i.i.d. Gaussian)", verdict, reason + extra,
                   "geometry")


def _erank_finding(erank: float, base: float | None, n: int, d: int, collapsed_classes: int | None) -> Finding:
    ceiling = min(n - 1, d)
    share = erank / ceiling
    numbers = (f"Effective rank {erank:.1f} of at most {ceiling:,} ({_pct(share)})"
               + ("" if base is None else f"; i.i.d. Gaussian data of the same n, d: {base:.1f}"))
    if erank < ERANK_COMPLETE_COLLAPSE and ceiling >= 10:
        verdict, reason = "problem", numbers + ". The cloud spreads along about one direction: complete collapse."
    elif share < ERANK_WARNING_SHARE:
        if collapsed_classes is not None:
            verdict = "info"
            reason = numbers + (f". Low, as expected once the {collapsed_classes} classes have collapsed onto their "
                                f"means, which span at most {collapsed_classes - 1} directions.")
        else:
            verdict = "warning"
            reason = numbers + ". The representation uses few of its dimensions: dimensional collapse."
    elif share < ERANK_INFO_SHARE:
        verdict, reason = "info", numbers + ". Variance concentrates on a minority of directions."
    else:
        verdict, reason = "good", numbers + ". Variance spreads over many directions."
    return Finding("effective_rank", "Effective rank", erank, base,
                   f"effective rank of i.i.d. Gaussian data of the same n and d; the ceiling is min(n - 1, d) = {ceiling:,}",
                   verdict, reason, "geometry")


def _spectrum_finding(spectrum: CovarianceSpectrum, base: np.ndarray | None) -> Finding:
    top = float(spectrum.explained_variance_ratio[0])
    k90 = spectrum.components_for(0.9)
    base_k90 = None
    if base is not None:
        base_k90 = int(np.searchsorted(np.minimum(np.cumsum(base), 1.0), 0.9 - 1e-12) + 1)
    numbers = (f"{k90:,} of {spectrum.n_features:,} directions hold 90% of the variance"
               + ("" if base_k90 is None else f" (i.i.d. Gaussian: {base_k90:,})")
               + f"; the top one holds {_pct(top)}.")
    base_top = None if base is None else float(base[0])
    if top >= TOP_DIRECTION_WARNING and (base_top is None or top >= TOP_DIRECTION_BASELINE_FACTOR * base_top):
        verdict, reason = "warning", numbers + " One direction dominates distances and cosines (a 'rogue' dimension)."
    else:
        verdict, reason = "info", numbers
    return Finding("spectrum", "Covariance spectrum (directions for 90% of variance)", float(k90),
                   None if base_k90 is None else float(base_k90),
                   "directions an i.i.d. Gaussian cloud of the same n and d needs for 90% of its variance",
                   verdict, reason, "geometry")


def _twonn_finding(value: float, base: float | None, d: int, note: str) -> Finding:
    if base is None:
        compare = ""
    elif base < 0.8 * d:
        compare = (f" (i.i.d. Gaussian of the same n, d reads {base:.1f}: TwoNN underestimates high dimensions "
                   "at finite n)")
    else:
        compare = f" (i.i.d. Gaussian of the same n, d: {base:.1f})"
    shape = ("the points lie on a much thinner surface than the space." if value < 0.25 * (base or d)
             else "the points fill much of the space.")
    reason = f"TwoNN intrinsic dimension {value:.1f} in d = {d}{compare}: {shape}{note}"
    return Finding("intrinsic_dimension", "Intrinsic dimension (TwoNN)", value, base,
                   "TwoNN of i.i.d. Gaussian data of the same n and d (the estimator's reading of a full-dimensional "
                   "cloud at this n)", "info", reason, "geometry")


def _class_findings(nc: NeuralCollapse, shuffled: NeuralCollapse | None, names: list[str]) -> list[Finding]:
    out = []
    counts = nc.class_counts
    ratio = float(counts.max() / counts.min())
    largest, smallest = names[int(np.argmax(counts))], names[int(np.argmin(counts))]
    sizes = (f"{nc.n_classes} classes of {int(counts.min()):,} to {int(counts.max()):,} samples "
             f"(largest / smallest = {ratio:.1f}; '{largest}' / '{smallest}')")
    if ratio >= IMBALANCE_WARNING:
        verdict, reason = "warning", sizes + (". Imbalanced: minority classes may collapse together and class means "
                                              "approach an orthogonal frame rather than a simplex ETF.")
    else:
        verdict, reason = "info", sizes + "."
    out.append(Finding("class_balance", "Class balance", ratio, 1.0, "1 for classes of equal size", verdict, reason,
                       "collapse"))

    chance = float(counts.max() / counts.sum())
    base_nc1 = None if shuffled is None else shuffled.nc1
    base_ncc = chance if shuffled is None else max(shuffled.ncc_accuracy, chance)
    nc1 = nc.nc1
    quotient = f" Total within-class variance is {_fmt(nc.nc1_trace_quotient)} of the between-class variance."
    shuffled_text = "" if base_nc1 is None else f" (shuffled labels: {_fmt(base_nc1)})"
    if nc1 < NC1_COLLAPSED and nc.ncc_accuracy >= NCC_COLLAPSED:
        verdict = "info"
        reason = (f"Collapsed: NC1 = {_fmt(nc1)}{shuffled_text} < {NC1_COLLAPSED:g} and the nearest class mean is "
                  f"the right one for {_pct(nc.ncc_accuracy)} of samples: along the directions that separate "
                  "the classes, each class sits near its mean.") + quotient.replace("Total", "In all directions, total")
    elif base_nc1 is not None and nc1 >= NC1_SHUFFLED_SHARE * base_nc1:
        verdict = "warning"
        reason = (f"NC1 = {_fmt(nc1)}, close to the {_fmt(base_nc1)} of shuffled labels: the labels barely "
                  "structure these features.") + quotient
    else:
        verdict = "info"
        reason = (f"NC1 = {_fmt(nc1)}{shuffled_text}: classes are separated but not collapsed "
                  f"(collapse is NC1 < {NC1_COLLAPSED:g}).") + quotient
    out.append(Finding("nc1", "Within-class variability (NC1)", nc1, base_nc1,
                       "NC1 of the same features with the labels randomly permuted (seeded): no class structure",
                       verdict, reason, "collapse"))

    acc = nc.ncc_accuracy
    chance_text = f"shuffled labels: {_pct(base_ncc)}; majority class: {_pct(chance)}"
    if acc <= base_ncc + NCC_CHANCE_MARGIN:
        verdict = "warning"
        reason = f"Nearest-class-mean accuracy {_pct(acc)} is no better than chance ({chance_text})."
    elif acc >= NCC_GOOD:
        verdict = "good"
        reason = f"Nearest-class-mean accuracy {_pct(acc)} ({chance_text}): classes are well separated."
    else:
        verdict = "info"
        reason = f"Nearest-class-mean accuracy {_pct(acc)} ({chance_text}): classes overlap partly."
    out.append(Finding("ncc_accuracy", "Nearest-class-mean accuracy", acc, base_ncc,
                       "the same rule with shuffled labels (seeded; in-sample class means overfit in high d), "
                       "at least the majority-class share", verdict, reason, "collapse"))
    if nc.n_classes >= 3:
        out.append(Finding(
            "nc2", "Class means vs a simplex ETF (NC2)", nc.etf_distance, 0.0,
            "0 when the centred class means form a simplex equiangular tight frame",
            "info",
            (f"ETF distance {nc.etf_distance:.3f} (0 = simplex ETF); class-mean lengths vary by "
             f"{_pct(nc.nc2_equinorm)} (equinorm), angles by {nc.nc2_equiangular:.3f} (std of cosines)."),
            "collapse"))
    return out


def _codebook_findings(usage: Any, base: Any, assumed: bool) -> list[Finding]:
    K = usage.codebook_size
    dead, base_dead = usage.dead_fraction, base.dead_fraction
    size_note = " (K assumed: largest code + 1)" if assumed else ""
    numbers = (f"{usage.dead_codes.size:,} of K = {K:,} codes{size_note} are never used ({_pct(dead)}; "
               f"{usage.n_codes:,} uniformly random codes would leave {_pct(base_dead)} unused)")
    if dead > DEAD_PROBLEM and dead - base_dead > DEAD_PROBLEM_EXCESS:
        verdict, reason = "problem", numbers + ": codebook collapse; restarting dead codes at encoder outputs revives them."
    elif dead > DEAD_WARNING and dead - base_dead > DEAD_WARNING_EXCESS:
        verdict, reason = "warning", numbers + ": part of the codebook is wasted."
    else:
        verdict, reason = "good", numbers + "."
    out = [Finding("codebook_dead", "Dead codes", dead, base_dead,
                   f"dead share of {usage.n_codes:,} codes drawn uniformly from K = {K:,} (seeded)", verdict, reason,
                   "codebook")]
    share = usage.perplexity / base.perplexity
    numbers = (f"Perplexity {usage.perplexity:,.1f} of K = {K:,} (uniformly random codes: {base.perplexity:,.1f}; "
               f"{_pct(share)} of that)")
    if share < PERPLEXITY_WARNING_SHARE:
        verdict, reason = "warning", numbers + ": a few codes take most of the traffic."
    else:
        verdict, reason = "good", numbers + ": usage is spread over the codebook."
    out.append(Finding("codebook_perplexity", "Codebook perplexity", usage.perplexity, base.perplexity,
                       "perplexity of the same number of codes drawn uniformly from K (seeded)", verdict, reason,
                       "codebook"))
    return out


# ------------------------------------------------------------------------------ diagnose


@dataclass(frozen=True)
class _Neighbours:
    hubness: Hubness | None
    twonn: float | None
    twonn_note: str
    error: Exception | None
    twonn_error: Exception | None


def _neighbour_stage(X: np.ndarray, k: int, k_search: int, metric: str, nonzero: np.ndarray, n_distinct: int,
                     stages: Stages) -> _Neighbours:
    """Hubness and TwoNN from one neighbour graph (TwoNN drops duplicate rows first)."""
    n = X.shape[0]
    try:
        if n_distinct < 2:  # as `hubness` refuses: every distance is 0
            raise ValueError(f"the embedding holds {n} identical rows: every distance is 0, so nearest "
                             "neighbours (and hubness) are undefined.")
        if metric == "cosine" and not nonzero.all():
            raise ValueError(f"{int((~nonzero).sum()):,} all-zero rows have no cosine distance; "
                             "use metric='euclidean' or drop them.")
        graph = NeighborGraph.search(X, k_max=k_search, metric=metric)
    except ValueError as exc:
        return _Neighbours(None, None, "", exc, exc)
    hub = hubness(X, k=k, metric=metric, neighbors=graph)
    if n_distinct < n:
        stages.start("TwoNN", 0.4, "Estimating the intrinsic dimension (duplicates removed)")
    try:
        result = _twonn(X, graph)
    except ValueError as exc:
        return _Neighbours(hub, None, "", None, exc)
    note = f" ({result.n_duplicates:,} duplicate rows left out.)" if result.n_duplicates else ""
    return _Neighbours(hub, result.dimension, note, None, None)


@dataclass(frozen=True)
class _Classes:
    result: NeuralCollapse | None
    shuffled: NeuralCollapse | None
    names: list[str]
    error: Exception | None


def _class_stage(emb: Embedding, seed: int) -> _Classes:
    """Neural collapse with the labels, and with the labels shuffled (the baseline)."""
    present, y = np.unique(emb.labels, return_inverse=True)
    y = y.astype(np.int64).ravel()  # codes 0..C-1 of the classes present
    if present.size == y.size:
        # One label per row (ids, not classes): within-class variability is 0 by
        # construction, so NC1 would read "collapsed", and its C x C matrices grow
        # with n^2 (3 GiB and a MemoryError at n = 20,000). Skip with the reason.
        return _Classes(None, None, [], ValueError(
            f"every one of the {y.size:,} rows has its own label, so no class has two samples: "
            "within-class variability is zero by construction and the class findings would say "
            "nothing. Pass labels that group rows into classes (e.g. the class, not the sample id)."))
    names = [emb.class_name(int(c)) for c in present]
    try:
        result = neural_collapse(emb.X, y)
    except ValueError as exc:
        return _Classes(None, None, names, exc)
    try:
        shuffled = neural_collapse(emb.X, np.random.default_rng((seed, 2)).permutation(y))
    except ValueError:
        shuffled = None
    return _Classes(result, shuffled, names, None)


def _codebook_stage(codes: Any, codebook_size: int | None, seed: int) -> tuple[list[Finding], dict, dict]:
    """Codebook findings, raw numbers and the rank-plot series."""
    flat = np.asarray(codes).reshape(-1)
    assumed = codebook_size is None
    if assumed:
        if flat.size == 0 or flat.dtype.kind not in "iuf" or not np.isfinite(flat).all():
            raise ValueError("codes must be a non-empty array of integer code ids.")
        codebook_size = int(np.max(flat)) + 1
    usage = codebook_usage(flat, codebook_size=codebook_size)
    rng = np.random.default_rng((seed, 3))
    random_use = codebook_usage(rng.integers(0, usage.codebook_size, size=usage.n_codes),
                                codebook_size=usage.codebook_size)
    numbers = usage.scalars() | {
        "codebook_size": usage.codebook_size, "n_codes": usage.n_codes, "n_dead": int(usage.dead_codes.size),
        "codebook_size_assumed": assumed, "perplexity_random": random_use.perplexity,
        "dead_fraction_random": random_use.dead_fraction}
    ranked = np.sort(usage.counts)[::-1]
    ranks = np.unique(np.geomspace(1, ranked.size, num=min(ranked.size, _RANK_POINTS)).round().astype(np.int64))
    curve = {"rank": ranks.tolist(), "count": ranked[ranks - 1].tolist(), "codebook_size": usage.codebook_size}
    return _codebook_findings(usage, random_use, assumed), numbers, curve


def diagnose(
    embedding: Any,
    *,
    labels: Any = None,
    codes: Any = None,
    codebook_size: int | None = None,
    k: int = 10,
    metric: str = "euclidean",
    seed: int = 0,
    progress: ProgressFn | None = None,
    source: str | None = None,
) -> Report:
    """Run every diagnostic that applies to one embedding and give each a verdict.

    Parameters
    ----------
    embedding : Embedding or array-like of shape (n_samples, n_features)
        At least 3 rows; no NaN or Inf (refused with a ValueError).
    labels : array-like of shape (n_samples,), optional
        Class codes or names; override the Embedding's own labels. Enable the
        class findings (class balance, NC1, nearest-class-mean accuracy, NC2).
    codes : array-like of int, optional
        Vector-quantiser code ids (any shape, flattened); enable the codebook findings.
    codebook_size : int, optional
        K; default the largest code + 1 (codes never used above it are then invisible).
    k : int, default=10
        Neighbours for hubness, ``1 <= k < n_samples``.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance of the kNN search (hubness and TwoNN; with cosine TwoNN is
        measured on the unit rows).
    seed : int, default=0
        Seeds the Gaussian baseline, the label shuffle, the random codes and
        the sampled uniformity: a fixed seed gives the same report.
    progress : callable (fraction, message) -> None, optional
    source : str, optional
        Name shown in the report; default the Embedding's name ("array" for arrays).

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        Bad input: not 2-D, NaN/Inf, fewer than 3 rows, labels of the wrong
        length, k out of range, unknown metric.

    Notes
    -----
    Thresholds, baselines and their sources are in this module's docstring.
    Cost: two exact kNN searches (the data and a Gaussian sample of the same
    size), O(n^2 d); at n = 50,000, d = 768 about 37 s on 2 cores (13 s each
    search; tests/bench/bench_report.py).
    """
    started = time.perf_counter()
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}.")
    emb = _as_embedding(embedding, labels, source)
    X = emb.X
    n, d = X.shape
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    k = int(k)
    if n < 3 or k >= n:
        raise ValueError(
            f"the report needs at least 3 rows and k < n_samples; got n = {n}, k = {k}. "
            f"Pass more rows or a smaller k (at most {max(1, n - 1)})."
        )
    check_matrix(X, name=emb.name or "embedding", action="running the report")
    stages = Stages(progress)
    findings: list[Finding] = []
    metrics: dict[str, Any] = {"settings": {"k": k, "metric": metric, "seed": int(seed)}}
    series: dict[str, Any] = {"k": k}

    # 1. data quality
    stages.start("data checks", 0.0, "Checking rows: duplicates, zero rows, norms")
    summary = summarize_embedding(emb)
    norms = row_norms(X)
    nonzero = norms > 0
    norm_cv = _norm_cv(norms)
    metrics["data"] = {key: summary[key] for key in ("n_duplicate_rows", "n_zero_rows", "norm_min", "norm_mean",
                                                     "norm_median", "norm_max")} | {"norm_cv": norm_cv}

    # 2. one kNN search, shared by hubness and TwoNN
    k_search = max(k, 2)
    stages.start("kNN search", 0.03, f"Finding the {k_search} nearest neighbours of {n:,} points")
    n_distinct = n - int(summary["n_duplicate_rows"])
    neighbours = _neighbour_stage(X, k, k_search, metric, nonzero, n_distinct, stages)

    # 3. the Gaussian baseline of the same n and d
    stages.start("Gaussian baseline", 0.45,
                 f"Measuring i.i.d. Gaussian data of the same size ({n:,} x {d}) as a baseline")
    metrics["settings"]["baseline_cached"] = (n, d, k_search, k, metric, int(seed)) in _BASELINE_CACHE
    base = _gaussian_baseline(n, d, k_search, k, metric, int(seed))
    if norm_cv is not None:
        metrics["data"]["norm_cv_gaussian"] = base.norm_cv
    findings += _data_findings(summary, norm_cv, norms, base, n)
    hub = neighbours.hubness
    if hub is not None:
        findings.append(_hubness_finding(hub, base.hubness, n, d, k, metric))
        metrics["hubness"] = hub.scalars() | {"n_hubs": int(hub.hubs.size), "n_antihubs": int(hub.antihubs.size),
                                              "k": k, "metric": metric}
        series["k_occurrence"] = _histogram(hub.k_occurrence)
    else:
        findings.append(_not_computed("hubness", "Hubness (skewness of k-occurrence)", "hubness",
                                      neighbours.error))
    if base.hubness is not None:
        metrics["hubness_gaussian"] = base.hubness.scalars()
        series["k_occurrence_gaussian"] = _histogram(base.hubness.k_occurrence)

    # 4. classes before geometry: the effective-rank and uniformity verdicts read NC1
    classes = None
    if emb.labels is not None:
        stages.start("neural collapse", 0.85, f"Neural collapse over {emb.n_classes} classes (and shuffled labels)")
        classes = _class_stage(emb, int(seed))
    nc = None if classes is None else classes.result
    collapsed_classes = (nc.n_classes if nc is not None and nc.nc1 < NC1_COLLAPSED
                         and nc.ncc_accuracy >= NCC_COLLAPSED else None)

    # 5. geometry: uniformity, isotropy, spectrum, effective rank, intrinsic dimension
    stages.start("uniformity", 0.88, "Uniformity on the sphere")
    directed = X if nonzero.all() else np.ascontiguousarray(X[nonzero])
    dropped = int(n - directed.shape[0])
    try:
        if d < 2:
            raise ValueError("one feature: the 'sphere' is two points, and uniformity needs d >= 2.")
        uni = uniformity(directed, seed=int(seed), target_standard_error=UNIFORMITY_STANDARD_ERROR)
        findings.append(_uniformity_finding(uni.value, uni.uniform_reference, d, dropped, collapsed_classes))
        metrics["uniformity"] = uni.to_dict()
    except ValueError as exc:
        findings.append(_not_computed("uniformity", "Uniformity on the sphere (Wang & Isola)", "geometry", exc))
    stages.start("isotropy", 0.9, "Isotropy")
    try:
        iso = isotropy(directed)
        findings.append(_isotropy_finding(iso.mean_cosine, iso.iso_score, base.iso_score))
        metrics["isotropy"] = iso.scalars() | {"iso_score_gaussian": base.iso_score}
    except ValueError as exc:
        findings.append(_not_computed("isotropy", "Isotropy (mean cosine)", "geometry", exc))
    stages.start("spectrum", 0.95, "Covariance spectrum and effective rank")
    try:
        spec = covariance_spectrum(X)
        erank = effective_rank(X).effective_rank
        findings.append(_erank_finding(erank, base.effective_rank, n, d, collapsed_classes))
        findings.append(_spectrum_finding(spec, base.spectrum))
        metrics["effective_rank"] = {"effective_rank": erank, "gaussian": base.effective_rank,
                                     "ceiling": min(n - 1, d)}
        metrics["spectrum"] = {"top_share": float(spec.explained_variance_ratio[0]),
                               "components_90": spec.components_for(0.9), "components_99": spec.components_for(0.99),
                               "gaussian_top_share": float(base.spectrum[0])}
        series["spectrum"] = _rounded(spec.explained_variance_ratio)
        series["spectrum_gaussian"] = _rounded(base.spectrum)
    except ValueError as exc:
        findings.append(_not_computed("effective_rank", "Effective rank", "geometry", exc))
    if neighbours.twonn is not None:
        findings.append(_twonn_finding(neighbours.twonn, base.twonn, d, neighbours.twonn_note))
        metrics["intrinsic_dimension"] = {"twonn": neighbours.twonn, "gaussian_twonn": base.twonn, "n_features": d}
    else:
        findings.append(_not_computed("intrinsic_dimension", "Intrinsic dimension (TwoNN)", "geometry",
                                      neighbours.twonn_error or neighbours.error))

    if classes is not None:
        if nc is not None:
            findings += _class_findings(nc, classes.shuffled, classes.names)
            metrics["neural_collapse"] = nc.scalars() | {
                "n_classes": nc.n_classes, "class_counts": nc.class_counts,
                "nc1_shuffled": None if classes.shuffled is None else classes.shuffled.nc1,
                "ncc_accuracy_shuffled": None if classes.shuffled is None else classes.shuffled.ncc_accuracy,
                "majority_share": float(nc.class_counts.max() / nc.class_counts.sum()),
            }
            series["classes"] = {"names": classes.names, "counts": nc.class_counts.tolist(),
                                 "nc1_share": _rounded(nc.nc1_class_share),
                                 "within_variance": _rounded(nc.class_variances)}
        else:
            findings.append(_not_computed("nc1", "Within-class variability (NC1)", "collapse", classes.error))

    # 6. codebook
    if codes is not None:
        stages.start("codebook", 0.98, "Codebook usage")
        try:
            more, metrics["codebook"], series["code_usage"] = _codebook_stage(codes, codebook_size, int(seed))
            findings += more
        except ValueError as exc:
            findings.append(_not_computed("codebook_dead", "Dead codes", "codebook", exc))
    stages.stop()
    if progress is not None:
        progress(1.0, "Done")
    timings = dict(stages.timings)
    return Report(n_samples=int(n), n_features=int(d), n_classes=int(emb.n_classes), findings=tuple(findings),
                  metrics=metrics, source=emb.name or "embedding", seconds=time.perf_counter() - started,
                  series=series, timings=timings)
