"""Compare: CKA, SVCCA and PWCCA between layers, runs and checkpoints; two spaces side by side; relative representations; neuron matching."""

from __future__ import annotations

import streamlit as st

from ui import compare, state

view = state.current_view()
st.title("Compare")
st.caption("How similar are two representations of the same inputs: two layers, two checkpoints, two seeds or two "
           "models? Linear CKA (Kornblith et al. 2019), SVCCA and PWCCA (Raghu et al. 2017; Morcos et al. 2018), "
           "neighbours that change, relative representations (Moschella et al. 2023) and matched units "
           "(Li et al. 2015).")

tabs = st.tabs(["CKA · SVCCA · PWCCA", "Side by side", "Relative representations", "Neuron matching"])
with tabs[0]:
    compare.cka_view(view)
with tabs[1]:
    compare.side_by_side(view)
with tabs[2]:
    compare.relative_view()
with tabs[3]:
    compare.matching_view()
