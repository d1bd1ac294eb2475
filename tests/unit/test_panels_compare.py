"""The Compare page's panels (`analysis.panels.compare`) against the metrics called directly, without Streamlit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data import Embedding, Run, Selection
from analysis.metrics.seed_agreement import seed_agreement
from analysis.metrics.similarity import choose_anchors, cka_matrices, knn_agreement
from analysis.neighbors import kneighbors
from analysis.panels import compare as panel
from analysis.projection import project


def _run(n: int = 80, seed: int = 0, name: str = "toy") -> Run:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 6))
    activations = {}
    for step in (0, 5, 10):
        for width, layer in ((8, "h1"), (5, "h2")):
            mix = rng.normal(size=(6, width))
            activations[(layer, step)] = (base @ mix * (1 + step / 10) + rng.normal(size=(n, width)) * 0.3
                                          ).astype(np.float32)
    split = np.where(np.arange(n) % 4 == 0, "test", "train")
    return Run(activations=activations, layers=("h1", "h2"), steps=(0, 5, 10), labels=np.arange(n) % 3,
               metadata=pl.DataFrame({"split": split}), name=name)


def test_step_label() -> None:
    assert panel.step_label(0) == "init"
    assert panel.step_label(1234) == "step 1,234"


def test_same_rows_keeps_the_rows_and_refuses_other_inputs() -> None:
    a = Selection(_run(), "h1", 5, "train")
    b = panel.same_rows(a, _run(seed=1), layer="h2")
    assert b.split == "train" and b.layer == "h2" and b.step == 10
    np.testing.assert_array_equal(b.row_ids, a.row_ids)
    no_split = Run(activations={("x", 0): np.zeros((80, 2), np.float32)}, layers=("x",), steps=(0,))
    assert panel.same_rows(a, no_split).split == "all"  # the rows stay A's; only the label changes
    np.testing.assert_array_equal(panel.same_rows(a, no_split).row_ids, a.row_ids)
    with pytest.raises(ValueError, match="same inputs"):
        panel.same_rows(a, _run(n=40))


def test_cka_layers_runs_and_checkpoints_equal_cka_matrices_on_the_selected_rows() -> None:
    run, other = _run(), _run(seed=1)
    sel = Selection(run, "h2", 5, "test")
    rows = sel.row_ids
    layers = panel.cka_layers(sel)
    plain, debiased = cka_matrices([run.activations[(la, 5)][rows] for la in run.layers])
    np.testing.assert_allclose(layers.plain, plain, atol=1e-12)
    np.testing.assert_allclose(layers.debiased, debiased, atol=1e-12)
    assert layers.rows == layers.columns == ("h1", "h2") and layers.n_samples == rows.size == 20
    assert layers.widest == 8 and layers.steps is None and layers.settled_step(False) is None
    np.testing.assert_allclose(np.diag(layers.plain), 1.0)
    assert layers.gap == pytest.approx(np.max(np.abs(plain - debiased)))
    assert layers.values(True) is layers.debiased and layers.values(False) is layers.plain

    runs = panel.cka_runs(sel, panel.same_rows(sel, other, step=10))
    expected, _ = cka_matrices([run.activations[(la, 5)][rows] for la in run.layers],
                               [other.activations[(la, 10)][rows] for la in other.layers])
    np.testing.assert_allclose(runs.plain, expected, atol=1e-12)
    with pytest.raises(ValueError, match="same inputs"):
        panel.cka_runs(sel, Selection(other, split="train"))

    steps = panel.cka_checkpoints(sel)
    expected, _ = cka_matrices([run.activations[("h2", s)][rows] for s in run.steps])
    np.testing.assert_allclose(steps.plain, expected, atol=1e-12)
    assert steps.rows == ("init", "step 5", "step 10") and steps.steps == (0, 5, 10)
    first = next(s for s, v in zip(run.steps, expected[:, -1], strict=True) if v >= panel.SETTLED_CKA)
    assert steps.settled_step(False) == first
    with pytest.raises(ValueError, match="needs a run"):
        panel.cka_layers(Selection(Embedding(X=np.eye(5, dtype=np.float32))))


def test_bias_note_names_the_gap_and_the_reason() -> None:
    small = panel.CkaPanel(plain=np.eye(2), debiased=np.eye(2) * 0.99, rows=("a", "b"), columns=("a", "b"),
                           n_samples=1000, widest=8)
    assert small.bias_note().startswith("Plain and debiased CKA differ here by at most 0.010: with many samples")
    large = panel.CkaPanel(plain=np.eye(2), debiased=np.eye(2) * 0.5, rows=("a", "b"), columns=("a", "b"),
                           n_samples=30, widest=512)
    assert "with 30 samples for up to 512 features the plain estimate is inflated" in large.bias_note()


def test_side_by_side_reads_the_graphs_and_equals_knn_agreement_without_them() -> None:
    run = _run()
    a = Selection(run, "h1", 10, "train")
    b = panel.same_rows(a, run, layer="h2", step=0)
    graph_a, graph_b = panel.neighbour_graph(a), panel.neighbour_graph(b)
    assert graph_a.k_max == graph_b.k_max == panel.NEIGHBOURS and graph_a.n == a.n_samples == 60
    result = panel.side_by_side_panel(a, b, graph_a=graph_a, graph_b=graph_b)
    direct = knn_agreement(a.X, b.X, k=panel.NEIGHBOURS)
    assert result.mean_jaccard == direct.mean_jaccard
    np.testing.assert_array_equal(result.agreement.per_point, direct.per_point)
    np.testing.assert_array_equal(result.nn_a, kneighbors(a.X, panel.NEIGHBOURS)[1])
    np.testing.assert_array_equal(result.nn_b, kneighbors(b.X, panel.NEIGHBOURS)[1])
    np.testing.assert_array_equal(result.row_ids, a.row_ids)
    assert result.selected_jaccard([0, 3]) == pytest.approx(direct.per_point[[0, 3]].mean())
    # A smaller k is a slice of the same graphs.
    assert panel.side_by_side_panel(a, b, graph_a=graph_a, graph_b=graph_b, k=3).mean_jaccard == \
        knn_agreement(a.X, b.X, k=3).mean_jaccard
    # A space against itself keeps every neighbour.
    same = panel.side_by_side_panel(a, a, graph_a=graph_a, graph_b=graph_a)
    assert same.mean_jaccard == 1.0 and same.changes(np.arange(5))["neighbours only in A"].to_list() == [""] * 5
    with pytest.raises(ValueError, match="same inputs"):
        panel.side_by_side_panel(a, Selection(run, split="test"), graph_a=graph_a, graph_b=graph_b)


def test_neighbour_changes_by_hand() -> None:
    # 4 points, k = 2. Row 1 swaps neighbour 0 for 3, row 2 swaps 1 for 3; rows 0 and 3 keep theirs.
    nn_a = np.array([[1, 2], [0, 2], [0, 1], [2, 1]])
    nn_b = np.array([[2, 1], [3, 2], [3, 0], [2, 1]])
    jaccard = np.array([1.0, 1 / 3, 1 / 3, 1.0])  # m / (2k - m): 2/2, 1/3, 1/3, 2/2
    table = panel.neighbour_changes([0, 1, 2, 3], nn_a, nn_b, jaccard)
    assert table["row"].to_list() == [1, 2, 0, 3]  # worst first, ties in the given order
    assert table["jaccard"].to_list() == [0.333, 0.333, 1.0, 1.0]
    assert table["neighbours only in A"].to_list() == ["0", "1", "", ""]
    assert table["neighbours only in B"].to_list() == ["3", "3", "", ""]
    named = panel.neighbour_changes([3, 2], nn_a, nn_b, jaccard, ids=np.array([10, 20, 30, 40]))
    assert named["row"].to_list() == [30, 40]
    assert named["neighbours only in A"].to_list() == ["20", ""]
    assert named["neighbours only in B"].to_list() == ["40", ""]
    assert panel.neighbour_changes([0, 1, 2, 3], nn_a, nn_b, jaccard, limit=1)["row"].to_list() == [1]
    # The hand-made Jaccards are what knn_agreement computes from such lists.
    both = np.sort(np.concatenate([nn_a, nn_b], axis=1), axis=1)
    shared = np.count_nonzero(both[:, 1:] == both[:, :-1], axis=1)
    np.testing.assert_allclose(shared / (4.0 - shared), jaccard)


def test_neighbour_graph_and_projection_are_of_the_selected_rows() -> None:
    sel = Selection(_run(), "h1", 5, "test")
    graph = panel.neighbour_graph(sel, k_max=4, metric="cosine")
    distances, indices = kneighbors(sel.X, 4, metric="cosine")
    np.testing.assert_array_equal(graph.indices, indices)
    np.testing.assert_allclose(graph.distances, distances)
    coords = panel.space_projection(sel)
    assert coords.shape == (20, 2)
    np.testing.assert_allclose(coords, project(sel.X, method="pca", n_components=2, seed=0).coords)


def test_seed_pair_panel_equals_seed_agreement_on_the_train_test_split() -> None:
    run_a, run_b = _run(seed=2), _run(seed=3)
    result = panel.seed_pair_panel(run_a, run_b, n_anchors=12, method="random")
    train, test = run_a.rows("train"), run_a.rows("test")
    anchors = train[choose_anchors(train.size, method="random", n_anchors=12, seed=0)]
    expected = seed_agreement(run_a.activations[("h2", 10)], run_b.activations[("h2", 10)], run_a.labels,
                              anchors=anchors, train_rows=train, test_rows=test)
    assert result.n_anchors == 12
    for name in type(expected).SCALARS:
        assert getattr(result, name) == getattr(expected, name), name
    per_class = panel.seed_pair_panel(run_a, run_b, n_anchors=99, method="per_class")
    assert per_class.n_anchors == 3  # one per class; n_anchors is ignored
