"""The diagnostic report as one self-contained HTML page, and its figures.

`report_html` writes a page that opens offline: plotly.js is inlined once in
a ``<script>`` element, there is no ``<script src=``, no ``<link>``, no web
font and no CDN. Every string that comes from the user (source name, class
names, reasons that quote them) is HTML-escaped. The figures are drawn from
`Report.series`, so nothing is recomputed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.views.html_page import esc, figure_section, format_number, standalone_page
from analysis.views.style import ACCENT, base_layout, category_color, escape_all

__all__ = [
    "VERDICT_STYLE",
    "class_summary_chart",
    "code_usage_chart",
    "cumulative_spectrum_chart",
    "k_occurrence_comparison",
    "report_figures",
    "report_html",
]

BASELINE_COLOUR = "#9AA0AC"
HUB_COLOUR = "#E4572E"
# verdict -> (label, symbol, text colour, background): readable without colour thanks to label and symbol.
VERDICT_STYLE: dict[str, tuple[str, str, str, str]] = {
    "problem": ("PROBLEM", "\u2716", "#FFFFFF", "#B42318"),
    "warning": ("WARNING", "!", "#1F2430", "#FDB022"),
    "info": ("NOTE", "i", "#FFFFFF", "#1D5FBF"),
    "good": ("GOOD", "\u2714", "#FFFFFF", "#067647"),
}
PAGE_TITLES = {"hubness": "Hubness", "geometry": "Sphere & spectrum", "collapse": "Neural collapse",
               "codebook": "Codebook usage", "explore": "Explore", "information": "Information plane"}


def k_occurrence_comparison(histogram: Mapping[str, Sequence[int]], k: int,
                            baseline: Mapping[str, Sequence[int]] | None = None, *,
                            title: str | None = None, height: int = 360) -> go.Figure:
    """Histogram of N_k with the same for i.i.d. Gaussian data of the same size, overlaid (log counts).

    histogram, baseline : mapping with "values" (distinct N_k) and "counts" (points with that N_k)
    """
    fig = go.Figure()
    if baseline is not None:
        fig.add_trace(go.Bar(x=list(baseline["values"]), y=list(baseline["counts"]),
                             name="i.i.d. Gaussian, same n and d", marker_color=BASELINE_COLOUR, opacity=0.6,
                             hovertemplate="N_k = %{x}: %{y} points<extra>Gaussian</extra>"))
    fig.add_trace(go.Bar(x=list(histogram["values"]), y=list(histogram["counts"]), name="this embedding",
                         marker_color=ACCENT, opacity=0.75,
                         hovertemplate="N_k = %{x}: %{y} points<extra>data</extra>"))
    for x, text, colour in ((k, "k", "#555"), (2 * k, "2k: hubs", HUB_COLOUR)):
        fig.add_vline(x=x, line=dict(color=colour, dash="dash"))
        fig.add_annotation(x=x, y=0.97, xref="x", yref="paper", text=text, showarrow=False, xanchor="left",
                           xshift=3, font=dict(color=colour, size=12))
    base_layout(fig, height=height, title=title)
    fig.update_layout(xaxis=dict(title="N_k (times in someone's k-NN list)"), yaxis=dict(title="points", type="log", dtick=1),
                      barmode="overlay", bargap=0.05, legend=dict(orientation="h", y=-0.2, x=0))
    return fig


def cumulative_spectrum_chart(ratio: Sequence[float], baseline: Sequence[float] | None = None, *,
                              title: str | None = None, height: int = 360) -> go.Figure:
    """Cumulative explained variance against the number of principal directions, with the Gaussian's."""
    fig = go.Figure()
    for values, name, colour in ((ratio, "this embedding", ACCENT), (baseline, "i.i.d. Gaussian, same n and d",
                                                                       BASELINE_COLOUR)):
        if values is None:
            continue
        cumulative = np.minimum(np.cumsum(np.asarray(values, dtype=np.float64)), 1.0)
        fig.add_trace(go.Scatter(x=np.arange(1, cumulative.size + 1), y=cumulative, mode="lines", name=name,
                                 line=dict(color=colour, width=2),
                                 hovertemplate="first %{x} directions: %{y:.1%}<extra></extra>"))
    fig.add_hline(y=0.9, line=dict(color="#555", dash="dot"), annotation_text="90%",
                  annotation_position="bottom right")
    base_layout(fig, height=height, title=title)
    fig.update_layout(xaxis=dict(title="number of principal directions", type="log", dtick=1),
                      yaxis=dict(title="share of variance", range=[0, 1.02], tickformat=".0%"),
                      legend=dict(orientation="h", y=-0.2, x=0))
    return fig


