"""Issue 16: the Explore page searches neighbours once per (selection, metric) and projects once per
(selection, method, dimensions); clicks and the k slider slice the search, the animation is cached and
(issue 18) computed only on request, from the projection on screen."""

from __future__ import annotations

import importlib
import sys
import threading

import numpy as np
import streamlit as st

from analysis.projection_warmup import WARM_UP_THREAD_NAME
from tests.app.pages import open_page

PAGE = "app_pages/explore.py"
BACKENDS = {"analysis.neighbors": ("kneighbors", "kneighbors_of"), "analysis.projection": ("project",)}


def _count(monkeypatch) -> list[tuple[str, int]]:
    """Wrap the neighbour backends and `project` wherever a module of `analysis` or `ui` holds them.

    Records (backend, rows) per call: `kneighbors` searches every row, `kneighbors_of`
    the chosen rows, `project` is one projection (`project_sequence` calls it per step). The server's
    UMAP warm-up thread (`analysis.projection_warmup`, 64 random rows) is not the page's work: not counted.
    """
    importlib.import_module("ui.explore")
    calls: list[tuple[str, int]] = []
    for home, names in BACKENDS.items():
        module_home = importlib.import_module(home)
        for backend in names:
            original = getattr(module_home, backend)

            def counted(X, *args, _original=original, _backend=backend, **options):
                if threading.current_thread().name != WARM_UP_THREAD_NAME:
                    calls.append((_backend, int(np.shape(X)[0])))
                return _original(X, *args, **options)

            for module in list(sys.modules.values()):
                name = getattr(module, "__name__", "") or ""
                if name.split(".")[0] in ("analysis", "ui") and getattr(module, backend, None) is original:
                    monkeypatch.setattr(module, backend, counted)
    return calls


def _names(calls: list[tuple[str, int]], backend: str) -> int:
    return sum(1 for c in calls if c[0] == backend)


def test_clicks_and_k_slice_one_search_and_projections_are_made_once(monkeypatch) -> None:
    """Counts per action on the digits_mlp sample (1,797 rows, 10 checkpoints), measured before
    issue 16's panel -> now:

    - open the page: 11 projections (the 2-D view, the animation's 10 steps), 0 searches -> 1 projection
      (issue 18: the animation waits for its toggle), and turning it on: 9 (the scatter's is reused);
    - click a point: 1 `kneighbors_of` of that row -> 1 `kneighbors` of every row (the page's graph);
    - click another point: 1 -> 0;  move k: 1 -> 0;  the first point again at the new k: 1 -> 0;
    - another metric: 1 -> 1 (its own graph), then another k and another click: 2 -> 0;
    - 3-D view: 1 projection (the animation's 2-D PCA is cached) -> the same.

    In all, this sequence searched 7 times before and twice now.
    """
    calls = _count(monkeypatch)
    st.cache_data.clear()  # another test's results of the sample would hide this view's work
    st.cache_resource.clear()
    at = open_page(PAGE)
    assert not at.exception, at.exception
    view = at.session_state["view"]
    n, steps = view.embedding.n_samples, len(view.source.run.steps)
    assert calls == [("project", n)]  # the 2-D PCA only: no animation, no search
    at.toggle(key="explore_animate").set_value(True).run()
    assert not at.exception, at.exception
    assert calls == [("project", n)] * (1 + steps - 1)  # every other checkpoint of the animation, once
    calls.clear()

    at.number_input(key="explore_focus_input").set_value(5).run()
    assert not at.exception
    assert calls == [("kneighbors", n)]  # one search of every row, deep enough for the k slider's end
    assert any("nearest neighbours of id" in c.value for c in at.caption)
    calls.clear()
    at.number_input(key="explore_focus_input").set_value(7).run()
    at.slider(key="explore_k").set_value(20).run()
    at.number_input(key="explore_focus_input").set_value(5).run()
    assert not at.exception
    assert calls == []  # slices of the graph: no search, no projection
    assert any("The 20 nearest neighbours" in c.value for c in at.caption)

    at.radio(key="explore_metric").set_value("cosine").run()
    assert calls == [("kneighbors", n)]  # another metric: its own graph
    calls.clear()
    at.slider(key="explore_k").set_value(3).run()
    at.number_input(key="explore_focus_input").set_value(9).run()
    assert not at.exception and calls == []

    at.radio(key="explore_dims").set_value(3).run()
    assert not at.exception
    assert calls == [("project", n)]  # the 3-D projection; the animation (2-D PCA) is cached


def test_above_the_graph_limit_each_clicked_row_is_searched_once_for_every_k(monkeypatch) -> None:
    """On more rows than `GRAPH_MAX_ROWS` (lowered here to fit the sample) an all-points search would
    cost seconds to a minute per metric, so each clicked row is searched alone (O(n d)), once to the
    k slider's end: a new k is a slice, a new point one search (before: one per point and k)."""
    import analysis.panels.explore as panel

    monkeypatch.setattr(panel, "GRAPH_MAX_ROWS", 100)
    calls = _count(monkeypatch)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = open_page(PAGE, explore_animate=False)
    assert not at.exception, at.exception
    n = at.session_state["view"].embedding.n_samples
    calls.clear()
    at.number_input(key="explore_focus_input").set_value(5).run()
    assert calls == [("kneighbors_of", n)]
    calls.clear()
    at.slider(key="explore_k").set_value(40).run()
    assert not at.exception and calls == []
    assert any("The 40 nearest neighbours" in c.value for c in at.caption)
    at.number_input(key="explore_focus_input").set_value(6).run()
    assert calls == [("kneighbors_of", n)]


def test_explore_reads_the_graph_the_hubness_page_searched(monkeypatch) -> None:
    """Compute once across pages: after the Hubness page has searched the selection's neighbours,
    clicking points on Explore searches nothing (`ui.cache.selection_graph`, one graph per
    (selection, metric) at the Hubness page's depth, which covers Explore's k slider)."""
    calls = _count(monkeypatch)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = open_page("app_pages/hubness.py")
    assert not at.exception, at.exception
    n = at.session_state["view"].embedding.n_samples
    assert ("kneighbors", n) in calls  # the Hubness page's search of the data
    calls.clear()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    calls.clear()  # Explore's projections (Hubness drew only its PCA)
    at.number_input(key="explore_focus_input").set_value(5).run()
    at.slider(key="explore_k").set_value(50).run()
    assert not at.exception
    assert [c for c in calls if c[0] in ("kneighbors", "kneighbors_of")] == []
    assert any("The 50 nearest neighbours" in c.value for c in at.caption)
