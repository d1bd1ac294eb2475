"""AppTest smoke tests of every page, the shared sidebar, and uploads (good and bad)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

TIMEOUT = 120
APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _app(**preset: object) -> AppTest:
    """A fresh app after its first run, with sidebar choices preset in session state.

    AppTest (Streamlit 1.67) reruns only the page script under st.navigation,
    so sidebar choices are set before the first run rather than by clicking.
    """
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in preset.items():
        at.session_state[key] = value
    at.run()
    return at


def _npy_bytes(X: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, X)
    return buf.getvalue()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    if at.title[0].value != "Data":
        at.switch_page("app_pages/data.py").run()
    at.file_uploader(key="upload_main").set_value((name, data, "application/octet-stream"))
    at.button[0].click()  # the form's only button: Load
    return at.run()


def _active_dataset(at: AppTest) -> str:
    """The dataset the page shows (the Data page's subheader, else the sidebar's view)."""
    if at.title[0].value == "Data":
        return at.subheader[0].value
    return at.session_state["view"].source.label


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


@pytest.mark.parametrize("page", ["app_pages/explore.py", "app_pages/collapse.py", "app_pages/hubness.py",
                                  "app_pages/geometry.py", "app_pages/superposition.py",
                                  "app_pages/codebook.py", "app_pages/data.py"])
def test_every_page_renders_without_error(page: str) -> None:
    at = _app()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error


def test_data_page_summarises_the_sample() -> None:
    at = _app()
    at.switch_page("app_pages/data.py").run()
    values = {m.label: m.value for m in at.metric}
    assert values["classes"] == "10"
    assert int(values["samples (n)"].replace(",", "")) > 1000


def _samples_caption(at: AppTest) -> str:
    return next(c.value for c in at.sidebar.caption if c.value.endswith("features"))


def test_sidebar_choices_change_the_view() -> None:
    everything = _app()
    run = everything.session_state["view"].source.run
    layers, steps = run.layers, run.steps
    test_only = _app(split="test")
    assert not test_only.exception
    n_all = int(_samples_caption(everything).split()[0].replace(",", ""))
    n_test = int(_samples_caption(test_only).split()[0].replace(",", ""))
    assert 0 < n_test < n_all
    early = _app(layer=layers[0], step=int(steps[0]))
    assert not early.exception
    assert early.session_state["view"].layer == layers[0]
    assert early.session_state["view"].step == int(steps[0])
    assert f"step {int(steps[0])}" in early.caption[0].value


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
