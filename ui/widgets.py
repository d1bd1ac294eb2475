"""Small pieces every page uses: the chart config, a progress bar for long work, formula lists."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

from analysis.panels.common import EXACT_LIMIT

PLOT_CONFIG = {"displaylogo": False}
EXACT_KNN_KEY = "knn_exact"


# Cards a row at most: at 1,500 px with the sidebar open, four columns of ~250 px hold the longest card label
# ("Intrinsic dimension (TwoNN)") and value ("-1.23e-12" with a delta) without Streamlit's ellipsis.
CARDS_PER_ROW = 4


def card_columns(n_cards: int, per_row: int = CARDS_PER_ROW) -> list:
    """`n_cards` metric columns laid out in rows of at most `per_row`, so no label or value is cut off."""
    columns: list = []
    for start in range(0, n_cards, per_row):
        columns.extend(st.columns(per_row)[: min(per_row, n_cards - start)])
    return columns


def exact_knn_toggle(n_samples: int, container=None) -> None:
    """Above `EXACT_LIMIT` rows neighbours come from an approximate index (recall measured and shown);
    this toggle forces exact search there. Below the limit search is always exact and no toggle shows."""
    if n_samples > EXACT_LIMIT:
        (container or st).toggle(f"Exact kNN (slow above {EXACT_LIMIT:,} rows: O(n²d))", key=EXACT_KNN_KEY,
                                 help="Off: an IVF index whose recall@k is measured on 1,000 sampled rows "
                                      "against exact search and shown beside the results.")


def exact_knn(n_samples: int) -> bool | None:
    """The kNN choice for `analysis` calls: True (forced exact) or None (exact up to the limit, then approximate)."""
    return True if n_samples > EXACT_LIMIT and st.session_state.get(EXACT_KNN_KEY) else None


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
