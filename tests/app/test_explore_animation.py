"""Issue 18 item 2 in the app: Explore shows the current checkpoint's projection first; the animation over
training waits until the user turns it on, then projects every checkpoint once, starting from the scatter's
own projection (reused, not fitted again), each other checkpoint from its neighbour's layout."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import streamlit as st

import analysis.projection as projection
import analysis.projection_warmup as warmup
from tests.app.pages import open_page

PAGE = "app_pages/explore.py"


def _animation(at) -> dict | None:
    """The animation chart's Plotly spec, or None when the page draws none."""
    charts = [c for c in at.get("plotly_chart") if "explore_animation" in c.proto.id]
    return json.loads(charts[0].proto.spec) if charts else None


def _record_projects(monkeypatch) -> list[dict]:
    """Every `project` call the page makes (`project_sequence` looks it up in analysis.projection), with
    its rows and whether it started from a given layout; the warm-up thread's calls are left out."""
    calls: list[dict] = []
    original = projection.project

    def recorded(X, *args, **options):
        if threading.current_thread().name != warmup.WARM_UP_THREAD_NAME:
            calls.append({"rows": int(np.shape(X)[0]), "method": options.get("method"),
                          "init": options.get("init") is not None})
        return original(X, *args, **options)

    monkeypatch.setattr(projection, "project", recorded)
    import analysis.panels.explore as panel  # the scatter's projection goes through the panel's import

    monkeypatch.setattr(panel, "project", recorded)
    return calls


@pytest.mark.filterwarnings("ignore:precomputed_knn")
@pytest.mark.parametrize("method", ["PCA", "UMAP"])
def test_the_animation_is_computed_only_on_request_from_the_projection_on_screen(monkeypatch, method: str) -> None:
    st.cache_data.clear()
    st.cache_resource.clear()
    calls = _record_projects(monkeypatch)
    at = open_page(PAGE, explore_method=method)
    assert not at.exception, at.exception
    view = at.session_state["view"]
    run, n = view.source.run, view.embedding.n_samples
    assert len(run.steps) == 10 and view.step == run.steps[-1]
    # The page: the scatter of the current checkpoint, and no animation until asked.
    assert any("explore_chart" in c.proto.id for c in at.get("plotly_chart"))
    assert _animation(at) is None
    assert at.toggle(key="explore_animate").value is False
    assert calls == [{"rows": n, "method": method.lower(), "init": False}]
    calls.clear()

    at.toggle(key="explore_animate").set_value(True).run()
    assert not at.exception, at.exception
    spec = _animation(at)
    assert spec is not None
    assert [f["name"] for f in spec["frames"]] == [str(s) for s in run.steps]  # one frame per checkpoint
    assert [s["label"] for s in spec["layout"]["sliders"][0]["steps"]] == [str(s) for s in run.steps]
    # Nine fits: the current checkpoint's projection is the scatter's; UMAP starts each from its neighbour.
    assert len(calls) == len(run.steps) - 1 and all(c["rows"] == n for c in calls)
    assert all(c["init"] is (method == "UMAP") for c in calls)
    calls.clear()
    at.run()  # a rerun (any widget) reads the cached frames
    assert not at.exception and calls == [] and _animation(at) is not None


def test_the_animation_is_computed_once_per_layer_and_method(monkeypatch) -> None:
    """Turning it off and on, or moving the checkpoint slider, fits nothing again."""
    st.cache_data.clear()
    st.cache_resource.clear()
    calls = _record_projects(monkeypatch)
    at = open_page(PAGE, explore_animate=True)
    assert not at.exception, at.exception
    assert _animation(at) is not None
    calls.clear()
    at.toggle(key="explore_animate").set_value(False).run()
    assert _animation(at) is None
    at.toggle(key="explore_animate").set_value(True).run()
    assert _animation(at) is not None and calls == []
    # Another checkpoint in the sidebar: its scatter is projected, the animation's frames are kept.
    view = at.session_state["view"]
    at.session_state["step"] = view.source.run.steps[3]
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["view"].step == view.source.run.steps[3]
    assert len(calls) == 1 and _animation(at) is not None
