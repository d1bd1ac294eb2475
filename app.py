"""RepLens: look inside a neural network's latent space. Run with `make run`.

The pages live in app_pages/, not pages/: Streamlit treats a pages/ folder next
to the entry script as its legacy multipage mode until st.navigation has run
once, so a fresh server's first visit to /data would run that page bare.
"""

from __future__ import annotations

from pathlib import Path

# Plotly imports pandas lazily, and two script threads (a page and a fragment)
# importing it at once can see a half-initialised module: import it up front.
import pandas  # noqa: F401
import streamlit as st

from ui import cache, query_params, state, train_lab, workspace
from ui.widgets import image_format_picker

# A wordmark as inline SVG: no emoji (headless Chromium has no emoji font), no image file. The accent colour
# reads on the light and the dark theme alike (an image cannot follow the theme's text colour).
LOGO = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='150' height='36'>"
    "<circle cx='16' cy='18' r='11' fill='none' stroke='%234C5FD5' stroke-width='3'/>"
    "<circle cx='16' cy='18' r='4' fill='%234C5FD5'/>"
    "<text x='34' y='25' font-family='sans-serif' font-size='20' font-weight='700' fill='%234C5FD5'>RepLens</text>"
    "</svg>"
)

# The tab icon is a file in the repository, served by this server: a ":material/...:" icon is fetched from
# an outside font host, which fails offline (issue 18 item 7).
FAVICON = str(Path(__file__).resolve().parent / "static" / "favicon.png")

st.set_page_config(page_title="RepLens", page_icon=FAVICON, layout="wide",
                   menu_items={"About": "RepLens: measure and draw the geometry of embeddings."})
# UMAP's first fit in a process compiles numba code (~12 s): start that in the background, once.
cache.warm_up_projections()

# Pages that never read the sidebar's selection get no dataset picker (issue 16): Superposition
# analyses weight matrices (toy models, uploads); Information plane compares whole runs (every layer,
# checkpoint and input) chosen on the page. Both say so on the page.
NO_DATASET_SIDEBAR = frozenset({"superposition", "information"})
# The widget keys of `state.sidebar()`.
SIDEBAR_KEYS = ("source_key", "layer", "step", "split")

pages = [
    st.Page("app_pages/explore.py", title="Explore", icon=":material/scatter_plot:", default=True),
    st.Page("app_pages/collapse.py", title="Neural collapse", icon=":material/hub:"),
    st.Page("app_pages/hubness.py", title="Hubness", icon=":material/share:"),
    st.Page("app_pages/geometry.py", title="Sphere & spectrum", icon=":material/language:"),
    st.Page("app_pages/superposition.py", title="Superposition", icon=":material/stacks:"),
    st.Page("app_pages/codebook.py", title="Codebook usage", icon=":material/view_module:"),
    st.Page("app_pages/information.py", title="Information plane", icon=":material/timeline:"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("app_pages/report.py", title="Report", icon=":material/summarize:"),
    st.Page("app_pages/data.py", title="Data", icon=":material/dataset:"),
]
navigation = st.navigation(pages)
st.logo(LOGO, size="large")
# A session's first run: the address's workspace (`?ws=`) reloads its uploads and trained runs. Then the
# address's view (dataset, layer, step, Explore's projection...) goes into session state before any widget:
# all of it at the first run, what changed after Back or Forward later.
workspace.start_session()
query_params.read_address(navigation.url_path, {page.url_path: page for page in pages})
if navigation.url_path in NO_DATASET_SIDEBAR:
    # Streamlit forgets a widget's value on a run that does not draw it: hand the sidebar's choices
    # back to session state so the dataset, layer, checkpoint and split survive a visit to these pages.
    for key in SIDEBAR_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
else:
    st.session_state["view"] = state.sidebar()
    query_params.apply_explore(st.session_state["view"])
image_format_picker(st.sidebar)
# A training that diverged on any page (its loss became NaN) says so once, above the page it returns to.
train_lab.show_divergence()
workspace.show_notes()
query_params.write(navigation.url_path)  # before the page: a page that reruns still leaves the address right
navigation.run()
query_params.write(navigation.url_path)  # and after: what the page itself changed
