"""Figures for comparing representations: CKA heatmaps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from analysis.views.style import base_layout, escape, escape_all

__all__ = ["cka_heatmap"]


def cka_heatmap(values: np.ndarray, rows: Sequence[str], columns: Sequence[str], *, title: str,
                row_title: str, column_title: str, height: int = 460) -> go.Figure:
    """A similarity matrix (CKA in [0, 1]) with every cell's value written in it.

    values : ndarray of shape (len(rows), len(columns)).
    """
    values = np.asarray(values, dtype=np.float64)
    text = [[f"{v:.2f}" for v in row] for row in values]
    fig = go.Figure(go.Heatmap(
        z=values, x=escape_all(columns), y=escape_all(rows), zmin=0.0, zmax=1.0, colorscale="Viridis",
        text=text, texttemplate="%{text}" if values.size <= 400 else None,
        colorbar=dict(title="CKA", thickness=12),
        hovertemplate=f"{escape(row_title)} %{{y}}<br>{escape(column_title)} %{{x}}<br>CKA %{{z:.3f}}<extra></extra>",
    ))
    base_layout(fig, height=height, title=title)
    fig.update_layout(xaxis=dict(title=escape(column_title), type="category"),
                      yaxis=dict(title=escape(row_title), type="category", autorange="reversed"))
    return fig
