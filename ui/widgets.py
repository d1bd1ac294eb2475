"""Small pieces every page uses: the chart config, a progress bar for long work, formula lists."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

PLOT_CONFIG = {"displaylogo": False}


def progress_bar(text: str) -> tuple[object, Callable[[float, str], None]]:
    """A Streamlit progress bar and the (fraction, message) callback the library's trainers call."""
    bar = st.progress(0.0, text=text)

    def update(fraction: float, message: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)

    return bar, update


def formulas(meanings: Mapping[str, tuple[str, str, str]]) -> None:
    """Each metric's bold name, its one-line meaning, and its formula: (label, meaning, LaTeX) entries."""
    for label, meaning, formula in meanings.values():
        st.markdown(f"**{label}** — {meaning}")
        st.latex(formula)
