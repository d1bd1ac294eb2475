"""What the Explore chart's events mean: which region is selected, which point is focused, and the view.

Kept free of Streamlit so the rules are unit-tested directly (tests/unit/test_explore_selection.py);
`ui.explore_fragment` keeps the state in `st.session_state`.

Two event sources, because `st.plotly_chart` (Streamlit 1.67) reports clicks only outside lasso
and box modes (see `ui.plotly_click`):

* the chart's selection event (read in its `on_select` callback, which runs only when the user
  changed the selection) gives lasso and box regions; an empty event is the user clearing them
  (double click); a points-only event (Plotly's select-on-click in zoom and pan modes) is not a
  region and changes nothing here;
* `ui.plotly_click` reports a click in every drag mode, with the drag mode and axis ranges then
  in use: the click sets the focus, and the redrawn chart keeps that drag mode and view.

Ringing a clicked point's neighbours changes the figure, and Streamlit gives a chart with a new
figure a new widget whose selection starts empty (no event, no callback): the region stays, and
the new figure draws its shapes again (`layout.selections`). The figure the region was drawn on
does not redraw them, so drawing a lasso never re-creates the chart (which would lose the zoom).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.views.regions import points_in_box, points_in_polygon

DRAG_MODES = ("lasso", "select", "zoom", "pan")


@dataclass(frozen=True)
class Region:
    """A lasso/box selection; `region_rows` resolves it against every row (not the drawn subsample).

    Attributes
    ----------
    lasso, box : tuple of dict
        The shapes as the chart reported them ({"x": [...], "y": [...]}), to draw them again.
    context : str
        The chart they were drawn on (selection, projection, dimensions): other coordinates drop them.
    figure_key : str
        The figure they were drawn on, which shows them already.
    """

    lasso: tuple[dict[str, list[float]], ...] = ()
    box: tuple[dict[str, list[float]], ...] = ()
    context: str = ""
    figure_key: str = ""


@dataclass(frozen=True)
class ChartView:
    """The drag mode and axis ranges the chart is redrawn with (None: the figure's default / autorange)."""

    context: str = ""
    dragmode: str | None = None
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None


def _shapes(selection: Mapping[str, Any], name: str) -> tuple[dict[str, list[float]], ...]:
    shapes = []
    for shape in selection.get(name) or []:
        if isinstance(shape, Mapping) and len(shape.get("x") or []) and len(shape.get("y") or []):
            shapes.append({"x": [float(v) for v in shape["x"]], "y": [float(v) for v in shape["y"]]})
    return tuple(shapes)


def region_rows(coords: np.ndarray, lasso: Sequence[Mapping[str, Sequence[float]]],
                box: Sequence[Mapping[str, Sequence[float]]]) -> np.ndarray:
    """Rows of `coords` inside any lasso polygon or box (union), ascending."""
    mask = np.zeros(coords.shape[0], dtype=bool)
    for shape in lasso:
        mask |= points_in_polygon(coords, shape["x"], shape["y"])
    for shape in box:
        mask |= points_in_box(coords, shape["x"], shape["y"])
    return np.flatnonzero(mask).astype(np.int64)


def region_after_event(previous: Region | None, selection: Mapping[str, Any] | None, *, context: str,
                       figure_key: str) -> Region | None:
    """The region after a selection event the user made on the chart showing `figure_key`.

    - lasso or box shapes: a new region (the previous one when the shapes are the same, e.g. the
      redrawn chart reporting the shapes it was given);
    - a points-only event (select-on-click): the previous region;
    - an empty event: None (the user cleared the selection).
    """
    selection = selection or {}
    lasso, box = _shapes(selection, "lasso"), _shapes(selection, "box")
    if lasso or box:
        if previous is not None and previous.context == context and (previous.lasso, previous.box) == (lasso, box):
            return previous
        return Region(lasso=lasso, box=box, context=context, figure_key=figure_key)
    if selection.get("points"):
        return previous
    return None


def region_in(region: Region | None, context: str) -> Region | None:
    """The region if it was drawn on this chart context (same data, projection and dimensions)."""
    return region if region is not None and region.context == context else None


def redraws_region(region: Region | None, figure_key: str) -> bool:
    """Whether the figure must draw the region's shapes: it was drawn on another figure."""
    return region is not None and region.figure_key != figure_key


def view_after_click(context: str, dragmode: str | None, x_range: tuple[float, float] | None,
                     y_range: tuple[float, float] | None) -> ChartView:
    """The view a click leaves: its drag mode (when it is one of Plotly's 2-D modes) and ranges."""
    return ChartView(context=context, dragmode=dragmode if dragmode in DRAG_MODES else None,
                     x_range=x_range, y_range=y_range)


def view_in(view: ChartView | None, context: str) -> ChartView:
    """The view to draw in `context`: the stored one if it belongs there, else the figure's defaults."""
    return view if view is not None and view.context == context else ChartView(context=context)
