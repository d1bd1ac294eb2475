"""Issue 18 item 7 on Explore (AppTest): search and select points; pictures of the digits sample."""

from __future__ import annotations

import json

import numpy as np

from tests.app.pages import open_page

PAGE = "app_pages/explore.py"


def _trace(at, name: str) -> dict | None:
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return next((t for t in spec["data"] if t.get("name") == name), None)


def _table_with(at, column: str):
    return next((d.value for d in at.dataframe if column in d.value.columns), None)


def test_a_search_circles_its_matches_and_can_become_the_selection() -> None:
    at = open_page(PAGE, explore_animate=False)
    emb = at.session_state["view"].embedding
    sevens = int(np.count_nonzero(emb.labels == 7))
    at.selectbox(key="explore_search_column").set_value("label").run()
    at.text_input(key="explore_search").input("7").run()
    assert not at.exception, at.exception
    assert any(c.value == f"{sevens:,} matching points, circled in black." for c in at.caption)
    matches = _trace(at, "matches")
    assert matches is not None
    assert any(m.value == "**Selection: 0 points**" for m in at.markdown)
    at.button(key="explore_select_matches").click().run()
    assert any(m.value == f"**Selection: {sevens:,} points**" for m in at.markdown)
    table = _table_with(at, "norm")
    assert set(table["label"]) == {"7"} and len(table) == sevens
    assert table["picture"].str.startswith("data:image/png;base64,").all()  # the digits' pictures

    at.text_input(key="explore_search").input("no such thing").run()
    assert any(c.value.startswith("No point matches") for c in at.caption)
    assert _trace(at, "matches") is None
    assert at.button(key="explore_select_matches").disabled


def test_the_chosen_point_shows_its_digit_and_the_neighbours_their_pictures() -> None:
    at = open_page(PAGE, explore_animate=False)
    assert len(at.get("image")) == 0
    at.number_input(key="explore_focus_input").set_value(4).run()
    assert not at.exception, at.exception
    assert len(at.get("image")) == 1  # the chosen digit, above its neighbours
    neighbours = _table_with(at, "distance")
    assert len(neighbours) == 10 and neighbours["picture"].str.startswith("data:image/png;base64,").all()
