"""Report a click on a Plotly chart to the server in every drag mode (lasso and box included).

Why this exists: `st.plotly_chart(on_select="rerun")` (Streamlit 1.67) reports a
clicked point only through Plotly's select-on-click, and its frontend sets
``clickmode`` to ``"event"`` whenever the drag mode is lasso or box, so in the
default lasso mode a click selects nothing and reaches nobody (its `onClick`
handler only reports sunburst/treemap sectors, points with ``id`` and
``parent``). Plotly still emits ``plotly_click`` on the chart's graph div in
every drag mode (select.js `clickFn` calls `Fx.click`), so this component, an
``st.components.v2`` element with a few lines of inline JavaScript (components
v2 run in the app's page, not an iframe), listens for that event on the chart
inside a keyed container and sends back the clicked row (`customdata`), the
drag mode and the axis ranges in use, so the redrawn chart keeps them.

Nothing is drawn: the element is empty. No extra dependency and no build step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

# Attach to the Plotly graph div inside the container whose class is `selector` (Streamlit gives a keyed
# st.container the class "st-key-<key>"). The chart is re-created whenever its figure changes, so the
# listener is (re)attached by polling; the listener reads the drag mode and the ranges at click time.
_JS = """
export default function (component) {
  const { data, setTriggerValue } = component;
  const selector = (data && data.selector) || "";
  let attached = null;
  const onClick = (event) => {
    const points = (event && event.points) || [];
    const point = points.find((p) => typeof p.customdata === "number" && Number.isFinite(p.customdata));
    if (!point || !attached) return;
    const layout = attached._fullLayout || {};
    const range = (axis) => (axis && !axis.autorange && Array.isArray(axis.range) ? axis.range.slice(0, 2) : null);
    const is3d = !!(point.fullData && point.fullData.type === "scatter3d");
    setTriggerValue("click", {
      row: Math.round(point.customdata),
      dragmode: is3d ? null : (layout.dragmode || null),
      x_range: is3d ? null : range(layout.xaxis),
      y_range: is3d ? null : range(layout.yaxis),
    });
  };
  const attach = () => {
    const gd = selector ? document.querySelector(selector + " .js-plotly-plot") : null;
    if (gd === attached || !gd || typeof gd.on !== "function") return;
    if (attached && typeof attached.removeListener === "function") attached.removeListener("plotly_click", onClick);
    gd.on("plotly_click", onClick);
    attached = gd;
  };
  attach();
  const timer = setInterval(attach, 200);
  return () => {
    clearInterval(timer);
    if (attached && typeof attached.removeListener === "function") attached.removeListener("plotly_click", onClick);
    attached = null;
  };
}
"""

_bridge = st.components.v2.component("replens_plotly_click", js=_JS)


@dataclass(frozen=True)
class ChartClick:
    """One click on a chart: the row id (the clicked marker's `customdata`) and the chart's view then.

    `dragmode` is Plotly's ("lasso", "select", "zoom", "pan"; None in 3-D); the ranges are None
    while the axis autoranges (the user has not zoomed or panned).
    """

    row: int
    dragmode: str | None = None
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any] | None) -> ChartClick | None:
        """The click the component sent, or None for anything malformed (the browser is not trusted)."""
        if not isinstance(payload, Mapping):
            return None
        row = payload.get("row")
        if isinstance(row, bool) or not isinstance(row, int | float) or row != row or row < 0:
            return None
        dragmode = payload.get("dragmode")
        dragmode = dragmode if dragmode in ("lasso", "select", "zoom", "pan") else None
        return cls(row=int(row), dragmode=dragmode, x_range=_range(payload.get("x_range")),
                   y_range=_range(payload.get("y_range")))


def _range(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    try:
        lo, hi = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return None
    return (lo, hi) if lo == lo and hi == hi and abs(lo) != float("inf") and abs(hi) != float("inf") else None


def container_class(container_key: str) -> str:
    """The CSS class Streamlit gives `st.container(key=container_key)`."""
    return f".st-key-{container_key}"


def click_listener(container_key: str, *, key: str, on_click: Callable[[ChartClick], None]) -> None:
    """Listen for clicks on the Plotly chart drawn inside `st.container(key=container_key)`.

    `on_click` runs as the widget callback, before the script (or fragment) reruns, so the rerun
    already draws what the click chose.
    """

    def _callback() -> None:
        state = st.session_state.get(key)
        payload = state.get("click") if isinstance(state, Mapping) else None
        click = ChartClick.from_payload(payload)
        if click is not None:
            on_click(click)

    _bridge(key=key, data={"selector": container_class(container_key)}, height="content", on_click_change=_callback)
