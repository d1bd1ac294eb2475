"""Figures of the Collapse page's class-level sections: minority collapse and new classes over training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.views.collapse import _log_step_axis
from analysis.views.style import base_layout

__all__ = ["minority_collapse_chart", "new_classes_chart"]

_COLOURS = {"minority_cosine": "#E4572E", "majority_cosine": "#4C5FD5", "between_cosine": "#8AA29E"}
_NAMES = {"minority_cosine": "minority rows", "majority_cosine": "majority rows", "between_cosine": "minority ↔ majority"}


def minority_collapse_chart(steps: Sequence[int], series: Mapping[str, Sequence[float]], etf_cosine: float, *,
                            marked_step: int | None = None, height: int = 320) -> go.Figure:
    """Mean pairwise cosine of classifier rows per group against step (log axis), with the ETF line."""
    xs, xaxis = _log_step_axis(steps)
    fig = go.Figure()
    for column, values in series.items():
        fig.add_trace(go.Scatter(
            x=xs, y=list(values), mode="lines+markers", name=_NAMES.get(column, column),
            line=dict(color=_COLOURS.get(column, "#555"), width=2, dash="dot" if column == "between_cosine" else None),
            marker=dict(size=5), customdata=list(steps),
            hovertemplate=f"{_NAMES.get(column, column)}<br>step %{{customdata}}: %{{y:+.3f}}<extra></extra>"))
    fig.add_hline(y=etf_cosine, line=dict(color="#333", dash="dash"),
                  annotation_text=f"simplex ETF −1/(C−1) = {etf_cosine:+.3f}", annotation_position="bottom left")
    fig.add_hline(y=1.0, line=dict(color="#bbb", dash="dot"), annotation_text="1 = rows merged",
                  annotation_position="bottom left")
    if marked_step is not None and marked_step in steps:
        fig.add_vline(x=xs[list(steps).index(marked_step)], line=dict(color="#888", dash="dash"))
    base_layout(fig, height=height)
    fig.update_xaxes(**xaxis, title="optimiser step")
    lowest = min([etf_cosine, *(v for values in series.values() for v in values)])
    fig.update_yaxes(title="mean cosine of classifier rows", range=[lowest - 0.25, 1.1])
    fig.update_layout(margin=dict(t=20, b=10), legend=dict(orientation="h", y=1.08, x=0))
    return fig


def new_classes_chart(steps: Sequence[int], cdnv: Sequence[float], accuracy: Mapping[int, Sequence[float | None]],
                      *, chance: float, marked_step: int | None = None, height: int = 320) -> go.Figure:
    """Held-out classes over training: CDNV (left, log axis) and few-shot accuracy per shot count (right)."""
    xs, xaxis = _log_step_axis(steps)
    fig = make_subplots(rows=1, cols=2, subplot_titles=["CDNV of the new classes",
                                                        "Few-shot nearest-class-mean accuracy"],
                        horizontal_spacing=0.1)
    fig.add_trace(go.Scatter(x=xs, y=list(cdnv), mode="lines+markers", name="CDNV", showlegend=False,
                             line=dict(color="#4C5FD5", width=2), marker=dict(size=5), customdata=list(steps),
                             hovertemplate="CDNV<br>step %{customdata}: %{y:.4g}<extra></extra>"), row=1, col=1)
    palette = ("#E4572E", "#F3A712", "#29335C", "#669BBC")
    for colour, (m, values) in zip(palette, accuracy.items(), strict=False):
        fig.add_trace(go.Scatter(x=xs, y=[np.nan if v is None else 100 * v for v in values], mode="lines+markers",
                                 name=f"{m}-shot", line=dict(color=colour, width=2), marker=dict(size=5),
                                 customdata=list(steps),
                                 hovertemplate=f"{m}-shot<br>step %{{customdata}}: %{{y:.1f}}%<extra></extra>"),
                      row=1, col=2)
    fig.add_hline(y=100 * chance, line=dict(color="#888", dash="dash"), annotation_text="chance",
                  annotation_position="bottom right", row=1, col=2)
    for col in (1, 2):
        fig.update_xaxes(**xaxis, row=1, col=col)
        if marked_step is not None and marked_step in steps:
            fig.add_vline(x=xs[list(steps).index(marked_step)], line=dict(color="#888", dash="dash"), row=1, col=col)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(range=[0, 102], ticksuffix="%", row=1, col=2)
    base_layout(fig, height=height)
    fig.update_layout(margin=dict(t=40, b=10), legend=dict(orientation="h", y=-0.15, x=0.55))
    fig.update_annotations(font=dict(size=13))
    return fig
