"""Cache lifetimes for every page, the cached calls other pages share with Explore, and the Data page's panel.

Cache keys are the selection's `key` (a content hash computed once) plus the
options; arrays are passed as `_`-prefixed arguments, which Streamlit does not
hash (it would sample large arrays and serve stale results, and hashing 300 MB
on every rerun is slow). The computation lives in `analysis.panels.explore` and `analysis.panels.data`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.data import Selection
from analysis.panels import common
from analysis.panels import data as data_panels
from analysis.panels import explore as panel

# Every st.cache_data / st.cache_resource in ui/ has max_entries (a count bound per function) and a
# ttl (a time bound), so a shared server does not keep every session's results forever (a test
# checks both). Results derived from a session's data (uploads, trained runs, the samples' layers)
# live an hour after they were computed: long enough for a working session, short enough that a
# closed session's arrays leave memory (Streamlit drops an expired entry when its cache is next
# read or written). Results of fixed inputs that every session shares (toy-model sweeps, demos,
# the estimator check, the seed-pair models) are small and the same for everyone: a day.
RESULTS_TTL = 3600
SHARED_TTL = 24 * 3600

MAX_DRAWN_POINTS = panel.MAX_DRAWN_POINTS


def warm_up_projections() -> None:
    """Compile UMAP's numba code in a background daemon thread, once per server process (issue 18: the
    first UMAP fit otherwise waits ~12 s for it). Returns at once; app.py calls it on every run and
    only the first call starts the thread (`analysis.projection_warmup.start_umap_warm_up`)."""
    panel.start_umap_warm_up()


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def projection(data_key: str, _X: np.ndarray, method: str, n_components: int,
               _labels: np.ndarray | None, seed: int = 0) -> panel.Projection:
    """One projection per (data, method, n_components, seed), shared by Explore, Hubness and Compare."""
    return panel.projection_of(_X, method=method, n_components=n_components, labels=_labels, seed=seed)


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def draw_rows(data_key: str, n: int, max_points: int = MAX_DRAWN_POINTS, seed: int = 0,
              _labels: np.ndarray | None = None) -> np.ndarray:
    """Rows to draw as markers: all of them, or a seeded subsample stratified by `_labels` (part of the
    selection, so `data_key` covers them)."""
    return panel.draw_rows(n, max_points, seed, labels=_labels)


# A resource, not data: the layout's arrays (every row's position, 8 MB at 10^6 rows) are read-only and
# shared as they are; st.cache_data would unpickle a copy on every rerun of the Explore fragment.
@st.cache_resource(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def _explore_layout(data_key: str, method: str, n_components: int, _selection: Selection) -> panel.ExploreLayout:
    layout = panel.explore_layout(_selection, method=method, n_components=n_components)
    for array in (layout.coords, layout.drawn) + ((layout.density.counts,) if layout.density else ()):
        array.setflags(write=False)
    return layout


def explore_layout(selection: Selection, method: str, n_components: int) -> panel.ExploreLayout:
    """The Explore scatter above `MAX_DRAWN_POINTS` rows: every row projected (PCA) and its density
    image, or a projection of the drawn rows, once per (selection, method, dimensions)."""
    return _explore_layout(selection.key, method, n_components, selection)


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def _data_panel(data_key: str, _selection: Selection) -> data_panels.DataPanel:
    return data_panels.data_panel(_selection)


def data_panel(view) -> data_panels.DataPanel:
    """The Data page's numbers (summary, row norms), once per selection."""
    return _data_panel(view.data_key, view.selection)


# A resource, not data: the graph's arrays are read-only and shared as they are, where st.cache_data
# would copy them (unpickle) on every read.
@st.cache_resource(max_entries=8, ttl=RESULTS_TTL, show_spinner="Finding every point's nearest neighbours…")
def _selection_graph(data_key: str, metric: str, exact: bool | None, _selection: Selection) -> common.NeighborGraph:
    return common.selection_graph(_selection, metric=metric, exact=exact)


def selection_graph(selection: Selection, metric: str, exact: bool | None = None) -> common.NeighborGraph:
    """The one neighbour search of a selection per (metric, exact choice), shared by the Hubness and Explore
    pages; `exact` as `ui.widgets.exact_knn` gives it (None: exact up to the limit, then approximate)."""
    return _selection_graph(selection.key, metric, exact, selection)
