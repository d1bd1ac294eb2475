"""One self-contained HTML page with interactive Plotly figures (the report and comparison exports).

The page opens offline: plotly.js is inlined once in a ``<script>`` element;
there is no ``<script src=``, no ``<link>``, no web font and no CDN. Callers
pass HTML fragments and escape every user string with `esc`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from analysis.views import numbers

__all__ = ["PLOT_CONFIG", "esc", "figure_section", "format_number", "standalone_page"]

PLOT_CONFIG = {"displaylogo": False, "responsive": True}
EXPORT_TEMPLATE = "plotly_white"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1F2430; margin: 0;
       background: #F7F8FA; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 4px 0; }
h2 { font-size: 1.2em; margin: 28px 0 8px 0; }
.meta { color: #4A5060; margin: 0 0 12px 0; }
.summary span { margin-right: 14px; }
table { border-collapse: collapse; width: 100%; background: #FFFFFF; }
th, td { text-align: left; vertical-align: top; padding: 8px 10px; border-bottom: 1px solid #E3E6EC; }
th { background: #EEF0F4; font-weight: 600; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; min-width: 92px; padding: 2px 8px; border-radius: 10px; font-weight: 700;
         font-size: 0.82em; letter-spacing: 0.03em; }
.note { color: #5B6170; font-size: 0.88em; }
.figure { background: #FFFFFF; margin: 10px 0; padding: 6px; border: 1px solid #E3E6EC; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
pre { background: #FFFFFF; border: 1px solid #E3E6EC; padding: 10px; overflow-x: auto; font-size: 0.82em; }
"""


def esc(value: object) -> str:
    """HTML-escape any value (user text goes through this before it reaches the page)."""
    return html.escape(str(value), quote=True)


def format_number(value: float | None) -> str:
    """A number for a table cell: the app's one format (`analysis.views.numbers`) with 4 significant digits."""
    return numbers.format_number(value, digits=4)


def figure_div(fig: go.Figure, div_id: str) -> str:
    """The figure as a ``<div>`` plus its drawing script, without plotly.js (the page inlines it once).

    The app leaves colours to Streamlit's light or dark theme; this page is always light, so its figures
    take the white template here."""
    fig = go.Figure(fig).update_layout(template=EXPORT_TEMPLATE)
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, config=PLOT_CONFIG, div_id=div_id)


def figure_section(name: str, fig: go.Figure, heading: str, caption: str) -> str:
    """A titled, captioned figure; its div id is ``figure-<name>``."""
    return (f'<section class="figure"><h3>{esc(heading)}</h3><p class="note">{esc(caption)}</p>'
            f"{figure_div(fig, f'figure-{esc(name)}')}</section>")


def standalone_page(title: str, body: Sequence[str], *, script: str = "") -> str:
    """A whole HTML document: the title (escaped here), inline CSS and plotly.js, the body fragments
    in order, and an optional trailing inline script (run after every figure exists)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style>",
        # plotly.js once, inline: the page never fetches anything.
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body><main>",
        *body,
        "</main>",
        *([f'<script type="text/javascript">{script}</script>'] if script else []),
        "</body></html>",
    ]
    return "\n".join(parts)
