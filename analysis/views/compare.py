"""Figures for comparing representations: similarity heatmaps (CKA, SVCCA, PWCCA) and neuron-matching curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from analysis.views.style import ACCENT, base_layout, escape, escape_all

__all__ = ["cka_heatmap", "matching_curves"]


def cka_heatmap(values: np.ndarray, rows: Sequence[str], columns: Sequence[str], *, title: str,
                row_title: str, column_title: str, height: int = 460, measure: str = "CKA") -> go.Figure:
    """A similarity matrix in [0, 1] (CKA, SVCCA, PWCCA: `measure` names it) with every cell's value written in it.

    values : ndarray of shape (len(rows), len(columns)).
    """
    values = np.asarray(values, dtype=np.float64)
    text = [[f"{v:.2f}" for v in row] for row in values]
    fig = go.Figure(go.Heatmap(
        z=values, x=escape_all(columns), y=escape_all(rows), zmin=0.0, zmax=1.0, colorscale="Viridis",
        text=text, texttemplate="%{text}" if values.size <= 400 else None,
        colorbar=dict(title=escape(measure), thickness=12),
        hovertemplate=f"{escape(row_title)} %{{y}}<br>{escape(column_title)} %{{x}}<br>{escape(measure)} %{{z:.3f}}<extra></extra>",
    ))
    base_layout(fig, height=height, title=title)
    fig.update_layout(xaxis=dict(title=escape(column_title), type="category"),
                      yaxis=dict(title=escape(row_title), type="category", autorange="reversed"))
    return fig


def matching_curves(matched: np.ndarray, max_correlation: np.ndarray, chance: np.ndarray, *, title: str,
                    height: int = 380) -> go.Figure:
    """Sorted unit correlations: one-to-one matched, many-to-one best, and the shuffled-rows chance level.

    Each argument is an ndarray of correlations sorted from highest to lowest; x is the unit's rank.
    """
    fig = go.Figure()
    for values, name, colour, dash in ((max_correlation, "many-to-one (best partner)", "#FF7F0E", "solid"),
                                       (matched, "one-to-one (Hungarian)", ACCENT, "solid"),
                                       (chance, "one-to-one, rows shuffled (chance)", "#888888", "dot")):
        values = np.asarray(values, dtype=np.float64)
        fig.add_trace(go.Scatter(x=np.arange(1, values.size + 1), y=values, name=name, mode="lines+markers",
                                 marker=dict(size=4), line=dict(color=colour, dash=dash),
                                 hovertemplate=f"{escape(name)}<br>unit rank %{{x}}: r = %{{y:.3f}}<extra></extra>"))
    base_layout(fig, height=height, title=title)
    fig.update_layout(xaxis=dict(title="unit of A, by rank"), yaxis=dict(title="correlation", range=[-0.1, 1.02]),
                      # Below the axis title, not on it.
                      legend=dict(orientation="h", y=-0.3, x=0, yanchor="top"))
    return fig
