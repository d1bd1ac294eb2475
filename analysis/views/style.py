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
# No colour: text, backgrounds and grid come from the template, which in the app is Streamlit's and follows
# its light or dark theme (issue 18 item 7); the HTML exports take "plotly_white" (html_page.py).
FONT = dict(family="Inter, system-ui, sans-serif", size=13)


def category_color(code: int) -> str:
    return CATEGORY_COLORS[code % len(CATEGORY_COLORS)]


# The chart toolbar (Plotly's mode bar, ~26 px tall) floats over the top right corner of the figure: the
# top margin keeps the plot area, and a legend or colour bar anchored to its top, clear of it.
TOP_MARGIN = 40
# With a legend above the plot: the toolbar's strip (~30 px) plus up to two legend rows with their padding
# (~54 px; a wrapped legend's box spans the full width, so it must clear the strip vertically).
LEGEND_ABOVE_MARGIN = 92
# Trace types whose colour bar shows unless `showscale=False`.
SCALED_TRACES = frozenset({"heatmap", "contour", "histogram2d", "histogram2dcontour", "surface", "choropleth"})


def shows_colorbar(trace: object) -> bool:
    """Whether a trace draws a colour bar: a heatmap-like trace with its scale on, or colour-mapped markers."""
    if getattr(trace, "type", "") in SCALED_TRACES and getattr(trace, "showscale", None) is not False:
        return True
    marker = getattr(trace, "marker", None)
    return bool(marker is not None and getattr(marker, "showscale", None))


def base_layout(fig: go.Figure, *, height: int = 420, title: str | None = None) -> go.Figure:
    """The shared look. Called after the traces are added, it also keeps the legend off a colour bar:
    both sit at the right edge by default, so with a colour bar the legend lies in a row above the plot."""
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=TOP_MARGIN, b=10),
        font=FONT,
        title=dict(text=escape(title), x=0.01, font=dict(size=15)) if title else None,
        legend=dict(itemsizing="constant", y=1, yanchor="top"),
    )
    if any(shows_colorbar(trace) for trace in fig.data):
        legend_above(fig)
    return fig


def legend_above(fig: go.Figure) -> go.Figure:
    """The legend in rows above the plot, from the left, under the toolbar's strip: for figures whose right
    edge holds a colour bar. Not for titled figures (the title takes that strip)."""
    fig.update_layout(legend=dict(orientation="h", x=0, xanchor="left", y=1, yanchor="bottom"),
                      margin=dict(t=LEGEND_ABOVE_MARGIN))
    return fig


def escape(text: object) -> str:
    """Escape user text for Plotly's HTML-like hover and titles."""
    return html.escape(str(text), quote=False)


def escape_all(values: Sequence[object]) -> list[str]:
    return [html.escape(str(v), quote=False) for v in values]


# Animation controls: the step slider along the bottom, its Play / Pause buttons on a row of their own
# under it (issue 18 item 5: buttons drawn over the slider hid its first tick labels). Stacking instead
# of sharing a row keeps them apart at any chart width; both push the bottom margin out (Plotly's
# automargin), so nothing overlaps the plot either.
SLIDER_PAD_TOP = 20
BUTTONS_PAD_TOP = 105  # below the slider's ~72 px (current value, rail, tick labels) and its pad


def animation_controls(fig: go.Figure, steps: Sequence[tuple[str, str]], *, active: int, prefix: str = "step ",
                       frame_ms: int = 600, pause: bool = True) -> go.Figure:
    """A slider over the figure's frames and Play (and Pause) buttons that never overlap it.

    steps : (tick label, frame name) per frame, in order.
    """
    buttons = [dict(label="▶ Play", method="animate",
                    args=[None, dict(frame=dict(duration=frame_ms, redraw=True), fromcurrent=True,
                                     transition=dict(duration=0))])]
    if pause:
        buttons.append(dict(label="❚❚ Pause", method="animate",
                            args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))]))
    fig.update_layout(
        sliders=[dict(
            active=active, x=0, len=1, y=0, xanchor="left", yanchor="top", pad=dict(t=SLIDER_PAD_TOP, r=10),
            currentvalue=dict(prefix=prefix, xanchor="right", font=FONT),
            steps=[dict(label=label, method="animate",
                        args=[[name], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                           transition=dict(duration=0))]) for label, name in steps],
        )],
        updatemenus=[dict(type="buttons", direction="left", showactive=False, x=0, y=0, xanchor="left",
                          yanchor="top", pad=dict(t=BUTTONS_PAD_TOP), buttons=buttons)],
    )
    return fig
