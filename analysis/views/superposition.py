"""Figures for superposition (Elhage et al. 2022): feature arrows, W^T W, D_i against sparsity, phases, overlaps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.views.style import (
    ACCENT,
    FONT,
    base_layout,
    category_color,
    escape,
    escape_all,
    legend_above,
)

__all__ = [
    "STICKY_FRACTIONS",
    "feature_arrows",
    "feature_dimensionality_plot",
    "gram_and_bias",
    "overlap_histograms",
    "phase_diagram_heatmap",
]

# The fractions D_i "sticks" to in the paper's Figure (1, 3/4, 2/3, 1/2, 2/5, 1/3).
STICKY_FRACTIONS: tuple[tuple[float, str], ...] = (
    (1.0, "1"), (0.75, "3/4"), (2 / 3, "2/3"), (0.5, "1/2"), (0.4, "2/5"), (1 / 3, "1/3"),
)


def _feature_names(n: int, names: Sequence[str] | None) -> list[str]:
    return escape_all(names) if names is not None else [f"feature {i}" for i in range(n)]


def feature_arrows(frames: np.ndarray, labels: Sequence[str], *, feature_names: Sequence[str] | None = None,
                   start_index: int = 0, slider_prefix: str = "", height: int = 480) -> go.Figure:
    """Each feature's direction W_i as an arrow from the origin, one frame per instance (m = 2 or 3).

    frames : ndarray of shape (n_frames, n_features, 2 or 3), rows are features (the paper's W^T).
    labels : one label per frame (e.g. the sparsity), shown on the slider.
    """
    frames = np.asarray(frames, dtype=np.float32)
    n_frames, n_features, dims = frames.shape
    if dims not in (2, 3):
        raise ValueError(f"feature_arrows draws 2-D or 3-D features; got {dims} hidden dimensions.")
    names = _feature_names(n_features, feature_names)
    colours = [category_color(i) for i in range(n_features)]

    def traces(i: int) -> list:
        W = frames[i]
        out = []
        for j in range(n_features):
            tip = W[j]
            if dims == 2:
                out.append(go.Scatter(x=[0, tip[0]], y=[0, tip[1]], mode="lines+markers", name=names[j],
                                      line=dict(color=colours[j], width=3), marker=dict(size=[0, 10]),
                                      hovertemplate=f"{names[j]}: ‖W‖ = {np.linalg.norm(tip):.2f}<extra></extra>"))
            else:
                out.append(go.Scatter3d(x=[0, tip[0]], y=[0, tip[1]], z=[0, tip[2]], mode="lines+markers",
                                        name=names[j], line=dict(color=colours[j], width=6),
                                        marker=dict(size=[0, 5], color=colours[j]),
                                        hovertemplate=f"{names[j]}: ‖W‖ = {np.linalg.norm(tip):.2f}<extra></extra>"))
        return out

    fig = go.Figure(data=traces(start_index),
                    frames=[go.Frame(data=traces(i), name=str(i)) for i in range(n_frames)] if n_frames > 1 else None)
    reach = max(1.2, float(np.abs(frames).max()) * 1.1)
    axis = dict(range=[-reach, reach], zeroline=True, zerolinecolor="#DDD", title="")
    base_layout(fig, height=height)
    if dims == 2:
        fig.update_layout(xaxis=axis, yaxis=dict(axis, scaleanchor="x", scaleratio=1))
    else:
        fig.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube"))
    legend_above(fig)  # a row of feature names, under the toolbar's strip
    if n_frames > 1:
        fig.update_layout(sliders=[dict(
            active=start_index, currentvalue=dict(prefix=slider_prefix, font=FONT), pad=dict(t=30, r=20),
            steps=[dict(label=escape(label), method="animate",
                        args=[[str(i)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                             transition=dict(duration=0))]) for i, label in enumerate(labels)],
        )])
    return fig


def gram_and_bias(W_features: np.ndarray, bias: np.ndarray, *, feature_names: Sequence[str] | None = None,
                  height: int = 340) -> go.Figure:
    """The paper's W^T W (feature x feature, W_features @ W_features.T) beside the bias of each feature."""
    W = np.asarray(W_features, dtype=np.float64)
    gram = W @ W.T
    names = _feature_names(W.shape[0], feature_names)
    limit = max(float(np.abs(gram).max()), 1e-9)
    # The colour bar sits in the gap between the panels, anchored at the heatmap's right edge: its tick
    # labels need ~45 px, so the gap is wide enough for them at a half-page chart (issue 18 item 5).
    fig = make_subplots(rows=1, cols=2, column_widths=[0.58, 0.42], subplot_titles=["WᵀW", "bias b"],
                        horizontal_spacing=0.2)
    heatmap_right = fig.layout.xaxis.domain[1]
    fig.add_trace(go.Heatmap(z=gram.astype(np.float32), x=names, y=names, zmin=-limit, zmax=limit,
                             colorscale="RdBu_r", colorbar=dict(thickness=10, x=heatmap_right + 0.02,
                                                                xanchor="left", len=0.9),
                             hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>"), row=1, col=1)
    b = np.asarray(bias, dtype=np.float64)
    fig.add_trace(go.Bar(x=b, y=names, orientation="h", marker_color=[ACCENT if v >= 0 else "#E4572E" for v in b],
                         hovertemplate="%{y}: %{x:.3f}<extra></extra>"), row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(autorange="reversed", showticklabels=False, row=1, col=2)  # same order as the heatmap
    base_layout(fig, height=height)
    fig.update_layout(showlegend=False, margin=dict(t=40))
    return fig


def feature_dimensionality_plot(feature_probability: Sequence[float], dimensionality: np.ndarray, *,
                                height: int = 400) -> go.Figure:
    """D_i of every feature against feature probability 1 - S (log axis), with the sticky fractions.

    dimensionality : ndarray of shape (n_settings, n_features).
    """
    D = np.asarray(dimensionality, dtype=np.float64)
    x = np.asarray(feature_probability, dtype=np.float64)
    fig = go.Figure()
    for value, text in STICKY_FRACTIONS:
        fig.add_hline(y=value, line=dict(color="#BBB", dash="dot"), annotation_text=text,
                      annotation_position="right", annotation_font=dict(color="#888"))
    for j in range(D.shape[1]):
        fig.add_trace(go.Scatter(x=x, y=D[:, j], mode="markers", name=f"feature {j}",
                                 marker=dict(size=9, color=category_color(j), opacity=0.8),
                                 hovertemplate=f"feature {j}<br>1 − S = %{{x:.3g}}: D = %{{y:.3f}}<extra></extra>"))
    base_layout(fig, height=height, title="Feature dimensionality against sparsity")
    # Reversed: sparser to the right, as on the arrows' slider and in the paper.
    fig.update_layout(xaxis=dict(type="log", autorange="reversed", dtick=1,
                                 title="feature probability 1 − S (right = sparser)"),
                      yaxis=dict(title="D_i (dimensions per feature)", range=[-0.05, 1.1]),
                      legend=dict(orientation="h", y=-0.2, x=0), margin=dict(r=50))
    return fig


# Keys are analysis.models.toy_superposition.PHASE_LABELS (views never import models).
PHASE_COLOURS = {"ignore second": "#9AA0AE", "dedicated to second": ACCENT, "antipodal": "#E4572E",
                 "other": "#F2C14E"}


def phase_diagram_heatmap(feature_probability: Sequence[float], relative_importance: Sequence[float],
                          phases: np.ndarray, *, theory: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                          height: int = 420) -> go.Figure:
    """Which solution each (sparsity, relative importance) cell found, as in the paper's phase diagram.

    phases : array of shape (n_importances, n_sparsities) of phase names (keys of `PHASE_COLOURS`).
    theory : optional (feature probabilities, importances, integer phase codes of shape
        (n_importances, n_probabilities)) on a finer grid; its region boundaries are drawn as black lines.
    """
    labels = np.asarray(phases, dtype=object)
    order = list(PHASE_COLOURS)
    codes = np.vectorize(lambda p: order.index(p) if p in order else np.nan, otypes=[float])(labels)
    scale = []
    for i, name in enumerate(order):
        lo, hi = i / len(order), (i + 1) / len(order)
        scale += [[lo, PHASE_COLOURS[name]], [hi, PHASE_COLOURS[name]]]
    fig = go.Figure(go.Heatmap(
        z=codes, x=np.asarray(feature_probability, dtype=np.float64), y=np.asarray(relative_importance, dtype=np.float64),
        zmin=-0.5, zmax=len(order) - 0.5, colorscale=scale, text=labels, hovertemplate=(
            "1 − S = %{x:.3g}, importance ratio %{y:.3g}: %{text}<extra></extra>"),
        colorbar=dict(tickvals=list(range(len(order))), ticktext=order, thickness=12),
    ))
    if theory is not None:
        t_p, t_r, codes_theory = theory
        fig.add_trace(go.Contour(x=np.asarray(t_p, dtype=np.float64), y=np.asarray(t_r, dtype=np.float64),
                                 z=np.asarray(codes_theory, dtype=np.float64), showscale=False, hoverinfo="skip",
                                 contours=dict(coloring="none", start=0.5, end=len(order) - 1.5, size=1),
                                 line=dict(color="#111", width=2), name="theory"))
    base_layout(fig, height=height, title="What the model does with the second feature (n = 2, m = 1)")
    fig.update_layout(xaxis=dict(type="log", dtick=1, autorange="reversed",
                                 title="feature probability 1 − S (right = sparser)"),
                      yaxis=dict(type="log", dtick=1, title="relative importance of feature 2"))
    return fig


def overlap_histograms(squared_overlaps: np.ndarray, random_expectation: float, dimensionality: np.ndarray, *,
                       height: int = 340) -> go.Figure:
    """Squared overlaps between normalised feature directions (vs 1/d for random ones), and the D_i histogram."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["Squared overlaps (W_i · W_j)²", "Feature dimensionality D_i"],
                        horizontal_spacing=0.1)
    fig.add_trace(go.Histogram(x=np.asarray(squared_overlaps, dtype=np.float32), nbinsx=60, marker_color=ACCENT,
                               hovertemplate="%{x}: %{y} pairs<extra></extra>"), row=1, col=1)
    fig.add_vline(x=random_expectation, line=dict(color="#E4572E", dash="dash"), row=1, col=1,
                  annotation_text="random: 1/d", annotation_position="top right")
    fig.add_trace(go.Histogram(x=np.asarray(dimensionality, dtype=np.float32), nbinsx=40, marker_color="#5B6173",
                               hovertemplate="D = %{x}: %{y} features<extra></extra>"), row=1, col=2)
    fig.update_yaxes(type="log", title="pairs", row=1, col=1)
    fig.update_yaxes(title="features", row=1, col=2)
    base_layout(fig, height=height)
    fig.update_layout(showlegend=False, bargap=0.02, margin=dict(t=40))
    return fig
