"""analysis.panels.collapse: the Neural collapse page's numbers equal the metrics on the selection's rows."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.class_mean_frames import class_mean_frames
from analysis.data import Embedding, Run, Selection
from analysis.data.classifier_io import ClassifierArrays
from analysis.metrics import neural_collapse
from analysis.metrics.collapse_table import collapse_inputs, neural_collapse_table
from analysis.metrics.neural_collapse import simplex_etf_gram
from analysis.panels import collapse as panel
from analysis.panels import training

C, N = 4, 60
STEPS = (0, 5, 50)
LAYERS = ("h1", "h2")


def make_run() -> Run:
    """Two layers x three steps; class means sharpen with the step; rows i % 3 == 2 are "test"."""
    rng = np.random.default_rng(7)
    y = np.tile(np.arange(C), N // C)
    centres = rng.normal(scale=3.0, size=(C, 5))
    activations = {}
    for layer, width in zip(LAYERS, (7, 5), strict=True):
        for step in STEPS:
            noise = rng.normal(size=(N, width)) / (1 + step / 5)
            means = np.hstack([centres, np.zeros((C, width - 5))]) if width > 5 else centres
            activations[(layer, step)] = (means[y] + noise).astype(np.float32)
    logits = {step: (activations[("h2", step)] @ centres.T).astype(np.float32) for step in STEPS}
    classifier = {step: (centres.astype(np.float32), None) for step in STEPS}
    meta = pl.DataFrame({"split": ["test" if i % 3 == 2 else "train" for i in range(N)]})
    return Run(activations=activations, layers=LAYERS, steps=STEPS, labels=y, metadata=meta,
               classifier=classifier, logits=logits, name="toy", label_names=tuple(f"c{c}" for c in range(C)))


def _same(a, b) -> None:
    for name in a.SCALARS:
        assert getattr(a, name) == getattr(b, name), name
    np.testing.assert_array_equal(a.class_counts, b.class_counts)


@pytest.mark.parametrize("split", ["all", "train", "test"])
@pytest.mark.parametrize("layer", LAYERS)
def test_measure_equals_neural_collapse_on_the_split_rows(split, layer) -> None:
    run = make_run()
    sel = Selection(run, layer, 5, split)
    rows = run.rows(split)
    expected = neural_collapse(**collapse_inputs(run, layer, 5, rows))
    _same(panel.measure(sel), expected)
    assert panel.measure(sel).n_samples == (N if rows is None else rows.size)
    # The test rows are not the train rows: the numbers must differ (no "train when all").
    if split == "test":
        assert panel.measure(sel).nc1 != panel.measure(Selection(run, layer, 5, "train")).nc1


def test_nc1_of_the_test_selection_is_neural_collapse_of_its_rows_by_hand() -> None:
    run = make_run()
    test = run.rows("test")
    X = run.activations[("h1", 50)][test]
    got = panel.measure(Selection(run, "h1", 50, "test"))
    want = neural_collapse(X, run.labels[test], predictions=run.predictions(50)[test])
    assert got.nc1 == want.nc1 and got.nc4 == want.nc4
    assert got.nc3 is None  # the classifier feeds the last layer only


def test_panel_cards_reference_and_changes() -> None:
    run = make_run()
    sel = Selection(run, "h2", 50, "train")
    data = panel.collapse_panel(sel)
    _same(data.result, panel.measure(sel))
    assert data.reference_step == 5
    _same(data.reference, panel.measure(sel.at(5)))
    for name in panel.HEADLINE:
        value, before = getattr(data.result, name), getattr(data.reference, name)
        assert data.changes[name] == pytest.approx((value - before) / before)
    assert data.rows == f"train rows ({run.rows('train').size:,})"
    np.testing.assert_array_equal(data.etf_gram, simplex_etf_gram(C))
    assert data.class_names == ["c0", "c1", "c2", "c3"]
    counts = data.result.class_counts
    assert data.imbalance_ratio == counts.max() / counts.min()
    assert data.nearer in data.imbalance_text
    # At the reference checkpoint itself there is nothing to compare with (at init the change is to it).
    at = panel.collapse_panel(sel.at(5))
    assert at.reference is None and at.reference_step is None and set(at.changes.values()) == {None}
    assert panel.collapse_panel(sel.at(0)).reference_step == 5


def test_panel_accepts_precomputed_results_without_measuring(monkeypatch) -> None:
    run = make_run()
    sel = Selection(run, "h2", 50)
    result, reference = panel.measure(sel), panel.measure(sel.at(5))
    monkeypatch.setattr(panel, "measure", lambda *a, **k: pytest.fail("measured again"))
    data = panel.collapse_panel(sel, result=result, reference=reference)
    assert data.result is result and data.reference is reference


def test_history_is_the_table_on_the_selection_rows_at_every_layer_and_step() -> None:
    run = make_run()
    for split in ("all", "train", "test"):
        sel = Selection(run, "h2", 50, split)
        hist = panel.collapse_history(sel)
        expected = neural_collapse_table(run, split=split)
        assert hist.table.equals(expected)
        assert hist.split == split and hist.layers == LAYERS and hist.steps == STEPS
        series = hist.series("h1")
        for i, step in enumerate(STEPS):
            assert series["nc1"][i] == panel.measure(Selection(run, "h1", step, split)).nc1
        grid = hist.grid("nc3")
        assert grid.shape == (2, 3)
        assert np.isnan(grid[0]).all()  # NC3 is undefined away from the classifier's layer
        assert grid[1, 2] == panel.measure(sel).nc3


def test_history_uses_explicit_rows_and_its_key_ignores_layer_and_step() -> None:
    run = make_run()
    sel = Selection(run, "h1", 5, "train").with_rows(np.arange(0, 30))
    hist = panel.collapse_history(sel)
    assert hist.table["n_samples"].to_list() == [30] * 6
    assert hist.series("h2")["nc1"][2] == panel.measure(sel.at_layer("h2").at(50)).nc1
    keys = {panel.history_selection(sel.at_layer(la).at(st)).key for la in LAYERS for st in STEPS}
    assert len(keys) == 1
    assert panel.history_selection(Selection(run, "h1", 5, "test")).key not in keys


def test_frames_are_class_mean_frames_of_the_selection_rows() -> None:
    run = make_run()
    sel = Selection(run, "h1", 50, "test")
    rows = run.rows("test")
    got = panel.collapse_frames(sel)
    want = class_mean_frames([run.activations[("h1", s)][rows] for s in STEPS], run.labels[rows])
    np.testing.assert_array_equal(got.sample_coords, want.sample_coords)
    np.testing.assert_array_equal(got.mean_coords, want.mean_coords)
    assert panel.frames_selection(sel).key == panel.frames_selection(sel.at(0)).key
    assert panel.frames_selection(sel).key != panel.frames_selection(sel.at_layer("h2")).key
    assert panel.run_steps(sel) == list(STEPS)


def test_embedding_with_an_uploaded_classifier() -> None:
    rng = np.random.default_rng(1)
    means = rng.normal(size=(3, 6)) * 5
    y = np.repeat(np.arange(3), 20)
    X = (means[y] + rng.normal(size=(60, 6))).astype(np.float32)
    emb = Embedding(X=X, labels=y)
    sel = Selection(emb)
    W = means - means.mean(axis=0)
    preds = rng.integers(0, 3, 60)
    head = ClassifierArrays(W, None, preds)
    panel.check_classifier_fits(head, sel)
    got = panel.measure(sel, classifier=head)
    want = neural_collapse(X, y, classifier=W, predictions=preds)
    _same(got, want)
    assert panel.collapse_panel(sel, classifier=head).reference is None
    assert panel.collapse_panel(sel).result.nc3 is None
    with pytest.raises(ValueError, match=r"shape \(n_classes, 6\)"):
        panel.check_classifier_fits(ClassifierArrays(rng.normal(size=(3, 4)), None, None), sel)
    with pytest.raises(ValueError, match="only 2 classes"):
        panel.check_classifier_fits(ClassifierArrays(W[:2], None, None), sel)
    frames = panel.collapse_frames(sel)
    np.testing.assert_array_equal(frames.mean_coords, class_mean_frames([X], y).mean_coords)
    assert panel.run_steps(sel) == [0]


def test_embedding_predictions_follow_the_selection_rows() -> None:
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(3), 20)
    X = (5 * np.eye(3, 4)[y] + rng.normal(size=(60, 4))).astype(np.float32)
    emb = Embedding(X=X, labels=y, metadata=pl.DataFrame({"split": ["a", "b"] * 30}))
    preds = rng.integers(0, 3, 60)
    sel = Selection(emb, split="b")
    got = panel.measure(sel, classifier=ClassifierArrays(None, None, preds))
    rows = emb.rows("b")
    _same(got, neural_collapse(X[rows], y[rows], predictions=preds[rows]))
    assert panel.rows_label(sel) == "b rows (30)"
    assert panel.rows_label(Selection(emb)) == "all rows (60)"


def test_split_selection_and_comparison_splits() -> None:
    run = make_run()
    sel = Selection(run, "h2", 50, "all", source_key="k")
    assert panel.comparison_splits(sel) == ["test", "train"] or panel.comparison_splits(sel) == ["train", "test"]
    other = panel.split_selection(sel, "test")
    assert (other.layer, other.step, other.split, other.source_key) == ("h2", 50, "test", "k")
    np.testing.assert_array_equal(other.row_ids, run.rows("test"))


def test_result_names_follow_the_codes_present() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 2, 5], 10)
    result = neural_collapse(rng.standard_normal((30, 4)) + 5.0 * np.eye(6, 4)[y], y)
    assert panel.result_names(result, ["a", "b", "c", "d", "e", "f"]) == ["a", "c", "f"]


def test_training_form_values_round_trip_every_preset() -> None:
    for name, config in training.PRESETS.items():
        values = training.form_values(config)
        back = training.config_from_values(values)
        assert training.form_values(back) == values, name
        assert back == config, name
    assert training.ACTIVATION_NAMES == tuple(sorted(training.ACTIVATION_NAMES))
    assert training.parse_hidden_sizes("64, 32") == (64, 32)
    with pytest.raises(ValueError, match="Hidden widths '64-x'"):
        training.parse_hidden_sizes("64-x")
    a = training.config_params(training.PRESETS["balanced"])
    assert a == training.config_params(training.PRESETS["balanced"])
    assert a != training.config_params(training.PRESETS["imbalanced"])
