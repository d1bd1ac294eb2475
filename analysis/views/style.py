"""Shared look of every RepLens figure."""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative

# Ten well-separated colours, then more for many classes.
CATEGORY_COLORS: tuple[str, ...] = tuple(qualitative.D3) + tuple(qualitative.Dark24)
CONTINUOUS_SCALE = "Viridis"
ACCENT = "#4C5FD5"
FONT = dict(family="Inter, system-ui, sans-serif", size=13, color="#1F2430")


def category_color(code: int) -> str:
    return CATEGORY_COLORS[code % len(CATEGORY_COLORS)]


def base_layout(fig: go.Figure, *, height: int = 420, title: str | None = None) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        font=FONT,
        title=dict(text=escape(title), x=0.01, font=dict(size=15)) if title else None,
        legend=dict(itemsizing="constant", bgcolor="rgba(255,255,255,0.7)"),
    )
    return fig


def escape(text: object) -> str:
    """Escape user text for Plotly's HTML-like hover and titles."""
    return html.escape(str(text), quote=False)


def escape_all(values: Sequence[object]) -> list[str]:
    return [html.escape(str(v), quote=False) for v in values]
