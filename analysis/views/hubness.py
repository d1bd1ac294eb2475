"""Figures of the hubness page: N_k distributions, the projection coloured by N_k, reductions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.views.scatter import ColorSpec, _marker_trace, embedding_scatter
from analysis.views.style import ACCENT, base_layout, escape_all, legend_above

__all__ = [
    "centrality_scatter",
    "hubness_scatter",
    "k_occurrence_charts",
    "reduction_bars",
    "skewness_vs_dimension",
]

HUB_COLOUR = "#E4572E"
ANTIHUB_COLOUR = "#6B7280"


def k_occurrence_charts(k_occurrence: np.ndarray, k: int, *, rank_plot: bool = True, height: int = 330) -> go.Figure:
    """Histogram of N_k (with the mean k and the hub threshold 2k), beside the log-log rank plot."""
    counts = np.asarray(k_occurrence, dtype=np.int64)
    titles = ["Distribution of N_k", *(["N_k by rank (log-log)"] if rank_plot else [])]
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.1)
    values, frequency = np.unique(counts, return_counts=True)
    fig.add_trace(go.Bar(x=values, y=frequency, marker_color=ACCENT, name="points",
                         hovertemplate="N_k = %{x}: %{y} points<extra></extra>"), row=1, col=1)
    for x, text, colour in ((k, "k", "#555"), (2 * k, "2k: hubs", HUB_COLOUR)):
        fig.add_vline(x=x, line=dict(color=colour, dash="dash"), row=1, col=1)
        fig.add_annotation(x=x, y=0.97, xref="x", yref="y domain", text=text, showarrow=False,
                           xanchor="left", xshift=3, font=dict(color=colour, size=12))
    fig.update_xaxes(title="N_k (times in someone's k-NN list)", row=1, col=1)
    fig.update_yaxes(title="points", row=1, col=1)
    if rank_plot:
        ranked = np.sort(counts)[::-1]
        positive = ranked[ranked > 0]
        fig.add_trace(go.Scattergl(x=np.arange(1, positive.size + 1), y=positive, mode="lines+markers",
                                   marker=dict(size=3, color=ACCENT), line=dict(color=ACCENT), name="N_k",
                                   hovertemplate="rank %{x}: N_k = %{y}<extra></extra>"), row=1, col=2)
        fig.add_hline(y=k, line=dict(color="#555", dash="dash"), row=1, col=2)
        fig.update_xaxes(type="log", dtick=1, title="rank (1 = largest hub)", row=1, col=2)
        fig.update_yaxes(type="log", dtick=1, title="N_k", row=1, col=2)
    base_layout(fig, height=height)
    fig.update_layout(showlegend=False, bargap=0.05, margin=dict(t=40))
    return fig


def hubness_scatter(
    coords: np.ndarray,
    k_occurrence: np.ndarray,
    *,
    draw_rows: np.ndarray,
    hubs: np.ndarray,
    antihubs: np.ndarray,
    hover: Sequence[str] | None = None,
    focus_row: int | None = None,
    reverse_neighbours: np.ndarray | None = None,
    method: str = "PCA",
    uirevision: str = "hubness",
    height: int = 560,
) -> go.Figure:
    """The projection coloured by N_k, hubs ringed, antihubs crossed; the chosen hub and who lists it."""
    colour = ColorSpec(kind="continuous", values=np.log1p(np.asarray(k_occurrence, dtype=np.float32)),
                       title="log(1 + N_k)")
    fig = embedding_scatter(coords, draw_rows=draw_rows, color=colour, hover=hover, method=method,
                            uirevision=uirevision, height=height)
    size = 5.0 if coords.shape[1] == 2 else 3.0
    layers = [
        (antihubs, "antihubs (N_k = 0)", dict(size=size * 1.2, color=ANTIHUB_COLOUR, symbol="x-thin",
                                                line=dict(color=ANTIHUB_COLOUR, width=1))),
        (hubs, "hubs (N_k ≥ 2k)", dict(size=size * 2.4, color="rgba(0,0,0,0)",
                                      line=dict(color=HUB_COLOUR, width=2))),
    ]
    if reverse_neighbours is not None and len(reverse_neighbours):
        layers.append((reverse_neighbours, "lists the chosen point", dict(size=size * 1.6, color="#F2C14E",
                                                                         line=dict(color="#222", width=1))))
    if focus_row is not None:
        layers.append((np.asarray([focus_row]), "chosen point", dict(size=size * 3.2, color=HUB_COLOUR,
                                                                     symbol="star")))
    for rows, name, marker in layers:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size:
            fig.add_trace(_marker_trace(coords, rows, None, name=name, marker=marker))
    # Zoom, not lasso: in Plotly's lasso mode a click selects nothing, and
    # choosing a point by clicking is what this chart is for.
    legend_above(fig)  # the colour bar holds the right edge
    fig.update_layout(dragmode="zoom")
    return fig


def centrality_scatter(distance_to_mean: np.ndarray, k_occurrence: np.ndarray, *, hubs: np.ndarray,
                       spearman: float | None, height: int = 360) -> go.Figure:
    """Distance to the data mean against N_k: in high dimensions hubs sit near the centre."""
    d = np.asarray(distance_to_mean, dtype=np.float32)
    counts = np.asarray(k_occurrence, dtype=np.float32)
    is_hub = np.zeros(d.size, dtype=bool)
    is_hub[np.asarray(hubs, dtype=np.int64)] = True
    fig = go.Figure()
    for mask, name, colour in ((~is_hub, "points", ACCENT), (is_hub, "hubs", HUB_COLOUR)):
        rows = np.flatnonzero(mask)
        fig.add_trace(go.Scattergl(x=d[rows], y=counts[rows], mode="markers", name=name, customdata=rows,
                                   marker=dict(size=5, color=colour, opacity=0.6),
                                   hovertemplate="id %{customdata}: distance %{x:.3g}, N_k %{y}<extra></extra>"))
    title = "Distance to the data mean vs N_k"
    if spearman is not None:
        title += f" (Spearman ρ = {spearman:+.2f})"
    base_layout(fig, height=height, title=title)
    # The legend stays at the right edge, under the toolbar (a row beside the title sat beneath it).
    fig.update_layout(xaxis=dict(title="distance to the mean of all points"), yaxis=dict(title="N_k"))
    return fig


def reduction_bars(methods: Sequence[str], skew_before: float | None, skew_after: Sequence[float | None],
                   accuracy_before: float | None = None, accuracy_after: Sequence[float | None] | None = None,
                   *, height: int = 330) -> go.Figure:
    """Skewness of N_k (and kNN accuracy, with labels) for no reduction and each method."""
    names = ["none", *escape_all(methods)]
    with_accuracy = accuracy_after is not None and accuracy_before is not None
    fig = make_subplots(rows=1, cols=2 if with_accuracy else 1, horizontal_spacing=0.1,
                        subplot_titles=["Skewness of N_k (lower = less hubness)",
                                        *(["Leave-one-out kNN accuracy"] if with_accuracy else [])])
    skews = [skew_before, *skew_after]
    colours = ["#9AA0AE", *[ACCENT] * len(methods)]
    fig.add_trace(go.Bar(x=names, y=[np.nan if s is None else s for s in skews], marker_color=colours,
                         hovertemplate="%{x}: skewness %{y:.3f}<extra></extra>"), row=1, col=1)
    if with_accuracy:
        accuracies = [accuracy_before, *accuracy_after]
        fig.add_trace(go.Bar(x=names, y=accuracies, marker_color=colours,
                             hovertemplate="%{x}: %{y:.1%}<extra></extra>"), row=1, col=2)
        low = min(a for a in accuracies if a is not None)
        fig.update_yaxes(tickformat=".0%", range=[max(0.0, low - 0.05), 1.0], row=1, col=2)
    base_layout(fig, height=height)
    fig.update_layout(showlegend=False, margin=dict(t=40))
    return fig


def skewness_vs_dimension(dimensions: Sequence[int], skewness: np.ndarray, *, current: int,
                          height: int = 330) -> go.Figure:
    """Skewness of N_k of i.i.d. Gaussian points against dimension (Radovanovic et al. 2010, Fig. 1).

    skewness : ndarray of shape (n_dimensions, n_repeats); the line is the
    mean, the bars one standard deviation across repeats.
    """
    values = np.asarray(skewness, dtype=np.float64)
    mean = np.nanmean(values, axis=1)
    spread = np.nanstd(values, axis=1)
    fig = go.Figure(go.Scatter(x=list(dimensions), y=mean, mode="lines+markers",
                               error_y=dict(type="data", array=spread, color="#9AA0AE"),
                               line=dict(color=ACCENT, width=2), marker=dict(size=7),
                               hovertemplate="d = %{x}: mean skewness %{y:.2f}<extra></extra>"))
    if current in dimensions:
        fig.add_trace(go.Scatter(x=[current], y=[mean[list(dimensions).index(current)]], mode="markers",
                                 marker=dict(size=15, color=HUB_COLOUR),
                                 hovertemplate=f"d = {current}<extra>current</extra>"))
    base_layout(fig, height=height, title=f"Skewness of N_k rises with dimension (mean ± sd of {values.shape[1]} samples)")
    fig.update_layout(xaxis=dict(type="log", title="dimension d"), yaxis=dict(title="skewness of N_k"),
                      showlegend=False)
    fig.add_hline(y=0, line=dict(color="#999", dash="dot"))
    return fig
