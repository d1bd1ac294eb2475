"""Figures of the sphere & spectrum page: the alignment-uniformity plane, spectra, points on the sphere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.views.style import (
    CATEGORY_COLORS,
    animation_controls,
    base_layout,
    category_color,
    escape,
    escape_all,
)

__all__ = ["alignment_uniformity_plane", "spectrum_chart", "sphere_animation"]


def alignment_uniformity_plane(
    trajectories: Mapping[str, tuple[Sequence[int], Sequence[float], Sequence[float | None]]],
    *,
    uniform_reference: float | None = None,
    height: int = 420,
) -> go.Figure:
    """Each run's path through (uniformity, alignment) over checkpoints (Wang & Isola 2020, Fig. 2).

    trajectories : mapping name -> (steps, uniformity per step, alignment per step)
    Lower-left is better: uniform and aligned. The last checkpoint is a larger marker.
    """
    fig = go.Figure()
    for i, (name, (steps, uni, ali)) in enumerate(trajectories.items()):
        colour = CATEGORY_COLORS[i % len(CATEGORY_COLORS)]
        y = [np.nan if a is None else a for a in ali]
        fig.add_trace(go.Scatter(
            x=list(uni), y=y, mode="lines+markers", name=escape(name), line=dict(color=colour, width=2),
            marker=dict(size=[6] * (len(steps) - 1) + [13], color=colour, line=dict(color="#222", width=1)),
            customdata=list(steps),
            hovertemplate=escape(name) + "<br>step %{customdata}: uniformity %{x:.3f}, alignment %{y:.3f}<extra></extra>",
        ))
    if uniform_reference is not None:
        fig.add_vline(x=uniform_reference, line=dict(color="#888", dash="dash"),
                      annotation_text="uniform on the sphere", annotation_position="top left")
    base_layout(fig, height=height, title="Alignment vs uniformity over training (lower-left is better)")
    fig.update_layout(xaxis=dict(title="uniformity  log E exp(−2‖x−y‖²)  (lower = more uniform)"),
                      yaxis=dict(title="alignment  E‖x−x⁺‖²  (lower = better aligned)"),
                      legend=dict(orientation="h", y=-0.2, x=0))
    return fig


def spectrum_chart(spectra: Mapping[str, np.ndarray], *, height: int = 360) -> go.Figure:
    """Explained-variance ratio per direction (log) and its cumulative sum, one line per label."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["Eigenvalue share (log)", "Cumulative explained variance"],
                        horizontal_spacing=0.1)
    n = len(spectra)
    for i, (label, ratio) in enumerate(spectra.items()):
        ratio = np.asarray(ratio, dtype=np.float64)
        colour = f"rgba(76,95,213,{0.25 + 0.75 * (i + 1) / n:.2f})"
        index = np.arange(1, ratio.size + 1)
        positive = ratio > 0
        fig.add_trace(go.Scatter(x=index[positive], y=ratio[positive], mode="lines", name=escape(label),
                                 line=dict(color=colour, width=2), legendgroup=label,
                                 hovertemplate="direction %{x}: %{y:.2%}<extra>" + escape(label) + "</extra>"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=index, y=np.cumsum(ratio), mode="lines", name=escape(label), showlegend=False,
                                 line=dict(color=colour, width=2), legendgroup=label,
                                 hovertemplate="first %{x}: %{y:.1%}<extra>" + escape(label) + "</extra>"),
                      row=1, col=2)
    fig.update_yaxes(type="log", dtick=1, exponentformat="power", title="share of variance", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_xaxes(title="principal direction", row=1, col=1)
    fig.update_xaxes(title="number of directions", row=1, col=2)
    base_layout(fig, height=height)
    fig.update_layout(margin=dict(t=40), legend=dict(orientation="h", y=-0.25, x=0))
    return fig


def sphere_animation(coords: np.ndarray, labels: np.ndarray | None, steps: Sequence[int],
                     names: Sequence[str] | None = None, *, start_index: int | None = None,
                     height: int = 520) -> go.Figure:
    """Unit embeddings on the circle (2-D) or sphere (3-D), one frame per checkpoint, coloured by class.

    On the circle each point gets a fixed radial jitter of up to 6 % (display only), so that
    the density of overlapping points shows.

    coords : ndarray of shape (n_frames, n_points, 2 or 3), rows already unit length.
    """
    dims = coords.shape[2]
    codes = np.zeros(coords.shape[1], dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
    colours = [category_color(int(c)) for c in codes]
    label_text = escape_all([(names[c] if names is not None and c < len(names) else str(c)) for c in codes])

    # On the circle every point sits on one line, so overlapping classes hide
    # each other: a small fixed radial jitter (display only) shows the density.
    jitter = 1.0 + np.random.default_rng(0).uniform(-0.06, 0.06, size=(coords.shape[1], 1)) if dims == 2 else 1.0

    def trace(i: int) -> go.Scatter | go.Scatter3d:
        c = coords[i] * jitter
        common = dict(mode="markers", marker=dict(size=5 if dims == 2 else 3, color=colours, opacity=0.7),
                      text=label_text, hovertemplate="class %{text}<extra></extra>")
        if dims == 2:
            return go.Scatter(x=c[:, 0], y=c[:, 1], **common)
        return go.Scatter3d(x=c[:, 0], y=c[:, 1], z=c[:, 2], **common)

    start = len(steps) - 1 if start_index is None else int(start_index)
    fig = go.Figure(data=[trace(start)], frames=[go.Frame(data=[trace(i)], name=str(s)) for i, s in enumerate(steps)])
    axis = dict(range=[-1.15, 1.15], zeroline=False, showticklabels=False, title="")
    base_layout(fig, height=height)
    if dims == 2:
        fig.add_shape(type="circle", x0=-1, y0=-1, x1=1, y1=1, line=dict(color="#BBB"))
        fig.update_layout(xaxis=axis, yaxis=dict(axis, scaleanchor="x", scaleratio=1))
    else:
        fig.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube"))
    fig.update_layout(
        showlegend=False, uirevision="sphere",
    )
    return animation_controls(fig, [(f"{s:,}" if s else "init", str(s)) for s in steps], active=start,
                              frame_ms=600)
