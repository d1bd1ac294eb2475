"""The current view in the page address, so that a view can be bookmarked or shared (issue 18 item 3).

``?ws=…&page=hubness&dataset=digits_mlp&layer=h2&step=400&split=test&projection=UMAP&colour=label&point=17``

- ``ws``: the user's workspace (ui/workspace.py).
- ``page``: the st.navigation url path (absent for the default page, Explore). Streamlit also puts it
  in the address's path; the parameter makes ``/?page=…`` links work and survives a proxy that
  rewrites paths.
- ``dataset``: a shipped sample's name (stable across servers, unlike its key, which hashes the
  file's path and time) or an upload's / trained run's content key (found again in the workspace).
- ``layer``, ``step``, ``split``: the sidebar's choices (runs only).
- ``projection``, ``colour``, ``point``: Explore's session-state keys ``explore_method``,
  ``explore_colour``, ``explore_focus`` (written on the Explore page only).

`read_address` copies them into session state at a session's first run, before any widget exists,
and later where the address changed under the app (Back and Forward); values the dataset does not offer are dropped (the sidebar's own checks, and
`apply_explore` against the projections and colours Explore offers) with a note naming them.
`write` puts the view back into the address on every run of the entry script. Explore's fragment
reruns (a click on a point) do not run the entry script: ``point`` follows on the next full run, or at
once where the fragment calls `refresh`.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from analysis.panels.explore import colour_options, method_options
from ui import workspace
from ui.state import ALL_SPLITS, View, sources

PAGE, DATASET, LAYER, STEP, SPLIT = "page", "dataset", "layer", "step", "split"
PROJECTION, COLOUR, POINT = "projection", "colour", "point"
# Address parameter -> the session-state key it mirrors.
EXPLORE_KEYS = {PROJECTION: "explore_method", COLOUR: "explore_colour", POINT: "explore_focus"}
SIDEBAR_KEYS = {LAYER: "layer", STEP: "step", SPLIT: "split"}
MANAGED = (workspace.WS_PARAM, PAGE, DATASET, LAYER, STEP, SPLIT, PROJECTION, COLOUR, POINT)
EXPLORE_PATHS = frozenset({"", "explore"})  # Explore is the default page: its url path is ""
_READ_KEY = "_view_params_read"
_PENDING_EXPLORE = "_view_params_explore"
_PATH_KEY = "_view_params_path"  # the page of the last full run, for `refresh` from a fragment
_WRITTEN_KEY = "_view_params_written"  # what `write` last put in the address


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().lstrip("-").isdigit() else None


def dataset_param(source) -> str:
    """How the address names a dataset: a sample by its name, anything else by its content key."""
    return source.name or source.key


def read_address(current_path: str, pages: Mapping[str, object]) -> None:
    """Before the sidebar: the address's view into session state, where the address is news.

    At a session's first run that is every parameter (an opened bookmark or shared link). Later,
    only parameters that differ from what `write` last put there: the browser's Back and Forward
    buttons rerun the app with an earlier address, and that view comes back. A parameter the
    address lacks changes nothing (Streamlit's own page links clear the query string).

    `pages` maps url paths to st.Page objects; a ``page`` parameter naming another page switches
    to it (a rerun, after session state is set).
    """
    params = st.query_params.to_dict()
    news = {name: value for name, value in params.items() if name in MANAGED and name != workspace.WS_PARAM
            and value}
    if _READ_KEY in st.session_state:
        written = st.session_state.get(_WRITTEN_KEY, {})
        news = {name: value for name, value in news.items() if written.get(name) != value}
    st.session_state[_READ_KEY] = True
    if not news:
        return
    wanted = news.get(DATASET)
    if wanted:
        match = [key for key, src in sources().items() if wanted in (key, src.name)]
        if match:
            st.session_state["source_key"] = match[0]
        else:
            workspace.note("warning", f"This address names the dataset {wanted!r}, which this workspace does not "
                                      "hold (removed, or the address lost its `ws=`). Showing the first dataset.")
    for param, key in SIDEBAR_KEYS.items():
        value = news.get(param)
        if value:
            # The sidebar resets a layer, checkpoint or split the dataset does not have.
            st.session_state[key] = _int(value) if param == STEP else value
    explore = {param: news[param] for param in EXPLORE_KEYS if param in news}
    if explore:
        st.session_state[_PENDING_EXPLORE] = explore
    page = news.get(PAGE)
    if page and page != current_path and page in pages:
        st.switch_page(pages[page])


def apply_explore(view: View) -> None:
    """The address's projection, colour and point, once the dataset is known and before Explore draws.

    Only values this dataset offers are set, so Explore's widgets never meet an option they lack.
    """
    pending = st.session_state.pop(_PENDING_EXPLORE, None)
    if not pending:
        return
    emb = view.embedding
    dropped = []
    method = pending.get(PROJECTION)
    if method is not None:
        if method in method_options(emb.n_classes or 0):
            st.session_state[EXPLORE_KEYS[PROJECTION]] = method
        else:
            dropped.append(f"projection {method!r}")
    colour = pending.get(COLOUR)
    if colour is not None:
        if colour in colour_options(emb):
            st.session_state[EXPLORE_KEYS[COLOUR]] = colour
        else:
            dropped.append(f"colour {colour!r}")
    point = pending.get(POINT)
    if point is not None:
        row = _int(point)
        if row is not None and 0 <= row < emb.n_samples:
            st.session_state[EXPLORE_KEYS[POINT]] = row
        else:
            dropped.append(f"point {point!r} (rows 0-{emb.n_samples - 1})")
    if dropped:
        workspace.note("warning", f"This address asks for {', '.join(dropped)}, which {view.source.label} does not "
                                  "offer: the default is shown instead.")


def view_params(current_path: str) -> dict[str, str]:
    """The parameters of the current view, from session state."""
    wanted: dict[str, str] = {}
    ws = workspace.workspace_id()
    if ws:
        wanted[workspace.WS_PARAM] = ws
    if current_path:
        wanted[PAGE] = current_path
    source = sources().get(st.session_state.get("source_key"))
    if source is not None:
        wanted[DATASET] = dataset_param(source)
        if source.is_run:
            for param, key in SIDEBAR_KEYS.items():
                value = st.session_state.get(key)
                if value is not None and not (param == SPLIT and value == ALL_SPLITS):
                    wanted[param] = str(value)
    if current_path in EXPLORE_PATHS:
        for param, key in EXPLORE_KEYS.items():
            value = st.session_state.get(key)
            if value is not None:
                wanted[param] = str(value)
    return wanted


def write(current_path: str) -> None:
    """Put the current view into the address, in one message and only when it changed.

    The browser adds a history entry per change (Streamlit's frontend pushes state), so the
    parameters are set together (`from_dict`: one message) rather than one by one; parameters this
    module does not manage are kept.
    """
    st.session_state[_PATH_KEY] = current_path
    wanted = view_params(current_path)
    st.session_state[_WRITTEN_KEY] = wanted
    current = st.query_params.to_dict()
    others = {name: value for name, value in current.items() if name not in MANAGED}
    merged = {**wanted, **others}
    if merged != current:
        st.query_params.from_dict(merged)


def refresh() -> None:
    """`write` from a fragment rerun (which does not run the entry script), e.g. after Explore's click
    sets ``explore_focus``: the address follows at once instead of on the next full run."""
    if _PATH_KEY in st.session_state:
        write(st.session_state[_PATH_KEY])