def class_summary_chart(names: Sequence[str], counts: Sequence[int], nc1_share: Sequence[float] | None = None, *,
                        height: int = 340) -> go.Figure:
    """Samples per class and, beside it, each class's share of NC1 (which classes are least collapsed)."""
    panels = ["Samples per class", *(["Share of NC1 (within-class spread)"] if nc1_share is not None else [])]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=panels, horizontal_spacing=0.1)
    labels = escape_all(names)
    colours = [category_color(i) for i in range(len(labels))]
    fig.add_trace(go.Bar(x=labels, y=list(counts), marker_color=colours,
                         hovertemplate="class %{x}: %{y} samples<extra></extra>"), row=1, col=1)
    if nc1_share is not None:
        fig.add_trace(go.Bar(x=labels, y=list(nc1_share), marker_color=colours,
                             hovertemplate="class %{x}: %{y:.1%} of NC1<extra></extra>"), row=1, col=2)
        fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_xaxes(type="category")
    base_layout(fig, height=height)
    fig.update_layout(showlegend=False, margin=dict(t=40))
    return fig


def code_usage_chart(rank: Sequence[int], count: Sequence[int], codebook_size: int, *,
                     title: str | None = None, height: int = 340) -> go.Figure:
    """Uses of each code, most used first (log-log); the line stops where the dead codes begin."""
    ranks = np.asarray(rank)
    counts = np.asarray(count)
    used = counts > 0
    fig = go.Figure(go.Scatter(x=ranks[used], y=counts[used], mode="lines+markers", marker=dict(size=4, color=ACCENT),
                               line=dict(color=ACCENT), name="uses",
                               hovertemplate="rank %{x}: used %{y} times<extra></extra>"))
    if used.any():  # K as a vertical line (a trace: shapes on log axes take log10 positions)
        top = float(counts[used].max())
        fig.add_trace(go.Scatter(x=[codebook_size, codebook_size], y=[1, top], mode="lines", name=f"K = {codebook_size}",
                                 line=dict(color="#555", dash="dash"), hoverinfo="skip"))
    base_layout(fig, height=height, title=title)
    fig.update_layout(xaxis=dict(type="log", title="code rank (1 = most used)"), yaxis=dict(type="log", title="uses"),
                      legend=dict(orientation="h", y=-0.2, x=0))
    return fig


def report_figures(report) -> dict[str, go.Figure]:
    """The report's figures from `Report.series`: name -> figure (only those whose data exist)."""
    series = report.series
    figures: dict[str, go.Figure] = {}
    if "k_occurrence" in series:
        figures["k_occurrence"] = k_occurrence_comparison(series["k_occurrence"], int(series.get("k", 10)),
                                                          series.get("k_occurrence_gaussian"))
    if "spectrum" in series:
        figures["spectrum"] = cumulative_spectrum_chart(series["spectrum"], series.get("spectrum_gaussian"))
    if "classes" in series:
        classes = series["classes"]
        figures["classes"] = class_summary_chart(classes["names"], classes["counts"], classes.get("nc1_share"))
    if "code_usage" in series:
        usage = series["code_usage"]
        figures["code_usage"] = code_usage_chart(usage["rank"], usage["count"], int(usage["codebook_size"]))
    return figures


