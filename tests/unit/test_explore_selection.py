"""Issue 18 item 1: the rules that turn the Explore chart's events into a region, a focus and a view."""

from __future__ import annotations

import json

import numpy as np
import plotly.io as pio

from analysis.views import ColorSpec, embedding_scatter
from ui import explore_selection as rules
from ui.plotly_click import ChartClick

SQUARE = {"x": [0.0, 2.0, 2.0, 0.0], "y": [0.0, 0.0, 2.0, 2.0]}
BOX = {"x": [2.5, 3.5], "y": [-1.0, 1.0]}
COORDS = np.array([[1.0, 1.0], [3.0, 0.0], [5.0, 5.0], [0.5, 1.5], [3.0, 3.0]])


def _event(lasso=(), box=(), points=()) -> dict:
    return {"points": list(points), "point_indices": [], "lasso": list(lasso), "box": list(box)}


def test_a_lasso_or_box_event_becomes_a_region_of_the_rows_inside() -> None:
    region = rules.region_after_event(None, _event(lasso=[SQUARE], box=[BOX]), context="c", figure_key="f1")
    assert region is not None and region.figure_key == "f1" and region.context == "c"
    # rows 0 and 3 inside the square, row 1 inside the box; rows 2 and 4 in neither (hand-checked)
    assert rules.region_rows(COORDS, region.lasso, region.box).tolist() == [0, 1, 3]
    boxed = rules.region_after_event(region, _event(box=[BOX]), context="c", figure_key="f1")
    assert boxed is not None and boxed.lasso == () and boxed.box == (BOX,)
    assert rules.region_rows(COORDS, boxed.lasso, boxed.box).tolist() == [1]


def test_a_click_select_keeps_the_region_and_an_empty_event_clears_it() -> None:
    region = rules.region_after_event(None, _event(lasso=[SQUARE]), context="c", figure_key="f1")
    clicked = _event(points=[{"customdata": 4, "x": 3.0, "y": 3.0}])
    assert rules.region_after_event(region, clicked, context="c", figure_key="f2") is region
    assert rules.region_after_event(region, _event(), context="c", figure_key="f2") is None
    assert rules.region_after_event(region, None, context="c", figure_key="f1") is None


def test_the_redrawn_chart_reporting_the_same_shapes_keeps_the_region_where_it_was_drawn() -> None:
    region = rules.region_after_event(None, _event(lasso=[SQUARE]), context="c", figure_key="f1")
    again = rules.region_after_event(region, _event(lasso=[dict(SQUARE)]), context="c", figure_key="f2")
    assert again is region and again.figure_key == "f1"
    assert rules.redraws_region(region, "f2") and not rules.redraws_region(region, "f1")
    assert not rules.redraws_region(None, "f2")


def test_a_region_belongs_to_its_chart_context() -> None:
    region = rules.region_after_event(None, _event(box=[BOX]), context="data-a|PCA|2", figure_key="f")
    assert rules.region_in(region, "data-a|PCA|2") is region
    assert rules.region_in(region, "data-b|PCA|2") is None
    assert rules.region_in(region, "data-a|UMAP|2") is None


def test_a_click_keeps_its_drag_mode_and_ranges_in_its_context_only() -> None:
    view = rules.view_after_click("c", "zoom", (0.0, 1.0), None)
    assert rules.view_in(view, "c") == rules.ChartView(context="c", dragmode="zoom", x_range=(0.0, 1.0))
    assert rules.view_in(view, "other") == rules.ChartView(context="other")
    assert rules.view_after_click("c", "orbit", None, None).dragmode is None  # not a 2-D drag mode


def test_click_payloads_from_the_browser_are_checked() -> None:
    click = ChartClick.from_payload({"row": 12, "dragmode": "pan", "x_range": [-1, 2], "y_range": None})
    assert click == ChartClick(row=12, dragmode="pan", x_range=(-1.0, 2.0), y_range=None)
    assert ChartClick.from_payload({"row": 3, "dragmode": "<script>"}).dragmode is None
    assert ChartClick.from_payload({"row": 3, "x_range": [0, float("nan")]}).x_range is None
    for bad in (None, {}, {"row": -1}, {"row": "3"}, {"row": True}, {"row": float("nan")}, [3]):
        assert ChartClick.from_payload(bad) is None, bad


def _spec(fig) -> dict:
    return json.loads(pio.to_json(fig, validate=False))


def test_the_scatter_is_drawn_in_the_users_drag_mode_and_view_with_the_region_again() -> None:
    rows = np.arange(COORDS.shape[0])
    plain = _spec(embedding_scatter(COORDS, draw_rows=rows, color=ColorSpec()))["layout"]
    assert plain["dragmode"] == "lasso" and "selections" not in plain
    fig = embedding_scatter(COORDS, draw_rows=rows, color=ColorSpec(), highlight_rows=np.array([1, 3]), focus_row=0,
                            dragmode="pan", x_range=(0.0, 4.0), y_range=(-1.0, 2.0), lasso=[SQUARE], box=[BOX])
    layout = _spec(fig)["layout"]
    assert layout["dragmode"] == "pan"
    assert layout["xaxis"]["range"] == [0.0, 4.0] and layout["yaxis"]["range"] == [-1.0, 2.0]
    path, rect = layout["selections"]
    assert path["type"] == "path" and path["path"] == "M0.0,0.0L2.0,0.0L2.0,2.0L0.0,2.0Z"
    assert (rect["type"], rect["x0"], rect["x1"], rect["y0"], rect["y1"]) == ("rect", 2.5, 3.5, -1.0, 1.0)
    # the rings and the chosen point stay opaque outside the region (Plotly dims unselected points)
    by_name = {t.name: t for t in fig.data}
    assert by_name["neighbours"].unselected.marker.opacity == 1.0
    assert by_name["chosen point"].unselected.marker.opacity == 1.0
    assert by_name["points"].unselected.marker.opacity is None
