"""Figures of the neural-collapse page: metrics over training, heatmaps, class-mean geometry."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.views.style import animation_controls, base_layout, category_color, escape, escape_all

__all__ = [
    "NC_PANELS",
    "class_means_animation",
    "collapse_heatmap",
    "gram_comparison",
    "imbalance_panel",
    "nc_over_training",
]

# (panel title, [(metric column, legend name)]): NC1..NC4 as in Papyan et al. 2020, Fig. 2-7.
NC_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("NC1 · within-class variability", (("nc1", "Tr(Σ_W Σ_B⁺)/C"),)),
    ("NC2 · distance to simplex ETF", (("etf_distance", "ETF distance"), ("nc2_equinorm", "equinorm"))),
    ("NC3 · classifier ↔ class means", (("nc3", "‖W/‖W‖ − M/‖M‖‖²"),)),
    ("NC4 · NCC ≠ network", (("nc4", "mismatch share"),)),
)
_SPLIT_STYLE = {"train": dict(dash="solid"), "test": dict(dash="dot")}
_SERIES_COLOURS = ("#4C5FD5", "#E4572E")


def _log_step_axis(steps: Sequence[int]) -> tuple[list[float], dict]:
    """x positions on a log axis with step 0 ("init") half a decade before the first step."""
    positive = [s for s in steps if s > 0]
    if not positive:
        return [1.0 for _ in steps], dict(type="log", tickvals=[1.0], ticktext=["init"])
    init_at = min(positive) / math.sqrt(10)
    # Decade ticks, skipping any that would crowd the "init" label.
    decades = [10.0**e for e in range(0, int(math.log10(max(positive))) + 1) if 10.0**e >= 3 * init_at]
    xs = [float(s) if s > 0 else init_at for s in steps]
    return xs, dict(type="log", tickvals=[init_at, *decades], tickangle=0,
                    ticktext=["init", *(f"{int(t):,}" for t in decades)])


def nc_over_training(
    steps: Sequence[int],
    series: Mapping[str, Mapping[str, Sequence[float | None]]],
    *,
    marked_step: int | None = None,
    height: int = 330,
) -> go.Figure:
    """NC1-NC4 against optimiser step (log axis), one panel each, train solid and test dotted.

    Parameters
    ----------
    steps : sequence of int
        Checkpoint steps (0 is drawn as "init").
    series : mapping split -> mapping metric column -> values (None where undefined)
    marked_step : int, optional
        The checkpoint shown elsewhere on the page, marked with a vertical line.
    """
    xs, xaxis = _log_step_axis(steps)
    fig = make_subplots(rows=1, cols=len(NC_PANELS), subplot_titles=[p[0] for p in NC_PANELS],
                        horizontal_spacing=0.06)
    for col, (_, metrics) in enumerate(NC_PANELS, start=1):
        drawn = len(fig.data)
        for colour, (column, legend) in zip(_SERIES_COLOURS, metrics, strict=False):
            for split, values_by_metric in series.items():
                values = values_by_metric.get(column)
                if values is None or all(v is None for v in values):
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=xs, y=[np.nan if v is None else v for v in values], mode="lines+markers",
                        name=f"{legend} ({split})", legendgroup=f"{column}-{split}",
                        line=dict(color=colour, width=2, **_SPLIT_STYLE.get(split, {})),
                        marker=dict(size=5), showlegend=False,
                        hovertemplate=f"{escape(legend)} ({escape(split)})<br>step %{{customdata}}: %{{y:.4g}}<extra></extra>",
                        customdata=list(steps),
                    ),
                    row=1, col=col,
                )
        fig.update_xaxes(**xaxis, row=1, col=col)
        if len(fig.data) == drawn:  # e.g. NC3 away from the layer that feeds the classifier
            fig.add_annotation(text="not defined here<br>(needs the classifier,<br>last layer only)",
                               showarrow=False, font=dict(color="#888", size=12), xref=f"x{col} domain",
                               yref=f"y{col} domain", x=0.5, y=0.5)
        if col in (1, 3):  # NC1 and NC3 span decades: log axis, decade ticks only
            fig.update_yaxes(type="log", dtick=1, row=1, col=col)
        if marked_step is not None and marked_step in steps:
            fig.add_vline(x=xs[list(steps).index(marked_step)], line=dict(color="#888", dash="dash"),
                          row=1, col=col)
    base_layout(fig, height=height)
    fig.update_layout(margin=dict(t=40, b=10))
    fig.update_annotations(font=dict(size=13))
    return fig


def collapse_heatmap(
    layers: Sequence[str],
    steps: Sequence[int],
    values: np.ndarray,
    *,
    metric: str = "NC1",
    log: bool = True,
    height: int = 260,
) -> go.Figure:
    """Layer x checkpoint heatmap of one metric (log10 colour by default): where collapse starts.

    values : ndarray of shape (n_layers, n_steps); NaN cells are left blank.
    """
    values = np.asarray(values, dtype=np.float64)
    shown = np.log10(np.where(values > 0, values, np.nan)) if log else values
    text = [[("" if not np.isfinite(v) else f"{v:.3g}") for v in row] for row in values]
    fig = go.Figure(
        go.Heatmap(
            z=shown, x=[f"{s:,}" if s else "init" for s in steps], y=escape_all(layers),
            text=text, texttemplate="%{text}", colorscale="Viridis_r",
            colorbar=dict(title=f"log₁₀ {metric}" if log else metric, thickness=12),
            hovertemplate="layer %{y}, step %{x}<br>" + escape(metric) + " %{text}<extra></extra>",
        )
    )
    base_layout(fig, height=height, title=f"{metric} per layer and checkpoint (yellow = most collapsed)")
    fig.update_layout(xaxis=dict(title="checkpoint (optimiser step)", type="category"),
                      yaxis=dict(title="layer", autorange="reversed", type="category"))
    return fig


def gram_comparison(gram: np.ndarray, target: np.ndarray, names: Sequence[str], *,
                    height: int = 340) -> go.Figure:
    """The normalised Gram matrix of centred class means beside the simplex-ETF target.

    Both on one diverging colour scale centred at 0, so a collapsed model's
    matrix looks like the target: a bright diagonal and equal negative cells.
    """
    limit = float(max(np.abs(gram).max(), np.abs(target).max()))
    labels = escape_all(names)
    fig = make_subplots(rows=1, cols=2, subplot_titles=["Model: MᵀM / ‖MᵀM‖_F", "Simplex ETF target"],
                        horizontal_spacing=0.08)
    for col, matrix in ((1, gram), (2, target)):
        fig.add_trace(
            go.Heatmap(z=np.asarray(matrix, dtype=np.float32), x=labels, y=labels, zmin=-limit, zmax=limit,
                       colorscale="RdBu_r", showscale=col == 2, colorbar=dict(thickness=12),
                       hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>"),
            row=1, col=col,
        )
        fig.update_yaxes(autorange="reversed", type="category", scaleanchor=f"x{col}", row=1, col=col)
        fig.update_xaxes(type="category", row=1, col=col)
    base_layout(fig, height=height)
    fig.update_layout(margin=dict(t=40))
    return fig


def class_means_animation(
    sample_coords: np.ndarray,
    mean_coords: np.ndarray,
    sample_labels: np.ndarray,
    steps: Sequence[int],
    names: Sequence[str],
    *,
    start_index: int | None = None,
    height: int = 560,
) -> go.Figure:
    """3-D class means (large, labelled, joined to the centre) and their samples, one frame per checkpoint.

    sample_coords : ndarray of shape (n_frames, m, 3)
    mean_coords : ndarray of shape (n_frames, n_classes, 3)
    """
    n_frames = len(steps)
    names = escape_all(names)
    colours = [category_color(int(c)) for c in sample_labels]
    mean_colours = [category_color(c) for c in range(mean_coords.shape[1])]
    hover = [names[int(c)] for c in sample_labels]

    def traces(i: int) -> list[go.Scatter3d]:
        s, m = sample_coords[i], mean_coords[i]
        spokes = np.full((3 * m.shape[0], 3), np.nan, dtype=np.float32)
        spokes[0::3] = 0.0
        spokes[1::3] = m
        return [
            go.Scatter3d(x=s[:, 0], y=s[:, 1], z=s[:, 2], mode="markers", name="samples",
                         marker=dict(size=2.5, color=colours, opacity=0.55), text=hover,
                         hovertemplate="class %{text}<extra>sample</extra>"),
            go.Scatter3d(x=spokes[:, 0], y=spokes[:, 1], z=spokes[:, 2], mode="lines", name="centre → mean",
                         line=dict(color="#555", width=3), hoverinfo="skip"),
            go.Scatter3d(x=m[:, 0], y=m[:, 1], z=m[:, 2], mode="markers+text", name="class means",
                         text=names, textposition="top center", textfont=dict(size=13),
                         marker=dict(size=7, color=mean_colours, symbol="diamond", line=dict(color="#222", width=1)),
                         hovertemplate="mean of class %{text}<extra></extra>"),
        ]

    start = n_frames - 1 if start_index is None else int(start_index)
    animated = n_frames > 1  # a single embedding has nothing to animate
    fig = go.Figure(data=traces(start),
                    frames=[go.Frame(data=traces(i), name=str(step)) for i, step in enumerate(steps)] if animated else None)
    # Sized to the means (unit RMS length by construction), not to the samples:
    # early checkpoints' spread-out samples may leave the box, which is the point.
    reach = 1.6 * float(np.nanmax(np.abs(mean_coords))) if mean_coords.size else 1.0
    axis = dict(range=[-reach, reach], title="", showticklabels=False, backgroundcolor="#F7F8FB")
    base_layout(fig, height=height)
    fig.update_layout(
        scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube"),
        uirevision="class-means", showlegend=False, margin=dict(l=0, r=0, t=10, b=0),
    )
    if not animated:
        return fig
    return animation_controls(fig, [(f"{s:,}" if s else "init", str(s)) for s in steps], active=start,
                              frame_ms=700)


def imbalance_panel(counts: Sequence[int], mean_norms: Sequence[float], nc1_share: Sequence[float],
                    names: Sequence[str], *, height: int = 320) -> go.Figure:
    """Class size against class-mean norm, and against each class's share of NC1."""
    labels = escape_all(names)
    colours = [category_color(i) for i in range(len(labels))]
    fig = make_subplots(rows=1, cols=2, subplot_titles=["Class-mean norm ‖μ_c − μ_G‖", "Share of NC1"],
                        horizontal_spacing=0.1)
    for col, values, fmt in ((1, mean_norms, ".3g"), (2, nc1_share, ".1%")):
        fig.add_trace(
            go.Scatter(x=list(counts), y=list(values), mode="markers+text", text=labels,
                       textposition="top center", marker=dict(size=11, color=colours, line=dict(color="#222", width=1)),
                       hovertemplate="class %{text}: %{x} samples, %{y:" + fmt + "}<extra></extra>"),
            row=1, col=col,
        )
        fig.update_xaxes(title="samples in class", row=1, col=col)
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    base_layout(fig, height=height)
    fig.update_layout(showlegend=False, margin=dict(t=40))
    fig.update_traces(cliponaxis=False)
    return fig
