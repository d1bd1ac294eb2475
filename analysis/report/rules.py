"""Verdicts and thresholds of the report: the rules that turn measured numbers into findings.

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
                       shows this same verdict, `analysis.verdicts`); >= 1 and
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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.metrics.hubness import Hubness
from analysis.metrics.neural_collapse import NeuralCollapse
from analysis.metrics.spectrum import CovarianceSpectrum
from analysis.report.baseline import _GaussianBaseline
from analysis.report.result import Finding
from analysis.verdicts import (  # noqa: F401  (the thresholds stay importable from here)
    HUBNESS_BASELINE_FACTOR,
    HUBNESS_SKEW,
    MEAN_COSINE_INFO,
    MEAN_COSINE_PROBLEM,
    MEAN_COSINE_WARNING,
    UNIFORMITY_INFO,
    UNIFORMITY_PROBLEM,
    UNIFORMITY_WARNING,
    hubness_verdict,
    isotropy_verdict,
    percent,
    uniformity_verdict,
)

# --- thresholds (see the module docstring for the sources) ---------------------------------
DUPLICATE_PROBLEM_SHARE = 0.5
DUPLICATE_WARNING_SHARE = 0.01
NORM_CV_WARNING = 1.0
NORM_CV_INFO = 0.5
# Hubness, uniformity and isotropy: in analysis.verdicts, shared with the pages (imported above).
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


def _fmt(value: float | None) -> str:
    if value is None:
        return "undefined"
    if value == 0:
        return "0"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


_pct = percent


def _not_computed(key: str, title: str, page: str, exc: Exception) -> Finding:
    return Finding(key=key, title=title, value=None, baseline=None, baseline_note="",
                   verdict="info", reason=f"Not computed: {exc}", page=page)


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
    base_skew = None if base is None else base.skewness
    n_base = n if base is None else base.k_occurrence.size
    note = (f"skewness of N_k for {n_base:,} i.i.d. standard Gaussian points in d = {d} (seeded), same k = {k} and "
            f"{metric} distance")
    if n_base < n:
        note += (f"; the first {n_base:,} rows of a sample of {n:,}, so the report does not repeat a full-size "
                 "search: Gaussian hubness grows with n, so this baseline is a lower bound")
    # The Hubness page shows the same verdict (analysis.verdicts).
    verdict = hubness_verdict(hub, base_skew, n=n_base, d=d)
    return Finding("hubness", "Hubness (skewness of k-occurrence)", hub.skewness, base_skew, note, verdict.level,
                   verdict.sentence, "hubness")


def _uniformity_finding(value: float, reference: float, d: int, dropped: int,
                        collapsed_classes: int | None) -> Finding:
    judged = uniformity_verdict(value, reference, d, collapsed_classes=collapsed_classes)
    verdict, reason = judged.level, judged.sentence
    if dropped:
        reason += f" {dropped:,} all-zero {'row was' if dropped == 1 else 'rows were'} left out."
    return Finding("uniformity", "Uniformity on the sphere (Wang & Isola)", value, reference,
                   "log E exp(-2||x-y||^2) for x, y uniform on the unit sphere S^(d-1), exact expectation",
                   verdict, reason, "geometry")


def _isotropy_finding(mean_cosine: float, score: float, base_iso: float | None) -> Finding:
    extra = f" IsoScore {score:.2f}" + ("" if base_iso is None else f" (Gaussian of the same n, d: {base_iso:.2f})") + "."
    judged = isotropy_verdict(mean_cosine)
    verdict, reason = judged.level, judged.sentence
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
    if counts.min() == counts.max():
        sizes = f"{nc.n_classes} classes of {int(counts.min()):,} samples each (largest / smallest = 1)"
    else:
        # Named as classes, not quoted codes: "'0' / '0'" read as a ratio of zeros (issue 18 item 6).
        largest, smallest = names[int(np.argmax(counts))], names[int(np.argmin(counts))]
        sizes = (f"{nc.n_classes} classes of {int(counts.min()):,} to {int(counts.max()):,} samples "
                 f"(largest / smallest = {ratio:.2f}: largest class {largest}, smallest class {smallest})")
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
