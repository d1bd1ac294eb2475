"""The report's results: `Finding` (one diagnostic with its verdict) and `Report` (JSON / HTML)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from analysis._export import Exported, json_safe
from analysis.validation import check_option

VERDICTS = ("good", "warning", "problem", "info")
#: URL paths of the app pages that explain each finding.
PAGES = ("hubness", "geometry", "collapse", "codebook", "explore", "information")
REPORT_FORMAT = "replens-report/1"


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
        check_option(self.verdict, VERDICTS, what="verdict")
        check_option(self.page, PAGES, what="page")
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
