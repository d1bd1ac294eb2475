"""The Explore page's interactive point cloud, as a Streamlit fragment.

A lasso, box or click reruns only this fragment, not the page: the projection
and the figure come from caches, and the selection is resolved on the server
against all rows (see analysis.views.regions), so the browser only ever sends the
few drawn points it selected. Measured in headless Chromium by the e2e suite.
"""

from __future__ import annotations

import streamlit as st

from analysis.panels.explore import ExploreLayout
from analysis.views import embedding_scatter
from ui import explore
from ui.cache import RESULTS_TTL
from ui.state import View
from ui.widgets import plot_config

TABLE_ROWS_SHOWN = 2_000


# cache_resource, not cache_data: cache_data hands back an unpickled copy on a
# hit but the original on a miss, and an unpickled Figure serialises its layout
# keys in another order. Streamlit's frontend compares the spec text, takes the
# figure for a new one and drops the user's first lasso. The same object every
# run keeps the spec identical (the figure is never mutated after building).
@st.cache_resource(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def _figure(data_key: str, method: str, n_components: int, colour: str, focus: int | None, k: int, metric: str,
            uirevision: str, _coords, _rows, _color, _make_hover, density: bool, _density, _highlight):
    # Keyed by the selection, the projection, the colour choice and what is ringed (focus, k, metric);
    # the arrays derive from those. Hover text (one string per drawn point) is built only on a miss:
    # a selection rerun must not pay for it.
    return embedding_scatter(_coords, draw_rows=_rows, color=_color, hover=_make_hover(), density=_density,
                             highlight_rows=_highlight, focus_row=focus, method=method, uirevision=uirevision)


def _focus_from_input() -> None:
    st.session_state["explore_focus"] = int(st.session_state["explore_focus_input"])


@st.fragment
def point_cloud(view: View, layout: ExploreLayout, *, method: str, colour: str, k: int, metric: str) -> None:
    emb = view.embedding
    proj = layout.projection
    coords = proj.coords
    rows = layout.drawn
    norms = explore.norms(view)
    color = explore.colour(view, colour)
    chart_key = f"explore_chart|{view.data_key}|{method}|{coords.shape[1]}"
    focus = st.session_state.get("explore_focus")
    if focus is not None and focus >= emb.n_samples:
        focus = None
    highlight = distances = None
    if focus is not None:
        # A slice of the selection's neighbour graph (one search per metric), not a search per click or k.
        distances, highlight = explore.neighbours(view, int(focus), metric).top(k)
    fig = _figure(view.data_key, method, coords.shape[1], colour, focus, k, metric, chart_key, coords, rows, color,
                  lambda: explore.hover_text(emb, rows), layout.density is not None, layout.density, highlight)
    event = st.plotly_chart(fig, key=chart_key, on_select="rerun", selection_mode=("lasso", "box", "points"),
                            config=plot_config() | {"scrollZoom": True})
    trust = f"trustworthiness {proj.trustworthiness:.3f}" if proj.trustworthiness is not None else ""
    st.caption(f"{method} · {trust} · {layout.note}. Drag to lasso (or pick box in the toolbar); "
               "click one point to see its neighbours." + (" 3-D views select by click only." if coords.shape[1] == 3 else ""))

    selected, clicked = explore.selected_rows(event.selection if event else None, coords)
    if clicked is not None and clicked != focus:
        st.session_state["explore_focus"] = clicked
        st.rerun(scope="fragment")

    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**Selection: {selected.size:,} points**")
        if selected.size:
            table = explore.rows_table(emb, selected, {"norm": norms[selected]})
            st.dataframe(table.head(TABLE_ROWS_SHOWN), height=280, hide_index=True, key="explore_selection_table")
            if selected.size > TABLE_ROWS_SHOWN:
                st.caption(f"Showing the first {TABLE_ROWS_SHOWN:,}; the CSV has all {selected.size:,}.")
            st.download_button("Download selection as CSV", table.write_csv(), file_name="replens_selection.csv",
                               mime="text/csv", key="explore_download")
        else:
            st.caption("Lasso or box-select points in the chart to list them here.")
    with right:
        st.markdown(f"**Nearest neighbours ({metric}, original {emb.n_features}-D space)**")
        ids = explore.row_ids(emb)
        if focus is not None:
            st.session_state["explore_focus_input"] = int(focus)
        st.number_input("Point (row)", 0, emb.n_samples - 1, key="explore_focus_input", on_change=_focus_from_input)
        if focus is not None and highlight is not None:
            st.caption(f"The {highlight.size} nearest neighbours of id {int(ids[focus])}, ringed in the chart.")
            st.dataframe(explore.rows_table(emb, highlight, {"distance": distances}), height=240,
                         hide_index=True, key="explore_neighbour_table")
        else:
            st.caption("Click a point in the chart (or enter its row) to list its neighbours.")
