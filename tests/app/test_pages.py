"""AppTest smoke tests of every page, the shared sidebar, and uploads (good and bad)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

TIMEOUT = 120


def _app() -> AppTest:
    at = AppTest.from_file("app.py", default_timeout=TIMEOUT)
    at.run()
    return at


def _npy_bytes(X: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, X)
    return buf.getvalue()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="upload_main").set_value((name, data, "application/octet-stream"))
    at.button[0].click()  # the form's only button: Load
    return at.run()


def _active_dataset(at: AppTest) -> str:
    return at.sidebar.selectbox(key="source_key").format_func(at.sidebar.selectbox(key="source_key").value)


def test_explore_is_the_default_page_with_the_sample_loaded() -> None:
    at = _app()
    assert not at.exception, at.exception
    assert at.title[0].value == "Explore"
    assert "digits" in _active_dataset(at)
    # The shared sidebar offers the run's layers, checkpoints and splits.
    assert at.sidebar.selectbox(key="layer").options
    assert len(at.sidebar.select_slider(key="step").options) >= 8
    assert "train" in at.sidebar.radio(key="split").options
    assert any(md.value.startswith("**Selection: 0 points") for md in at.markdown)


@pytest.mark.parametrize("page", ["pages/explore.py", "pages/data.py"])
def test_every_page_renders_without_error(page: str) -> None:
    at = _app()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error


def test_data_page_summarises_the_sample() -> None:
    at = _app()
    at.switch_page("pages/data.py").run()
    values = {m.label: m.value for m in at.metric}
    assert values["classes"] == "10"
    assert int(values["samples (n)"].replace(",", "")) > 1000


def test_sidebar_choices_change_the_view() -> None:
    at = _app()
    at.sidebar.radio(key="split").set_value("test").run()
    assert not at.exception
    n_test = at.sidebar.caption[-1].value
    at.sidebar.radio(key="split").set_value("all").run()
    assert at.sidebar.caption[-1].value != n_test
    first_step = at.sidebar.select_slider(key="step").options[0]
    at.sidebar.select_slider(key="step").set_value(int(first_step)).run()
    assert not at.exception


def test_explore_controls_rerender() -> None:
    at = _app()
    at.selectbox(key="explore_colour").set_value("vector norm").run()
    assert not at.exception
    at.radio(key="explore_dims").set_value(3).run()
    assert not at.exception
    at.number_input(key="explore_focus_input").set_value(5).run()
    assert not at.exception
    assert any("nearest neighbours of id" in c.value for c in at.caption)


def test_valid_upload_becomes_the_active_dataset() -> None:
    at = _app()
    X = np.random.default_rng(0).normal(size=(120, 8)).astype(np.float32)
    _upload(at, "vectors.npy", _npy_bytes(X))
    assert not at.exception and not at.error
    assert _active_dataset(at) == "vectors.npy"
    values = {m.label: m.value for m in at.metric}
    assert values["samples (n)"] == "120" and values["features (d)"] == "8"


def test_failed_upload_shows_error_and_keeps_previous_data() -> None:
    at = _app()
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    _upload(at, "good.npy", _npy_bytes(X))
    assert _active_dataset(at) == "good.npy"
    _upload(at, "broken.npy", b"\x93NUMPY garbage that is not a header")
    assert at.error, "a bad upload must show st.error"
    assert "broken.npy" in at.error[0].value and "still active" in at.error[0].value
    assert _active_dataset(at) == "good.npy"
    assert not at.exception
