"""The comparison of two representations as one self-contained HTML page (`replens compare`).

The page holds a table of every measure beside the value unrelated data
scores, the layer x layer CKA heatmap (plain / debiased switch) when both
sides are runs, the two spaces side by side with linked selection (a lasso
in one rings the same inputs in the other; a small inline script, since a
static page has no server to do it), and the shared-neighbour histogram.
Everything is drawn from `Comparison.metrics` and `.series`; nothing is recomputed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from analysis.views.compare import cka_heatmap
from analysis.views.html_page import esc, figure_div, figure_section, format_number, standalone_page
from analysis.views.scatter import ColorSpec, embedding_scatter
from analysis.views.style import ACCENT, base_layout

__all__ = ["comparison_figures", "comparison_html", "shared_neighbours_chart"]

CHANCE_COLOUR = "#9AA0AC"


def shared_neighbours_chart(m: Sequence[int], count: Sequence[int], chance: Sequence[float], k: int, *,
                            height: int = 340) -> go.Figure:
    """How many points share m = 0..k of their k nearest neighbours in both spaces, against unrelated spaces."""
    fig = go.Figure()
    fig.add_trace(go.Bar(x=list(m), y=list(chance), name="unrelated spaces (expected)", marker_color=CHANCE_COLOUR,
                         opacity=0.6, hovertemplate="%{x} shared: %{y:,.1f} points expected<extra></extra>"))
    fig.add_trace(go.Bar(x=list(m), y=list(count), name="A and B", marker_color=ACCENT, opacity=0.8,
                         hovertemplate="%{x} shared: %{y:,} points<extra></extra>"))
    base_layout(fig, height=height)
    fig.update_layout(barmode="overlay", bargap=0.1, legend=dict(orientation="h", y=-0.22, x=0),
                      xaxis=dict(title=f"neighbours in common (of k = {k})", dtick=1 if k <= 20 else None),
                      yaxis=dict(title="points"))
    return fig


def _layers_heatmap(layers: dict, name_a: str, name_b: str) -> go.Figure:
    plain, debiased = np.asarray(layers["cka"]), np.asarray(layers["cka_debiased"])
    # No figure title (the page's heading names it): the estimator buttons sit top left, clear of the modebar.
    fig = cka_heatmap(plain, layers["rows"], layers["columns"], title="", row_title=f"A: {name_a}",
                      column_title=f"B: {name_b}")

    def cells(values: np.ndarray) -> list[list[str]]:
        return [[f"{v:.2f}" for v in row] for row in values]

    fig.update_layout(updatemenus=[dict(
        type="buttons", direction="right", x=0.0, xanchor="left", y=1.02, yanchor="bottom", showactive=True,
        buttons=[dict(label="plain", method="restyle", args=[{"z": [plain.tolist()], "text": [cells(plain)]}]),
                 dict(label="debiased", method="restyle",
                      args=[{"z": [debiased.tolist()], "text": [cells(debiased)]}])],
    )], margin=dict(t=50))
    return fig


def _side_scatters(points: dict, k: int) -> tuple[go.Figure, go.Figure]:
    rows = np.asarray(points["rows"], dtype=np.int64)
    labels, names = points.get("labels"), points.get("label_names")
    jaccard = np.asarray(points["jaccard"], dtype=np.float64)
    shared = np.asarray(points["shared"], dtype=np.int64)
    n = int(rows.max()) + 1 if rows.size else 0
    # embedding_scatter indexes colours and coordinates by row id: spread the drawn rows over 0..n-1.
    if labels is not None:
        codes = np.zeros(n, dtype=np.int64)
        codes[rows] = np.asarray(labels, dtype=np.int64)
        label_names = tuple(names) if names else tuple(str(c) for c in range(int(codes.max()) + 1))
        colour = ColorSpec(kind="category", values=codes, names=label_names, title="label")
        labels = np.asarray(labels, dtype=np.int64)
    else:
        values = np.zeros(n)
        values[rows] = jaccard
        colour = ColorSpec(kind="continuous", values=values, title="k-NN Jaccard")
    hover = []
    for i, row in enumerate(rows):
        text = f"row {row}"
        if labels is not None:
            text += f" · {esc(colour.names[int(labels[i])])}"
        hover.append(f"{text} · shares {shared[i]} of {k} neighbours")
    figures = []
    for side in ("a", "b"):
        coords = np.zeros((n, 2), dtype=np.float32)
        coords[rows] = np.asarray(points[side], dtype=np.float32)
        figures.append(embedding_scatter(coords, draw_rows=rows, color=colour, hover=hover, height=460,
                                         uirevision=side))
    return figures[0], figures[1]


def comparison_figures(comparison) -> dict[str, go.Figure]:
    """name -> figure: ``layers`` (when both sides are runs), ``side_a``, ``side_b``, ``shared``."""
    figures: dict[str, go.Figure] = {}
    k = int(comparison.metrics["k"])
    if comparison.layers:
        figures["layers"] = _layers_heatmap(comparison.layers, comparison.name_a, comparison.name_b)
    if "points" in comparison.series:
        figures["side_a"], figures["side_b"] = _side_scatters(comparison.series["points"], k)
    shared = comparison.series.get("shared_neighbours")
    if shared:
        figures["shared"] = shared_neighbours_chart(shared["m"], shared["count"], shared["chance_count"], k)
    return figures


def _measure_rows(metrics: dict, n: int) -> list[tuple[str, float | None, float | None, str]]:
    """(measure, value, what unrelated data scores, how to read it); n is the number of inputs."""
    k = metrics["k"]
    rows = [
        ("Linear CKA", metrics["linear_cka"], metrics["linear_cka_shuffled"],
         "1 when B is A rotated, isotropically scaled and translated (Kornblith et al. 2019). Reference: the same "
         "pair with B's rows shuffled, so no row corresponds; plain CKA of unrelated data is not 0 when there are "
         "few samples per feature."),
        ("Linear CKA, debiased", metrics["linear_cka_debiased"], 0.0,
         "The unbiased HSIC estimator (Song et al. 2012): about 0 for unrelated data whatever the shape."),
        (f"RBF CKA ({metrics['rbf_rows']:,} rows)", metrics["rbf_cka"], None,
         "Gaussian kernels at half the median distance: similarity of local, nonlinear structure."),
        ("Procrustes distance", metrics["procrustes_distance"], metrics["procrustes_shuffled"],
         "0 when the centred, unit-norm spaces match after the best rotation; at most sqrt(2). Reference: B's rows "
         "shuffled."),
        (f"k-NN Jaccard (k = {k}, {metrics['metric']})", metrics["knn_jaccard"], metrics["knn_chance"],
         "Mean overlap of each point's k nearest neighbours in A and in B: 1 when every neighbourhood is kept. "
         "Reference: independent random neighbour sets."),
        (f"Relative representations ({metrics['n_anchors']} anchors)", metrics["relative_cosine"], 0.0,
         "Mean cosine between a row's cosines-to-anchors in A and in B (Moschella et al. 2023): near 1 when the "
         "spaces differ only by an angle-preserving map, even if their coordinates disagree."
         + ("" if metrics["relative_rows"] == n else
            f" Over the {metrics['relative_rows']:,} rows that are non-zero in both (a zero row has no direction).")),
    ]
    if metrics["absolute_cosine"] is not None:
        rows.append(("Absolute coordinates", metrics["absolute_cosine"], 0.0,
                     "Mean cosine between a row's coordinates in A and in B (same width): near 0 for two seeds, "
                     "whose axes are unrelated, even when everything above is near 1."))
    stitching = metrics.get("stitching")
    if stitching:
        split = (f"logistic regression fitted on {stitching['train_rows']:,} rows of A, tested on "
                 f"{stitching['test_rows']:,} held-out rows ({stitching['protocol']})")
        chance = stitching["chance"]
        rows += [
            ("Probe accuracy on A", stitching["accuracy_same"], chance, f"A {split}. Reference: the majority class."),
            ("Zero-shot stitching, absolute", stitching["accuracy_stitched_absolute"], chance,
             "The same probe applied unchanged to B's coordinates."),
            ("Zero-shot stitching, relative", stitching["accuracy_stitched_relative"], chance,
             "The same done with relative representations on both sides, which survive a change of basis."),
        ]
    return rows


def _headline(comparison) -> str:
    """One sentence: how alike A and B are, read from debiased CKA (about 0 for unrelated data of any shape;
    plain CKA of few samples in many dimensions is high even for unrelated data, see `_measure_rows`)."""
    m = comparison.metrics
    debiased = m["linear_cka_debiased"]
    if debiased >= 0.9:
        level = "nearly the same representation up to rotation and scale"
    elif debiased >= 0.5:
        level = "partly alike"
    elif debiased >= 0.1:
        level = "weakly related"
    else:
        level = "no more alike than unrelated data"
    shared = comparison.series.get("shared_neighbours")
    kept = ""
    if shared and sum(shared["count"]):
        mean_shared = float(np.dot(shared["m"], shared["count"]) / sum(shared["count"]))
        kept = f" A point keeps on average {mean_shared:.1f} of its {m['k']} nearest neighbours."
    return (f"A and B are {level}: debiased linear CKA {debiased:.2f}; plain {m['linear_cka']:.2f} against "
            f"{m['linear_cka_shuffled']:.2f} with B's rows shuffled.{kept}")


def _measures_table(metrics: dict, n: int) -> str:
    body = "".join(
        f"<tr><td><strong>{esc(name)}</strong></td><td class=\"num\">{esc(format_number(value))}</td>"
        f"<td class=\"num\">{esc(format_number(reference))}</td><td>{esc(reading)}</td></tr>"
        for name, value, reference, reading in _measure_rows(metrics, n))
    return ("<table><thead><tr><th>Measure</th><th>A vs B</th><th>Unrelated data</th><th>How to read it</th></tr>"
            f"</thead><tbody>{body}</tbody></table>")


# Linked selection between the two scatters: a lasso or box in one selects the same inputs (row ids in
# customdata) in the other, and the note below says how many and how many neighbours they kept.
_LINK_SCRIPT = """
(function () {
  var a = document.getElementById("figure-side_a"), b = document.getElementById("figure-side_b");
  var note = document.getElementById("selection-note");
  if (!a || !b || !note) { return; }
  var idle = note.textContent, shared = __SHARED_BY_ROW__, k = __K__;
  function link(src, dst, srcName, dstName) {
    src.on("plotly_selected", function (ev) {
      if (!ev || !ev.points || !ev.points.length) { return; }
      var rows = new Set(ev.points.map(function (p) { return p.customdata; }));
      // _fullData holds the decoded row ids (data may keep them as base64 typed-array specs); same trace order.
      var picks = dst._fullData.map(function (trace) {
        var out = [], ids = trace.customdata || [];
        for (var i = 0; i < ids.length; i++) { if (rows.has(ids[i])) { out.push(i); } }
        return out;
      });
      Plotly.restyle(dst, {selectedpoints: picks});
      var total = 0;
      rows.forEach(function (r) { total += shared[r] || 0; });
      note.textContent = rows.size + " points selected in " + srcName + " and shown in " + dstName +
        "; on average they share " + (total / rows.size).toFixed(1) + " of their " + k + " neighbours.";
    });
    src.on("plotly_deselect", function () {
      Plotly.restyle(dst, {selectedpoints: dst.data.map(function () { return null; })});
      note.textContent = idle;
    });
  }
  link(a, b, "A", "B");
  link(b, a, "B", "A");
})();
"""


def _side_by_side(comparison, figures: dict[str, go.Figure]) -> tuple[str, str]:
    """The two scatters in a grid with the selection note, and the script that links them."""
    points = comparison.series["points"]
    k = int(comparison.metrics["k"])
    shared_by_row = {int(r): int(s) for r, s in zip(points["rows"], points["shared"], strict=True)}
    drawn = len(points["rows"])
    section = (
        "<h2>Side by side</h2>"
        f'<p class="note">First two principal components of each space ({drawn:,} of {comparison.n_samples:,} '
        "inputs drawn; B's layout rotated onto A's). Draw a lasso or box in either to see the same inputs in "
        "the other.</p>"
        f'<div class="pair"><div class="figure"><h3>A: {esc(comparison.name_a)}</h3>'
        f'{figure_div(figures["side_a"], "figure-side_a")}</div>'
        f'<div class="figure"><h3>B: {esc(comparison.name_b)}</h3>'
        f'{figure_div(figures["side_b"], "figure-side_b")}</div></div>'
        '<p id="selection-note" class="note">Nothing selected.</p>'
    )
    script = _LINK_SCRIPT.replace("__SHARED_BY_ROW__", json.dumps(shared_by_row)).replace("__K__", str(k))
    return section, script


def comparison_html(comparison) -> str:
    """One self-contained HTML page for a `analysis.comparison.Comparison` (opens offline)."""
    figures = comparison_figures(comparison)
    m = comparison.metrics
    meta = (f"{comparison.n_samples:,} inputs &middot; A: {comparison.n_features_a:,} features &middot; "
            f"B: {comparison.n_features_b:,} features &middot; k = {esc(m['k'])}, {esc(m['metric'])} distance "
            f"&middot; computed in {comparison.seconds:.1f} s")
    parts = [
        f"<h1>RepLens comparison: {esc(comparison.name_a)} vs {esc(comparison.name_b)}</h1>",
        f'<p class="meta">{meta}</p>',
        f"<p><strong>{esc(_headline(comparison))}</strong></p>",
        "<h2>Measures</h2>",
        _measures_table(m, comparison.n_samples),
    ]
    if "layers" in figures:
        parts += ["<h2>Layers</h2>", figure_section(
            "layers", figures["layers"], "Layer x layer CKA",
            "Row i, column j: linear CKA of layer i of A with layer j of B. For two seeds of one network the "
            "diagonal is high. The buttons switch to the debiased estimator.")]
    script = ""
    if "side_a" in figures:
        section, script = _side_by_side(comparison, figures)
        parts.append(section)
    if "shared" in figures:
        parts += ["<h2>Neighbourhoods</h2>", figure_section(
            "shared", figures["shared"], "Neighbours in common",
            "Points by how many of their k nearest neighbours are the same in A and B, against the expectation "
            "for unrelated spaces (grey).")]
    numbers = json.dumps({key: comparison.to_dict()[key] for key in ("metrics", "layers", "timings")}, indent=2,
                         allow_nan=False, ensure_ascii=False)
    parts += [
        "<h2>All numbers</h2>",
        f"<details><summary>Raw numbers (JSON)</summary><pre>{esc(numbers)}</pre></details>",
        '<p class="note">Made by RepLens (replens compare). Formulas and references: analysis/comparison.py and '
        "analysis/metrics/ (cka.py, procrustes.py, anchors.py, neighbor_agreement.py).</p>",
    ]
    return standalone_page(f"RepLens comparison: {comparison.name_a} vs {comparison.name_b}", parts, script=script)
