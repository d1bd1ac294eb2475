"""Small pieces every page uses: the chart config, metric-card rows, a progress bar for long work, formula lists."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

from analysis.panels.common import EXACT_LIMIT

# Every chart's toolbar has Plotly's "Download plot" camera button (toImage); it saves in the format picked
# in the sidebar (`image_format_picker`): PNG at twice the screen resolution, or SVG (vector, for papers).
# Plotly's button takes one format per chart and a custom button needs JavaScript, so the format is a
# per-session choice rather than a second button.
IMAGE_FORMATS = {"PNG": "png", "SVG": "svg"}
IMAGE_FORMAT_KEY = "chart_image_format"


def plot_config(filename: str = "replens-chart") -> dict:
    """The `config` of every `st.plotly_chart`: no Plotly logo, the download button in this session's format."""
    fmt = IMAGE_FORMATS.get(st.session_state.get(IMAGE_FORMAT_KEY, "PNG"), "png")
    return {"displaylogo": False,
            "toImageButtonOptions": {"format": fmt, "filename": filename, "scale": 2 if fmt == "png" else 1}}


# The PNG config, for callers outside a script run (and pages not yet moved to `plot_config()`).
PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": "replens-chart", "scale": 2}}


def image_format_picker(container=None) -> None:
    """Which format the charts' camera button downloads (the sidebar shows it on every page)."""
    (container or st).segmented_control(
        "Chart download format", list(IMAGE_FORMATS), default="PNG", key=IMAGE_FORMAT_KEY,
        help="The camera button in each chart's toolbar saves the chart as PNG or as SVG (vector). Tables "
             "download as CSV from the button in their own toolbar.")
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
