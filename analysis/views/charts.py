"""Small summary charts: class sizes, norms, training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from analysis.views.style import ACCENT, base_layout, category_color, escape_all


def class_size_bars(names: Sequence[str], counts: Sequence[int], *, height: int = 300) -> go.Figure:
    """Bar chart of samples per class, so imbalance is visible at a glance."""
    fig = go.Figure(
        go.Bar(
            x=escape_all(names),
            y=list(counts),
            marker_color=[category_color(i) for i in range(len(names))],
            hovertemplate="class %{x}: %{y} samples<extra></extra>",
        )
    )
    base_layout(fig, height=height, title="Samples per class")
    fig.update_layout(xaxis=dict(type="category", title="class"), yaxis=dict(title="samples"))
    return fig


def norm_histogram(norms: np.ndarray, *, height: int = 300) -> go.Figure:
    """Histogram of row L2 norms (zero rows and outliers stand out)."""
    fig = go.Figure(
        go.Histogram(x=np.asarray(norms, dtype=np.float32), nbinsx=60, marker_color=ACCENT,
                     hovertemplate="norm %{x}: %{y} rows<extra></extra>")
    )
    base_layout(fig, height=height, title="Vector norms ‖x‖₂")
    fig.update_layout(xaxis=dict(title="L2 norm"), yaxis=dict(title="rows"), bargap=0.02)
    return fig


def training_curves(curves: Mapping[str, Sequence[float]], *, height: int = 300,
                    marked_step: int | None = None) -> go.Figure:
    """Loss and accuracy against optimiser step, loss on the left axis and accuracy on the right."""
    steps = list(curves.get("step", []))
    fig = go.Figure()
    palette = {"train": "#1F77B4", "test": "#FF7F0E"}
    for key, values in curves.items():
        if key == "step" or len(values) != len(steps):
            continue
        split = "test" if key.startswith("test") else "train"
        is_acc = "acc" in key
        fig.add_trace(
            go.Scatter(
                x=steps, y=list(values), name=key.replace("_", " "), mode="lines",
                line=dict(color=palette[split], dash="dot" if is_acc else "solid"),
                yaxis="y2" if is_acc else "y",
            )
        )
    if marked_step is not None:
        fig.add_vline(x=marked_step, line=dict(color="#888", dash="dash"))
    base_layout(fig, height=height, title="Training curves")
    fig.update_layout(
        # Checkpoints are log-spaced, so is the axis (a step-0 point is left off it).
        xaxis=dict(title="optimiser step", type="log" if steps and max(steps) >= 100 else "linear"),
        yaxis=dict(title="loss", type="log"),
        yaxis2=dict(title="accuracy", overlaying="y", side="right", range=[0, 1.02], showgrid=False,
                    tickformat=".0%", tickvals=[0, 0.25, 0.5, 0.75, 1.0]),
        # Below the plot: a row beside the title sat under the toolbar, and the right edge holds the
        # accuracy axis.
        legend=dict(orientation="h", y=-0.3, x=0, yanchor="top"),
    )
    return fig
