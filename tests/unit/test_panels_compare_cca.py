"""The Compare page's SVCCA / PWCCA and neuron-matching panels (`analysis.panels.compare_cca`) against the metrics."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.data import Run, Selection
from analysis.metrics.similarity import cca_matrices, neuron_matching, pwcca, svcca
from analysis.panels import compare as panel
from analysis.panels import compare_cca
from tests.unit.test_panels_compare import _run


def test_cca_layers_runs_and_checkpoints_equal_the_metrics_on_the_selected_rows() -> None:
    run, other = _run(), _run(seed=1)
    sel = Selection(run, "h2", 5, "train")
    rows = sel.row_ids
    layers = compare_cca.cca_layers(sel)
    reps = [run.activations[(la, 5)][rows] for la in run.layers]
    sv, pw = cca_matrices(reps)
    np.testing.assert_allclose(layers.svcca, sv, atol=1e-12)
    np.testing.assert_allclose(layers.pwcca, pw, atol=1e-12)
    assert layers.pwcca[0, 1] == pytest.approx(pwcca(reps[0], reps[1]).similarity, abs=1e-9)
    assert layers.rows == layers.columns == ("h1", "h2") and layers.n_samples == rows.size == 60
    assert layers.values("SVCCA") is layers.svcca and layers.values("PWCCA") is layers.pwcca
    with pytest.raises(ValueError, match="measure must be"):
        layers.values("CKA")
    assert "Try this" in layers.note("SVCCA") and "Morcos" in layers.note("PWCCA")

    b = panel.same_rows(sel, other)
    runs = compare_cca.cca_runs(sel.at(10), b)
    assert runs.svcca.shape == (2, 2)
    assert runs.svcca[1, 0] == pytest.approx(svcca(run.activations[("h2", 10)][rows],
                                                    other.activations[("h1", 10)][rows]).mean, abs=1e-9)
    steps = compare_cca.cca_checkpoints(sel)
    assert steps.rows == ("init", "step 5", "step 10") and steps.steps == (0, 5, 10)
    np.testing.assert_allclose(np.diag(steps.svcca), 1.0, atol=1e-9)


def test_neuron_matching_panel_matches_the_metric_and_its_chance_level_is_low() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6)).astype(np.float32)
    perm = rng.permutation(6)
    run_a = Run(activations={("h", 0): X, ("h", 9): X}, layers=("h",), steps=(0, 9))
    run_b = Run(activations={("h", 0): X, ("h", 9): 2 * X[:, perm] + 1}, layers=("h",), steps=(0, 9))
    result = compare_cca.neuron_matching_panel(run_a, run_b, layer="h")
    assert result.step == 9 and result.n_samples == 300 and result.layer == "h"
    np.testing.assert_array_equal(result.matching.assignment, np.argsort(perm))
    np.testing.assert_allclose(result.matching.matched, 1.0, atol=1e-6)
    direct = neuron_matching(X, 2 * X[:, perm] + 1)
    np.testing.assert_allclose(result.matching.matched, direct.matched, atol=1e-12)
    assert result.chance.mean_matched < 0.15  # shuffled rows: unrelated units
    assert "6 of 6 units" in result.note() and "Try this" in result.note()
    with pytest.raises(ValueError, match="no layer"):
        compare_cca.neuron_matching_panel(run_a, run_b, layer="x")
    short = Run(activations={("h", 0): X[:10]}, layers=("h",), steps=(0,))
    with pytest.raises(ValueError, match="same inputs"):
        compare_cca.neuron_matching_panel(run_a, short, layer="h")
