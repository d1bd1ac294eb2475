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
    """Searches per view (the sample; k = 10, then k changes).

    * first view: 3 of the data (hubness, the page's own neighbour lists, the reductions' 50
      candidates) + 1 two-sets search before issue 16's panel; 1 + 1 with the one data graph; now
      3: the data's graph (every k <= 50 and the 100 reduction candidates), the verdict's Gaussian
      baseline of the same n and d (the report's sample and rule, to k = 50) and the two sets'
      queries against their gallery (to k = 50);
    * every k change: 3 + 1 before the panel; 1 (the two sets at the new k) with it; now 0;
    * another metric: one search of each kind of its own, then 0 per k again.

    The teaching demo searches its own Gaussian samples (cached for every session).
    """
    calls = _count_searches(monkeypatch)
    st.cache_data.clear()  # another test's results of the sample would hide this view's search
    hub_page = sys.modules["ui.hubness"]
    # The data's graph is the one Explore shares (`ui.cache.selection_graph`).
    for resource in (sys.modules["ui.cache"]._selection_graph, hub_page.baseline, hub_page.pair_graph):
        resource.clear()
    at = open_page(PAGE)  # renders every tab: the main view and the Reduction tab
    assert not at.exception, at.exception
    n = at.session_state["view"].embedding.n_samples

    def searches() -> list[tuple[str, int, int]]:
        return [c for c in calls if c[0] == "kneighbors_between" or c[1] == n]  # not the demo's samples

    data, baseline, two_sets = ("kneighbors", n, 100), ("kneighbors", n, 50), ("kneighbors_between", 450, 50)
    assert searches() == [data, baseline, two_sets]
    calls.clear()
    at.slider(key="hub_k").set_value(3).run()
    assert not at.exception
    assert calls == []  # slices of the three cached searches
    at.slider(key="hub_k").set_value(50).run()
    assert not at.exception
    assert calls == []
    at.selectbox(key="hub_reduction_method").set_value("csls").run()
    assert not at.exception
    assert calls == []
    at.radio(key="hub_metric").set_value("cosine").run()
    assert not at.exception
    assert searches() == [data, baseline, two_sets]  # another metric: one graph of each of its own
    calls.clear()
    at.slider(key="hub_k").set_value(7).run()
    assert not at.exception
    assert calls == []
