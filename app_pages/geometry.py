"""Sphere & spectrum: alignment, uniformity, isotropy, effective rank and intrinsic dimension."""

from __future__ import annotations

import streamlit as st

from ui import geometry, state
from ui.errors import USER_ERRORS, show_error

view = state.current_view()
st.title("Sphere & spectrum")
st.caption("Contrastive learning optimises two things on the hypersphere: alignment of positive pairs and "
           "uniformity of the whole set (Wang & Isola 2020). Isotropy, effective rank and intrinsic dimension "
           "tell whether a space uses its dimensions.")

# The tabs track which is open, so the Remedies tab whitens and searches neighbours only when opened
# (moving the checkpoint slider on another tab measures nothing new: issue 16).
tabs = st.tabs(["Geometry", "Spectrum", geometry.REMEDIES_TAB, "Try this", "Formulas"], key=geometry.TABS_KEY,
               on_change="rerun")
with tabs[3]:
    geometry.try_this()
with tabs[4]:
    geometry.explain()
try:
    with tabs[0]:
        geometry.geometry_view(view)
    with tabs[1]:
        geometry.spectrum_view(view)
except USER_ERRORS as exc:
    show_error(exc, "Cannot measure this dataset's geometry")
with tabs[2]:
    if tabs[2].open:
        try:
            geometry.remedies_view(view)
        except USER_ERRORS as exc:
            show_error(exc, "Cannot whiten this dataset")
