"""Figure builders: what is drawn, with which ids, and that user text is escaped."""

from __future__ import annotations

import numpy as np

from analysis.panels.explore import density_image
from analysis.views import (
    ColorSpec,
    animated_scatter,
    class_size_bars,
    embedding_scatter,
    training_curves,
)


def _coords(n: int = 50, d: int = 2) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)


def test_category_traces_carry_row_ids_of_drawn_rows_only() -> None:
    coords = _coords()
    codes = np.arange(50) % 3
    rows = np.arange(0, 50, 2)
    fig = embedding_scatter(coords, draw_rows=rows, color=ColorSpec("category", codes, ("a", "b", "c")))
    markers = [t for t in fig.data if t.type == "scattergl"]
    assert [t.name for t in markers] == ["a", "b", "c"]
    drawn = np.sort(np.concatenate([np.asarray(t.customdata) for t in markers]))
    assert np.array_equal(drawn, rows)
    for trace in markers:
        ids = np.asarray(trace.customdata)
        assert np.all(codes[ids] == ["a", "b", "c"].index(trace.name))
        assert np.allclose(np.asarray(trace.x), coords[ids, 0])
    assert fig.layout.dragmode == "lasso" and fig.layout.uirevision == "explore"


def test_density_image_only_when_asked_and_in_2d() -> None:
    # Issue 17: the density is a datashader count image (a layout image under the markers), not a heat map
    # trace; tests/unit/test_explore_density.py checks its pixels and alignment.
    coords = _coords()
    density = density_image(coords)
    with_density = embedding_scatter(coords, draw_rows=np.arange(10), color=ColorSpec(), density=density)
    assert len(with_density.layout.images) == 1 and [t.type for t in with_density.data] == ["scattergl"]
    assert density.counts.sum() == 50  # the image counts every row, not just the drawn ones
    without = embedding_scatter(coords, draw_rows=np.arange(10), color=ColorSpec())
    assert not without.layout.images and all(t.type != "heatmap" for t in without.data)
    in_3d = embedding_scatter(_coords(d=3), draw_rows=np.arange(10), color=ColorSpec(), density=density)
    assert [t.type for t in in_3d.data] == ["scatter3d"] and not in_3d.layout.images


def test_user_text_is_escaped() -> None:
    codes = np.zeros(50, dtype=int)
    fig = embedding_scatter(_coords(), draw_rows=np.arange(50),
                            color=ColorSpec("category", codes, ("<script>x</script>",)))
    assert fig.data[0].name == "&lt;script&gt;x&lt;/script&gt;"
    bars = class_size_bars(["<b>a</b>", "b"], [3, 4])
    assert list(bars.data[0].x) == ["&lt;b&gt;a&lt;/b&gt;", "b"]


def test_neighbours_and_focus_are_overlaid() -> None:
    fig = embedding_scatter(_coords(), draw_rows=np.arange(50), color=ColorSpec(),
                            highlight_rows=np.array([3, 4]), focus_row=7)
    names = [t.name for t in fig.data]
    assert names[-2:] == ["neighbours", "chosen point"]
    assert list(fig.data[-2].customdata) == [3, 4] and list(fig.data[-1].customdata) == [7]


def test_animation_has_one_frame_per_step_and_fixed_axes() -> None:
    frames = [_coords() * (1 + i) for i in range(4)]
    fig = animated_scatter(frames, [0, 10, 100, 1000], draw_rows=np.arange(50), color=ColorSpec())
    assert [f.name for f in fig.frames] == ["0", "10", "100", "1000"]
    lo, hi = fig.layout.xaxis.range
    assert lo <= min(f[:, 0].min() for f in frames) and hi >= max(f[:, 0].max() for f in frames)
    assert len(fig.layout.sliders[0].steps) == 4


def test_training_curves_put_accuracy_on_the_right_axis() -> None:
    fig = training_curves({"step": [1, 10, 100], "train_loss": [2, 1, 0.5], "train_acc": [0.1, 0.5, 1.0]})
    axes = {t.name: t.yaxis for t in fig.data}
    assert axes == {"train loss": "y", "train acc": "y2"}


def test_similarity_heatmap_names_its_measure_and_matching_curves_keep_their_order() -> None:
    from analysis.views import cka_heatmap, matching_curves

    fig = cka_heatmap(np.eye(2), ["a", "b"], ["a", "b"], title="t", row_title="layer", column_title="layer",
                      measure="PWCCA")
    assert fig.data[0].colorbar.title.text == "PWCCA" and "PWCCA %{z:.3f}" in fig.data[0].hovertemplate
    curves = matching_curves(np.array([0.9, 0.5]), np.array([0.95, 0.7]), np.array([0.1, 0.0]), title="units")
    assert [t.name for t in curves.data] == ["many-to-one (best partner)", "one-to-one (Hungarian)",
                                              "one-to-one, rows shuffled (chance)"]
    np.testing.assert_array_equal(curves.data[1].y, [0.9, 0.5])
    np.testing.assert_array_equal(curves.data[0].x, [1, 2])  # units ranked from 1
