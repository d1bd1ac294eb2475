"""Figures of the Hubness page's Retrieval tab: the gallery's N_k before and after re-ranking."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from analysis.views.hubness import HUB_COLOUR
from analysis.views.style import ACCENT, base_layout, legend_above

__all__ = ["k_occurrence_before_after"]


def k_occurrence_before_after(before: np.ndarray, after: np.ndarray, k: int, *, after_name: str,
                              height: int = 340) -> go.Figure:
    """Histogram of the gallery's N_k in the raw top-k lists and after one re-ranking, overlaid.

    Bars count gallery items per N_k value; a log y axis keeps the few hubs
    (far right) visible beside the many ordinary items.
    """
    fig = go.Figure()
    for counts, name, colour in ((before, "before (raw similarity)", "#9AA0AE"),
                                 (after, f"after {html.escape(after_name, quote=False)}", ACCENT)):
        values, frequency = np.unique(np.asarray(counts, dtype=np.int64), return_counts=True)
        fig.add_trace(go.Bar(x=values, y=frequency, name=name, marker_color=colour, opacity=0.75,
                             hovertemplate="N_k = %{x}: %{y} gallery items<extra>" + name + "</extra>"))
    fig.add_vline(x=2 * k, line=dict(color=HUB_COLOUR, dash="dash"))
    fig.add_annotation(x=2 * k, y=0.97, yref="y domain", text="2k: hubs", showarrow=False, xanchor="left", xshift=3,
                       font=dict(color=HUB_COLOUR, size=12))
    base_layout(fig, height=height)
    legend_above(fig)  # clear of the bars and of the hub line's label
    fig.update_layout(barmode="overlay", bargap=0.05,
                      xaxis=dict(title="N_k (queries whose top k holds the gallery item)"),
                      yaxis=dict(title="gallery items (log)", type="log", dtick=1))
    return fig
