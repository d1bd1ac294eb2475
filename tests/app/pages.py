"""Shared moves of the per-page AppTest modules."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

TIMEOUT = 180
APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_page(page: str, **preset: object) -> AppTest:
    """The app after its first run, sidebar choices preset, switched to `page`.

    AppTest (Streamlit 1.67) reruns only the page script under st.navigation,
    so sidebar choices are set in session state before the first run.
    """
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in preset.items():
        at.session_state[key] = value
    at.run()
    return at.switch_page(page).run()


def metric_cards(at: AppTest) -> dict[str, str]:
    """Label -> value of the metric cards (the first card of each label)."""
    shown: dict[str, str] = {}
    for m in at.metric:
        shown.setdefault(m.label, m.value)
    return shown


def npy_bytes(X: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, X)
    return buf.getvalue()
