"""Neural-collapse page figures: panels, traces, axes and escaping (figure objects, not pixels)."""

from __future__ import annotations

import numpy as np

from analysis.views.collapse import (
    class_means_animation,
    collapse_heatmap,
    gram_comparison,
    imbalance_panel,
    nc_over_training,
)

STEPS = [0, 10, 100, 1000]


def _series() -> dict[str, dict[str, list[float | None]]]:
    return {
        "train": {"nc1": [5.0, 1.0, 0.1, 0.01], "etf_distance": [1.0, 0.5, 0.2, 0.1],
                  "nc2_equinorm": [0.3, 0.2, 0.1, 0.05], "nc3": [None] * 4, "nc4": [0.5, 0.2, 0.1, 0.0]},
        "test": {"nc1": [6.0, None, 0.5, 0.3], "etf_distance": [1.0, 0.6, 0.3, 0.2],
                 "nc2_equinorm": [0.3, 0.25, 0.2, 0.1], "nc3": [None] * 4, "nc4": [0.5, 0.3, 0.2, 0.1]},
    }


def _panel(fig, axis: str) -> list:
    return [t for t in fig.data if t.xaxis == axis]


# --- nc_over_training -----------------------------------------------------------------------


def test_nc_over_training_has_four_panels_titled_nc1_to_nc4() -> None:
    fig = nc_over_training(STEPS, _series())
    titles = [a.text for a in fig.layout.annotations]
    assert [t[:3] for t in titles[:4]] == ["NC1", "NC2", "NC3", "NC4"]


def test_a_panel_without_data_says_why() -> None:
    def notes(series):
        return [a for a in nc_over_training(STEPS, series).layout.annotations if "needs the classifier" in a.text]

    without = notes(_series())  # nc3 is all None there
    assert len(without) == 1 and without[0].xref == "x3 domain"
    with_head = _series()
    with_head["train"]["nc3"] = [1.0, 0.5, 0.2, 0.1]
    assert not notes(with_head)


def test_nc1_panel_has_train_solid_and_test_dotted() -> None:
    fig = nc_over_training(STEPS, _series())
    nc1 = _panel(fig, "x")
    assert len(nc1) == 2
    dashes = {("test" if "(test)" in t.name else "train"): t.line.dash for t in nc1}
    assert dashes == {"train": "solid", "test": "dot"}
    # NC2 draws two metrics, each for both splits.
    assert len(_panel(fig, "x2")) == 4


def test_none_values_become_nan() -> None:
    fig = nc_over_training(STEPS, _series())
    test_nc1 = next(t for t in _panel(fig, "x") if "(test)" in t.name)
    y = np.asarray(test_nc1.y, dtype=float)
    assert np.isnan(y[1])
    np.testing.assert_array_equal(y[[0, 2, 3]], [6.0, 0.5, 0.3])


def test_step_zero_sits_left_of_the_first_step_and_is_labelled_init() -> None:
    fig = nc_over_training(STEPS, _series())
    x = np.asarray(fig.data[0].x, dtype=float)
    assert 0 < x[0] < x[1] == 10.0
    assert list(fig.data[0].customdata) == STEPS
    for name in ("xaxis", "xaxis2", "xaxis3", "xaxis4"):
        axis = fig.layout[name]
        assert axis.type == "log"
        assert "init" in axis.ticktext
        assert axis.tickvals[list(axis.ticktext).index("init")] == x[0]


def _full_series() -> dict[str, dict[str, list[float | None]]]:
    series = _series()
    series["train"]["nc3"] = [0.9, 0.5, 0.2, 0.1]  # a layer with a classifier: every panel has data
    return series


def test_marked_step_adds_a_vertical_line_in_every_panel() -> None:
    unmarked = nc_over_training(STEPS, _full_series())
    assert len(unmarked.layout.shapes) == 0
    fig = nc_over_training(STEPS, _full_series(), marked_step=100)
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(lines) == 4
    assert {s.xref for s in lines} == {"x", "x2", "x3", "x4"}
    assert all(s.x0 == s.x1 == 100.0 for s in lines)
    # A step that is not a checkpoint marks nothing.
    assert len(nc_over_training(STEPS, _full_series(), marked_step=55).layout.shapes) == 0


def test_all_none_metric_adds_no_trace() -> None:
    fig = nc_over_training(STEPS, _series())
    assert _panel(fig, "x3") == []  # nc3 is None throughout: no classifier
    assert len(_panel(fig, "x4")) == 2
    assert len(fig.data) == 2 + 4 + 0 + 2
    assert len(_panel(nc_over_training(STEPS, _full_series()), "x3")) == 1


