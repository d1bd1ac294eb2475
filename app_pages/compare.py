"""Compare: CKA between layers, runs and checkpoints; two spaces side by side; relative representations."""

from __future__ import annotations

import streamlit as st

from ui import compare, state

view = state.current_view()
st.title("Compare")
st.caption("How similar are two representations of the same inputs: two layers, two checkpoints, two seeds or two "
           "models? Linear CKA (Kornblith et al. 2019), neighbours that change, and relative representations "
           "(Moschella et al. 2023).")

tabs = st.tabs(["CKA", "Side by side", "Relative representations"])
with tabs[0]:
    compare.cka_view(view)
with tabs[1]:
    compare.side_by_side(view)
with tabs[2]:
    compare.relative_view()
