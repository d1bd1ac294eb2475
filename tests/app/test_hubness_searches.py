"""Issue 16: the Hubness page searches neighbours once per (data, metric); k and the Reduction tab slice it."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import streamlit as st

from tests.app.pages import open_page

PAGE = "app_pages/hubness.py"


def _count_searches(monkeypatch) -> list[tuple[str, int, int]]:
    """Wrap the neighbour backends wherever a module of `analysis` or `ui` holds them.

    Records (backend, rows searched, k) for every `kneighbors` (a point set against
    itself) and `kneighbors_between` (queries against a gallery) call.
    """
    import analysis.neighbors as neighbors_module

    importlib.import_module("ui.hubness")
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


def test_one_search_per_view_k_and_the_reduction_tab_slice_it(monkeypatch) -> None:
    """Before issue 16's panel: 3 searches of the data on the first view (hubness, the page's own
    neighbour lists, the reductions' 50 candidates) and 3 more on every k; now 1 and 0.

    The teaching demo searches its own Gaussian samples (cached for every session), and
    "Two sets" searches test queries against the train gallery once per k: other point sets.
    """
    calls = _count_searches(monkeypatch)
    st.cache_data.clear()  # another test's results of the sample would hide this view's search
    sys.modules["ui.hubness"].graph.clear()
    at = open_page(PAGE)  # renders every tab: the main view and the Reduction tab
    assert not at.exception, at.exception
    n = at.session_state["view"].embedding.n_samples

    def of_data() -> list[tuple[str, int, int]]:
        return [c for c in calls if c[0] == "kneighbors" and c[1] == n]

    assert of_data() == [("kneighbors", n, 100)]  # k up to 50, and 100 reduction candidates at k = 50
    assert [c for c in calls if c[0] == "kneighbors_between"] == [("kneighbors_between", 450, 10)]
    calls.clear()
    at.slider(key="hub_k").set_value(3).run()
    assert not at.exception
    assert of_data() == []  # a slice of the cached graph
    assert [c[0] for c in calls] == ["kneighbors_between"]  # the two sets' queries, at the new k
    calls.clear()
    at.selectbox(key="hub_reduction_method").set_value("csls").run()
    assert not at.exception
    assert calls == []
    at.radio(key="hub_metric").set_value("cosine").run()
    assert not at.exception
    assert of_data() == [("kneighbors", n, 100)]  # another metric: one graph of its own
