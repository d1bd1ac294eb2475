"""analysis.views.codebook: structure of the codebook figures."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.views.codebook import (
    code_label_heatmap,
    code_usage_rank,
    digit_gallery,
    usage_over_training,
)


def test_rank_plot_drops_dead_codes_and_names_the_share_used() -> None:
    fig = code_usage_rank({"plain": np.array([5, 0, 9, 0]), "remedies": np.array([3, 3, 3, 3])})
    assert list(fig.data[0].y) == [9, 5] and "(2/4 used)" in fig.data[0].name
    assert list(fig.data[1].y) == [3, 3, 3, 3] and "(4/4 used)" in fig.data[1].name
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_usage_over_training_has_both_panels_per_run() -> None:
    fig = usage_over_training({"a": ([0, 10, 100], [1.0, 5.0, 20.0], [0.9, 0.5, 0.1])}, codebook_size=64)
    assert len(fig.data) == 2
    assert list(fig.data[0].x) == [1.0, 10.0, 100.0]  # step 0 drawn at 1 on the log axis
    assert list(fig.data[1].y) == pytest.approx([0.9, 0.5, 0.1])


def test_code_label_heatmap_rows_are_shares_of_each_code() -> None:
    codes = np.array([0, 0, 0, 2, 2])
    labels = np.array([0, 0, 1, 1, 1])
    fig = code_label_heatmap(codes, labels, codebook_size=4)
    z = np.asarray(fig.data[0].z)
    assert list(fig.data[0].x) == ["code 0", "code 2"]  # used codes only, most used first
    np.testing.assert_allclose(z[:, 0], [2 / 3, 1 / 3], atol=1e-6)
    np.testing.assert_allclose(z[:, 1], [0.0, 1.0], atol=1e-6)


def test_gallery_one_heatmap_per_image() -> None:
    fig = digit_gallery(np.random.default_rng(0).random((5, 64)), [f"#{i}" for i in range(5)], columns=4)
    assert len(fig.data) == 5
    assert [a.text for a in fig.layout.annotations] == [f"#{i}" for i in range(5)]
