"""Verdicts the pages and the report share: one threshold and one sentence per diagnostic (issue 16).

A page and the report must not judge the same number differently, so the
rule that turns a measured value into a level (``"good"``, ``"info"``,
``"warning"``, ``"problem"``) and a plain sentence lives here once; the
report's `analysis.report.rules` and the page panels (`analysis.panels`)
both call it. The sources of the thresholds are in the table of
`analysis.report.rules`.

Hubness (Radovanovic, Nanopoulos & Ivanovic 2010, JMLR 11)
    The skewness S_Nk of the k-occurrence is near 0 without hubness and
    above 1 for a clearly right-skewed N_k: below `HUBNESS_SKEW` (1.0) or
    undefined (constant N_k) is good. At or above it the verdict compares
    S_Nk with i.i.d. standard Gaussian data of the same n, d, k and metric
    (`analysis.report.baseline.gaussian_sample`): at least
    `HUBNESS_BASELINE_FACTOR` (2) times the baseline is a warning (more than
    the dimension alone explains), else info. Factor 2 because one Gaussian
    sample's skewness varies by up to 2x between seeds at d >= 64.

Uniformity (Wang & Isola 2020) and isotropy (Ethayarajh 2019)
    Bands of `uniformity_verdict` and `isotropy_verdict`, for the report's
    findings and the Geometry page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: this module imports no metric
    from analysis.metrics.hubness import Hubness

__all__ = [
    "HUBNESS_BASELINE_FACTOR",
    "HUBNESS_SKEW",
    "LEVELS",
    "MEAN_COSINE_INFO",
    "MEAN_COSINE_PROBLEM",
    "MEAN_COSINE_WARNING",
    "UNIFORMITY_INFO",
    "UNIFORMITY_PROBLEM",
    "UNIFORMITY_WARNING",
    "Verdict",
    "hubness_verdict",
    "isotropy_verdict",
    "percent",
    "uniformity_share",
    "uniformity_verdict",
]

LEVELS = ("good", "info", "warning", "problem")

HUBNESS_SKEW = 1.0
HUBNESS_BASELINE_FACTOR = 2.0
UNIFORMITY_PROBLEM = 0.9
UNIFORMITY_WARNING = 0.5
UNIFORMITY_INFO = 0.15
MEAN_COSINE_PROBLEM = 0.9
MEAN_COSINE_WARNING = 0.5
MEAN_COSINE_INFO = 0.1


@dataclass(frozen=True)
class Verdict:
    """A level (one of `LEVELS`) and the sentence that explains it with the numbers."""

    level: str
    sentence: str

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}; got {self.level!r}.")


def percent(value: float) -> str:
    """'12%', or two decimals below 1 % ('0.35%') so a small share does not read as 0."""
    return f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.2%}"


def hubness_verdict(hub: Hubness, baseline_skewness: float | None, *, n: int, d: int) -> Verdict:
    """The hubness verdict of the report and the Hubness page (rule in the module docstring).

    Parameters
    ----------
    hub : Hubness
        `analysis.metrics.hubness.hubness` of the data (its k, hubs and shares are quoted).
    baseline_skewness : float or None
        Skewness of N_k of n i.i.d. standard Gaussian points in d dimensions with
        the same k and metric; None when unknown (then S_Nk >= 1 is info).
    n, d : int
        Rows and dimension of the data, for the sentence.
    """
    skew, k = hub.skewness, hub.k
    compare = ("" if baseline_skewness is None else
               f" i.i.d. Gaussian data of the same size (n = {n:,}, d = {d}) gives {baseline_skewness:.2f}.")
    tail = (f" {hub.hubs.size:,} hubs (N_k >= {2 * k}) take {percent(hub.hub_occurrence)} of all neighbour slots "
            f"and {percent(hub.antihub_occurrence)} of points are nobody's neighbour.")
    if skew is None:
        return Verdict("good", "No hubness: every point is equally often a neighbour (N_k is constant).")
    if skew < HUBNESS_SKEW:
        return Verdict("good", f"Little hubness (skewness of N_k {skew:.2f} < {HUBNESS_SKEW:g})." + compare)
    if baseline_skewness is not None and skew >= HUBNESS_BASELINE_FACTOR * max(baseline_skewness, 0.0):
        return Verdict("warning", f"Strong hubness (skewness {skew:.2f}), more than {HUBNESS_BASELINE_FACTOR:g}x "
                                  f"what the dimension alone gives:{compare}{tail} kNN retrieval and classification "
                                  "suffer; try a reduction.")
    return Verdict("info", f"Hubness (skewness {skew:.2f} > {HUBNESS_SKEW:g}), but no more than high dimension alone "
                           f"explains:{compare}{tail}")


def uniformity_share(value: float, reference: float) -> float:
    """f = (U - U_ref) / (0 - U_ref): the share of the way from the uniform sphere (U_ref < 0) to collapse (U = 0)."""
    return (value - reference) / (0.0 - reference) if reference < 0 else 0.0


def uniformity_verdict(value: float, reference: float, d: int, *, collapsed_classes: int | None = None) -> Verdict:
    """Wang & Isola's uniformity against uniform points on the same sphere (bands f >= 0.9 / 0.5 / 0.15).

    `collapsed_classes`: the number of classes when they have collapsed
    (NC1 < 0.1); C points cannot be uniform, so a warning or problem is info.
    """
    share = uniformity_share(value, reference)
    numbers = f"Uniformity {value:.3f} against {reference:.3f} for uniform points on the same sphere (d = {d})"
    if share >= UNIFORMITY_PROBLEM:
        level, sentence = "problem", numbers + ": nearly all points share one direction (collapse)."
    elif share >= UNIFORMITY_WARNING:
        level, sentence = "warning", (numbers + ": the points crowd into a small part of the sphere (a narrow cone, "
                                      "or a few tight clusters).")
    elif share >= UNIFORMITY_INFO:
        level, sentence = "info", numbers + ": less uniform than the sphere allows (clusters or anisotropy)."
    else:
        level, sentence = "good", numbers + ": the directions cover the sphere nearly uniformly."
    if collapsed_classes is not None and level in ("warning", "problem"):
        level = "info"
        sentence = (numbers + f": the points crowd around the {collapsed_classes} collapsed class means, as neural "
                    "collapse implies.")
    return Verdict(level, sentence)


def isotropy_verdict(mean_cosine: float) -> Verdict:
    """Mean cosine between rows (Ethayarajh 2019): >= 0.9 problem, >= 0.5 warning (a narrow cone), >= 0.1 info."""
    if mean_cosine >= MEAN_COSINE_PROBLEM:
        return Verdict("problem", f"Mean cosine {mean_cosine:.2f}: almost every pair points the same way.")
    if mean_cosine >= MEAN_COSINE_WARNING:
        return Verdict("warning", f"Mean cosine {mean_cosine:.2f}: the vectors sit in a narrow cone (anisotropy), "
                                  "so cosine similarities are all high; centring the data helps.")
    if mean_cosine >= MEAN_COSINE_INFO:
        return Verdict("info", f"Mean cosine {mean_cosine:.2f}: a common direction shifts every vector a little.")
    return Verdict("good", f"Mean cosine {mean_cosine:.2f}: directions spread around the origin.")
