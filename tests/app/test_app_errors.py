"""AppTest: the app's error boundary (issue 15). Every exception bad input can raise, not only ValueError,
shows as st.error with what went wrong and how to fix it, and the data loaded before stays selected."""

from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest

import ui.hubness
import ui.loading
import ui.report
from tests.app.pages import APP, TIMEOUT, npy_bytes

# What hostile input raised past `except ValueError`, and words the user must see.
HOSTILE = [
    (RecursionError("maximum recursion depth exceeded while decoding a JSON array"), "nested too deeply"),
    (OverflowError("Python int too large to convert to C long"), "too large to represent"),
    (MemoryError(), "REPLENS_MEMORY_BUDGET"),
    (np.linalg.LinAlgError("SVD did not converge"), "Rescale"),
    (AttributeError("'list' object has no attribute 'items'"), "structure is not what its format requires"),
]


def _raiser(exc: BaseException):
    def raise_it(*args, **kwargs):
        raise exc
    return raise_it


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="upload_main").set_value((name, data, "application/octet-stream"))
    at.button[0].click()  # the form's only button: Load
    return at.run()


def test_a_failed_upload_of_any_kind_shows_why_and_keeps_the_data(monkeypatch) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/data.py").run()
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    _upload(at, "good.npy", npy_bytes(X))
    assert at.subheader[0].value == "good.npy" and not at.error
    good_key = at.session_state["source_key"]
    for exc, words in HOSTILE:
        with monkeypatch.context() as patch:
            patch.setattr(ui.loading, "load_embedding_report", _raiser(exc))
            _upload(at, "hostile.npy", npy_bytes(X[:20]))
        name = type(exc).__name__
        assert not at.exception, (name, at.exception)
        assert at.error, f"{name}: a failed upload must show st.error"
        message = at.error[0].value
        assert "hostile.npy" in message and words in message and "still active" in message, (name, message)
        assert at.session_state["source_key"] == good_key, name
        assert at.subheader[0].value == "good.npy", name


def test_a_failed_measurement_shows_why_and_keeps_the_selection(monkeypatch) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    selected = at.session_state["source_key"]
    monkeypatch.setattr(ui.hubness, "panel", _raiser(np.linalg.LinAlgError("SVD did not converge")))
    at.switch_page("app_pages/hubness.py").run()
    assert not at.exception, at.exception
    assert at.error and "Cannot measure hubness" in at.error[0].value and "Rescale" in at.error[0].value
    monkeypatch.setattr(ui.report, "report_for", _raiser(MemoryError()))
    at.switch_page("app_pages/report.py").run()
    assert not at.exception, at.exception
    assert at.error and "not enough memory" in at.error[0].value, [e.value for e in at.error]
    assert at.session_state["source_key"] == selected


def test_a_bad_classifier_upload_keeps_the_page(monkeypatch) -> None:
    """The neural-collapse page's classifier upload (an uploaded embedding with labels) holds too."""
    import ui.collapse

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/data.py").run()
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(20, 4)) + 5 * c for c in range(3)]).astype(np.float32)
    at.file_uploader(key="upload_main").set_value(("feats.npy", npy_bytes(X), "application/octet-stream"))
    at.file_uploader(key="upload_labels").set_value(("y.npy", npy_bytes(np.repeat(np.arange(3), 20)),
                                                      "application/octet-stream"))
    at.button[0].click()
    at.run()
    assert at.subheader[0].value == "feats.npy"
    at.switch_page("app_pages/collapse.py").run()
    assert not at.exception and not at.error
    monkeypatch.setattr(ui.collapse, "load_classifier", _raiser(RecursionError()))
    uploader = next(u for u in at.get("file_uploader") if u.key.startswith("nc_classifier_"))
    uploader.set_value(("head.npy", b"\x93NUMPY", "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    assert at.error and "head.npy" in at.error[0].value and "nested too deeply" in at.error[0].value
    assert at.metric  # the page still measures without a classifier


def test_real_hostile_files_show_why_and_keep_the_data() -> None:
    """No monkeypatching: a safetensors header nested 100,000 deep, and labels beyond int64."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/data.py").run()
    selected = at.session_state["source_key"]
    header = b'{"a":' * 100_000 + b"0" + b"}" * 100_000
    _upload(at, "deep.safetensors", len(header).to_bytes(8, "little") + header)
    assert not at.exception, at.exception
    assert at.error and "deep.safetensors" in at.error[0].value and "still active" in at.error[0].value
    assert at.session_state["source_key"] == selected
    X = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    at.file_uploader(key="upload_labels").set_value(
        ("labels.txt", (("1" * 30 + "\n") * 3 + "2\n" * 3).encode(), "text/plain"))
    _upload(at, "vectors.npy", npy_bytes(X))
    assert not at.exception, at.exception
    assert at.error and "labels.txt" in at.error[0].value, [e.value for e in at.error]
    assert at.session_state["source_key"] == selected
