"""`diagnose`: check the input, run every metric that applies, and collect the findings in a `Report`.

Thresholds and their sources are in `analysis.report.rules`, baselines in `analysis.report.baseline`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from analysis._export import Stages
from analysis.data.inspect import summarize_embedding
from analysis.data.schema import Embedding, encode_labels
from analysis.metrics.codebook import codebook_usage
from analysis.metrics.collapse_pair import neural_collapse_pair
from analysis.metrics.hubness import Hubness, hubness
from analysis.metrics.isotropy import isotropy
from analysis.metrics.neural_collapse import NeuralCollapse, neural_collapse
from analysis.metrics.spectrum import effective_rank, spectrum_and_effective_rank
from analysis.metrics.sphere import uniformity
from analysis.metrics.streaming import CovarianceSums
from analysis.neighbor_graph import KnnSettings
from analysis.neighbors import NeighborGraph
from analysis.report import baseline as _baseline
from analysis.report.baseline import _gaussian_baseline, _norm_cv, _twonn
from analysis.report.result import Finding, Report
from analysis.report.rules import (
    NC1_COLLAPSED,
    NCC_COLLAPSED,
    UNIFORMITY_STANDARD_ERROR,
    _class_findings,
    _codebook_findings,
    _data_findings,
    _erank_finding,
    _hubness_finding,
    _isotropy_finding,
    _not_computed,
    _spectrum_finding,
    _twonn_finding,
    _uniformity_finding,
)
from analysis.validation import ProgressFn, check_k, check_matrix, check_option, max_abs, row_norms

METRICS = ("euclidean", "cosine")

# Rows of the code-usage rank plot kept in the report (log-spaced ranks).
_RANK_POINTS = 400


def _histogram(counts: np.ndarray) -> dict[str, list[int]]:
    values, frequency = np.unique(np.asarray(counts, dtype=np.int64), return_counts=True)
    return {"values": values.tolist(), "counts": frequency.tolist()}


def _rounded(values: np.ndarray, digits: int = 6) -> list[float]:
    """Compact floats for JSON: `digits` significant digits."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64)]


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


# ------------------------------------------------------------------------------ diagnose


def _within(progress: ProgressFn | None, low: float, high: float) -> ProgressFn | None:
    """A stage's own progress (0 to 1) mapped onto the report's [low, high]."""
    if progress is None:
        return None
    return lambda fraction, message: progress(low + (high - low) * min(max(float(fraction), 0.0), 1.0), message)


def _distributed() -> Any:
    """`analysis.distributed`, imported only when a scheduler is given (dask is the optional [scale] extra)."""
    import analysis.distributed

    return analysis.distributed


@dataclass(frozen=True)
class _Neighbours:
    hubness: Hubness | None
    twonn: float | None
    twonn_note: str
    error: Exception | None
    twonn_error: Exception | None
    knn: KnnSettings | None = None


def _neighbour_stage(X: np.ndarray, k: int, k_search: int, metric: str, nonzero: np.ndarray, n_distinct: int,
                     stages: Stages, exact: bool | None = None, scheduler: Any = None) -> _Neighbours:
    """Hubness and TwoNN from one neighbour graph (TwoNN drops duplicate rows first)."""
    n = X.shape[0]
    try:
        if n_distinct < 2:  # as `hubness` refuses: every distance is 0
            raise ValueError(f"the embedding holds {n} identical rows: every distance is 0, so nearest "
                             "neighbours (and hubness) are undefined.")
        if metric == "cosine" and not nonzero.all():
            raise ValueError(f"{int((~nonzero).sum()):,} all-zero rows have no cosine distance; "
                             "use metric='euclidean' or drop them.")
        graph = NeighborGraph.search(X, k_max=k_search, metric=metric, exact=exact, scheduler=scheduler)
    except ValueError as exc:
        return _Neighbours(None, None, "", exc, exc)
    hub = hubness(X, k=k, metric=metric, neighbors=graph)
    if n_distinct < n:
        stages.start("TwoNN", 0.4, "Estimating the intrinsic dimension (duplicates removed)")
    try:
        result = _twonn(X, graph)
    except ValueError as exc:
        return _Neighbours(hub, None, "", None, exc, graph.knn)
    note = f" ({result.n_duplicates:,} duplicate rows left out.)" if result.n_duplicates else ""
    return _Neighbours(hub, result.dimension, note, None, None, graph.knn)


