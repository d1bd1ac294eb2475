"""Report: one verdict per diagnostic of the sidebar's embedding, each linked to the page that explains it."""

from __future__ import annotations

import streamlit as st

from ui import report, state

view = state.current_view()
st.title("Diagnosis report")
st.caption("Every metric that applies to the sidebar's embedding, each against a baseline of the same size "
           "(i.i.d. Gaussian data, the uniform sphere, the full dimension), with a plain verdict and the page that "
           "explains it. Export it as one HTML file that opens offline, or as JSON.")
report.report_view(view)