def _badge(verdict: str) -> str:
    label, symbol, colour, background = VERDICT_STYLE.get(verdict, (verdict.upper(), "?", "#000", "#DDD"))
    return (f'<span class="badge" style="color:{colour};background:{background}">'
            f'{esc(symbol)} {esc(label)}</span>')


def _findings_table(findings) -> str:
    rows = []
    for f in findings:
        page = PAGE_TITLES.get(f.page, f.page)
        rows.append(
            "<tr>"
            f"<td>{_badge(f.verdict)}</td>"
            f"<td><strong>{esc(f.title)}</strong><br><span class=\"note\">app page: {esc(page)}</span></td>"
            f"<td class=\"num\">{esc(format_number(f.value))}</td>"
            f"<td class=\"num\">{esc(format_number(f.baseline))}</td>"
            f"<td>{esc(f.reason)}"
            + (f"<br><span class=\"note\">Baseline: {esc(f.baseline_note)}</span>" if f.baseline_note else "")
            + "</td></tr>"
        )
    return ("<table><thead><tr><th>Verdict</th><th>Finding</th><th>Value</th><th>Baseline</th><th>Why</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


# name -> (heading, what to look for)
_FIGURE_TEXT = {
    "k_occurrence": ("Hubness: how often each point is someone's neighbour",
                     "N_k of every point (blue) against i.i.d. Gaussian data of the same size (grey). A long right "
                     "tail means hubs (N_k >= 2k) that are everyone's neighbour; a tall bar at 0 means antihubs."),
    "spectrum": ("Covariance spectrum",
                 "Cumulative share of variance on the leading principal directions (log axis). A curve that rises "
                 "early uses few directions; i.i.d. Gaussian data (grey) spread evenly."),
    "classes": ("Classes",
                "Samples per class, and each class's share of NC1: a class with a large share is the least "
                "collapsed (widest around its mean)."),
    "code_usage": ("Codebook usage",
                   "Uses of each code, most used first (log-log). Codes past the end of the line, up to K, are dead."),
}


def report_html(report, figures: Mapping[str, go.Figure] | None = None) -> str:
    """One self-contained HTML page: header, findings with verdict badges, interactive figures.

    Parameters
    ----------
    report : analysis.report.Report
    figures : mapping name -> plotly Figure, optional
        Default `report_figures(report)`.

    Returns
    -------
    str
        The page. plotly.js is inlined once; nothing is fetched when it opens
        (no ``<script src=``, no ``<link>``), so it works offline.
    """
    figures = report_figures(report) if figures is None else figures
    counts = report.verdict_counts()
    summary = "".join(
        f"<span>{_badge(v)} {counts[v]}</span>" for v in ("problem", "warning", "info", "good"))
    settings = report.metrics.get("settings", {})
    classes = f"{report.n_classes} classes" if report.n_classes else "no labels"
    meta = (f"{report.n_samples:,} samples &middot; {report.n_features:,} features &middot; {esc(classes)} "
            f"&middot; k = {esc(settings.get('k', ''))}, {esc(settings.get('metric', ''))} distance, "
            f"seed {esc(settings.get('seed', ''))} &middot; computed in {report.seconds:.1f} s")
    parts = [
        f"<h1>RepLens report: {esc(report.source)}</h1>",
        f'<p class="meta">{meta}</p>',
        f'<p class="summary">{summary}</p>',
        "<h2>Findings</h2>",
        _findings_table(report.findings),
    ]
    if figures:
        parts.append("<h2>Figures</h2>")
    for name, fig in figures.items():
        title, caption = _FIGURE_TEXT.get(name, (name, ""))
        parts.append(figure_section(name, fig, title, caption))
    metrics_text = json.dumps(report.to_dict()["metrics"], indent=2, allow_nan=False, ensure_ascii=False)
    parts += [
        "<h2>All numbers</h2>",
        f"<details><summary>Raw metrics (JSON)</summary><pre>{esc(metrics_text)}</pre></details>",
        '<p class="note">Made by RepLens. Verdicts, thresholds and baselines are documented in '
        "analysis/report.py.</p>",
    ]
    return standalone_page(f"RepLens report: {report.source}", parts)
