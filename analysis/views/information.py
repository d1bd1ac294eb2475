"""Figures of the information plane: layer trajectories, I against training time, accuracy, estimator check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from analysis.views.style import CATEGORY_COLORS, base_layout, escape

__all__ = ["accuracy_curves", "hover_readings", "information_curves", "information_plane_figure",
           "validation_figure"]

_EPOCH_SCALE = "Plasma"


def _time(table: pl.DataFrame) -> tuple[np.ndarray, str]:
    """Training time of each row (epoch when known, else optimiser step) and its name."""
    if table["epoch"].null_count() == 0:
        return table["epoch"].to_numpy().astype(float), "epoch"
    return table["step"].to_numpy().astype(float), "step"


def _log_time(t: np.ndarray) -> np.ndarray:
    """log10 of training time with initialisation (0) drawn half a decade before the first positive value."""
    positive = t[t > 0]
    floor = positive.min() / np.sqrt(10.0) if positive.size else 1.0
    return np.log10(np.where(t > 0, t, floor))


def _log_ticks(log_t: np.ndarray) -> tuple[list[float], list[str]]:
    low, high = int(np.floor(log_t.min())), int(np.ceil(log_t.max()))
    values = [float(p) for p in range(low, high + 1)]
    return values, [f"{10.0**p:g}" for p in values]


def _reading(clipped: float, raw: float, name: str) -> str:
    """One hover line: the plotted (clipped) value and the raw estimate, and why they differ when they do."""
    if raw < clipped:
        return f"{name} = {clipped:.3f} bits, clipped at 0 (raw estimate {raw:+.4f}: MI is never negative)"
    return f"{name} = {clipped:.3f} bits (raw estimate {raw:+.4f}, not clipped)"


def hover_readings(table: pl.DataFrame) -> list[str]:
    """Each row's I(X;T) and I(T;Y) as hover lines with both readings, raw and clipped (KSG's raw can be < 0)."""
    cols = {c: table[c].to_list() for c in ("i_xt", "i_ty")}
    raws = {c: table[f"{c}_raw"].to_list() if f"{c}_raw" in table.columns else cols[c] for c in cols}
    return [escape(_reading(x, rx, "I(X;T)")) + "<br>" + escape(_reading(y, ry, "I(T;Y)"))
            for x, rx, y, ry in zip(cols["i_xt"], raws["i_xt"], cols["i_ty"], raws["i_ty"], strict=True)]


def information_plane_figure(tables: Mapping[str, pl.DataFrame], *, height: int = 460) -> go.Figure:
    """One panel per run: every layer's path through (I(X;T), I(T;Y)), markers coloured by training time.

    tables : mapping run name -> `information_plane_table` output. The panels
    share both axes, so two runs (tanh and ReLU) compare at a glance; the
    colour scale is log training time, the same in every panel.
    """
    names = list(tables)
    fig = make_subplots(rows=1, cols=max(len(names), 1), shared_xaxes=True, shared_yaxes=True,
                        subplot_titles=[escape(n) for n in names], horizontal_spacing=0.04)
    all_log = np.concatenate([_log_time(_time(t)[0]) for t in tables.values()]) if names else np.zeros(1)
    low, high = float(all_log.min()), float(all_log.max())
    tick_values, tick_text = _log_ticks(all_log)
    tick_values, tick_text = zip(*[(v, s) for v, s in zip(tick_values, tick_text, strict=True)
                                    if low - 1e-9 <= v <= high + 1e-9], strict=True) if high > low else ([low], ["0"])
    time_name = _time(next(iter(tables.values())))[1] if names else "epoch"
    layer_colours: dict[str, str] = {}
    for col, name in enumerate(names, start=1):
        table = tables[name]
        t, unit = _time(table)
        log_t = _log_time(t)
        for i, layer in enumerate(table["layer"].unique(maintain_order=True)):
            rows = (table["layer"] == layer).to_numpy()
            part = table.filter(pl.col("layer") == layer)
            colour = layer_colours.setdefault(layer, CATEGORY_COLORS[i % len(CATEGORY_COLORS)])
            fig.add_trace(go.Scatter(
                x=part["i_xt"].to_numpy(), y=part["i_ty"].to_numpy(), mode="lines+markers",
                name=escape(layer), legendgroup=layer, showlegend=False,
                line=dict(color=colour, width=2),
                marker=dict(size=8, color=log_t[rows], coloraxis="coloraxis", line=dict(width=1.5, color=colour)),
                customdata=np.column_stack([t[rows], part["step"].to_numpy()]), text=hover_readings(part),
                hovertemplate=(f"<b>{escape(layer)}</b> · {unit} %{{customdata[0]:.4g}} (step %{{customdata[1]}})"
                               "<br>%{text}<extra>"
                               f"{escape(name)}</extra>"),
            ), row=1, col=col)
        fig.update_xaxes(title_text="I(X;T), bits", row=1, col=col)
    for layer, colour in layer_colours.items():  # legend entries in the line colour (markers show time)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=escape(layer), legendgroup=layer,
                                 line=dict(color=colour, width=3)), row=1, col=1)
    fig.update_yaxes(title_text="I(T;Y), bits", row=1, col=1)
    fig.update_xaxes(matches="x")  # shared_xaxes links columns only within a column: share across runs too
    base_layout(fig, height=height)
    fig.update_layout(
        margin=dict(t=40),
        legend=dict(orientation="h", y=-0.18, x=0, title=dict(text="layer (line colour)")),
        coloraxis=dict(colorscale=_EPOCH_SCALE, cmin=low, cmax=high,
                       colorbar=dict(title=dict(text=f"{time_name}<br>(markers)"), tickvals=list(tick_values),
                                     ticktext=list(tick_text), thickness=14)),
    )
    return fig


def information_curves(tables: Mapping[str, pl.DataFrame], *, height: int = 520) -> go.Figure:
    """I(X;T) (top) and I(T;Y) (bottom) against training time, one column per run, one line per layer."""
    names = list(tables)
    fig = make_subplots(rows=2, cols=max(len(names), 1), shared_xaxes=True, shared_yaxes="rows",
                        subplot_titles=[escape(n) for n in names], vertical_spacing=0.08, horizontal_spacing=0.04)
    for col, name in enumerate(names, start=1):
        table = tables[name]
        t, unit = _time(table)
        x_all = 10.0 ** _log_time(t)
        for i, layer in enumerate(table["layer"].unique(maintain_order=True)):
            rows = (table["layer"] == layer).to_numpy()
            colour = CATEGORY_COLORS[i % len(CATEGORY_COLORS)]
            for row, column in ((1, "i_xt"), (2, "i_ty")):
                raw = table[f"{column}_raw" if f"{column}_raw" in table.columns else column].to_numpy()[rows]
                fig.add_trace(go.Scatter(
                    x=x_all[rows], y=table[column].to_numpy()[rows], mode="lines+markers", name=escape(layer),
                    legendgroup=layer, showlegend=(col == 1 and row == 1), line=dict(color=colour, width=2),
                    marker=dict(size=5), customdata=np.column_stack([t[rows], raw]),
                    hovertemplate=(f"{escape(layer)} · {unit} %{{customdata[0]:.4g}}: %{{y:.3f}} bits "
                                   "(raw estimate %{customdata[1]:+.4f}; the plot shows max(0, raw))<extra></extra>"),
                ), row=row, col=col)
        fig.update_xaxes(type="log", dtick=1, title_text=f"{unit} (log; initialisation drawn first)", row=2, col=col)
    fig.update_yaxes(title_text="I(X;T), bits", row=1, col=1)
    fig.update_yaxes(title_text="I(T;Y), bits", row=2, col=1)
    base_layout(fig, height=height)
    fig.update_layout(margin=dict(t=40), legend=dict(orientation="h", y=-0.15, x=0))
    return fig


def accuracy_curves(curves_by_run: Mapping[str, Mapping[str, Sequence[float]]], *, height: int = 300) -> go.Figure:
    """Train (solid) and test (dotted) accuracy against epoch (or step), one colour per run."""
    fig = go.Figure()
    unit = "step"
    for i, (name, curves) in enumerate(curves_by_run.items()):
        colour = CATEGORY_COLORS[i % len(CATEGORY_COLORS)]
        unit = "epoch" if curves.get("epoch") else "step"
        x = 10.0 ** _log_time(np.asarray(curves[unit], dtype=float))
        for split, dash in (("train", "solid"), ("test", "dot")):
            values = curves.get(f"{split}_acc")
            if values:
                fig.add_trace(go.Scatter(x=x, y=list(values), mode="lines", name=f"{escape(name)} · {split}",
                                         line=dict(color=colour, dash=dash, width=2)))
    base_layout(fig, height=height, title="Accuracy")
    fig.update_layout(xaxis=dict(type="log", dtick=1, title=unit), yaxis=dict(range=[0, 1.02], tickformat=".0%"),
                      legend=dict(orientation="h", y=-0.3, x=0))
    return fig


def validation_figure(table: pl.DataFrame, *, height: int = 400) -> go.Figure:
    """Estimate against truth for I(X;T) and I(T;Y): colour = n, symbol = family, the diagonal is exact."""
    quantities = ["I(X;T)", "I(T;Y)"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"{q}: estimate vs truth" for q in quantities],
                        horizontal_spacing=0.08)
    n_values = sorted(table["n"].unique().to_list())
    symbols = {"gaussian": "circle", "bits": "square"}
    for col, quantity in enumerate(quantities, start=1):
        part = table.filter(pl.col("quantity") == quantity)
        top = max(float(part["truth"].max()), float(part["estimate"].max()), 1.0) * 1.05
        fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", line=dict(color="#999", dash="dash"),
                                 name="exact", showlegend=(col == 1), hoverinfo="skip"), row=1, col=col)
        for j, n in enumerate(n_values):
            for family, symbol in symbols.items():
                cell = part.filter((pl.col("n") == n) & (pl.col("family") == family))
                if cell.is_empty():
                    continue
                fig.add_trace(go.Scatter(
                    x=cell["truth"].to_numpy(), y=cell["estimate"].to_numpy(), mode="markers",
                    name=f"{family}, n = {n:,}", legendgroup=f"{family}{n}", showlegend=(col == 1),
                    marker=dict(size=10, symbol=symbol, color=CATEGORY_COLORS[j % len(CATEGORY_COLORS)],
                                line=dict(width=1, color="#333")),
                    customdata=cell["d"].to_numpy(),
                    hovertemplate=(f"{family}, n = {n:,}, d = %{{customdata}}<br>truth %{{x:.3f}} bits"
                                   "<br>estimate %{y:.3f} bits<extra></extra>"),
                ), row=1, col=col)
        fig.update_xaxes(title_text="truth, bits", range=[0, top], row=1, col=col)
        fig.update_yaxes(title_text="estimate, bits", range=[0, top], row=1, col=col)
    base_layout(fig, height=height)
    fig.update_layout(margin=dict(t=40), legend=dict(orientation="h", y=-0.25, x=0))
    return fig
