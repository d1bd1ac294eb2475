"""RepLens: look inside a neural network's latent space. Run with `make run`."""

from __future__ import annotations

import streamlit as st

from ui import state

st.set_page_config(page_title="RepLens", page_icon="🔭", layout="wide",
                   menu_items={"About": "RepLens: measure and draw the geometry of embeddings."})

pages = [
    st.Page("pages/explore.py", title="Explore", icon="🔭", default=True),
    st.Page("pages/data.py", title="Data", icon="🗂️"),
]
navigation = st.navigation(pages)
with st.sidebar:
    st.markdown("## 🔭 RepLens")
st.session_state["view"] = state.sidebar()
navigation.run()
