"""analysis.views.superposition: figure structure for the superposition page."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.views.superposition import (
    PHASE_COLOURS,
    STICKY_FRACTIONS,
    feature_arrows,
    feature_dimensionality_plot,
    gram_and_bias,
    overlap_histograms,
    phase_diagram_heatmap,
)


def _pentagon() -> np.ndarray:
    angles = 2 * np.pi * np.arange(5) / 5
    return np.c_[np.cos(angles), np.sin(angles)]


def test_arrows_one_trace_per_feature_and_a_frame_per_instance() -> None:
    frames = np.stack([_pentagon(), _pentagon() * 0.5])
    fig = feature_arrows(frames, ["1 − S = 1", "1 − S = 0.01"], start_index=1)
    assert len(fig.data) == 5 and len(fig.frames) == 2
    # Each arrow runs from the origin to the feature's tip of the chosen instance.
    assert list(fig.data[2].x) == pytest.approx([0, frames[1, 2, 0]])
    assert [s.label for s in fig.layout.sliders[0].steps] == ["1 − S = 1", "1 − S = 0.01"]
    assert fig.layout.yaxis.scaleanchor == "x"


def test_arrows_refuse_more_than_three_dimensions_and_single_frame_has_no_slider() -> None:
    with pytest.raises(ValueError, match="2-D or 3-D"):
        feature_arrows(np.zeros((1, 3, 4)), ["a"])
    fig = feature_arrows(np.zeros((1, 3, 3)), ["a"])
    assert not fig.frames and not fig.layout.sliders
    assert fig.data[0].type == "scatter3d"


def test_gram_heatmap_is_w_wt_and_bias_bars_match() -> None:
    W, b = _pentagon(), np.array([0.1, -0.2, 0.0, 0.3, -0.4])
    fig = gram_and_bias(W, b)
    np.testing.assert_allclose(np.asarray(fig.data[0].z), (W @ W.T).astype(np.float32), atol=1e-6)
    assert fig.data[0].zmin == -fig.data[0].zmax
    assert list(fig.data[1].x) == pytest.approx(b.tolist())


def test_dimensionality_plot_has_every_sticky_guide() -> None:
    D = np.full((4, 5), 0.4)
    fig = feature_dimensionality_plot([1.0, 0.3, 0.1, 0.01], D)
    guides = sorted(round(s.y0, 6) for s in fig.layout.shapes)
    assert guides == sorted(round(v, 6) for v, _ in STICKY_FRACTIONS)
    assert len(fig.data) == 5 and fig.layout.xaxis.type == "log"


def test_phase_heatmap_codes_each_phase_and_escapes_nothing_unknown() -> None:
    phases = np.array([["ignore second", "antipodal"], ["dedicated to second", "antipodal"]])
    fig = phase_diagram_heatmap([1.0, 0.01], [0.5, 2.0], phases)
    order = list(PHASE_COLOURS)
    assert np.asarray(fig.data[0].z).tolist() == [[order.index("ignore second"), order.index("antipodal")],
                                                  [order.index("dedicated to second"), order.index("antipodal")]]
    assert list(fig.data[0].colorbar.ticktext) == order


def test_overlap_histograms_mark_the_random_expectation() -> None:
    fig = overlap_histograms(np.array([0.1, 0.2, 0.3]), 0.25, np.array([0.4, 0.5]))
    assert fig.layout.shapes[0].x0 == pytest.approx(0.25)
    assert len(fig.data) == 2


def test_phase_colours_cover_every_label_the_trainer_can_give() -> None:
    from analysis.models.toy_superposition import PHASE_LABELS

    assert list(PHASE_COLOURS) == list(PHASE_LABELS)
