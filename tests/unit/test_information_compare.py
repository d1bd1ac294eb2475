"""analysis.panels.information_compare: what each estimator says about compression, from the numbers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data.schema import Run
from analysis.metrics.information_table import information_plane_table
from analysis.metrics.information_validation import EstimatorSettings
from analysis.panels.information_compare import (
    COMPARED_SETTINGS,
    COMPRESSION_MIN_BITS,
    compression_panel,
    compression_table,
    last_hidden_layer,
)

STEPS = (0, 10, 20)
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
BASE = np.arange(8.0) - 3.5
SHRINK = {0: 1.0, 10: 0.5, 20: 0.05}


def _run(scale: float = 1.0) -> Run:
    """Eight inputs; the last layer "h2" is the same layer shrunk by SHRINK[step]: a pure rescaling over training."""
    activations = {}
    for s in STEPS:
        activations[("h1", s)] = np.column_stack([BASE, BASE**2])
        activations[("h2", s)] = (scale * SHRINK[s] * BASE)[:, None]
    return Run(activations=activations, layers=("h1", "h2"), steps=STEPS, labels=LABELS,
               curves={"step": [0.0, 20.0], "epoch": [0.0, 4.0]})


def _tables(runs: dict[str, Run], estimators: list[str]) -> dict[tuple[str, str], pl.DataFrame]:
    return {(e, label): compression_table(run, settings=COMPARED_SETTINGS[e]) for e in estimators
            for label, run in runs.items()}


def test_compression_table_is_the_last_layer_of_the_plane_table() -> None:
    run = _run()
    assert last_hidden_layer(run) == "h2"
    table = compression_table(run, settings=COMPARED_SETTINGS["kde"])
    direct = information_plane_table(run, estimator="kde", layers=["h2"], include_output=False)
    assert table.equals(direct)


def test_a_shrinking_layer_compresses_for_kde_but_not_for_adaptive_kde() -> None:
    # A rescaled layer: fixed noise swamps it as it shrinks (KDE sees compression); noise scaled to max|t|
    # sees the same layer at every step (adaptive KDE: no change, the point of Chelombiev et al.).
    panel = compression_panel(_tables({"r": _run()}, ["kde", "adaptive_kde"]),
                              labels={"kde": "KDE", "adaptive_kde": "Adaptive KDE"})
    rows = {r["estimator"]: r for r in panel.table.iter_rows(named=True)}
    kde = information_plane_table(_run(), estimator="kde", layers=["h2"], include_output=False)["i_xt"].to_list()
    assert rows["kde"]["peak_i_xt"] == max(kde) == kde[0]
    assert rows["kde"]["final_i_xt"] == kde[-1]
    assert rows["kde"]["drop"] == pytest.approx(kde[0] - kde[-1]) and rows["kde"]["compresses"]
    assert rows["kde"]["peak_time"] == 0.0 and rows["kde"]["time_unit"] == "epoch"
    assert rows["adaptive_kde"]["drop"] == pytest.approx(0.0, abs=1e-6)  # float32 kernels and not rows["adaptive_kde"]["compresses"]
    assert panel.sentences[0] == (
        f"KDE: r compresses (I(X;T) of h2 falls by {kde[0] - kde[-1]:.2f} bits after initialisation, "
        f"from {kde[0]:.2f} to {kde[-1]:.2f}).")
    assert panel.sentences[1].startswith("Adaptive KDE: r does not compress (I(X;T) of h2 ends 0.00 bits below")
    assert f"under the {COMPRESSION_MIN_BITS:g}-bit threshold" in panel.sentences[1]


def test_run_wide_adaptive_bins_see_the_shrinking_layer_compress_by_hand() -> None:
    # Three equal-mass bins over all 24 values of h2 (cuts after ranks 8 and 16): edges -0.175 and 0.25.
    # Step 0: -3.5 .. -0.5 below, 0.5 .. 3.5 above: two bins of four, 1 bit, split like the label.
    # Step 20 (x 0.05: -0.175 .. 0.175): all eight in the middle bin, 0 bits.
    table = compression_table(_run(), settings=EstimatorSettings(estimator="adaptive_binning", n_bins=3))
    assert table["i_xt"].to_list() == pytest.approx([1.0, 1.0, 0.0], abs=1e-12)
    assert table["i_ty"].to_list() == pytest.approx([1.0, 1.0, 0.0], abs=1e-12)
    row = compression_panel({("adaptive_binning", "r"): table}).table.row(0, named=True)
    assert (row["peak_i_xt"], row["final_i_xt"], row["drop"], row["compresses"]) == (1.0, 0.0, 1.0, True)
    # The comparison's own 30 bins outnumber the 24 values: every value its own bin, 3 bits throughout.
    wide = compression_table(_run(), settings=COMPARED_SETTINGS["adaptive_binning"])
    assert wide["i_xt"].to_list() == pytest.approx([3.0, 3.0, 3.0], abs=1e-12)


def test_second_run_clauses_say_too_and_either() -> None:
    runs = {"a": _run(), "b": _run(scale=3.0)}
    panel = compression_panel(_tables(runs, ["kde", "adaptive_kde"]), estimators=["kde", "adaptive_kde"])
    assert panel.table["run"].to_list() == ["a", "b", "a", "b"]
    assert "; b compresses too (" in panel.sentences[0]
    assert panel.sentences[1].startswith("adaptive_kde: a does not compress") and "; b does not either (" in \
        panel.sentences[1]
    # b is a rescaled a: adaptive KDE gives the very same numbers for both.
    part = panel.table.filter(pl.col("estimator") == "adaptive_kde")
    assert part["peak_i_xt"][0] == pytest.approx(part["peak_i_xt"][1], rel=1e-6)


def test_peak_times_in_words() -> None:
    run = _run()
    # Make h2 peak after training starts: grow first (step 10 = epoch 2), then shrink.
    run.activations[("h2", 10)] = 2.0 * BASE[:, None]
    panel = compression_panel({("kde", "r"): compression_table(run, settings=COMPARED_SETTINGS["kde"])})
    assert "falls by" in panel.sentences[0] and "after epoch 2, from" in panel.sentences[0]


def test_no_tables_raise() -> None:
    with pytest.raises(ValueError, match="at least one"):
        compression_panel({})
