"""analysis.metrics.geometry_table: the sphere and spectrum metrics per layer and checkpoint of a Run."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data import Run
from analysis.metrics import alignment, effective_rank, isotropy, uniformity
from analysis.metrics.geometry_table import GEOMETRY_COLUMNS, geometry_row, geometry_table


def _run() -> Run:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    acts = {(layer, step): rng.normal(size=(60, d)).astype(np.float32)
            for layer, d in (("a", 5), ("b", 3)) for step in (0, 10)}
    split = np.array(["train"] * 40 + ["test"] * 20)
    return Run(activations=acts, layers=("a", "b"), steps=(0, 10), labels=labels,
               metadata=pl.DataFrame({"id": np.arange(60), "split": split}))


def test_one_row_per_layer_and_step_with_the_library_values() -> None:
    run = _run()
    table = geometry_table(run)
    assert table.columns == ["layer", "step", *GEOMETRY_COLUMNS]
    assert table.select("layer", "step").rows() == [("a", 0), ("a", 10), ("b", 0), ("b", 10)]
    X = run.activations[("b", 10)]
    row = table.filter((pl.col("layer") == "b") & (pl.col("step") == 10)).to_dicts()[0]
    assert row["uniformity"] == pytest.approx(uniformity(X).value)
    assert row["alignment"] == pytest.approx(alignment(X, labels=run.labels).value)
    assert row["iso_score"] == pytest.approx(isotropy(X).iso_score)
    assert row["effective_rank"] == pytest.approx(effective_rank(X).effective_rank)
    assert row["n_features"] == 3


def test_split_uses_only_its_rows() -> None:
    run = _run()
    table = geometry_table(run, split="test", layers=["a"], steps=[0])
    rows = np.arange(40, 60)
    expected = geometry_row(run.activations[("a", 0)][rows], run.labels[rows])
    assert table.height == 1
    assert table["uniformity"][0] == pytest.approx(expected["uniformity"])
    with pytest.raises(ValueError, match="split 'val' is not in this data"):
        geometry_table(run, split="val")


def test_without_labels_alignment_is_null() -> None:
    X = np.random.default_rng(1).normal(size=(30, 4))
    assert geometry_row(X, None)["alignment"] is None
    assert geometry_row(X, np.arange(30))["alignment"] is None  # no class has two samples
