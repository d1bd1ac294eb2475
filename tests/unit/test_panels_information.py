"""analysis.panels.information: the Information plane page's numbers equal the direct metric calls."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analysis.data.schema import Run
from analysis.metrics.information_table import information_plane_table
from analysis.metrics.information_validation import EstimatorSettings, estimator_validation
from analysis.models.information_lab import INFORMATION_PRESETS, train_information_lab
from analysis.panels import information as panels

STEPS = (0, 10, 20)
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
BASE = np.arange(8.0) - 3.5  # -3.5, -2.5, ..., 3.5
SHRINK = {0: 1.0, 10: 0.5, 20: 0.02}


def _run(scale: float = 1.0) -> Run:
    """Eight inputs: "h1" keeps them apart at every step, "h2" shrinks them together (compresses)."""
    rng = np.random.default_rng(0)
    activations = {}
    for s in STEPS:
        activations[("h1", s)] = scale * np.column_stack([BASE, BASE[::-1] ** 2])
        activations[("h2", s)] = (scale * SHRINK[s] * BASE)[:, None].astype(np.float32)
    logits = {s: rng.normal(size=(8, 2)) for s in STEPS}
    return Run(activations=activations, layers=("h1", "h2"), steps=STEPS, labels=LABELS, logits=logits,
               curves={"step": [0.0, 20.0], "epoch": [0.0, 4.0]})


SETTINGS = [
    (EstimatorSettings(n_bins=8), "run"),
    (EstimatorSettings(n_bins=8), "checkpoint"),
    (EstimatorSettings(bin_width=0.5), "run"),
    (EstimatorSettings(estimator="kde", noise_variance=0.05), "run"),
    (EstimatorSettings(estimator="ksg", noise_variance=0.5, k=2), "run"),
]


@pytest.mark.parametrize(("settings", "range_mode"), SETTINGS)
def test_plane_panel_equals_the_table(settings: EstimatorSettings, range_mode: str) -> None:
    run = _run()
    result = panels.plane_panel(run, settings=settings, range_mode=range_mode)
    direct = information_plane_table(run, estimator=settings.estimator, n_bins=settings.n_bins,
                                     bin_width=settings.bin_width, range_mode=range_mode,
                                     noise_variance=settings.noise_variance, k=settings.k)
    assert_frame_equal(result.table, direct)
    assert result.n_samples == 8 and result.ceiling == 3.0 == math.log2(8)
    stuck = direct.filter(pl.col("i_xt") > 3.0 - panels.SATURATION_MARGIN)["layer"].unique().to_list()
    assert result.saturated_layers == sorted(stuck)


def test_saturation_hand_checked() -> None:
    # 8 bins over h1's range put its 8 inputs in 8 bins at every step: I(X;T) = log2(8) = 3 bits, the ceiling.
    # h2 shrinks to 2 % by step 20: with bins 7/8 wide over its range across checkpoints, its four negative
    # inputs share the bin left of 0 and its four positive ones the bin right of it (1 bit); at step 0 they
    # are apart, so h2 is at the ceiling too (at some checkpoint).
    result = panels.plane_panel(_run(), settings=EstimatorSettings(n_bins=8), range_mode="run")
    h1 = result.table.filter(pl.col("layer") == "h1")["i_xt"].to_list()
    assert h1 == pytest.approx([3.0, 3.0, 3.0])
    h2 = result.table.filter(pl.col("layer") == "h2").sort("step")["i_xt"].to_list()
    assert h2[0] == pytest.approx(3.0) and h2[-1] == pytest.approx(1.0)
    assert {"h1", "h2"} <= set(result.saturated_layers)
    # Two bins: at most 1 bit, far below the ceiling.
    assert panels.plane_panel(_run(), settings=EstimatorSettings(n_bins=2)).saturated_layers == []


def test_binning_is_scale_free_with_bins_over_the_range() -> None:
    a = panels.plane_panel(_run(), settings=EstimatorSettings(n_bins=8))
    b = panels.plane_panel(_run(scale=1000.0), settings=EstimatorSettings(n_bins=8))
    hidden = pl.col("layer") != "output"
    np.testing.assert_allclose(a.table.filter(hidden)["i_xt"].to_numpy(), b.table.filter(hidden)["i_xt"].to_numpy())


def _panel(layers: list[str]) -> panels.PlanePanel:
    table = pl.DataFrame({"layer": ["a", "b"], "i_xt": [1.0, 2.0]})
    return panels.PlanePanel(table=table, n_samples=4, ceiling=2.0, saturated_layers=layers)


def test_saturation_note_names_each_run_with_stuck_layers() -> None:
    assert panels.saturation_note({"x": _panel([]), "y": _panel([])}) is None
    note = panels.saturation_note({"x": _panel(["a", "b"]), "y": _panel([]), "z": _panel(["b"])})
    assert note == ("At log2(n), the most n inputs can give (every input in its own bin or kernel), I(X;T) cannot "
                    "show compression: x: a, b; z: b. Fewer bins or more noise make room.")


def _raw_panel(i_xt_raw: list[float], i_ty_raw: list[float]) -> panels.PlanePanel:
    table = pl.DataFrame({"layer": ["a", "b"], "step": [0, 1000], "i_xt_raw": i_xt_raw, "i_ty_raw": i_ty_raw})
    return panels.PlanePanel(table=table, n_samples=4, ceiling=2.0, saturated_layers=[])


def test_clipping_note_only_for_ksg_naming_the_lowest_raw_estimate() -> None:
    runs = {"x": _raw_panel([1.0, 2.0], [0.5, -0.002]), "y": _raw_panel([-0.0125, 1.0], [0.3, 0.4])}
    ksg = EstimatorSettings(estimator="ksg")
    assert panels.clipping_note(runs, EstimatorSettings()) is None
    assert panels.clipping_note(runs, EstimatorSettings(estimator="kde")) is None
    note = panels.clipping_note(runs, ksg)
    assert "clipped reading max(0, raw)" in note and "never negative" in note
    assert note.endswith("the lowest raw estimate here is -0.0125 bits (I(X;T) of a at step 0 in y).")
    positive = panels.clipping_note({"x": _raw_panel([1.0, 2.0], [0.5, 0.1])}, ksg)
    assert positive.endswith("none of the raw estimates here is negative.")


def test_combined_table_stacks_the_runs_with_their_labels() -> None:
    combined = panels.combined_table({"x": _panel([]), "y": _panel([])})
    assert combined.height == 4
    assert combined["run"].to_list() == ["x", "x", "y", "y"]
    assert combined["i_xt"].to_list() == [1.0, 2.0, 1.0, 2.0]


def test_describe_settings() -> None:
    assert panels.describe_settings(EstimatorSettings(), "run") == (
        "30 bins per unit over the layer's range over all checkpoints")
    assert panels.describe_settings(EstimatorSettings(bin_width=0.25), "checkpoint") == (
        "bins 0.25 wide per unit over the each checkpoint's own range")
    assert panels.describe_settings(EstimatorSettings(estimator="kde"), "run") == "noise variance 0.1"
    assert panels.describe_settings(EstimatorSettings(estimator="ksg", noise_variance=1.0, k=5), "run") == (
        "noise variance 1, k = 5")


@pytest.mark.parametrize("settings", [EstimatorSettings(), EstimatorSettings(n_bins=4)])
def test_validation_panel_equals_the_direct_check(settings: EstimatorSettings) -> None:
    result = panels.validation_panel(settings)
    direct = estimator_validation(settings)
    assert_frame_equal(result.table, direct)
    errors = np.abs(direct["error"].to_numpy())
    assert abs(result.worst["error"]) == errors.max()
    worst = result.worst
    assert result.summary.startswith(
        f"Largest error: {worst['error']:+.2f} bits on {worst['quantity']} of the {worst['family']} case "
        f"(n = {worst['n']:,}, d = {worst['d']}; truth {worst['truth']:.2f}).")
    assert result.truth_note.startswith("For binning the truth is")


def test_lab_config_is_the_tanh_preset_with_the_form_values() -> None:
    config = panels.lab_config(activation="relu", epochs=20, lr=0.01, seed=3, batch_size=64, train_fraction=0.5,
                               n_checkpoints=5)
    assert config == replace(INFORMATION_PRESETS["tanh"], activation="relu", epochs=20, lr=0.01, seed=3,
                             batch_size=64, train_fraction=0.5, n_checkpoints=5)
    assert panels.train_information_lab is train_information_lab
    with pytest.raises(ValueError, match="activation"):
        panels.lab_config(activation="sigmoid", epochs=20, lr=0.01, seed=3, batch_size=64, train_fraction=0.5,
                          n_checkpoints=5)
