"""Figures for codebook usage: rank-frequency, usage over training, code x label, digit images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.views.style import ACCENT, CATEGORY_COLORS, base_layout, escape, escape_all

__all__ = ["code_label_heatmap", "code_usage_rank", "digit_gallery", "usage_over_training"]


def code_usage_rank(counts_by_run: Mapping[str, np.ndarray], *, height: int = 360) -> go.Figure:
    """Codes sorted by use (rank-frequency, log-log), one line per run; dead codes are past each line's end."""
    fig = go.Figure()
    for i, (name, counts) in enumerate(counts_by_run.items()):
        ranked = np.sort(np.asarray(counts, dtype=np.int64))[::-1]
        used = ranked[ranked > 0]
        fig.add_trace(go.Scatter(
            x=np.arange(1, used.size + 1), y=used, mode="lines", name=f"{escape(name)} ({used.size}/{ranked.size} used)",
            line=dict(color=CATEGORY_COLORS[i % len(CATEGORY_COLORS)], width=2),
            hovertemplate="rank %{x}: used %{y} times<extra>" + escape(name) + "</extra>"))
    base_layout(fig, height=height, title="Code usage, most used first (log-log)")
    fig.update_layout(xaxis=dict(type="log", dtick=1, title="code rank"), yaxis=dict(type="log", dtick=1, title="uses"),
                      legend=dict(orientation="h", y=-0.25, x=0))
    return fig


def usage_over_training(curves_by_run: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]], *,
                        codebook_size: int | None = None, height: int = 340) -> go.Figure:
    """Perplexity and dead fraction against step, several runs overlaid.

    curves_by_run : mapping name -> (steps, perplexity, dead fraction)
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=["Perplexity exp(H)", "Dead fraction"],
                        horizontal_spacing=0.1)
    for i, (name, (steps, perplexity, dead)) in enumerate(curves_by_run.items()):
        colour = CATEGORY_COLORS[i % len(CATEGORY_COLORS)]
        x = [max(float(s), 1.0) for s in steps]  # log axis: step 0 drawn at 1
        fig.add_trace(go.Scatter(x=x, y=list(perplexity), mode="lines", name=escape(name), legendgroup=name,
                                 line=dict(color=colour, width=2)), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=list(dead), mode="lines", name=escape(name), legendgroup=name,
                                 showlegend=False, line=dict(color=colour, width=2)), row=1, col=2)
    if codebook_size:  # the ceiling: every code used equally
        fig.layout.annotations[0].text = f"Perplexity exp(H) (K = {codebook_size:,})"
    fig.update_xaxes(type="log", dtick=1, title="optimiser step")
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=2)
    base_layout(fig, height=height)
    fig.update_layout(margin=dict(t=40), legend=dict(orientation="h", y=-0.3, x=0))
    return fig


def code_label_heatmap(codes: np.ndarray, labels: np.ndarray, codebook_size: int,
                       label_names: Sequence[str] | None = None, *, max_codes: int = 64,
                       height: int = 380) -> go.Figure:
    """How often each label lands on each code (the `max_codes` most used codes), rows normalised."""
    codes = np.asarray(codes, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    n_labels = int(labels.max()) + 1
    table = np.zeros((codebook_size, n_labels))
    np.add.at(table, (codes, labels), 1.0)
    top = np.argsort(table.sum(axis=1))[::-1][:max_codes]
    top = top[table[top].sum(axis=1) > 0]
    shares = table[top] / table[top].sum(axis=1, keepdims=True)
    names = escape_all(label_names) if label_names is not None else [str(c) for c in range(n_labels)]
    fig = go.Figure(go.Heatmap(z=shares.T.astype(np.float32), x=[f"code {c}" for c in top], y=names,
                               colorscale="Blues", zmin=0, zmax=1, colorbar=dict(title="share", thickness=12),
                               hovertemplate="%{x}, label %{y}: %{z:.0%}<extra></extra>"))
    base_layout(fig, height=height, title=f"Labels within each code ({top.size} most used codes)")
    fig.update_layout(xaxis=dict(type="category", showticklabels=top.size <= 32, title="code (most used first)"),
                      yaxis=dict(type="category", title="label"))
    return fig


def digit_gallery(images: np.ndarray, titles: Sequence[str], *, columns: int = 8, side: int = 8,
                  height_per_row: int = 90) -> go.Figure:
    """Small grey images (e.g. the 8 x 8 digits assigned to a code), titled."""
    images = np.asarray(images, dtype=np.float32).reshape(len(titles), side, side)
    rows = max(1, int(np.ceil(len(titles) / columns)))
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=escape_all(titles), horizontal_spacing=0.01,
                        vertical_spacing=0.08)
    for i, image in enumerate(images):
        fig.add_trace(go.Heatmap(z=image[::-1], colorscale="Greys", showscale=False, hoverinfo="skip"),
                      row=i // columns + 1, col=i % columns + 1)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, constrain="domain")
    # Square pixels: each image's y axis is tied to its own x axis, so a lone image in a wide column
    # (the decoded code) stays 8 x 8 instead of stretching into a barcode (issue 18 item 5).
    for i in range(len(titles)):
        suffix = "" if i == 0 else str(i + 1)
        fig.layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", scaleratio=1)
    base_layout(fig, height=max(140, rows * height_per_row + 40))
    fig.update_layout(margin=dict(t=30, l=0, r=0, b=0), plot_bgcolor="white")
    fig.update_annotations(font=dict(size=11, color=ACCENT))
    return fig
