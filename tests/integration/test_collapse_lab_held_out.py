"""The collapse lab's held-out classes (Galanti et al. 2022): recorded, never trained on."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from analysis.metrics import neural_collapse
from analysis.metrics.collapse_table import collapse_inputs
from analysis.models import CollapseLabConfig, MLPConfig, train_collapse_lab
from analysis.models.mlp import train_mlp
from analysis.panels.collapse_classes import has_held_out, new_classes_history

TINY = CollapseLabConfig(dataset="gaussian_mixture", n_classes=5, n_features=8, n_per_class=40, separation=5.0,
                         mlp=MLPConfig(hidden_sizes=(16, 8), lr=1e-2, epochs=3, batch_size=32, n_checkpoints=3,
                                       seed=1))


@pytest.fixture(scope="module")
def held_run():
    return train_collapse_lab(replace(TINY, held_out_classes=2))


def test_held_out_rows_are_recorded_but_not_trained_on(held_run) -> None:
    run = held_run
    split = run.metadata["split"].to_numpy()
    held = split == "held_out"
    # 2 classes x 40 samples (both of their splits), after the test rows.
    assert held.sum() == 80 and held[-80:].all()
    assert set(run.labels[held].tolist()) == {3, 4} and set(run.labels[~held].tolist()) == {0, 1, 2}
    assert run.classifier[run.steps[-1]][0].shape == (3, 8)  # a head row per trained class only
    assert run.logits[run.steps[-1]].shape == (run.n_samples, 3)
    assert run.label_names == ("0", "1", "2", "3", "4")
    assert "classes 3, 4 held out" in run.task and has_held_out(run)


def test_held_out_samples_do_not_change_training() -> None:
    # The same trained classes with and without held-out rows: identical weights (they never enter a batch).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 6)).astype(np.float32)
    y = np.repeat([0, 1, 2], 30)
    config = MLPConfig(hidden_sizes=(8,), epochs=2, batch_size=16, n_checkpoints=2, seed=0)
    plain = train_mlp(X[:60], y[:60] % 2, X[60:70], y[60:70] % 2, config, label_names=("a", "b"))
    held = train_mlp(X[:60], y[:60] % 2, X[60:70], y[60:70] % 2, config, label_names=("a", "b", "c"),
                     held_out=(X[70:], np.full(20, 2)))
    step = plain.steps[-1]
    np.testing.assert_array_equal(plain.classifier[step][0], held.classifier[step][0])
    np.testing.assert_array_equal(plain.activations[("hidden1", step)], held.activations[("hidden1", step)][:70])
    assert plain.curves == held.curves
    with pytest.raises(ValueError, match="held-out classes need codes from 2 on"):
        train_mlp(X[:60], y[:60] % 2, X[60:70], y[60:70] % 2, config, held_out=(X[70:], np.ones(20, dtype=int)))


def test_all_rows_drop_the_head_and_the_new_classes_history_matches(held_run) -> None:
    run = held_run
    layer, step = run.layers[-1], run.steps[-1]
    inputs = collapse_inputs(run, layer, step, None)
    assert "classifier" not in inputs and inputs["predictions"] is None
    assert neural_collapse(**inputs).nc3 is None
    trained = collapse_inputs(run, layer, step, run.rows("train"))
    assert trained["classifier"].shape == (3, 8)
    history = new_classes_history(run, layer, shots=(1, 5), n_draws=2)
    rows = run.rows("held_out")
    direct = neural_collapse(run.activations[(layer, step)][rows], run.labels[rows])
    assert history.at(step).cdnv == pytest.approx(direct.cdnv) and history.class_names == ["3", "4"]
    assert history.steps == run.steps and set(history.accuracy_series()) == {1, 5}


@pytest.mark.parametrize("k", [-1, 4, 1.5])
def test_held_out_classes_must_leave_two_to_train(k) -> None:
    with pytest.raises(ValueError, match="held_out_classes must be an integer from 0 to 3"):
        replace(TINY, held_out_classes=k)
