"""Every chart and table of the app can be downloaded (issue 18 item 7): each `st.plotly_chart` call passes
`config=plot_config()` (the camera button in the session's PNG or SVG format), and metric tables are
`st.dataframe` (whose toolbar downloads CSV), never `st.table` (which has no toolbar)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([ROOT / "app.py", *(ROOT / "ui").glob("*.py"), *(ROOT / "app_pages").glob("*.py")])


def _calls(name: str) -> list[tuple[Path, ast.Call]]:
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
                found.append((path, node))
    return found


def _uses_plot_config(value: ast.expr) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "plot_config"
               for n in ast.walk(value))


def test_every_plotly_chart_takes_the_shared_config():
    calls = _calls("plotly_chart")
    assert len(calls) >= 30
    missing = [f"{path.relative_to(ROOT)}:{call.lineno}" for path, call in calls
               if not any(k.arg == "config" and _uses_plot_config(k.value) for k in call.keywords)]
    assert not missing, f"st.plotly_chart without config=plot_config(): {missing}"


def test_no_metric_table_lacks_the_csv_download():
    assert not [f"{p.relative_to(ROOT)}:{c.lineno}" for p, c in _calls("table")]
    assert len(_calls("dataframe")) >= 5


@pytest.mark.parametrize(("choice", "fmt", "scale"), [(None, "png", 2), ("PNG", "png", 2), ("SVG", "svg", 1)])
def test_plot_config_follows_the_sidebar_choice(choice, fmt, scale):
    script = f"""
import streamlit as st
from ui.widgets import IMAGE_FORMAT_KEY, image_format_picker, plot_config
choice = {choice!r}
if choice is not None and IMAGE_FORMAT_KEY not in st.session_state:
    st.session_state[IMAGE_FORMAT_KEY] = choice
image_format_picker()
st.session_state["config"] = plot_config("x")
"""
    at = AppTest.from_string(script).run()
    assert not at.exception, at.exception
    config = at.session_state["config"]
    assert config["displaylogo"] is False
    assert config["toImageButtonOptions"] == {"format": fmt, "filename": "x", "scale": scale}
