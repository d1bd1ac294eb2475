"""analysis.panels.superposition: the Superposition page's numbers equal the direct metric calls.

Training is replaced by hand-built sweeps and diagrams (the trainers have their own tests, and the
AppTest trains the real sweep): these tests hold the panels to what they add on top.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import analysis.models.toy_superposition as toy
from analysis.metrics import superposition_geometry
from analysis.models.toy_superposition import (
    PHASE_LABELS,
    PhaseDiagram,
    ToyModelConfig,
    ToySweep,
    theoretical_phases,
)
from analysis.panels import superposition as panels

IGNORE, DEDICATED, ANTIPODAL = (PHASE_LABELS.index(n) for n in ("ignore second", "dedicated to second", "antipodal"))


def _pentagon(scale: float = 1.0) -> np.ndarray:
    """Five unit features at the vertices of a regular pentagon: D_i = 2/5 each (Elhage et al. 2022)."""
    angles = 2 * np.pi * np.arange(5) / 5
    return (scale * np.column_stack([np.cos(angles), np.sin(angles)])).astype(np.float32)


def _sweep(seed: int = 0) -> ToySweep:
    """Three instances of n = 5 features in m = 2 dimensions at two checkpoints, the last one a known shape."""
    rng = np.random.default_rng(seed)
    final = np.stack([
        np.array([[1, 0], [0, 1], [0, 0], [0, 0], [0, 0]], dtype=np.float32),  # two dedicated, three dropped
        np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [0, 0]], dtype=np.float32),  # two antipodal pairs
        _pentagon(),
    ])
    W = np.stack([rng.normal(size=final.shape).astype(np.float32), final])
    b = rng.normal(size=(2, 3, 5)).astype(np.float32)
    return ToySweep(n_features=5, n_hidden=2, sparsities=np.array([0.0, 0.5, 0.95]),
                    importances=np.tile(0.9 ** np.arange(5), (3, 1)), seeds=np.zeros(3, dtype=np.int64),
                    steps=np.array([0, 100]), W_features=W, b=b, losses=rng.uniform(size=(2, 3)), seconds=1.5)


def test_measure_sweep_equals_the_metric_on_every_instance() -> None:
    sweep = _sweep()
    result = panels.measure_sweep(sweep)
    np.testing.assert_array_equal(result.W, sweep.W_features[-1])
    np.testing.assert_array_equal(result.b, sweep.b[-1])
    np.testing.assert_array_equal(result.feature_probabilities, [1.0, 0.5, 1.0 - 0.95])
    assert result.labels == ["1 − S = 1", "1 − S = 0.5", "1 − S = 0.05"]
    assert (result.n_features, result.n_hidden, result.n_instances, result.seconds) == (5, 2, 3, 1.5)
    for i, w in enumerate(sweep.W_features[-1]):
        direct = superposition_geometry(w)
        got = result.geometry[i]
        for name in ("feature_norms", "superposition", "feature_dimensionality", "squared_overlaps"):
            np.testing.assert_array_equal(getattr(got, name), getattr(direct, name))
        assert got.dimensions_per_feature == direct.dimensions_per_feature
        np.testing.assert_array_equal(result.feature_dimensionality[i], direct.feature_dimensionality)


def test_measure_sweep_hand_checked_dimensionalities_and_caption() -> None:
    result = panels.measure_sweep(_sweep())
    # Dedicated features keep a whole dimension, dropped ones none; antipodal pairs share one; a pentagon 2/5 each.
    np.testing.assert_allclose(result.feature_dimensionality[0], [1, 1, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(result.feature_dimensionality[1], [0.5, 0.5, 0.5, 0.5, 0], atol=1e-12)
    np.testing.assert_allclose(result.feature_dimensionality[2], [0.4] * 5, atol=1e-6)
    # m / ||W||_F^2: 2 / 2, 2 / 4, 2 / 5.
    assert [g.dimensions_per_feature for g in result.geometry] == pytest.approx([1.0, 0.5, 0.4])
    assert result.describe_instance(1) == ("1 − S = 0.5: dimensions per feature 0.50; "
                                           "D_i = 0.50, 0.50, 0.50, 0.50, 0.00")
    assert result.describe_instance(2).endswith("D_i = 0.40, 0.40, 0.40, 0.40, 0.40")


def test_toy_model_panel_trains_the_default_sweep_with_the_page_choices(monkeypatch) -> None:
    seen = []

    def fake_train(config, *, progress=None):
        seen.append((config, progress))
        return _sweep()

    monkeypatch.setattr(toy, "train_toy_models", fake_train)
    progress = object()
    result = panels.toy_model_panel(5, 2, steps=123, seed=7, importance_decay=0.8, progress=progress)
    config, given = seen[0]
    assert config == replace(ToyModelConfig(), n_features=5, n_hidden=2, steps=123, seed=7, importance_decay=0.8)
    assert given is progress
    np.testing.assert_array_equal(result.feature_dimensionality,
                                  panels.measure_sweep(_sweep()).feature_dimensionality)


def _diagram() -> PhaseDiagram:
    p = np.array([1.0, 0.1, 0.01])
    r = np.array([0.1, 1.0, 10.0])
    labels = np.array([[IGNORE, IGNORE, DEDICATED], [IGNORE, ANTIPODAL, DEDICATED], [ANTIPODAL] * 3])
    zeros = np.zeros((3, 3))
    return PhaseDiagram(feature_probabilities=p, relative_importances=r, labels=labels,
                        W_features=np.zeros((3, 3, 2, 1), np.float32), b=np.zeros((3, 3, 2), np.float32),
                        losses=zeros)


def test_phase_panel_adds_the_closed_form_theory(monkeypatch) -> None:
    calls = []

    def fake_phase_diagram(n_sparsities, n_importances, *, seed, progress=None):
        calls.append((n_sparsities, n_importances, seed))
        return _diagram()

    monkeypatch.setattr(toy, "phase_diagram", fake_phase_diagram)
    result = panels.phase_panel(3, seed=2)
    assert calls == [(3, 3, 2)]
    diagram = _diagram()
    # Rows of the heatmap are importances (y), columns probabilities (x).
    np.testing.assert_array_equal(result.cell_labels, diagram.label_grid().T)
    assert result.cell_labels[2, 0] == "dedicated to second"  # p = 1, r = 10
    fine_p, fine_r, theory = result.theory
    np.testing.assert_array_equal(fine_p, np.geomspace(0.01, 1.0, panels.THEORY_RESOLUTION))
    np.testing.assert_array_equal(fine_r, np.geomspace(0.1, 10.0, panels.THEORY_RESOLUTION))
    np.testing.assert_array_equal(theory, theoretical_phases(fine_p, fine_r))
    # Hand-checked corners (losses in tests/unit/test_toy_theory.py): dense p = 1 gives the dimension to
    # the more important feature; sparse p = 0.01 at r = 1 stores both antipodally.
    assert theory[0, -1] == IGNORE and theory[-1, -1] == DEDICATED
    middle = np.argmin(np.abs(fine_r - 1.0))
    assert theory[middle, 0] == ANTIPODAL


@pytest.mark.parametrize("features", ["rows", "columns"])
def test_weights_panel_equals_the_metric(features: str) -> None:
    W = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    result = panels.weights_panel(W, tensor="fc.weight", features=features)
    direct = superposition_geometry(W, features=features)
    assert (result.tensor, result.features) == ("fc.weight", features)
    assert result.geometry.n_features == (40 if features == "rows" else 8)
    assert result.geometry.dimensions_per_feature == direct.dimensions_per_feature
    assert result.geometry.mean_squared_overlap == direct.mean_squared_overlap
    np.testing.assert_array_equal(result.geometry.squared_overlaps, direct.squared_overlaps)
    np.testing.assert_array_equal(result.geometry.feature_dimensionality, direct.feature_dimensionality)


def test_weights_panel_columns_are_the_transposes_rows() -> None:
    W = np.random.default_rng(1).normal(size=(6, 9))
    by_columns = panels.weights_panel(W, tensor="w", features="columns").geometry
    by_rows = panels.weights_panel(W.T, tensor="w", features="rows").geometry
    np.testing.assert_array_equal(by_columns.feature_dimensionality, by_rows.feature_dimensionality)
    assert by_columns.random_overlap_expectation == pytest.approx(1 / 6)


def test_weights_panel_refuses_an_all_zero_matrix() -> None:
    with pytest.raises(ValueError):
        panels.weights_panel(np.zeros((4, 2)), tensor="w", features="rows")
