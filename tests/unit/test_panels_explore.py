"""analysis.panels.explore and analysis.panels.data: the Explore and Data pages' numbers, equal to the
library called directly (issue 16), with no Streamlit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from analysis.data import Embedding, Run, Selection
from analysis.data.inspect import summarize_embedding
from analysis.neighbors import kneighbors, kneighbors_of
from analysis.panels import data as data_panel
from analysis.panels import explore as panel
from analysis.projection import project, project_sequence


def _run(n: int = 90, seed: int = 0) -> Run:
    rng = np.random.default_rng(seed)
    steps = (0, 10, 20)
    acts = {("h", s): (rng.normal(size=(n, 6)) + (np.arange(n) % 3)[:, None] * (1 + s / 10)).astype(np.float32)
            for s in steps}
    return Run(activations=acts, layers=("h",), steps=steps, labels=np.arange(n) % 3, label_names=("a", "b", "c"),
               metadata=pl.DataFrame({"split": ["train", "test"] * (n // 2), "id": list(range(100, 100 + n)),
                                      "group": [f"g{i % 5}" for i in range(n)], "score": np.linspace(0, 1, n)}),
               name="toy")


@pytest.mark.parametrize(("method", "dims"), [("PCA", 2), ("PCA", 3), ("LDA", 2)])
def test_projection_is_project_of_the_selection(method: str, dims: int) -> None:
    sel = Selection(_run(), split="train")
    got = panel.projection(sel, method=method, n_components=dims)
    want = project(sel.X, method=method.lower(), n_components=dims, labels=sel.labels)
    np.testing.assert_array_equal(got.coords, want.coords)
    assert got.coords.shape == (sel.n_samples, dims) and got.trustworthiness == want.trustworthiness
    # The array-level call other pages share takes display names and library names alike.
    np.testing.assert_array_equal(panel.projection_of(sel.X, method="pca", n_components=dims).coords,
                                  project(sel.X, method="pca", n_components=dims).coords)


def test_method_options_offer_lda_from_three_classes() -> None:
    assert panel.method_options(2) == ["PCA", "UMAP", "t-SNE"]
    assert panel.method_options(3) == ["PCA", "UMAP", "t-SNE", "LDA"]
    assert set(panel.METHODS.values()) == {"pca", "umap", "tsne", "lda"}


def test_training_frames_are_project_sequence_of_the_selection_at_every_step_anchored_at_its_step() -> None:
    run = _run()
    sel = Selection(run, "h", 10, split="test")
    frames = panel.training_frames(sel, method="PCA")
    want = project_sequence([Selection(run, "h", s, split="test").X for s in run.steps], method="pca",
                            n_components=2, labels=sel.labels, anchor=1)
    assert frames.steps == (0, 10, 20) and frames.method == "pca" and frames.anchor_step == 10
    for got, expected in zip(frames.coords, want, strict=True):
        np.testing.assert_array_equal(got, expected.coords)
    assert frames.trustworthiness == tuple(p.trustworthiness for p in want)
    # The sidebar's step is the anchor, drawn as the scatter draws it: the other frames follow it.
    on_screen = panel.projection(sel, method="PCA", n_components=2)
    np.testing.assert_array_equal(frames.coords[1], on_screen.coords)
    other = panel.training_frames(sel.at(20), method="PCA")
    np.testing.assert_array_equal(other.coords[2], panel.projection(sel.at(20), method="PCA", n_components=2).coords)
    # A given projection of the anchor is used as it is (the page passes its cached one).
    given = replace(on_screen, coords=on_screen.coords + 100.0)
    np.testing.assert_array_equal(panel.training_frames(sel, method="PCA", anchor_projection=given).coords[1],
                                  given.coords)
    with pytest.raises(ValueError, match="needs a run"):
        panel.training_frames(Selection(Embedding(X=sel.X)), method="PCA")


def test_draw_rows_are_all_rows_or_a_seeded_sorted_subsample() -> None:
    np.testing.assert_array_equal(panel.draw_rows(5), np.arange(5))
    rows = panel.draw_rows(1000, 100)
    assert rows.size == 100 and np.unique(rows).size == 100 and np.all(np.diff(rows) > 0) and rows.max() < 1000
    np.testing.assert_array_equal(rows, panel.draw_rows(1000, 100))
    assert not np.array_equal(rows, panel.draw_rows(1000, 100, seed=1))


def test_row_norms_and_colourings() -> None:
    sel = Selection(_run(), split="train")
    norms = panel.row_norms(sel.X)
    assert norms.dtype == np.float32
    np.testing.assert_allclose(norms, np.sqrt((sel.X.astype(np.float64) ** 2).sum(axis=1)), rtol=1e-6)
    assert panel.colour_options(sel) == ["label", "split", "group", "score", "vector norm", "clusters (HDBSCAN)",
                                         "none"]  # not "id"
    label = panel.colouring(sel, "label")
    assert label.kind == "category" and label.names == ("a", "b", "c")
    np.testing.assert_array_equal(label.values, sel.labels)
    norm = panel.colouring(sel, "vector norm")
    assert norm.kind == "continuous"
    np.testing.assert_array_equal(norm.values, norms)
    group = panel.colouring(sel, "group")
    assert group.kind == "category" and group.names == ("g0", "g1", "g2", "g3", "g4")
    assert [group.names[c] for c in group.values] == sel.metadata["group"].to_list()
    score = panel.colouring(sel, "score")  # numeric with more than 40 distinct values: a colour bar
    assert score.kind == "continuous"
    np.testing.assert_allclose(score.values, sel.metadata["score"].to_numpy(), rtol=1e-6)
    assert panel.colouring(sel, "none").kind == "none"


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_point_neighbours_slice_one_graph_and_equal_the_direct_search(metric: str) -> None:
    sel = Selection(_run(n=240), split="train")  # 120 rows
    n = sel.n_samples
    graph = panel.neighbour_graph(sel, metric=metric)
    assert graph.k_max == panel.LARGEST_K == 50 and graph.metric == metric
    d_all, i_all = kneighbors(sel.X, 50, metric=metric)
    np.testing.assert_array_equal(graph.indices, i_all)
    for row in (0, 7, n - 1):
        from_graph = panel.point_neighbours(sel, row, metric=metric, graph=graph)
        alone = panel.point_neighbours(sel, row, metric=metric)  # the large-n path: this row's own search
        assert from_graph.depth == alone.depth == 50
        for k in (1, 10, 50):
            d_direct, i_direct = kneighbors_of(sel.X, np.array([row]), k, metric=metric)
            for got in (from_graph, alone):
                d, i = got.top(k)
                np.testing.assert_array_equal(i, i_direct[0])
                np.testing.assert_allclose(d, d_direct[0], rtol=1e-6, atol=1e-7)
                assert row not in i
        assert from_graph.top(500)[1].size == 50  # k beyond the depth is clipped
    with pytest.raises(ValueError, match="row must be"):
        panel.point_neighbours(sel, n, metric=metric)
    other = "cosine" if metric == "euclidean" else "euclidean"
    with pytest.raises(ValueError):
        panel.point_neighbours(sel, 0, metric=other, graph=graph)


def test_neighbour_depth_and_the_graph_limit() -> None:
    assert panel.neighbour_depth(10) == 9 and panel.neighbour_depth(1000) == 50 and panel.neighbour_depth(2) == 1
    assert panel.uses_graph(panel.GRAPH_MAX_ROWS) and not panel.uses_graph(panel.GRAPH_MAX_ROWS + 1)
    small = Selection(Embedding(X=np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)))
    assert panel.neighbour_graph(small, metric="euclidean").k_max == 7


def test_data_panel_is_the_summary_and_norms_of_the_selected_rows() -> None:
    run = _run()
    sel = Selection(run, "h", 20, split="test")
    got = data_panel.data_panel(sel)
    assert got.summary == summarize_embedding(sel.embedding)
    assert got.summary["n"] == 45 and got.summary["n_classes"] == 3
    np.testing.assert_array_equal(got.norms, np.linalg.norm(sel.X, axis=1).astype(np.float32))
    assert got.class_names == ["a", "b", "c"] and got.class_counts == [15, 15, 15]


def test_the_drawn_subsample_keeps_every_class_visible() -> None:
    """Issue 17: above the drawing limit the sample is stratified by label: each class keeps its share and
    at least MIN_DRAWN_PER_CLASS rows (all of a smaller one); a uniform sample would lose the rare classes."""
    from analysis.panels.explore import MIN_DRAWN_PER_CLASS, draw_rows

    labels = np.concatenate([np.zeros(95_000, dtype=np.int64), np.ones(4_970, dtype=np.int64),
                             np.full(30, 2, dtype=np.int64)])
    rows = draw_rows(labels.size, 2_000, seed=1, labels=labels)
    assert rows.size == 2_000 and np.all(np.diff(rows) > 0)
    drawn = np.bincount(labels[rows], minlength=3)
    assert drawn[2] == 30  # the whole rare class
    assert drawn[1] == 99  # its share, floor(2000 * 4970 / 100000), above the minimum
    assert drawn[0] == 2_000 - 30 - 99  # the largest class gives up what the small ones take
    assert MIN_DRAWN_PER_CLASS == 50 and draw_rows(10, 20, labels=np.zeros(10)).tolist() == list(range(10))
    np.testing.assert_array_equal(draw_rows(labels.size, 2_000, seed=1, labels=labels), rows)  # seeded
