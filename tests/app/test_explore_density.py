"""Issue 17 in the app: an embedding of more than `MAX_DRAWN_POINTS` rows is drawn as a stratified subsample
over a density image of every row, the page says so, and the all-row projection is computed once."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis.panels import explore as panel
from tests.app.pages import APP, TIMEOUT, npy_bytes

N, D, CLASSES = 60_000, 16, 6


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, CLASSES, size=N)
    centres = rng.normal(scale=6.0, size=(CLASSES, D))
    return (centres[labels] + rng.normal(size=(N, D))).astype(np.float32), labels


def _count(monkeypatch, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(panel, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(panel, name, counted)
    return calls


def _array_length(value) -> int:
    """Length of a Plotly array in the chart's JSON: a list, or a typed array ({"dtype", "bdata"})."""
    if isinstance(value, dict):
        return len(base64.b64decode(value["bdata"])) // np.dtype(value["dtype"]).itemsize
    return len(value)


def test_a_large_embedding_is_a_subsample_over_a_density_image_computed_once(monkeypatch) -> None:
    st.cache_data.clear()
    st.cache_resource.clear()
    pca_calls = _count(monkeypatch, "pca_all_rows")
    density_calls = _count(monkeypatch, "density_image")
    X, labels = _data()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/data.py").run()
    at.file_uploader(key="upload_main").set_value(("big.npy", npy_bytes(X), "application/octet-stream"))
    at.file_uploader(key="upload_labels").set_value(("y.npy", npy_bytes(labels), "application/octet-stream"))
    at.button[0].click()
    at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert at.session_state["view"].embedding.n_samples == N
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception, at.exception
    caption = next(c.value for c in at.caption if "density image" in c.value)
    assert (f"Showing {panel.MAX_DRAWN_POINTS:,} of {N:,} rows (sampled per class, at least 50 of each) "
            f"over a density image of all {N:,} rows; selections include every row") in caption
    chart = next(c for c in at.get("plotly_chart") if "explore_chart" in c.proto.id)
    spec = json.loads(chart.proto.spec)
    [image] = spec["layout"]["images"]
    assert image["source"].startswith("data:image/png;base64,") and image["layer"] == "below"
    assert spec["layout"]["xaxis"]["range"] == pytest.approx([image["x"], image["x"] + image["sizex"]], rel=1e-12)
    drawn = sum(_array_length(t["customdata"]) for t in spec["data"] if t["type"] == "scattergl")
    assert drawn == panel.MAX_DRAWN_POINTS  # the browser gets the subsample, not 60,000 points
    assert (len(pca_calls), len(density_calls)) == (1, 1)
    # Reruns (another k, another point, the page again) reuse the cached layout.
    at.slider(key="explore_k").set_value(20).run()
    at.switch_page("app_pages/data.py").run()
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception, at.exception
    assert (len(pca_calls), len(density_calls)) == (1, 1)
    # A projection fitted on the drawn rows says why it has no density image.
    at.selectbox(key="explore_method").set_value("LDA").run()
    assert not at.exception, at.exception
    assert any("LDA is fitted on the drawn rows only" in c.value for c in at.caption)
    spec = json.loads(next(c for c in at.get("plotly_chart") if "explore_chart" in c.proto.id).proto.spec)
    assert not spec["layout"].get("images")
