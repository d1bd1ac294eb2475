"""The Explore glue: selections resolve against all rows; hover text is escaped."""

from __future__ import annotations

import numpy as np
import polars as pl

from analysis.data import Embedding
from ui import explore


def _emb() -> Embedding:
    X = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    meta = pl.DataFrame({"id": [10, 11, 12, 13, 14, 15], "text": ["a", "<img src=x>", "c", "d", "e", "f"]})
    return Embedding(X=X, labels=np.array([0, 1, 0, 1, 0, 1]), label_names=("cat", "dog"), metadata=meta)


def test_lasso_selects_rows_that_were_not_drawn() -> None:
    coords = np.array([[0, 0], [1, 1], [5, 5], [0.5, 0.2], [9, 9], [0.1, 0.9]], dtype=np.float32)
    selection = {"points": [{"customdata": 0}], "lasso": [{"x": [-1, 2, 2, -1], "y": [-1, -1, 2, 2]}], "box": []}
    rows, clicked = explore.selected_rows(selection, coords)
    assert rows.tolist() == [0, 1, 3, 5] and clicked is None


def test_box_and_lasso_are_united() -> None:
    coords = np.array([[0, 0], [5, 5], [9, 9]], dtype=np.float32)
    selection = {"points": [], "lasso": [{"x": [-1, 1, 1, -1], "y": [-1, -1, 1, 1]}],
                 "box": [{"x": [8, 10], "y": [8, 10]}]}
    assert explore.selected_rows(selection, coords)[0].tolist() == [0, 2]


def test_single_click_is_the_chosen_point() -> None:
    coords = np.zeros((4, 2), dtype=np.float32)
    rows, clicked = explore.selected_rows({"points": [{"customdata": 2}], "lasso": [], "box": []}, coords)
    assert rows.tolist() == [2] and clicked == 2
    assert explore.selected_rows(None, coords)[0].size == 0


def test_hover_shows_id_label_and_escaped_metadata() -> None:
    text = explore.hover_text(_emb(), np.array([1]))[0]
    assert text.startswith("<b>id 11</b>") and "label: dog" in text
    assert "&lt;img src=x&gt;" in text and "<img" not in text


def test_colour_options_and_specs() -> None:
    emb = _emb()
    assert explore.colour_options(emb) == ["label", "text", "vector norm", "none"]
    spec = explore.colour_spec(emb, "label", np.ones(6))
    assert spec.kind == "category" and spec.names == ("cat", "dog")
    assert explore.colour_spec(emb, "vector norm", np.ones(6)).kind == "continuous"
    text_spec = explore.colour_spec(emb, "text", np.ones(6))
    assert text_spec.kind == "category" and text_spec.names[text_spec.values[1]] == "<img src=x>"


def test_rows_table_lists_ids_labels_extra_and_metadata() -> None:
    table = explore.rows_table(_emb(), np.array([4, 1]), {"distance": np.array([0.5, 0.25])})
    assert table.columns == ["id", "label", "distance", "text"]
    assert table["id"].to_list() == [14, 11] and table["label"].to_list() == ["cat", "dog"]
