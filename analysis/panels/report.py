"""The Report page (and `replens report`): every diagnostic of one selection, with verdicts.

`report_panel` wraps `analysis.report.diagnose` for a `Selection`: the
sidebar's rows, layer and step, with that cell's VQ codes when the run has
them (so the app's report of a run and the CLI's agree). Each diagnostic's
formula and baseline are documented in `analysis.report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analysis.data import Selection
from analysis.report import PAGES, VERDICTS, Finding, Report, diagnose
from analysis.validation import ProgressFn

__all__ = ["ORDER", "PAGES", "VERDICTS", "Finding", "Report", "ReportPanel", "report_panel"]

# Findings are listed worst first.
ORDER = ("problem", "warning", "info", "good")


@dataclass(frozen=True, eq=False)
class ReportPanel:
    """What the Report page draws: the report, its findings worst first, and the verdict counts.

    Attributes
    ----------
    report : Report
        `diagnose` of the selection (export with ``report.to_html()`` / ``report.to_json()``).
    findings : tuple of Finding
        The report's findings ordered by verdict (`ORDER`), each verdict in the report's reading order.
    counts : dict of str to int
        `Report.verdict_counts()`.
    """

    report: Report
    findings: tuple[Finding, ...]
    counts: dict[str, int]


def report_panel(selection: Selection, *, k: int = 10, metric: str = "euclidean", seed: int = 0,
                 source: str | None = None, codes: Any = None, codebook_size: int | None = None,
                 progress: ProgressFn | None = None, exact: bool | None = None,
                 scheduler: Any = None) -> ReportPanel:
    """`diagnose` the selection's rows with their labels and, by default, their VQ codes.

    Parameters
    ----------
    selection : Selection
    k, metric, seed, source, progress, exact, scheduler
        As in `analysis.report.diagnose`.
    codes, codebook_size : optional
        The vector-quantiser codes to diagnose; default the selection's own
        (`selection.codes`, with K = the rows of `selection.codebook`).
    """
    if codes is None:
        codes = selection.codes
        codebook = selection.codebook
        if codebook_size is None and codes is not None and codebook is not None:
            codebook_size = int(codebook.shape[0])
    report = diagnose(selection.embedding, codes=codes, codebook_size=codebook_size, k=k, metric=metric,
                      seed=seed, progress=progress, source=source, exact=exact, scheduler=scheduler)
    findings = tuple(f for verdict in ORDER for f in report.findings if f.verdict == verdict)
    return ReportPanel(report=report, findings=findings, counts=report.verdict_counts())
