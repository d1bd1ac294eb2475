"""Information plane: each layer as (I(X;T), I(T;Y)) over training, the estimators' bias, and the 12-bit lab."""

from __future__ import annotations

import streamlit as st

from ui import information

st.title("Information plane")
st.caption("Each layer T of a classifier as a point (I(X;T), I(T;Y)): how much it keeps about the input and about "
           "the label, over training (Shwartz-Ziv & Tishby 2017; Saxe et al. 2018). The numbers depend on the "
           "estimator, so the page shows how far each is from the truth.")
# app.py draws no dataset sidebar here (NO_DATASET_SIDEBAR): the run picker below chooses the data.

tabs = st.tabs(["Information plane", "Estimator check", "Train", "The debate"])
with tabs[0]:
    settings, _ = information.plane_view()
with tabs[1]:
    information.validation_view(settings)
with tabs[2]:
    information.train_view()
with tabs[3]:
    st.markdown(information.DEBATE)
