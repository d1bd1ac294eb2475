"""analysis.panels.geometry: the Sphere & spectrum page's numbers from a Selection, without Streamlit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data import Embedding, Run, Selection
from analysis.metrics import covariance_spectrum
from analysis.metrics.geometry_table import GEOMETRY_COLUMNS, geometry_row, geometry_table
from analysis.panels import geometry as panel

TRAIN, TEST = np.arange(40), np.arange(40, 60)


def _run(curves: dict | None = None) -> Run:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    acts = {(layer, step): rng.normal(size=(60, d)).astype(np.float32)
            for layer, d in (("a", 5), ("b", 3)) for step in (0, 10, 20)}
    split = np.array(["train"] * 40 + ["test"] * 20)
    return Run(activations=acts, layers=("a", "b"), steps=(0, 10, 20), labels=labels,
               label_names=("x", "y", "z"), metadata=pl.DataFrame({"id": np.arange(60), "split": split}),
               curves=curves or {}, name="toy")


def test_layer_table_is_geometry_row_on_the_selections_rows_at_every_step() -> None:
    run = _run()
    sel = Selection(run, "a", 10, "test")
    table = panel.layer_table(sel)
    assert table.columns == ["layer", "step", *GEOMETRY_COLUMNS]
    assert table["step"].to_list() == [0, 10, 20]
    for step in run.steps:
        expected = geometry_row(run.activations[("a", step)][TEST], run.labels[TEST])
        got = table.filter(pl.col("step") == step).to_dicts()[0]
        for name in GEOMETRY_COLUMNS:
            assert got[name] == pytest.approx(expected[name]), name
    # The same as the split-based table of the metrics module.
    assert table.equals(geometry_table(run, split="test", layers=["a"]))


def test_rows_chosen_explicitly_are_the_rows_measured() -> None:
    run = _run()
    sel = Selection(run, "b", 20).with_rows(np.arange(0, 60, 2))
    row = panel.layer_table(sel).filter(pl.col("step") == 20).to_dicts()[0]
    expected = geometry_row(run.activations[("b", 20)][::2], run.labels[::2])
    assert row["uniformity"] == pytest.approx(expected["uniformity"])
    assert row["alignment"] == pytest.approx(expected["alignment"])
    with pytest.raises(ValueError, match="split or rows"):
        geometry_table(run, split="test", rows=np.arange(3))


def test_steps_key_ignores_the_step_but_not_the_rows_or_layer() -> None:
    run = _run()
    key = panel.steps_key(Selection(run, "a", 0, "train", source_key="k"))
    assert panel.steps_key(Selection(run, "a", 20, "train", source_key="k")) == key
    assert panel.steps_key(Selection(run, "a", 0, "test", source_key="k")) != key
    assert panel.steps_key(Selection(run, "b", 0, "train", source_key="k")) != key
    assert panel.steps_key(Selection(run, "a", 0, "train", source_key="other")) != key


def test_geometry_panel_reads_the_row_of_its_step_and_follows_the_split() -> None:
    run = _run()
    for split, rows in (("train", TRAIN), ("test", TEST)):
        sel = Selection(run, "b", 10, split)
        geo = panel.geometry_panel(sel, table=panel.layer_table(sel))
        expected = geometry_row(run.activations[("b", 10)][rows], run.labels[rows])
        assert geo.numbers["uniformity"] == pytest.approx(expected["uniformity"])
        assert geo.numbers["iso_score"] == pytest.approx(expected["iso_score"])
        assert geo.n_features == 3 and geo.uniform_reference == pytest.approx(expected["uniform_reference"])
        # Without training curves the trajectory is same-class alignment over the table's steps.
        assert geo.trajectory.pairs == "same-class pairs" and geo.trajectory.steps == (0, 10, 20)
        assert geo.trajectory.alignment[1] == pytest.approx(expected["alignment"])
        # d = 3: drawn on the sphere, one unit-norm frame per step of the split's rows.
        frames = geo.sphere.frames
        assert frames.shape == (3, rows.size, 3) and geo.sphere.start_index == 1
        assert np.linalg.norm(frames, axis=2) == pytest.approx(np.ones((3, rows.size)), abs=1e-6)
        X = run.activations[("b", 0)][rows].astype(np.float64)
        np.testing.assert_allclose(frames[0], X / np.linalg.norm(X, axis=1, keepdims=True), rtol=1e-6)
        np.testing.assert_array_equal(geo.sphere.labels, run.labels[rows])


def test_no_sphere_above_three_dimensions() -> None:
    sel = Selection(_run(), "a", 0)
    assert panel.geometry_panel(sel, table=panel.layer_table(sel)).sphere is None


def test_the_trajectory_uses_the_runs_contrastive_curves_on_its_output_layer() -> None:
    # Epoch curves with repeated steps and steps that are not checkpoints: one point per checkpoint.
    curves = {"step": [0, 5, 10, 10, 15, 20], "uniformity": [-0.1, -0.5, -1.0, -1.1, -1.2, -1.5],
              "alignment": [0.0, 0.1, 0.2, 0.25, 0.3, 0.4]}
    run = _run(curves)
    out = Selection(run, "b", 20)
    path = panel.trajectory(out, panel.layer_table(out))
    assert path.pairs == "augmented views"
    assert path.steps == (0, 10, 20)
    assert path.uniformity == (-0.1, -1.0, -1.5) and path.alignment == (0.0, 0.2, 0.4)
    hidden = Selection(run, "a", 20)
    assert panel.trajectory(hidden, panel.layer_table(hidden)).pairs == "same-class pairs"


def test_overlay_selection_keeps_the_split_only_where_the_run_has_it() -> None:
    run = _run()
    assert panel.overlay_selection(run, layer="a", split="test").n_samples == 20
    bare = Run(activations={("a", 0): np.ones((4, 2), np.float32)}, layers=("a",), steps=(0,))
    other = panel.overlay_selection(bare, layer="a", split="test")
    assert other.n_samples == 4 and other.step == 0


def test_spectrum_panel_at_first_middle_last_and_current_steps() -> None:
    run = _run()
    sel = Selection(run, "a", 10, "train")
    assert panel.spectrum_steps(sel) == [0, 10, 20]
    table = panel.layer_table(sel)
    spec = panel.spectrum_panel(sel, table=table)
    assert list(spec.spectra) == ["step 0", "step 10", "step 20"]
    for step in run.steps:
        expected = covariance_spectrum(run.activations[("a", step)][TRAIN])
        np.testing.assert_allclose(spec.spectra[f"step {step:,}"].eigenvalues, expected.eigenvalues, rtol=1e-6)
    assert spec.table["d"].to_list() == [5, 5, 5]
    assert spec.table["effective rank"].to_list() == pytest.approx(table["effective_rank"].to_list())
    shares = spec.table["directions for 90 % of variance"].to_list()
    assert shares == [s.components_for(0.9) for s in spec.spectra.values()] and all(1 <= s <= 5 for s in shares)
    assert set(spec.explained) == set(spec.spectra)


def test_an_isotropic_cloud_and_a_line_hand_checked() -> None:
    # Points on a line in 4-D: one direction holds all the variance.
    t = np.linspace(-1, 1, 50)
    line = Embedding(X=np.outer(t, [1.0, 2.0, 0.0, 0.0]).astype(np.float32))
    sel = Selection(line)
    table = panel.layer_table(sel)
    assert table.height == 1 and table["step"][0] is None
    spec = panel.spectrum_panel(sel, table=table)
    assert list(spec.spectra) == ["embedding"]
    assert spec.table["directions for 90 % of variance"][0] == 1
    assert spec.table["effective rank"][0] == pytest.approx(1.0, abs=1e-3)
    geo = panel.geometry_panel(sel, table=table)
    assert geo.trajectory is None and geo.sphere is None
    assert geo.numbers["alignment"] is None  # no labels, no positive pairs
    # The 4 axis directions +-e_i: uniform spread, mean cosine -1/7 (each point has one opposite, six orthogonal).
    axes = np.vstack([np.eye(4), -np.eye(4)]).astype(np.float32)
    numbers = panel.geometry_panel(Selection(Embedding(X=axes)), table=panel.layer_table(
        Selection(Embedding(X=axes)))).numbers
    assert numbers["mean_cosine"] == pytest.approx(-1 / 7, abs=1e-6)
    assert numbers["effective_rank"] == pytest.approx(4.0, rel=1e-5)


def test_contrastive_config_applies_the_form_options() -> None:
    config = panel.contrastive_config(out_dim=3, temperature=0.1, negatives=False)
    assert (config.out_dim, config.temperature, config.negatives) == (3, 0.1, False)
    assert config.batch_size == panel.ContrastiveConfig().batch_size
