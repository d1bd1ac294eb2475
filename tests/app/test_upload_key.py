"""An upload's key (the root of every cache key derived from it) covers its bytes AND every parsing
choice (issue 15): the same bytes as labels.txt then labels.csv are parsed twice, not served from the
first upload's results."""

from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.app.pages import APP, TIMEOUT, npy_bytes
from ui.loading import Upload, upload_key
from ui.state import bytes_key

X = npy_bytes(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
# One label per line as .txt ('"a"' with its quotes); a quoted CSV column as .csv ('a', 'b,c').
LABELS = b'"a"\n"a"\n"b,c"\n"b,c"\n'
META = b"group\nx\ny\nx\ny\n"


def test_every_parsing_choice_changes_the_key() -> None:
    base = dict(labels=Upload("y.txt", LABELS), metadata=Upload("m.csv", META), label_column=None,
                pooling=None, drop_nonfinite=False)
    variants = [
        (Upload("x.npy", X), base),
        (Upload("x.npz", X), base),  # the embedding's extension
        (Upload("x.npy", X), {**base, "labels": Upload("y.csv", LABELS)}),
        (Upload("x.npy", X), {**base, "labels": None}),
        (Upload("x.npy", X), {**base, "metadata": Upload("m.parquet", META)}),
        (Upload("x.npy", X), {**base, "metadata": None}),
        (Upload("x.npy", X), {**base, "label_column": "group"}),
        (Upload("x.npy", X), {**base, "pooling": "mean"}),
        (Upload("x.npy", X), {**base, "drop_nonfinite": True}),
    ]
    keys = [upload_key(main, **options) for main, options in variants]
    assert len(set(keys)) == len(keys)
    assert upload_key(Upload("x.npy", X), **base) == keys[0]  # and it is stable


def test_bytes_cannot_move_between_parts_and_keep_the_key() -> None:
    assert bytes_key("k", b"ab", b"c") != bytes_key("k", b"a", b"bc")
    assert upload_key(Upload("x.npy", X + LABELS)) != upload_key(Upload("x.npy", X), labels=Upload("", LABELS))


def _load(at: AppTest, labels_name: str) -> AppTest:
    at.file_uploader(key="upload_main").set_value(("x.npy", X, "application/octet-stream"))
    at.file_uploader(key="upload_labels").set_value((labels_name, LABELS, "text/plain"))
    at.button[0].click()  # the form's only button: Load
    return at.run()


def test_the_same_bytes_as_txt_then_csv_are_parsed_again() -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/data.py").run()
    _load(at, "y.txt")
    assert not at.exception and not at.error
    first = at.session_state["view"]
    assert first.embedding.label_names == ('"a"', '"b,c"')
    _load(at, "y.csv")
    assert not at.exception and not at.error
    second = at.session_state["view"]
    assert second.source.key != first.source.key
    assert second.embedding.label_names == ("a", "b,c")
    # Both stay pickable: two datasets, not one overwritten by the other.
    assert {first.source.key, second.source.key} <= set(at.session_state["uploads"])
