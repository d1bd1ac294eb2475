"""Point-cloud figures for the Explore page: one projection, or its animation over training.

Performance notes (measured in headless Chromium, see README): the browser's
cost of a selection grows with the number of *drawn* points, so callers draw a
subsample (`draw_rows`) and, above it, a density image of all rows underneath.
Selections are resolved against all rows on the server (analysis.views.regions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from analysis.views.density import DensityCounts, density_layer
from analysis.views.style import (
    ACCENT,
    CONTINUOUS_SCALE,
    TOP_MARGIN,
    base_layout,
    category_color,
    escape,
)


@dataclass(frozen=True)
class ColorSpec:
    """How to colour points.

    kind "category": `values` are int codes into `names`; "continuous": float
    values with a colour bar; "none": one colour.
    """

    kind: str = "none"
    values: np.ndarray | None = None
    names: tuple[str, ...] = ()
    title: str = ""


# HDBSCAN's noise rows (`analysis.panels.explore.colouring`: the category "noise" of the "cluster" colouring).
NOISE_GREY = "#B8B8B8"


def _category_colour(color: ColorSpec, code: int) -> str:
    """A category's colour; clustering noise is grey, not a cluster's colour."""
    if color.title == "cluster" and code < len(color.names) and color.names[code] == "noise":
        return NOISE_GREY
    return category_color(code)


def _axis_titles(method: str, dims: int) -> list[str]:
    return [f"{method} {i + 1}" for i in range(dims)]


def _marker_trace(
    coords: np.ndarray,
    rows: np.ndarray,
    hover: Sequence[str] | None,
    *,
    name: str,
    marker: dict,
    showlegend: bool = True,
) -> go.Scattergl | go.Scatter3d:
    pts = coords[rows].astype(np.float32, copy=False)
    common = dict(
        mode="markers",
        name=name,
        customdata=rows.astype(np.int64),
        marker=marker,
        showlegend=showlegend,
        text=None if hover is None else list(hover),
        hovertemplate="%{text}<extra></extra>" if hover is not None else "id %{customdata}<extra></extra>",
    )
    if coords.shape[1] == 3:
        return go.Scatter3d(x=pts[:, 0], y=pts[:, 1], z=pts[:, 2], **common)
    return go.Scattergl(x=pts[:, 0], y=pts[:, 1], **common)


def embedding_scatter(
    coords: np.ndarray,
    *,
    draw_rows: np.ndarray,
    color: ColorSpec,
    hover: Sequence[str] | None = None,
    density: DensityCounts | None = None,
    highlight_rows: np.ndarray | None = None,
    focus_row: int | None = None,
    method: str = "PCA",
    marker_size: float = 5.0,
    height: int = 620,
    uirevision: str = "explore",
    highlight_name: str = "neighbours",
    dragmode: str | None = None,
    x_range: Sequence[float] | None = None,
    y_range: Sequence[float] | None = None,
    lasso: Sequence[dict] = (),
    box: Sequence[dict] = (),
    match_rows: np.ndarray | None = None,
) -> go.Figure:
    """Scatter of a 2-D or 3-D projection.

    Parameters
    ----------
    coords : ndarray of shape (n_samples, 2 or 3)
        Projected coordinates of all rows.
    draw_rows : ndarray of int, shape (n_drawn,)
        Rows drawn as markers; `customdata` carries these row ids.
    color : ColorSpec
        Colours for all n rows (indexed by row id).
    hover : sequence of str, optional
        Escaped hover text for each drawn row, aligned with `draw_rows`.
    density : DensityImage, optional
        Counts of all rows per pixel (`analysis.panels.explore.density_image`), drawn under the
        markers as an image spanning exactly its extent, which becomes the axis ranges (2-D only).
    highlight_rows, focus_row
        Rows ringed (named `highlight_name` in the legend), and the chosen point.
    dragmode, x_range, y_range
        The drag mode (default "lasso") and axis ranges (default: autorange, or the density
        image's extent) to draw with: the user's, when the chart is redrawn after a click (2-D).
    match_rows : ndarray of int, optional
        Rows a search matched, circled in black ("matches" in the legend) above the other markers.
    lasso, box
        Selection shapes ({"x": [...], "y": [...]}, as Streamlit reports them) drawn again as
        `layout.selections`, so a redrawn chart still shows the region its table lists (2-D).
    """
    dims = coords.shape[1]
    draw_rows = np.asarray(draw_rows, dtype=np.int64)
    hover_arr = None if hover is None else np.asarray(hover, dtype=object)
    fig = go.Figure()
    size = marker_size if dims == 2 else max(2.0, marker_size * 0.6)
    if color.kind == "category" and color.values is not None:
        codes = np.asarray(color.values)[draw_rows]
        for code in np.unique(codes):
            sel = codes == code
            name = color.names[code] if code < len(color.names) else str(code)
            fig.add_trace(
                _marker_trace(
                    coords,
                    draw_rows[sel],
                    None if hover_arr is None else hover_arr[sel],
                    name=escape(name),
                    marker=dict(size=size, color=_category_colour(color, int(code)), opacity=0.85),
                )
            )
    elif color.kind == "continuous" and color.values is not None:
        values = np.asarray(color.values, dtype=np.float32)[draw_rows]
        fig.add_trace(
            _marker_trace(
                coords,
                draw_rows,
                hover_arr,
                name=escape(color.title),
                showlegend=False,
                marker=dict(
                    size=size,
                    color=values,
                    colorscale=CONTINUOUS_SCALE,
                    opacity=0.85,
                    colorbar=dict(title=dict(text=escape(color.title)), thickness=12),
                ),
            )
        )
    else:
        fig.add_trace(
            _marker_trace(
                coords, draw_rows, hover_arr, name="points", showlegend=False,
                marker=dict(size=size, color=ACCENT, opacity=0.8),
            )
        )
    if match_rows is not None and len(match_rows):
        fig.add_trace(
            _marker_trace(
                coords, np.asarray(match_rows, dtype=np.int64), None, name="matches",
                marker=dict(size=size * 1.8, color="rgba(0,0,0,0)", line=dict(color="#111111", width=1.5)),
            )
        )
        _never_dimmed(fig.data[-1])
    if highlight_rows is not None and len(highlight_rows):
        fig.add_trace(
            _marker_trace(
                coords, np.asarray(highlight_rows, dtype=np.int64), None, name=escape(highlight_name),
                marker=dict(size=size * 2.2, color="rgba(0,0,0,0)", line=dict(color="#E4572E", width=2)),
            )
        )
        _never_dimmed(fig.data[-1])
    if focus_row is not None:
        fig.add_trace(
            _marker_trace(
                coords, np.asarray([focus_row], dtype=np.int64), None, name="chosen point",
                marker=dict(size=size * 3, color="#E4572E", symbol="x" if dims == 2 else "diamond"),
            )
        )
        _never_dimmed(fig.data[-1])
    base_layout(fig, height=height)
    titles = _axis_titles(method, dims)
    if dims == 3:
        fig.update_layout(
            scene=dict(xaxis_title=titles[0], yaxis_title=titles[1], zaxis_title=titles[2]),
            uirevision=uirevision,
        )
    else:
        fig.update_layout(
            xaxis=dict(title=titles[0], zeroline=False),
            yaxis=dict(title=titles[1], zeroline=False, scaleanchor="x", scaleratio=1),
            dragmode=dragmode or "lasso",
            uirevision=uirevision,
            hovermode="closest",
        )
        if density is not None:
            density_layer(fig, density)
        if x_range is not None:
            fig.update_xaxes(range=[float(v) for v in x_range], autorange=False)
        if y_range is not None:
            fig.update_yaxes(range=[float(v) for v in y_range], autorange=False)
        shapes = [_selection_path(s["x"], s["y"]) for s in lasso] + [_selection_rect(s["x"], s["y"]) for s in box]
        if shapes:
            fig.update_layout(selections=shapes)
    return fig


def _never_dimmed(trace: go.Scattergl | go.Scatter3d) -> None:
    """Keep a marker layer (rings, the chosen point) at full opacity outside a lasso: Plotly dims every
    trace's unselected points, and the chosen point is often outside the region."""
    if isinstance(trace, go.Scattergl):
        trace.unselected = dict(marker=dict(opacity=1.0))


def _selection_path(xs: Sequence[float], ys: Sequence[float]) -> dict:
    """A lasso polygon as a Plotly layout selection (an SVG path in data coordinates)."""
    vertices = "L".join(f"{float(x)!r},{float(y)!r}" for x, y in zip(xs, ys, strict=True))
    return dict(type="path", path=f"M{vertices}Z", xref="x", yref="y")


def _selection_rect(xs: Sequence[float], ys: Sequence[float]) -> dict:
    """A box as a Plotly layout selection."""
    return dict(type="rect", x0=float(min(xs)), x1=float(max(xs)), y0=float(min(ys)), y1=float(max(ys)),
                xref="x", yref="y")


def animated_scatter(
    frames_coords: Sequence[np.ndarray],
    steps: Sequence[int],
    *,
    draw_rows: np.ndarray,
    color: ColorSpec,
    method: str = "PCA",
    height: int = 560,
    frame_ms: int = 600,
) -> go.Figure:
    """A 2-D projection animated over checkpoints, with a play button and a step slider.

    `frames_coords[i]` holds all rows at `steps[i]`, already aligned to the
    previous step (Procrustes) so the cloud neither flips nor spins. Axis ranges
    are fixed over all frames so motion is real motion.
    """
    draw_rows = np.asarray(draw_rows, dtype=np.int64)
    if color.kind == "category" and color.values is not None:
        codes = np.asarray(color.values)[draw_rows]
        groups = [(escape(color.names[c] if c < len(color.names) else c), codes == c) for c in np.unique(codes)]
        group_colors = [category_color(int(c)) for c in np.unique(codes)]
    else:
        groups = [("points", np.ones(draw_rows.size, dtype=bool))]
        group_colors = [ACCENT]

    def traces(coords: np.ndarray) -> list[go.Scattergl]:
        out = []
        for (name, sel), col in zip(groups, group_colors, strict=True):
            rows = draw_rows[sel]
            pts = coords[rows].astype(np.float32)
            out.append(
                go.Scattergl(
                    x=pts[:, 0], y=pts[:, 1], mode="markers", name=name, customdata=rows,
                    marker=dict(size=4, color=col, opacity=0.85),
                    hovertemplate="id %{customdata}<extra>" + name + "</extra>",
                )
            )
        return out

    stacked = np.concatenate([c[draw_rows, :2] for c in frames_coords])
    lo, hi = stacked.min(axis=0), stacked.max(axis=0)
    pad = 0.05 * (hi - lo + 1e-9)
    fig = go.Figure(
        data=traces(frames_coords[-1]),
        frames=[go.Frame(data=traces(c), name=str(s)) for c, s in zip(frames_coords, steps, strict=True)],
    )
    slider_steps = [
        dict(
            method="animate",
            label=str(s),
            args=[[str(s)], dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))],
        )
        for s in steps
    ]
    base_layout(fig, height=height)
    fig.update_layout(
        xaxis=dict(range=[lo[0] - pad[0], hi[0] + pad[0]], title=f"{method} 1", zeroline=False),
        yaxis=dict(range=[lo[1] - pad[1], hi[1] + pad[1]], title=f"{method} 2", zeroline=False),
        margin=dict(l=10, r=10, t=TOP_MARGIN, b=90),  # the toolbar's strip stays clear of the legend
        updatemenus=[
            dict(
                type="buttons", direction="left", x=0.0, y=-0.16, xanchor="left", yanchor="top",
                showactive=False,
                buttons=[
                    dict(label="▶ Play", method="animate",
                         args=[None, dict(frame=dict(duration=frame_ms, redraw=True),
                                          transition=dict(duration=0), fromcurrent=True)]),
                    dict(label="❚❚ Pause", method="animate",
                         args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))]),
                ],
            )
        ],
        sliders=[
            dict(
                active=len(steps) - 1, x=0.18, y=-0.08, len=0.82, xanchor="left", yanchor="top",
                # The current step reads on the right, clear of the play buttons on the left.
                currentvalue=dict(prefix="step ", xanchor="right", font=dict(size=13)), steps=slider_steps,
            )
        ],
    )
    return fig


def add_points(fig: go.Figure, coords: np.ndarray, rows: np.ndarray, *, name: str, marker: dict) -> go.Figure:
    """Overlay chosen rows of a projection as one more marker layer (e.g. codebook entries)."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size:
        fig.add_trace(_marker_trace(coords, rows, None, name=escape(name), marker=marker))
    return fig
