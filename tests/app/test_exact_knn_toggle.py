"""Issue 17: above the exact-search limit the Hubness and Report pages use an approximate index, say so
with its measured recall, and offer a toggle that forces exact search (the limit is lowered here so the
1,797-row sample stands in for a large upload)."""

from __future__ import annotations

import streamlit as st

import analysis.neighbors.approximate as approximate
import ui.widgets
from tests.app.pages import open_page


def _lower_the_limit(monkeypatch, rows: int = 1000) -> None:
    monkeypatch.setattr(approximate, "EXACT_LIMIT", rows)
    monkeypatch.setattr(ui.widgets, "EXACT_LIMIT", rows)
    st.cache_data.clear()
    st.cache_resource.clear()


def test_hubness_says_its_neighbours_are_approximate_until_exact_is_toggled(monkeypatch) -> None:
    _lower_the_limit(monkeypatch)
    at = open_page("app_pages/hubness.py")
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert f"approximate kNN ({approximate.INDEX_NAME}" in captions and "recall" in captions
    at.toggle(key="knn_exact").set_value(True).run()
    assert not at.exception, at.exception
    assert "approximate kNN" not in " ".join(c.value for c in at.caption)


def test_no_toggle_below_the_limit(monkeypatch) -> None:
    st.cache_data.clear()
    st.cache_resource.clear()  # a graph cached under the lowered limit of another test
    at = open_page("app_pages/hubness.py")
    assert not at.exception
    assert not [t for t in at.toggle if t.key == "knn_exact"]
    assert "approximate kNN" not in " ".join(c.value for c in at.caption)


def test_the_report_page_records_the_choice(monkeypatch) -> None:
    _lower_the_limit(monkeypatch)
    at = open_page("app_pages/report.py")
    if any(b.key == "report_go" for b in at.button):  # larger selections wait for the button
        at.button(key="report_go").click().run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "approximate kNN" in text  # the hubness finding quotes how its neighbours were found
    at.toggle(key="knn_exact").set_value(True).run()
    assert not at.exception
    assert "approximate kNN" not in " ".join(m.value for m in at.markdown)
