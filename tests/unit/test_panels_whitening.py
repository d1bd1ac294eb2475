"""analysis.panels.whitening: the Remedies tab's table, frequency columns and "try this" without Streamlit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data import Embedding, Selection
from analysis.metrics import zipfian_whitening
from analysis.metrics.whitening import compare_whitening
from analysis.panels import whitening as panel


def _selection(metadata: dict | None = None, *, nuisance: bool = False) -> Selection:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 30)
    # Two class directions and twelve weak noise directions that whitening blows up to unit variance;
    # with `nuisance`, also one dominant direction that carries no class information.
    X = np.c_[6.0 * np.eye(3, 2)[labels] + rng.normal(size=(90, 2)), 0.05 * rng.normal(size=(90, 12))] + 3.0
    if nuisance:
        X = np.c_[X, 20.0 * rng.normal(size=(90, 1))]
    meta = pl.DataFrame(metadata) if metadata else None
    return Selection(Embedding(X=X.astype(np.float32), labels=labels, metadata=meta))


def test_frequency_columns_are_numeric_non_negative_and_named_like_counts() -> None:
    n = 90
    sel = _selection({"id": np.arange(n), "count": np.arange(n) + 1, "freq_bad": -np.ones(n),
                      "word": ["w"] * n, "weight": np.linspace(0, 1, n)})
    assert panel.frequency_columns(sel) == ["count", "weight"]
    assert panel.frequency_columns(_selection()) == []


def test_whitening_that_costs_neighbours_says_so_and_what_to_try() -> None:
    result = panel.whitening_panel(_selection(), methods=("zca", "abtt"))
    assert result.comparison.table["method"].to_list() == ["none", "zca", "abtt"]
    knn = {r["method"]: r["knn_accuracy"] for r in result.comparison.table.to_dicts()}
    assert knn["zca"] < knn["none"]  # the noise directions now weigh as much as the class directions
    assert knn["abtt"] < knn["zca"]  # the top direction is a class direction: removing it hurts more
    assert f"{knn['none']:.3f} to {knn['zca']:.3f}" in result.advice
    assert "All-but-the-top does not help either" in result.advice and "Raise ε" in result.advice
    assert list(result.table.columns)[:3] == ["", "IsoScore", "mean cosine"]


def test_a_dominant_nuisance_direction_makes_the_remedies_help() -> None:
    result = panel.whitening_panel(_selection(nuisance=True), methods=("zca", "abtt"))
    knn = {r["method"]: r["knn_accuracy"] for r in result.comparison.table.to_dicts()}
    assert knn["none"] < knn["zca"] < knn["abtt"]
    assert "helps neighbours" in result.advice and f"All-but-the-top gives {knn['abtt']:.3f} (better still" in result.advice


def test_zipfian_reads_the_chosen_column_and_says_so() -> None:
    counts = np.arange(90, 0, -1)
    sel = _selection({"count": counts})
    result = panel.whitening_panel(sel, methods=("zipfian",), frequency_column="count")
    assert any("'count'" in note for note in result.notes)
    Z = zipfian_whitening(np.asarray(sel.X), counts).transformed
    U = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    mean_cosine = (np.sum(U.sum(axis=0) ** 2) - 90) / (90 * 89)
    assert result.comparison.row("zipfian")["mean_cosine"] == pytest.approx(mean_cosine, abs=1e-9)
    plain = panel.whitening_panel(sel, methods=("zipfian",))
    assert any("plain PCA whitening" in note for note in plain.notes)


def test_fit_on_one_split_and_apply_to_every_row() -> None:
    split = np.where(np.arange(90) % 3 == 0, "test", "train")
    sel = _selection({"split": split})
    assert panel.fit_splits(sel) == ["test", "train"]
    assert panel.fit_splits(_selection()) == []
    result = panel.whitening_panel(sel, methods=("zca",), fit_split="train")
    expected = compare_whitening(np.asarray(sel.X), sel.labels, methods=("zca",), fit_rows=np.flatnonzero(split == "train"))
    assert result.comparison.row("zca")["iso_score"] == pytest.approx(expected.row("zca")["iso_score"], abs=1e-12)
    assert result.comparison.row("zca")["iso_score"] < 1.0  # white on the 60 train rows, not on all 90
    assert any("Fitted on the 60 'train' rows, applied to all 90" in note for note in result.notes)
    with pytest.raises(ValueError, match="fit_split 'dev'"):
        panel.whitening_panel(sel, methods=("zca",), fit_split="dev")
