"""The Explore page's interactive point cloud, as a Streamlit fragment.

A lasso, box or click reruns only this fragment, not the page: the projection
and the figure come from caches, and the selection is resolved on the server
against all rows (see analysis.views.regions), so the browser only ever sends the
few drawn points it selected. Measured in headless Chromium by the e2e suite.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.panels import explore_points as points
from analysis.panels.explore import ExploreLayout
from analysis.views import embedding_scatter
from ui import explore, explore_tools, query_params
from ui import explore_selection as selection_rules
from ui.cache import RESULTS_TTL
from ui.plotly_click import ChartClick, click_listener
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
            uirevision: str, chart_view: selection_rules.ChartView, region: selection_rules.Region | None,
            search: tuple[str, str], _coords, _rows, _color, _make_hover, density: bool, _density, _highlight,
            _matches):
    # Keyed by the selection, the projection, the colour choice, what is ringed (focus, k, metric), the
    # user's drag mode and ranges, a region to draw again and the search (query, column) whose matches
    # are circled; the arrays derive from those. Hover text
    # (one string per drawn point) is built only on a miss: a selection rerun must not pay for it.
    return embedding_scatter(_coords, draw_rows=_rows, color=_color, hover=_make_hover(), density=_density,
                             highlight_rows=_highlight, focus_row=focus, method=method, uirevision=uirevision,
                             dragmode=chart_view.dragmode, x_range=chart_view.x_range, y_range=chart_view.y_range,
                             lasso=region.lasso if region else (), box=region.box if region else (),
                             match_rows=_matches)


FOCUS, FOCUS_DATA, FOCUS_INPUT = "explore_focus", "explore_focus_data", "explore_focus_input"
REGION, CHART_VIEW, CHART_EPOCH = "explore_region", "explore_chart_view", "explore_chart_epoch"
# Rows chosen by a search ("Select the matches"): {"context", "rows", "what"}; a lasso replaces them.
PICKED = "explore_picked"
SEARCH, SEARCH_COLUMN = "explore_search", "explore_search_column"
# Most search matches circled in the chart (all of them are listed when selected).
MAX_MATCHES_DRAWN = 20_000
CHART_BOX, CLICK_LISTENER = "explore_chart_box", "explore_click_listener"


def _focus_from_input() -> None:
    value = st.session_state.get(FOCUS_INPUT)
    st.session_state[FOCUS] = None if value is None else int(value)


def _clear_region() -> None:
    st.session_state[REGION] = None
    st.session_state[PICKED] = None
    # A new uirevision re-creates the chart, so a lasso still outlined in the browser goes too.
    st.session_state[CHART_EPOCH] = st.session_state.get(CHART_EPOCH, 0) + 1


def _focus_of(view: View) -> int | None:
    """The focused row, or None: a focus chosen on other data (another dataset, layer, step or split)
    is dropped with its number input, so it is never carried to rows it was not chosen on."""
    chosen_on = st.session_state.get(FOCUS_DATA)
    if chosen_on != view.data_key:
        st.session_state[FOCUS_DATA] = view.data_key
        if chosen_on is not None:  # None: the session's first view, whose point may come from the address
            st.session_state[FOCUS] = None
            st.session_state[FOCUS_INPUT] = None
    focus = st.session_state.get(FOCUS)
    return None if focus is None or not 0 <= int(focus) < view.embedding.n_samples else int(focus)


def _on_click(context: str, n_samples: int):
    """The click listener's callback: focus the clicked row and keep the drag mode and view it was made in."""
    def chosen(click: ChartClick) -> None:
        if click.row < n_samples:
            st.session_state[FOCUS] = click.row
            st.session_state[CHART_VIEW] = selection_rules.view_after_click(
                context, click.dragmode, click.x_range, click.y_range)
    return chosen


def _on_select(chart_key: str, context: str, figure_key: str):
    """The chart's on_select callback: runs only when the user changed the selection (not when a
    redrawn chart starts empty), so an empty event is the user clearing it."""
    def changed() -> None:
        event = st.session_state.get(chart_key)
        selection = event.get("selection") if isinstance(event, dict) or hasattr(event, "get") else None
        region = selection_rules.region_after_event(st.session_state.get(REGION), selection, context=context,
                                                    figure_key=figure_key)
        # The stored view (drag mode, ranges) is left alone: changing it would redraw the chart the
        # user just drew on and lose their zoom; the next click reports the drag mode anyway.
        st.session_state[REGION] = region
        if region is not None:
            st.session_state[PICKED] = None  # the newest selection is the one listed
    return changed


def _pick(context: str, rows: np.ndarray, what: str):
    """The "Select the matches" callback: the matches become the listed selection (replacing a lasso)."""
    def picked() -> None:
        st.session_state[REGION] = None
        st.session_state[PICKED] = {"context": context, "rows": rows, "what": what}
    return picked


def _search_bar(view: View, context: str) -> np.ndarray | None:
    """A text box and a column picker; returns the matching rows (None with no query)."""
    emb = view.embedding
    bar = st.columns([2.2, 1, 1.3], vertical_alignment="bottom")
    query = bar[0].text_input("Find points", key=SEARCH, placeholder="id, label or metadata; commas for several",
                              help="Text matches anywhere, ignoring case; numbers (an id) match exactly.")
    column = bar[1].selectbox("in", points.search_columns(emb), key=SEARCH_COLUMN)
    if not query.strip():
        return None
    matches = explore.search(view, query, column)
    what = f"the matches of “{query.strip()}” in {column}"
    bar[2].button(f"Select the {matches.size:,} matches", key="explore_select_matches", disabled=not matches.size,
                  on_click=_pick(context, matches, what))
    return matches


