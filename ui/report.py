"""Report page: every diagnostic of the sidebar's embedding as one dashboard, with HTML and JSON export."""

from __future__ import annotations

import os

import streamlit as st

from analysis.data import Selection
from analysis.panels import report as panel
from analysis.panels.collapse import rows_label
from ui.cache import RESULTS_TTL
from ui.errors import USER_ERRORS, show_error
from ui.state import View
from ui.widgets import exact_knn, exact_knn_toggle, progress_bar

# Reports on up to this many rows run as soon as the page opens; larger ones wait for the button.
AUTO_ROWS = 20_000
# Badges carry an icon and a word as well as a colour, so the verdict reads without colour vision.
BADGES = {"problem": ":red-badge[:material/error: PROBLEM]", "warning": ":orange-badge[:material/warning: WARNING]",
          "good": ":green-badge[:material/check_circle: GOOD]", "info": ":blue-badge[:material/info: NOTE]"}
PAGES = {"hubness": ("app_pages/hubness.py", "Hubness"), "geometry": ("app_pages/geometry.py", "Sphere & spectrum"),
         "collapse": ("app_pages/collapse.py", "Neural collapse"), "codebook": ("app_pages/codebook.py",
                                                                             "Codebook usage"),
         "explore": ("app_pages/explore.py", "Explore"), "information": ("app_pages/information.py",
                                                                         "Information plane")}
ORDER = panel.ORDER
COUNT_LABELS = {"problem": "Problems", "warning": "Warnings", "info": "Notes", "good": "Good"}


def _plain(text: str) -> str:
    """Text shown as written: underscores and asterisks (N_k, 2*k) are not Markdown emphasis here."""
    return text.replace("\\", "\\\\").replace("_", "\\_").replace("*", "\\*").replace("$", "\\$")


# A Dask scheduler the server's operator names (e.g. tcp://10.0.0.5:8786): the report's kNN, neural
# collapse and spectrum then run on its workers. Read on every call, so a restart is not needed to change it.
SCHEDULER_ENV = "REPLENS_SCHEDULER"


def scheduler() -> str | None:
    """The Dask scheduler address from the environment, or None (compute on this server)."""
    return os.environ.get(SCHEDULER_ENV, "").strip() or None


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def _report_panel(data_key: str, source: str, exact: bool | None, address: str | None,
                  _selection: Selection) -> panel.ReportPanel:
    bar, progress = progress_bar("Measuring every diagnostic…" + (f" (on the Dask cluster at {address})"
                                                                   if address else ""))
    result = panel.report_panel(_selection, source=source, progress=progress, exact=exact, scheduler=address)
    bar.empty()
    return result


def report_for(view: View, source: str) -> panel.ReportPanel:
    """The report of the sidebar's rows, layer and step (with their VQ codes), once per selection."""
    return _report_panel(view.data_key, source, exact_knn(view.embedding.n_samples), scheduler(), view.selection)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner="Writing the HTML report…")
def html_for(data_key: str, source: str, _report: panel.Report) -> str:
    return _report.to_html()


def report_view(view: View) -> None:
    emb = view.embedding
    # The rows go into the report's own title (and its HTML and JSON), so its NC1 and every other number say
    # which rows they measured, as the pages do (issue 18 item 6).
    rows = rows_label(view.selection)
    source = (view.source.label + (f" · {view.layer} · step {view.step:,}" if view.layer is not None else "")
              + f" · {rows}")
    st.markdown(f"**{source}**: {emb.n_features:,} features, the sidebar's {rows}, as on every page"
                + (f", {emb.n_classes} classes." if emb.labels is not None else ", no labels."))
    exact_knn_toggle(emb.n_samples)
    started: set[str] = st.session_state.setdefault("report_started", set())  # selections the user asked for
    if emb.n_samples > AUTO_ROWS and view.data_key not in started:
        if st.button(f"Diagnose all {emb.n_samples:,} rows (exact neighbours: about a minute at 50,000 × 768)",
                     key="report_go", type="primary"):
            started.add(view.data_key)
            st.rerun()
        return
    try:
        result = report_for(view, source)
    except USER_ERRORS as exc:
        show_error(exc, "Cannot diagnose this embedding")
        return
    report, counts = result.report, result.counts
    if "scheduler" in report.metrics.get("settings", {}):
        st.caption(f"kNN, neural collapse and the spectrum were computed on the Dask cluster at "
                   f"{report.metrics['settings']['scheduler']} ({SCHEDULER_ENV}).")
    cols = st.columns(len(ORDER) + 1)
    for col, verdict in zip(cols, ORDER, strict=False):
        col.metric(COUNT_LABELS[verdict], counts[verdict])
    cols[-1].metric("Time", f"{report.seconds:.1f} s")
    for finding in result.findings:
        with st.container(border=True):
            head = st.columns([0.75, 0.25])
            head[0].markdown(f"{BADGES[finding.verdict]} **{finding.title}**")
            target = PAGES.get(finding.page)
            if target is not None:
                head[1].page_link(target[0], label=f"Open {target[1]}", icon=":material/arrow_forward:")
            st.markdown(_plain(finding.reason))
            if finding.baseline_note:
                st.caption(_plain(f"Baseline: {finding.baseline_note}"))
    left, right = st.columns(2)
    left.download_button("Download the report (HTML, opens offline)", html_for(view.data_key, source, report),
                         file_name="replens_report.html", mime="text/html", key="report_html",
                         icon=":material/download:")
    right.download_button("Download the numbers (JSON)", report.to_json(), file_name="replens_report.json",
                          mime="application/json", key="report_json", icon=":material/data_object:")
