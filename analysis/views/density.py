"""The density image of every row under the Explore scatter's subsample (issue 17).

`analysis.panels.explore.density_image` counts the rows per pixel with
datashader; here the counts are shaded (datashader's ``tf.shade``, histogram
equalisation so both the dense cores and the sparse tails show) and put under
the markers as a Plotly layout image whose corners are the aggregate's extent,
so pixel (i, j) covers exactly the data coordinates it counted. A layout image,
not a trace: it takes no part in hover, legend or the lasso, and costs the
browser one PNG instead of a heat map's numbers.
"""

from __future__ import annotations

import base64
import io
from typing import Protocol

import numpy as np
import plotly.graph_objects as go

# Light to dark grey: a backdrop the category colours stay readable on.
DENSITY_COLORS = ("#A9B0BF", "#3B4152")
# Alpha of the sparsest non-empty pixel (255 for the densest); empty pixels are fully transparent.
MIN_ALPHA = 150
DENSITY_NAME = "density of all rows"


class DensityCounts(Protocol):
    """What `density_layer` reads (`analysis.panels.explore.DensityImage` has these)."""

    counts: np.ndarray
    x_range: tuple[float, float]
    y_range: tuple[float, float]


def shade_counts(counts: np.ndarray, *, how: str = "eq_hist") -> np.ndarray:
    """RGBA uint8 image of shape (height, width, 4), row 0 at the top (the largest y).

    ``counts`` has row 0 at the bottom (datashader's aggregate order); ``how`` is
    `datashader.transfer_functions.shade`'s ("eq_hist", "log" or "linear").
    """
    import datashader.transfer_functions as tf
    import xarray as xr

    counts = np.asarray(counts)
    height, width = counts.shape
    agg = xr.DataArray(counts, dims=("y", "x"), coords={"y": np.arange(height), "x": np.arange(width)})
    if not counts.any():
        return np.zeros((height, width, 4), dtype=np.uint8)
    shaded = tf.shade(agg, cmap=list(DENSITY_COLORS), how=how, min_alpha=MIN_ALPHA)
    rgba = np.ascontiguousarray(shaded.values).view(np.uint8).reshape(height, width, 4)
    return rgba[::-1].copy()  # top row first, as images are stored


def png_data_uri(rgba: np.ndarray) -> str:
    """A PNG data URI of an RGBA uint8 image (Pillow)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(rgba, dtype=np.uint8), mode="RGBA").save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def density_layer(fig: go.Figure, density: DensityCounts, *, how: str = "eq_hist") -> go.Figure:
    """Put the shaded counts under `fig`'s traces, stretched over exactly the aggregate's extent.

    The x and y axes are set to the extent too, so undrawn rows at the edges are never clipped
    (Plotly's autorange sees only the drawn markers); with an equal-aspect y axis Plotly widens
    one of the ranges, never narrows it.
    """
    (x0, x1), (y0, y1) = (tuple(float(v) for v in density.x_range), tuple(float(v) for v in density.y_range))
    fig.add_layout_image(
        source=png_data_uri(shade_counts(density.counts, how=how)),
        xref="x", yref="y", x=x0, y=y1, sizex=x1 - x0, sizey=y1 - y0,
        xanchor="left", yanchor="top", sizing="stretch", layer="below", name=DENSITY_NAME,
    )
    fig.update_xaxes(range=[x0, x1])
    fig.update_yaxes(range=[y0, y1])
    return fig