@st.fragment
def point_cloud(view: View, layout: ExploreLayout, *, method: str, colour: str, k: int, metric: str,
                min_cluster_size: int | None = None) -> None:
    emb = view.embedding
    proj = layout.projection
    coords = proj.coords
    rows = layout.drawn
    norms = explore.norms(view)
    color = explore.colour(view, colour, min_cluster_size)
    if colour == explore.CLUSTERS:
        colour = f"{colour}|{min_cluster_size}"  # the figure's cache key: another smallest cluster, other colours
    context = f"{view.data_key}|{method}|{coords.shape[1]}"
    chart_key = f"explore_chart|{context}"
    # Mounted before the chart: it only listens (to the chart in CHART_BOX), and its callback runs
    # before this rerun, so the figure below already rings the clicked point's neighbours.
    click_listener(CHART_BOX, key=CLICK_LISTENER, on_click=_on_click(context, emb.n_samples))
    matches = _search_bar(view, context)
    search_key = (st.session_state.get(SEARCH, ""), st.session_state.get(SEARCH_COLUMN, "")) if matches is not None \
        else ("", "")
    focus = _focus_of(view)
    # A click reruns only this fragment, not app.py: put the chosen point in the address now.
    query_params.refresh()
    highlight = distances = None
    if focus is not None:
        # A slice of the selection's neighbour graph (one search per metric), not a search per click or k.
        distances, highlight = explore.neighbours(view, int(focus), metric).top(k)
    region = selection_rules.region_in(st.session_state.get(REGION), context)
    chart_view = selection_rules.view_in(st.session_state.get(CHART_VIEW), context)
    figure_key = repr((context, colour, focus, k, metric, chart_view, search_key,
                       st.session_state.get(CHART_EPOCH, 0)))
    redraw = region if selection_rules.redraws_region(region, figure_key) else None
    uirevision = f"{chart_key}|{st.session_state.get(CHART_EPOCH, 0)}"
    fig = _figure(view.data_key, method, coords.shape[1], colour, focus, k, metric, uirevision, chart_view,
                  redraw, search_key, coords, rows, color, lambda: explore.hover_text(emb, rows),
                  layout.density is not None, layout.density, highlight,
                  None if matches is None else matches[:MAX_MATCHES_DRAWN])
    with st.container(key=CHART_BOX):
        st.plotly_chart(fig, key=chart_key, on_select=_on_select(chart_key, context, figure_key),
                        selection_mode=("lasso", "box", "points"), config=plot_config() | {"scrollZoom": True})
    trust = f"trustworthiness {proj.trustworthiness:.3f}" if proj.trustworthiness is not None else ""
    three_d = coords.shape[1] == 3
    st.caption(f"{method} · {trust} · {layout.note}. "
               + ("Drag to rotate; click a point, or type its row, to list its neighbours (lasso and box are 2-D only)."
                  if three_d else "Drag to lasso (or pick box, zoom or pan in the toolbar); click a point in "
                                  "any mode to list and ring its neighbours."))

    if matches is not None:
        drawn_note = (f" (the first {MAX_MATCHES_DRAWN:,} circled)" if matches.size > MAX_MATCHES_DRAWN else "")
        st.caption(f"{matches.size:,} matching points{drawn_note}, circled in black." if matches.size
                   else "No point matches; try part of a word, or another column.")
    picked = st.session_state.get(PICKED)
    picked = picked if isinstance(picked, dict) and picked.get("context") == context else None
    if picked is not None:
        selected, what = np.asarray(picked["rows"], dtype=np.int64), picked["what"]
    elif region is not None and not three_d:
        selected, what = selection_rules.region_rows(coords, region.lasso, region.box), "the points inside the lasso or box"
    else:
        selected, what = np.empty(0, dtype=np.int64), ""
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**Selection: {selected.size:,} points**")
        if selected.size:
            st.caption(f"Listed: {what}.")
            shown = selected[:TABLE_ROWS_SHOWN]
            explore_tools.show_rows(view, shown, {"norm": norms[shown]}, key="explore_selection_table", height=280)
            if selected.size > TABLE_ROWS_SHOWN:
                st.caption(f"Showing the first {TABLE_ROWS_SHOWN:,}; the CSV has all {selected.size:,}.")
            buttons = st.columns(2)
            buttons[0].download_button(
                "Download selection as CSV", lambda: explore.rows_table(emb, selected, {"norm": norms[selected]})
                .write_csv(), file_name="replens_selection.csv", mime="text/csv", key="explore_download")
            # A callback, not a rerun after the click: the chart below is then drawn without the region.
            buttons[1].button("Clear selection", key="explore_clear_selection", on_click=_clear_region)
        else:
            st.caption("Lasso or box-select points in the chart, or search and select the matches, to list them here.")
    with right:
        st.markdown(f"**Nearest neighbours ({metric}, original {emb.n_features}-D space)**")
        ids = explore.row_ids(emb)
        st.session_state[FOCUS_INPUT] = focus  # None: an empty box, not row 0 (no list is shown)
        st.number_input("Point (row)", 0, emb.n_samples - 1, key=FOCUS_INPUT, on_change=_focus_from_input,
                        placeholder="click a point, or type its row")
        if focus is not None and highlight is not None:
            explore_tools.chosen_point_card(view, focus)
            st.caption(f"The {highlight.size} nearest neighbours of id {int(ids[focus])}, ringed in the chart.")
            explore_tools.show_rows(view, highlight, {"distance": distances}, key="explore_neighbour_table",
                                    height=240)
        else:
            st.caption("Click a point in the chart (or enter its row) to list its neighbours.")
