"""Superposition: the toy model's sweep and phase diagram, and overlaps in uploaded weights."""

from __future__ import annotations

import streamlit as st

from ui import superposition

st.title("Superposition")
st.caption("With fewer dimensions than features, a model can store sparse features in superposition, in "
           "arrangements (antipodal pairs, pentagons, tetrahedra) that change in phase transitions as sparsity "
           "and importance vary — Elhage et al. (2022), Toy Models of Superposition.")
# app.py draws no dataset sidebar here (NO_DATASET_SIDEBAR): the page never reads the selection.
st.caption("This page analyses weight matrices (toy models trained here, or weights you upload), not the "
           "activations of a dataset, so it has no dataset sidebar.")

tabs = st.tabs(["Toy model", "Phase diagram", "Weights", "Try this"])
with tabs[3]:
    superposition.try_this()
with tabs[2]:
    superposition.weights_view()
with tabs[1]:
    superposition.phase_view()
with tabs[0]:
    superposition.toy_model()