# --- collapse_heatmap -----------------------------------------------------------------------


def _heat_values() -> np.ndarray:
    return np.array([[10.0, 1.0, 0.0], [np.nan, 0.01, -2.0]])


def test_collapse_heatmap_colours_by_log10_and_labels_raw_values() -> None:
    values = _heat_values()
    fig = collapse_heatmap(["conv", "fc"], [0, 500, 5000], values)
    heat = fig.data[0]
    z = np.asarray(heat.z, dtype=float)
    np.testing.assert_allclose(z[0, :2], [1.0, 0.0])
    assert z[1, 1] == -2.0
    assert np.isnan(z[0, 2]) and np.isnan(z[1, 0]) and np.isnan(z[1, 2])  # 0, NaN, negative
    assert [list(row) for row in heat.text] == [["10", "1", "0"], ["", "0.01", "-2"]]
    assert list(heat.x) == ["init", "500", "5,000"]
    assert list(heat.y) == ["conv", "fc"]


def test_collapse_heatmap_without_log_keeps_raw_values() -> None:
    values = _heat_values()
    fig = collapse_heatmap(["a", "b"], [0, 1, 2], values, log=False, metric="NC4")
    z = np.asarray(fig.data[0].z, dtype=float)
    np.testing.assert_array_equal(z, values)  # NaN in the same place (array_equal treats NaN == NaN)
    assert fig.data[0].colorbar.title.text == "NC4"


def test_collapse_heatmap_escapes_layer_names() -> None:
    fig = collapse_heatmap(["<b>x</b>"], [1], np.array([[1.0]]))
    assert list(fig.data[0].y) == ["&lt;b&gt;x&lt;/b&gt;"]


# --- gram_comparison ------------------------------------------------------------------------


def test_gram_comparison_shares_a_symmetric_colour_range() -> None:
    target = (np.eye(3) - 1 / 3) / np.sqrt(2)
    gram = np.array([[0.9, -0.2, -0.7], [-0.2, 0.5, -0.3], [-0.7, -0.3, 1.3]])
    fig = gram_comparison(gram, target, ["a", "b", "c"])
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == 2
    assert {(h.zmin, h.zmax) for h in heatmaps} == {(heatmaps[0].zmin, heatmaps[0].zmax)}
    zmin, zmax = heatmaps[0].zmin, heatmaps[0].zmax
    assert zmin == -zmax
    assert zmax >= np.abs(gram).max() and zmax >= np.abs(target).max()
    np.testing.assert_allclose(zmax, 1.3)
    np.testing.assert_allclose(np.asarray(heatmaps[0].z, dtype=float), gram, atol=1e-6)
    np.testing.assert_allclose(np.asarray(heatmaps[1].z, dtype=float), target, atol=1e-6)


def test_gram_comparison_range_follows_the_target_when_it_is_larger() -> None:
    target = np.array([[1.0, -1.0], [-1.0, 1.0]]) * 2.0
    gram = np.array([[0.1, -0.1], [-0.1, 0.1]])
    fig = gram_comparison(gram, target, ["x", "y"])
    assert all(h.zmin == -2.0 and h.zmax == 2.0 for h in fig.data)


def test_gram_comparison_escapes_class_names() -> None:
    fig = gram_comparison(np.eye(2), np.eye(2), ["<b>cat</b>", "dog"])
    for heat in fig.data:
        assert list(heat.x) == ["&lt;b&gt;cat&lt;/b&gt;", "dog"]
        assert list(heat.y) == ["&lt;b&gt;cat&lt;/b&gt;", "dog"]


# --- class_means_animation ------------------------------------------------------------------


def _animation_inputs(n_frames: int = 3, m: int = 12, C: int = 4):
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(n_frames, m, 3)).astype(np.float32)
    means = rng.normal(size=(n_frames, C, 3)).astype(np.float32)
    labels = np.arange(m) % C
    return samples, means, labels


