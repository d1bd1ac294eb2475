"""Issue 16: the Compare page's side-by-side view searches each space's neighbours once.

Before: four searches per view (`knn_agreement(A, B)` searched both spaces, then
`kneighbors(A)` and `kneighbors(B)` again for the neighbour lists), all four again
whenever B changed. Now one `NeighborGraph` per space, cached under that space's
selection key and sliced for the Jaccard and the lists: two on the first view,
one when only B changes, none when B returns to a space already searched.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import streamlit as st

from tests.app.pages import open_page

PAGE = "app_pages/compare.py"


def _count_searches(monkeypatch) -> list[tuple[str, int, int]]:
    """Wrap the neighbour backends wherever a module of `analysis` or `ui` holds them.

    Records (backend, rows searched, k) for every `kneighbors` and `kneighbors_between` call.
    """
    import analysis.neighbors as neighbors_module

    importlib.import_module("ui.compare")
    calls: list[tuple[str, int, int]] = []
    for backend in ("kneighbors", "kneighbors_between"):
        original = getattr(neighbors_module, backend)

        def counted(X, *args, _original=original, _backend=backend, **options):
            k = args[-1] if args else options.get("k")
            calls.append((_backend, int(np.shape(X)[0]), int(k)))
            return _original(X, *args, **options)

        for module in list(sys.modules.values()):
            name = getattr(module, "__name__", "") or ""
            if name.split(".")[0] in ("analysis", "ui") and getattr(module, backend, None) is original:
                monkeypatch.setattr(module, backend, counted)
    return calls


def test_one_search_per_space_and_changing_b_keeps_a(monkeypatch) -> None:
    calls = _count_searches(monkeypatch)
    st.cache_data.clear()  # another test's results would hide this view's searches
    sys.modules["ui.compare"].graph.clear()
    at = open_page(PAGE)  # renders every tab: CKA, side by side, the two-seed demo
    assert not at.exception, at.exception
    n = at.session_state["view"].selection.n_samples
    assert calls == [("kneighbors", n, 10), ("kneighbors", n, 10)]  # A and B, once each (was 4)
    layers = at.selectbox(key="cmp_side_layer").options
    first = at.selectbox(key="cmp_side_layer").value
    calls.clear()
    other = next(layer for layer in layers if layer != first)
    at.selectbox(key="cmp_side_layer").set_value(other).run()
    assert not at.exception, at.exception
    assert calls == [("kneighbors", n, 10)]  # only the new B (was 4: A searched again)
    calls.clear()
    at.selectbox(key="cmp_side_layer").set_value(first).run()
    assert not at.exception, at.exception
    assert calls == []  # both spaces already searched


def test_a_split_compares_the_same_rows_in_both_spaces(monkeypatch) -> None:
    """With the sidebar's split, A and B are that split's rows: each graph searches only them."""
    calls = _count_searches(monkeypatch)
    sys.modules["ui.compare"].graph.clear()
    at = open_page(PAGE, split="test")
    assert not at.exception, at.exception
    selection = at.session_state["view"].selection
    assert selection.split == "test" and selection.n_samples < selection.source.n_samples
    assert calls == [("kneighbors", selection.n_samples, 10)] * 2
    assert any(f"Rows: the sidebar's, {selection.describe()}" in c.value for c in at.caption)
