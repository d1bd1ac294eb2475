"""Which rows a lasso or box drawn on a 2-D projection contains.

The Explore page draws at most a subsample of the points (WebGL and the
browser's selection events slow down with every drawn point), so a selection is
resolved here, on the server, against all rows' projected coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def points_in_polygon(coords: np.ndarray, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
    """Boolean mask of the rows of `coords` inside the polygon (xs, ys).

    Even-odd ray casting, vectorised over points and looped over the polygon's
    edges (a lasso has a few hundred vertices, so n x m work stays small).
    Written by hand because no dependency we ship (scipy, scikit-learn) offers
    point-in-polygon; matplotlib's Path would add a large dependency for 15 lines.

    Parameters
    ----------
    coords : ndarray of shape (n_samples, 2)
    xs, ys : sequences of float of equal length >= 3
        The polygon's vertices in order; it is closed implicitly.

    Returns
    -------
    ndarray of bool, shape (n_samples,)
    """
    px = np.asarray(coords[:, 0], dtype=np.float64)
    py = np.asarray(coords[:, 1], dtype=np.float64)
    vx = np.asarray(xs, dtype=np.float64)
    vy = np.asarray(ys, dtype=np.float64)
    if vx.shape != vy.shape or vx.ndim != 1:
        raise ValueError("polygon xs and ys must be 1-D sequences of the same length.")
    inside = np.zeros(px.shape[0], dtype=bool)
    if vx.size < 3:
        return inside
    j = vx.size - 1
    for i in range(vx.size):
        xi, yi, xj, yj = vx[i], vy[i], vx[j], vy[j]
        crosses = (yi > py) != (yj > py)
        if yj != yi:
            x_at = (xj - xi) * (py - yi) / (yj - yi) + xi
            inside ^= crosses & (px < x_at)
        j = i
    return inside


def points_in_box(coords: np.ndarray, x_range: Sequence[float], y_range: Sequence[float]) -> np.ndarray:
    """Boolean mask of the rows of `coords` inside the axis-aligned box."""
    x0, x1 = sorted(float(v) for v in x_range)
    y0, y1 = sorted(float(v) for v in y_range)
    x = coords[:, 0]
    y = coords[:, 1]
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
