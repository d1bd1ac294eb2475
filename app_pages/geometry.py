"""Sphere & spectrum: alignment, uniformity, isotropy, effective rank and intrinsic dimension."""

from __future__ import annotations

import streamlit as st

from ui import geometry, state
from ui.errors import USER_ERRORS, show_error

view = state.current_view()
emb, run = view.embedding, view.source.run
st.title("Sphere & spectrum")
st.caption("Contrastive learning optimises two things on the hypersphere: alignment of positive pairs and "
           "uniformity of the whole set (Wang & Isola 2020). Isotropy, effective rank and intrinsic dimension "
           "tell whether a space uses its dimensions.")

tabs = st.tabs(["Geometry", "Spectrum", "Try this", "Formulas"])
with tabs[2]:
    geometry.try_this()
with tabs[3]:
    geometry.explain()
try:
    with tabs[0]:
        if run is not None:
            table = geometry.layer_table(view.source.key, run, view.layer, None if view.split == "all" else view.split)
            row = table.filter(table["step"] == view.step).to_dicts()[0]
            st.markdown(f"**{view.layer}** at step **{view.step:,}** ({emb.n_samples:,} samples).")
            geometry.cards(row)
            st.subheader("Points on the sphere")
            geometry.sphere_view(view, run)
            st.subheader("Alignment and uniformity over training")
            geometry.plane(view, run)
        else:
            geometry.cards(geometry.embedding_row(view.data_key, emb))
    with tabs[1]:
        geometry.spectrum_view(view, run)
except USER_ERRORS as exc:
    show_error(exc, "Cannot measure this dataset's geometry")
