"""analysis.verdicts: one hubness / uniformity / isotropy verdict for the report and the pages (issue 16)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from analysis.metrics.hubness import hubness_from_neighbors
from analysis.panels import hubness as panels
from analysis.report import rules
from analysis.verdicts import (
    HUBNESS_BASELINE_FACTOR,
    HUBNESS_SKEW,
    Verdict,
    hubness_verdict,
    isotropy_verdict,
    percent,
    uniformity_verdict,
)

N, D, K = 400, 32, 10


def _hub(skewness: float | None):
    """A real Hubness result (k = 10) with the skewness under test."""
    indices = np.random.default_rng(0).integers(0, N, size=(N, K))
    return dataclasses.replace(hubness_from_neighbors(indices, n_items=N), skewness=skewness)


def _base(skewness: float | None):
    return None if skewness is None else _hub(skewness)


# (skewness, baseline skewness, expected level): around 1.0 and around 2x the baseline, by hand.
CASES = [
    (None, None, "good"), (None, 5.0, "good"),
    (0.0, None, "good"), (0.99, None, "good"), (0.99, 0.1, "good"), (-0.5, 0.2, "good"),
    (1.0, None, "info"), (1.01, None, "info"), (7.0, None, "info"),
    (1.0, 0.5, "warning"), (1.0, 0.51, "info"), (0.99, 0.3, "good"),
    (1.99, 1.0, "info"), (2.0, 1.0, "warning"), (2.01, 1.0, "warning"),
    (3.9, 2.0, "info"), (4.0, 2.0, "warning"), (4.1, 2.0, "warning"),
    (1.5, -0.3, "warning"), (1.5, 0.0, "warning"),  # a negative baseline counts as 0
    (23.0, 23.0, "info"),  # as skewed as Gaussian data of that size: high dimension explains it
]


@pytest.mark.parametrize(("skew", "base_skew", "level"), CASES)
def test_page_and_report_give_the_same_hubness_verdict(skew, base_skew, level) -> None:
    hub, base = _hub(skew), _base(base_skew)
    finding = rules._hubness_finding(hub, base, N, D, K, "euclidean")
    page = panels.verdict(hub, base_skew, n=N, d=D)
    assert page == hubness_verdict(hub, base_skew, n=N, d=D)
    assert (finding.verdict, finding.reason) == (page.level, page.sentence)
    assert page.level == level
    assert finding.value == skew and finding.baseline == base_skew


def test_hubness_sentences_quote_the_numbers_and_thresholds() -> None:
    assert (HUBNESS_SKEW, HUBNESS_BASELINE_FACTOR) == (1.0, 2.0)
    hub = _hub(4.5)
    warning = hubness_verdict(hub, 1.25, n=N, d=D)
    assert warning.sentence.startswith("Strong hubness (skewness 4.50), more than 2x what the dimension alone gives:")
    assert f"(n = {N}, d = {D}) gives 1.25." in warning.sentence
    assert f"{hub.hubs.size:,} hubs (N_k >= 20)" in warning.sentence
    assert hubness_verdict(_hub(0.4), 1.25, n=N, d=D).sentence == (
        f"Little hubness (skewness of N_k 0.40 < 1). i.i.d. Gaussian data of the same size (n = {N}, d = {D}) "
        "gives 1.25.")
    assert hubness_verdict(_hub(3.0), 2.0, n=N, d=D).sentence.startswith(
        "Hubness (skewness 3.00 > 1), but no more than high dimension alone explains:")


@pytest.mark.parametrize(("value", "reference", "level"), [
    (-3.0, -3.0, "good"), (-2.56, -3.0, "good"), (-2.55, -3.0, "info"), (-1.51, -3.0, "info"),
    (-1.5, -3.0, "warning"), (-0.31, -3.0, "warning"), (-0.3, -3.0, "problem"), (0.0, -3.0, "problem"),
])
def test_uniformity_bands_match_the_report(value, reference, level) -> None:
    judged = uniformity_verdict(value, reference, 64)
    assert judged.level == level
    finding = rules._uniformity_finding(value, reference, 64, 0, None)
    assert (finding.verdict, finding.reason) == (judged.level, judged.sentence)
    collapsed = uniformity_verdict(value, reference, 64, collapsed_classes=10)
    assert collapsed.level == ("info" if level in ("warning", "problem") else level)


@pytest.mark.parametrize(("cosine", "level"), [
    (-0.2, "good"), (0.099, "good"), (0.1, "info"), (0.49, "info"), (0.5, "warning"), (0.89, "warning"),
    (0.9, "problem"), (1.0, "problem"),
])
def test_isotropy_bands_match_the_report(cosine, level) -> None:
    judged = isotropy_verdict(cosine)
    assert judged.level == level
    finding = rules._isotropy_finding(cosine, 0.9, None)
    assert finding.verdict == judged.level and finding.reason.startswith(judged.sentence)


def test_verdict_refuses_an_unknown_level_and_percent_keeps_small_shares() -> None:
    with pytest.raises(ValueError, match=r"level must be one of \('good', 'info', 'warning', 'problem'\); got 'bad'"):
        Verdict("bad", "x")
    assert (percent(0.0), percent(0.0035), percent(0.25)) == ("0%", "0.35%", "25%")
