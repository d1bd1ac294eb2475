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


def _png(value: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((4, 4), value, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_uploads_image_and_text_columns_are_shown_for_its_points() -> None:
    import polars as pl

    from analysis.data import Embedding
    from ui.state import Source

    rng = np.random.default_rng(0)
    n = 40
    meta = pl.DataFrame({"text": [f"sentence {i} about {'cats' if i % 2 else 'dogs'}" for i in range(n)],
                         "image": [_png(6 * i) for i in range(n)]})
    emb = Embedding(X=rng.normal(size=(n, 5)).astype(np.float32), metadata=meta, name="pictures")
    upload = Source(key="upload:pictures", label="pictures", origin="upload", embedding=emb)
    at = open_page(PAGE, uploads={upload.key: upload}, source_key=upload.key)
    assert not at.exception, at.exception
    assert at.session_state["view"].source.key == upload.key
    assert "image" not in at.selectbox(key="explore_search_column").options  # bytes are not searched
    at.text_input(key="explore_search").input("cats").run()
    assert any(c.value == f"{n // 2} matching points, circled in black." for c in at.caption)
    at.number_input(key="explore_focus_input").set_value(3).run()
    assert not at.exception, at.exception
    assert len(at.get("image")) == 1  # the chosen point's picture
    assert any(t.value == "sentence 3 about cats" for t in at.text)  # and its text
    neighbours = _table_with(at, "distance")
    assert "image" not in neighbours.columns  # the bytes are shown as pictures, not as a column
    assert neighbours["picture"].str.startswith("data:image/png;base64,").all()
    assert "image" not in at.selectbox(key="explore_colour").options
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    hover = next(h for t in spec["data"] for h in (t.get("text") or []) if h.startswith("<b>id 3</b>"))
    assert "text: sentence 3 about cats" in hover and "image" not in hover