def test_animation_has_one_frame_per_step_with_three_traces() -> None:
    samples, means, labels = _animation_inputs()
    steps = [0, 50, 1200]
    fig = class_means_animation(samples, means, labels, steps, ["a", "b", "c", "d"])
    assert [f.name for f in fig.frames] == ["0", "50", "1200"]
    assert all(len(f.data) == 3 for f in fig.frames)
    assert len(fig.data) == 3
    for i, frame in enumerate(fig.frames):
        np.testing.assert_allclose(np.asarray(frame.data[0].x, dtype=float), samples[i, :, 0])
        np.testing.assert_allclose(np.asarray(frame.data[2].z, dtype=float), means[i, :, 2])
    slider = fig.layout.sliders[0]
    assert [s.label for s in slider.steps] == ["init", "50", "1,200"]
    assert [list(s.args[0]) for s in slider.steps] == [["0"], ["50"], ["1200"]]


def test_animation_starts_at_start_index() -> None:
    samples, means, labels = _animation_inputs()
    names = ["a", "b", "c", "d"]
    fig = class_means_animation(samples, means, labels, [0, 1, 2], names, start_index=1)
    assert fig.layout.sliders[0].active == 1
    for trace, in_frame in zip(fig.data, fig.frames[1].data, strict=True):
        np.testing.assert_array_equal(np.asarray(trace.x, dtype=float), np.asarray(in_frame.x, dtype=float))
        np.testing.assert_array_equal(np.asarray(trace.y, dtype=float), np.asarray(in_frame.y, dtype=float))
    np.testing.assert_allclose(np.asarray(fig.data[2].y, dtype=float), means[1, :, 1])
    # Without start_index the last checkpoint is shown.
    default = class_means_animation(samples, means, labels, [0, 1, 2], names)
    np.testing.assert_allclose(np.asarray(default.data[0].x, dtype=float), samples[2, :, 0])
    assert default.layout.sliders[0].active == 2


def test_animation_spokes_join_the_centre_to_each_mean() -> None:
    samples, means, labels = _animation_inputs(n_frames=1, C=3)
    fig = class_means_animation(samples, means, labels, [7], ["a", "b", "c"])
    spokes = np.column_stack([np.asarray(getattr(fig.data[1], k), dtype=float) for k in "xyz"])
    assert spokes.shape == (9, 3)
    np.testing.assert_array_equal(spokes[0::3], 0.0)
    np.testing.assert_allclose(spokes[1::3], means[0])
    assert np.isnan(spokes[2::3]).all()


def test_single_step_has_no_frames_and_no_slider() -> None:
    samples, means, labels = _animation_inputs(n_frames=1)
    fig = class_means_animation(samples, means, labels, [300], ["a", "b", "c", "d"])
    assert len(fig.frames) == 0
    assert len(fig.layout.sliders) == 0 and len(fig.layout.updatemenus) == 0
    assert len(fig.data) == 3
    np.testing.assert_allclose(np.asarray(fig.data[0].x, dtype=float), samples[0, :, 0])


def test_animation_axes_are_symmetric_and_hold_every_mean() -> None:
    samples, means, labels = _animation_inputs()
    fig = class_means_animation(samples, means, labels, [0, 1, 2], ["a", "b", "c", "d"])
    reach = np.abs(means).max()
    for axis in (fig.layout.scene.xaxis, fig.layout.scene.yaxis, fig.layout.scene.zaxis):
        lo, hi = axis.range
        assert lo == -hi and hi >= reach


def test_animation_escapes_class_names() -> None:
    samples, means, labels = _animation_inputs(C=2)
    fig = class_means_animation(samples, means, labels, [0, 1, 2], ["<i>a</i>", "b"])
    assert list(fig.data[2].text) == ["&lt;i&gt;a&lt;/i&gt;", "b"]
    assert "&lt;i&gt;a&lt;/i&gt;" in list(fig.data[0].text)


# --- imbalance_panel ------------------------------------------------------------------------


def test_imbalance_panel_plots_counts_against_norms_and_shares() -> None:
    counts, norms, shares = [500, 50, 5], [1.2, 0.8, 0.3], [0.1, 0.3, 0.6]
    fig = imbalance_panel(counts, norms, shares, ["big", "mid", "<b>tiny</b>"])
    scatters = [t for t in fig.data if t.type == "scatter"]
    assert len(scatters) == 2
    assert [list(t.x) for t in scatters] == [counts, counts]
    assert list(scatters[0].y) == norms and list(scatters[1].y) == shares
    assert scatters[0].xaxis == "x" and scatters[1].xaxis == "x2"
    assert list(scatters[0].text) == ["big", "mid", "&lt;b&gt;tiny&lt;/b&gt;"]
    assert fig.layout.yaxis2.tickformat == ".0%"