@dataclass(frozen=True)
class _Classes:
    result: NeuralCollapse | None
    shuffled: NeuralCollapse | None
    names: list[str]
    error: Exception | None
    covariance: CovarianceSums | None = None  # the pass's sums of every row: the spectrum stage reuses them


def _class_stage(emb: Embedding, seed: int, client: Any = None) -> _Classes:
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
    def collapse(labels: np.ndarray) -> NeuralCollapse:
        if client is None:
            return neural_collapse(emb.X, labels)
        return _distributed().neural_collapse_distributed(emb.X, labels, scheduler=client)

    permuted = np.random.default_rng((seed, 2)).permutation(y)
    if client is None:  # one pass: the shuffle shares the labels' scatter (analysis.metrics.collapse_pair)
        try:
            pair = neural_collapse_pair(emb.X, y, permuted)
        except ValueError as exc:
            return _Classes(None, None, names, exc)
        return _Classes(pair.result, pair.shuffled, names, None, pair.covariance)
    try:
        result = collapse(y)
    except ValueError as exc:
        return _Classes(None, None, names, exc)
    try:
        shuffled = collapse(permuted)
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
    exact: bool | None = None,
    scheduler: Any = None,
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
    exact : bool, optional
        The data's kNN search: True exact, False approximate (IVF, recall
        measured on sampled rows), None exact up to
        `analysis.neighbors.approximate.EXACT_LIMIT` rows. The report's JSON
        records it as ``metrics.settings.knn = {"method", "exact", "recall",
        "n_queries_checked"}``.
    scheduler : str or distributed.Client, optional
        A dask.distributed scheduler (e.g. ``"tcp://10.0.0.5:8786"``): the
        data's kNN search, neural collapse's class statistics and the
        covariance spectrum run on its workers (`analysis.distributed`, each
        equal to the in-memory result); the rest, and the bounded Gaussian
        baseline, run here. ``metrics.settings.scheduler`` records the address.

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
    Thresholds and their sources are in `analysis.report.rules`, baselines in
    `analysis.report.baseline`.
    Cost: two exact kNN searches (the data and a Gaussian sample of the same
    size), O(n^2 d); at n = 50,000, d = 768 about 37 s on 2 cores (13 s each
    search; tests/bench/bench_report.py). Above `BASELINE_KNN_ROWS` the
    baseline searches only that many rows, and the data's search is
    approximate (see ``exact``). Memory: every other stage streams over row
    blocks in float64 (class statistics, covariance spectrum and effective
    rank from one scatter, isotropy, norms, duplicates by row hashes, the
    Gaussian sample drawn chunk by chunk), so a float32 memory map is never
    copied whole: O(block x d + d^2) beyond X, plus one copy of X only when
    all-zero rows must be left out of uniformity and isotropy.
    """
    started = time.perf_counter()
    check_option(metric, METRICS, what="metric")
    emb = _as_embedding(embedding, labels, source)
    X = emb.X
    n, d = X.shape
    k = check_k(k)
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
    norms = row_norms(X)
    summary = summarize_embedding(emb, norms=norms)  # one norm pass serves the summary, the CV and uniformity
    nonzero = norms > 0
    norm_cv = _norm_cv(norms)
    metrics["data"] = {key: summary[key] for key in ("n_duplicate_rows", "n_zero_rows", "norm_min", "norm_mean",
                                                     "norm_median", "norm_max")} | {"norm_cv": norm_cv}

    # 2. one kNN search, shared by hubness and TwoNN
    k_search = max(k, 2)
    stages.start("kNN search", 0.03, f"Finding the {k_search} nearest neighbours of {n:,} points")
    n_distinct = n - int(summary["n_duplicate_rows"])
    client = None
    if scheduler is not None:
        from analysis.distributed import get_client

        client = get_client(scheduler)  # a bad address fails here, before any work
        metrics["settings"]["scheduler"] = client.scheduler.address
    neighbours = _neighbour_stage(X, k, k_search, metric, nonzero, n_distinct, stages, exact, client)
    metrics["settings"]["knn"] = (neighbours.knn or KnnSettings.exact_search()).as_json()

    # 3. the Gaussian baseline of the same n and d
    stages.start("Gaussian baseline", 0.45,
                 f"Measuring i.i.d. Gaussian data of the same size ({n:,} x {d}) as a baseline")
    metrics["settings"]["baseline_cached"] = (n, d, k_search, k, metric, int(seed)) in _baseline._BASELINE_CACHE
    base = _gaussian_baseline(n, d, k_search, k, metric, int(seed), progress=_within(progress, 0.45, 0.85))
    n_base = _baseline.baseline_knn_rows(n)
    metrics["settings"]["baseline"] = {
        "n": n, "knn_rows": n_base,
        "knn_method": "same size" if n_base == n else f"first {n_base:,} rows of the Gaussian sample (lower bound)",
        "rows": n_base}  # the Gaussian rows behind every baseline number (the moments too)
    if norm_cv is not None:
        metrics["data"]["norm_cv_gaussian"] = base.norm_cv
    findings += _data_findings(summary, norm_cv, norms, base, n)
    hub = neighbours.hubness
    if hub is not None:
        finding = _hubness_finding(hub, base.hubness, n, d, k, metric)
        if neighbours.knn is not None and not neighbours.knn.exact:  # say how far to trust the neighbours
            finding = replace(finding, reason=f"{finding.reason} Neighbours from {neighbours.knn.describe()}.")
        findings.append(finding)
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
        classes = _class_stage(emb, int(seed), client)
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
        # The data checks' norms: the sampled estimate reads only the rows it draws, not X once more.
        uni = uniformity(directed, seed=int(seed), target_standard_error=UNIFORMITY_STANDARD_ERROR,
                         norms=norms if directed is X else norms[nonzero])
        findings.append(_uniformity_finding(uni.value, uni.uniform_reference, d, dropped, collapsed_classes))
        metrics["uniformity"] = uni.to_dict()
    except ValueError as exc:
        findings.append(_not_computed("uniformity", "Uniformity on the sphere (Wang & Isola)", "geometry", exc))
    stages.start("isotropy", 0.9, "Isotropy")
    try:
        # Neural collapse's pass already summed every row's covariance: isotropy then reads X once, not twice.
        shared = classes.covariance if classes is not None and directed is X else None
        iso = isotropy(directed, sums=shared, norms=None if shared is None else norms)
        findings.append(_isotropy_finding(iso.mean_cosine, iso.iso_score, base.iso_score))
        metrics["isotropy"] = iso.scalars() | {"iso_score_gaussian": base.iso_score}
    except ValueError as exc:
        findings.append(_not_computed("isotropy", "Isotropy (mean cosine)", "geometry", exc))
    stages.start("spectrum", 0.95, "Covariance spectrum and effective rank")
    try:
        if client is None:  # one streamed pass gives both (the same centred scatter)
            spec, rank = spectrum_and_effective_rank(X, progress=_within(progress, 0.95, 0.98),
                                                     sums=None if classes is None else classes.covariance)
            erank = rank.effective_rank
        else:
            spec = _distributed().distributed_covariance_spectrum(X, scheduler=client)
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
        twonn_note = neighbours.twonn_note
        if neighbours.knn is not None and not neighbours.knn.exact:
            twonn_note += f" Neighbours from {neighbours.knn.describe()}."
        findings.append(_twonn_finding(neighbours.twonn, base.twonn, d, twonn_note))
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
