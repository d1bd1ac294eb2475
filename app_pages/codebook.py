"""Codebook usage: how many VQ codes a model really uses, which ones, for what, and the remedies."""

from __future__ import annotations

import streamlit as st

from ui import codebook, state
from ui.errors import USER_ERRORS, show_error

view = state.current_view()
st.title("Codebook usage")
st.caption("Vector-quantised models often use only a small part of their codebook: most codes die. See how many "
           "codes a model uses, which ones, for which inputs, and which remedy helps (van den Oord et al. 2017).")

tabs = st.tabs(["Usage", "Try this"])
with tabs[1]:
    codebook.try_this()
with tabs[0]:
    try:
        codebook.usage_view(view)
    except USER_ERRORS as exc:
        show_error(exc, "Cannot measure codebook usage here")
