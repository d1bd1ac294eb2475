"""Issue 18 items 1 and 6 on the Explore page (AppTest): what a click, a region and new data do.

AppTest runs no JavaScript, so a click is what `ui.plotly_click`'s callback stores (the focused row
and the drag mode and ranges it was made in) and a lasso what the chart's on_select callback stores;
the browser half is tests/e2e/test_explore_click_e2e.py.
"""

from __future__ import annotations

import json

from tests.app.pages import open_page
from ui import explore_selection as rules
from ui.explore_fragment import CHART_VIEW, FOCUS, FOCUS_INPUT, REGION

PAGE = "app_pages/explore.py"


def _chart_layout(at) -> dict:
    chart = at.get("plotly_chart")[0]
    return json.loads(chart.proto.spec)["layout"]


def _context(at) -> str:
    return f"{at.session_state['view'].data_key}|PCA|2"


def _neighbour_caption(at) -> str | None:
    return next((c.value for c in at.caption if "nearest neighbours of id" in c.value), None)


def test_no_point_is_chosen_until_one_is_clicked() -> None:
    at = open_page(PAGE, explore_animate=False)
    assert not at.exception, at.exception
    assert at.number_input(key=FOCUS_INPUT).value is None  # an empty box, not row 0
    assert _neighbour_caption(at) is None
    assert _chart_layout(at)["dragmode"] == "lasso"


def test_a_click_in_zoom_mode_lists_neighbours_and_keeps_the_mode_and_view() -> None:
    at = open_page(PAGE, explore_animate=False)
    context = _context(at)
    at.session_state[FOCUS] = 42
    at.session_state[CHART_VIEW] = rules.view_after_click(context, "zoom", (-1.0, 1.5), (-2.0, 0.5))
    at.run()
    assert not at.exception, at.exception
    ids = at.session_state["view"].embedding.metadata["id"].to_list()
    assert _neighbour_caption(at) == f"The 10 nearest neighbours of id {ids[42]}, ringed in the chart."
    assert at.number_input(key=FOCUS_INPUT).value == 42
    layout = _chart_layout(at)
    assert layout["dragmode"] == "zoom"
    assert layout["xaxis"]["range"] == [-1.0, 1.5] and layout["yaxis"]["range"] == [-2.0, 0.5]
    at.number_input(key=FOCUS_INPUT).set_value(7).run()  # typing a row still works
    assert _neighbour_caption(at) == f"The 10 nearest neighbours of id {ids[7]}, ringed in the chart."


def test_a_region_stays_listed_after_a_click_and_is_drawn_again_until_cleared() -> None:
    at = open_page(PAGE, explore_animate=False)
    n = at.session_state["view"].embedding.n_samples
    everything = {"x": [-1e6, 1e6], "y": [-1e6, 1e6]}
    # A box drawn on an earlier figure (before the click redrew the chart with the rings).
    at.session_state[REGION] = rules.Region(box=(everything,), context=_context(at), figure_key="an earlier figure")
    at.session_state[FOCUS] = 3
    at.run()
    assert not at.exception, at.exception
    assert any(m.value == f"**Selection: {n:,} points**" for m in at.markdown)
    assert _neighbour_caption(at) is not None
    (drawn,) = _chart_layout(at)["selections"]
    assert drawn["type"] == "rect" and drawn["x0"] == -1e6
    at.button(key="explore_clear_selection").click().run()
    assert any(m.value == "**Selection: 0 points**" for m in at.markdown)
    assert "selections" not in _chart_layout(at)


def test_a_focus_is_not_carried_to_other_data() -> None:
    at = open_page(PAGE, explore_animate=False)
    at.number_input(key=FOCUS_INPUT).set_value(5).run()
    assert _neighbour_caption(at) is not None
    at.session_state["split"] = "test"  # other rows: row 5 is another sample
    at.session_state["view"] = None
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["view"].split == "test"
    assert at.session_state[FOCUS] is None
    assert at.number_input(key=FOCUS_INPUT).value is None
    assert _neighbour_caption(at) is None
