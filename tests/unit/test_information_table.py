"""analysis.metrics.information_table: the information plane of a whole (tiny, hand-built) Run."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.special import softmax

from analysis.data.schema import Run
from analysis.metrics.information import information_plane_point
from analysis.metrics.information_table import (
    OUTPUT_LAYER,
    RANGE_MODES,
    information_plane_table,
    layer_values,
)

STEPS = (0, 10, 20)
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
BASE = np.arange(8.0) - 3.5  # -3.5, -2.5, ..., 3.5
SHRINK = {0: 1.0, 10: 0.5, 20: 0.1}  # "h2" only shrinks toward 0 as training goes on
COLUMNS = ["layer", "step", "epoch", "i_xt", "i_ty", "i_xt_raw", "i_ty_raw", "n_units", "setting"]


def make_run(*, logits_steps=STEPS, labels=LABELS, curves=None) -> Run:
    rng = np.random.default_rng(0)
    h1 = np.column_stack([BASE, BASE[::-1] ** 2])  # the same at every step
    activations = {}
    for s in STEPS:
        activations[("h1", s)] = h1.copy()
        activations[("h2", s)] = (SHRINK[s] * BASE)[:, None].astype(np.float32)
    logits = {s: rng.normal(size=(8, 2)) * (1 + s) for s in logits_steps}
    return Run(
        activations=activations, layers=("h1", "h2"), steps=STEPS, labels=labels, logits=logits,
        curves={"step": [0.0, 20.0], "epoch": [0.0, 4.0], "loss": [1.0, 0.5]} if curves is None else curves,
    )


def test_schema_order_and_epochs() -> None:
    df = information_plane_table(make_run(), n_bins=8)
    assert df.columns == COLUMNS
    assert df.schema == pl.Schema({"layer": pl.Utf8, "step": pl.Int64, "epoch": pl.Float64, "i_xt": pl.Float64,
                                   "i_ty": pl.Float64, "i_xt_raw": pl.Float64, "i_ty_raw": pl.Float64,
                                   "n_units": pl.Int64, "setting": pl.Utf8})
    # Rows by layer (input to output, the softmax output last) then step.
    assert df["layer"].to_list() == ["h1"] * 3 + ["h2"] * 3 + [OUTPUT_LAYER] * 3
    assert df["step"].to_list() == list(STEPS) * 3
    assert df["n_units"].to_list() == [2] * 3 + [1] * 3 + [2] * 3
    # Epochs interpolated linearly from the curve (step 0 -> 0, step 20 -> 4).
    assert df["epoch"].to_list() == [0.0, 2.0, 4.0] * 3
    assert all(0.0 <= v <= 3.0 for v in df["i_xt"]) and all(0.0 <= v <= 1.0 for v in df["i_ty"])


def test_no_epoch_curve_gives_null_epochs() -> None:
    df = information_plane_table(make_run(curves={"step": [0.0, 20.0], "loss": [1.0, 0.5]}), n_bins=8)
    assert df["epoch"].null_count() == df.height == 9
    assert df.schema["epoch"] == pl.Float64


def test_output_layer_only_with_logits_at_every_step() -> None:
    assert OUTPUT_LAYER not in information_plane_table(make_run(logits_steps=(0, 10)))["layer"].to_list()
    assert OUTPUT_LAYER not in information_plane_table(make_run(logits_steps=()))["layer"].to_list()
    assert OUTPUT_LAYER not in information_plane_table(make_run(), include_output=False)["layer"].to_list()
    # ...but a step subset that avoids the missing step brings it back.
    df = information_plane_table(make_run(logits_steps=(0, 10)), steps=[0, 10])
    assert df.filter(pl.col("layer") == OUTPUT_LAYER)["step"].to_list() == [0, 10]
    # Asking for it by name does not add it twice.
    named = information_plane_table(make_run(), layers=["h2", OUTPUT_LAYER])
    assert named["layer"].to_list() == ["h2"] * 3 + [OUTPUT_LAYER] * 3


def test_layer_values() -> None:
    run = make_run()
    out = layer_values(run, OUTPUT_LAYER, 10)
    np.testing.assert_allclose(out, softmax(run.logits[10], axis=1), rtol=1e-12)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)
    h2 = layer_values(run, "h2", 20)
    assert h2.dtype == np.float64
    np.testing.assert_array_equal(h2, run.activations[("h2", 20)].astype(np.float64))


def test_run_range_keeps_bins_fixed_so_a_shrinking_layer_loses_bits() -> None:
    df = information_plane_table(make_run(), n_bins=8, range_mode="run")
    h2 = df.filter(pl.col("layer") == "h2")["i_xt"].to_list()
    # Step 0: 8 values in 8 bins over [-3.5, 3.5] -> 3 bits. Step 20: 0.1 * BASE lies in
    # [-0.35, 0.35], the two middle bins (edges at -0.875, 0, 0.875) -> 1 bit.
    assert h2[0] == pytest.approx(3.0)
    assert h2[0] > h2[1] > h2[2]
    assert h2[2] == pytest.approx(1.0)
    # h1 is the same at every step: the same point each time.
    h1 = df.filter(pl.col("layer") == "h1")
    assert h1["i_xt"].n_unique() == 1 and h1["i_ty"].n_unique() == 1
    assert df.filter(pl.col("layer") == "h2")["setting"].n_unique() == 1  # one range for the layer


def test_checkpoint_range_rescales_each_step() -> None:
    df = information_plane_table(make_run(), n_bins=8, range_mode="checkpoint")
    h2 = df.filter(pl.col("layer") == "h2")
    # Every checkpoint spans its own 8 bins: 3 bits, and y (first half vs second) is fully kept.
    assert h2["i_xt"].to_list() == pytest.approx([3.0, 3.0, 3.0])
    assert h2["i_ty"].to_list() == pytest.approx([1.0, 1.0, 1.0])
    assert h2["setting"].n_unique() == 3  # each step's own range in the setting text


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(estimator="binning", n_bins=5, range_mode="run"),
        dict(estimator="binning", n_bins=5, range_mode="checkpoint"),
        dict(estimator="binning", bin_width=0.7, range_mode="run"),
        dict(estimator="kde", noise_variance=0.5),
        dict(estimator="ksg", noise_variance=0.2, k=2),
    ],
)
def test_every_value_is_a_direct_information_plane_point(kwargs: dict) -> None:
    run = make_run()
    df = information_plane_table(run, **kwargs)
    options = {k: v for k, v in kwargs.items() if k != "range_mode"}
    run_range = kwargs.get("estimator") == "binning" and kwargs.get("range_mode") == "run"
    for row in df.iter_rows(named=True):
        layer = row["layer"]
        values = [layer_values(run, layer, s) for s in STEPS]
        value_range = (min(v.min() for v in values), max(v.max() for v in values)) if run_range else None
        point = information_plane_point(layer_values(run, layer, row["step"]), LABELS,
                                        value_range=value_range, **options)
        assert (row["i_xt"], row["i_ty"], row["setting"]) == (point.i_xt, point.i_ty, point.setting)


def test_run_range_covers_only_the_requested_steps() -> None:
    run = make_run()
    df = information_plane_table(run, n_bins=8, steps=[10, 20], layers=["h2"], include_output=False)
    # The range is now that of step 10, [-1.75, 1.75]: step 10 fills all 8 bins.
    assert df["i_xt"].to_list()[0] == pytest.approx(3.0)
    point = information_plane_point(layer_values(run, "h2", 20), LABELS, n_bins=8, value_range=(-1.75, 1.75))
    assert df["i_xt"].to_list()[1] == point.i_xt


def test_progress_reports_fractions_ending_at_one() -> None:
    calls: list[tuple[float, str]] = []
    information_plane_table(make_run(), progress=lambda f, msg: calls.append((f, msg)))
    fractions = [f for f, _ in calls]
    assert fractions == pytest.approx([i / 9 for i in range(1, 10)])
    assert fractions[-1] == 1.0
    assert all(isinstance(msg, str) and msg for _, msg in calls)


def test_errors() -> None:
    with pytest.raises(ValueError, match="needs labels"):
        information_plane_table(make_run(labels=None))
    with pytest.raises(ValueError, match="range_mode"):
        information_plane_table(make_run(), range_mode="global")
    assert RANGE_MODES == ("run", "checkpoint")


def test_label_information_is_bounded_by_label_entropy() -> None:
    # Unbalanced labels: H(Y) = H(1/4, 3/4); no layer can carry more than that about Y.
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 1])
    h_y = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))
    df = information_plane_table(make_run(labels=labels), n_bins=8)
    assert max(df["i_ty"]) <= h_y + 1e-12
    # h2 at step 0 separates every row, so it carries all of H(Y).
    assert df.filter((pl.col("layer") == "h2") & (pl.col("step") == 0))["i_ty"].item() == pytest.approx(h_y)
