"""Unit tests for analysis.metrics.collapse_table (neural collapse over a Run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.data import load_run
from analysis.data.schema import Run
from analysis.metrics import neural_collapse
from analysis.metrics.collapse_table import collapse_inputs, neural_collapse_table, split_rows
from analysis.metrics.neural_collapse import NeuralCollapse

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "digits_mlp.safetensors"

C, N = 4, 40
TETRAHEDRON = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float32)


def make_run(*, labels=True, metadata=True, head_width=3) -> Run:
    """Two layers x two steps; at step 10 the last layer is a perfect simplex ETF.

    Rows with i % 5 == 4 are "test" (8 rows), the rest "train" (32 rows); every
    class has rows in both. The step-0 logits predict class y+1, which neither
    the nearest class mean nor the step-0 classifier does, so NC4 there shows
    which predictions were used.
    """
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(C), N // C)
    offsets = rng.normal(scale=3.0, size=(C, 3))
    etf = 2.0 * TETRAHEDRON[y]
    activations = {
        ("h1", 0): rng.normal(size=(N, 6)).astype(np.float32),
        ("h1", 10): (rng.normal(size=(N, 6)) + np.repeat(offsets, 2, axis=1)[y]).astype(np.float32),
        ("h2", 0): (offsets[y] + rng.normal(size=(N, 3))).astype(np.float32),
        ("h2", 10): etf,
    }
    W0 = rng.normal(size=(C, head_width)).astype(np.float32)
    b0 = rng.normal(size=C).astype(np.float32)
    W10 = np.hstack([2.0 * TETRAHEDRON, np.zeros((C, head_width - 3), np.float32)])
    logits = {
        0: np.eye(C, dtype=np.float32)[(y + 1) % C] + 0.01 * rng.normal(size=(N, C)).astype(np.float32),
        10: etf @ TETRAHEDRON.T,
    }
    meta = pl.DataFrame({"id": np.arange(N), "split": ["test" if i % 5 == 4 else "train" for i in range(N)]})
    return Run(
        activations=activations,
        layers=("h1", "h2"),
        steps=(0, 10),
        labels=y if labels else None,
        metadata=meta if metadata else None,
        classifier={0: (W0, b0), 10: (W10, None)},
        logits=logits,
        name="toy",
    )


def train_rows() -> np.ndarray:
    return np.array([i for i in range(N) if i % 5 != 4])


def test_one_row_per_layer_and_step_with_the_documented_columns():
    run = make_run()
    table = neural_collapse_table(run, split="train")
    assert table.columns == ["layer", "step", "split", "n_samples", *NeuralCollapse.SCALARS]
    assert table.height == 4
    assert table["layer"].to_list() == ["h1", "h1", "h2", "h2"]
    assert table["step"].to_list() == [0, 10, 0, 10]
    assert table["split"].to_list() == ["train"] * 4
    assert table["n_samples"].to_list() == [32] * 4
    assert table["nc1"].null_count() == 0 and table["nc4"].null_count() == 0


def test_nc3_only_on_the_last_layer_and_perfect_etf_at_the_end():
    table = neural_collapse_table(make_run(), split="train")
    nc3 = dict(zip(zip(table["layer"], table["step"], strict=True), table["nc3"], strict=True))
    assert nc3[("h1", 0)] is None and nc3[("h1", 10)] is None
    assert nc3[("h2", 0)] is not None and nc3[("h2", 0)] > 0.05
    last = table.filter((pl.col("layer") == "h2") & (pl.col("step") == 10)).row(0, named=True)
    for name in ("nc1", "nc1_trace_quotient", "cdnv", "nc2_equinorm", "nc2_equiangular",
                 "nc2_max_angle", "etf_distance", "nc3", "nc4"):
        assert last[name] == pytest.approx(0.0, abs=1e-6), name
    assert last["ncc_accuracy"] == 1.0


def test_head_of_another_width_gives_no_nc3():
    table = neural_collapse_table(make_run(head_width=5), split=None)
    assert table["nc3"].null_count() == table.height


def test_train_split_equals_neural_collapse_on_train_rows():
    run = make_run()
    rows = train_rows()
    table = neural_collapse_table(run, split="train")
    y = run.labels[rows]
    for record in table.iter_rows(named=True):
        layer, step = record["layer"], record["step"]
        X = run.activations[(layer, step)][rows]
        predictions = run.logits[step].argmax(axis=1)[rows]
        kwargs = {"predictions": predictions}
        if layer == "h2":
            kwargs["classifier"], kwargs["bias"] = run.classifier[step]
        expected = neural_collapse(X, y, **kwargs).scalars()
        for name, value in expected.items():
            if value is None:
                assert record[name] is None, (layer, step, name)
            else:
                assert record[name] == pytest.approx(value, rel=1e-12, abs=1e-12), (layer, step, name)
    # All rows differ from train rows (the split really selects).
    everything = neural_collapse_table(run, split=None)
    assert everything["split"].to_list() == ["all"] * 4
    assert everything["n_samples"].to_list() == [N] * 4
    assert everything["nc1"][0] != pytest.approx(table["nc1"][0])
    test = neural_collapse_table(run, split="test")
    assert test["n_samples"].to_list() == [N - rows.size] * 4
    assert neural_collapse_table(run, split="all")["n_samples"].to_list() == [N] * 4


def test_nc4_uses_the_logits_argmax():
    run = make_run()
    rows = train_rows()
    X, y = run.activations[("h2", 0)][rows], run.labels[rows]
    W, b = run.classifier[0]
    from_logits = neural_collapse(X, y, predictions=run.logits[0].argmax(axis=1)[rows]).nc4
    from_head = neural_collapse(X, y, classifier=W, bias=b).nc4
    assert from_logits != pytest.approx(from_head)  # the case tells them apart
    table = neural_collapse_table(run, split="train", layers=["h1", "h2"], steps=[0])
    assert table["nc4"].to_list() == pytest.approx(
        [neural_collapse(run.activations[("h1", 0)][rows], y,
                         predictions=run.logits[0].argmax(axis=1)[rows]).nc4, from_logits]
    )


def test_subsets_and_progress():
    calls = []
    table = neural_collapse_table(
        make_run(), split="train", layers=["h2"], steps=[10], progress=lambda f, m: calls.append((f, m))
    )
    assert table.height == 1 and table["layer"][0] == "h2" and table["step"][0] == 10
    assert [f for f, _ in calls] == [1.0]
    calls.clear()
    neural_collapse_table(make_run(), split="train", progress=lambda f, m: calls.append((f, m)))
    assert [f for f, _ in calls] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert "h2" in calls[-1][1]


def test_split_rows_and_collapse_inputs():
    run = make_run()
    assert split_rows(run, None) is None and split_rows(run, "all") is None
    np.testing.assert_array_equal(split_rows(run, "train"), train_rows())
    inputs = collapse_inputs(run, "h1", 10, None)
    assert "classifier" not in inputs and inputs["features"] is run.activations[("h1", 10)]
    np.testing.assert_array_equal(inputs["predictions"], run.logits[10].argmax(axis=1))
    inputs = collapse_inputs(run, "h2", 0, train_rows())
    assert inputs["features"].shape == (32, 3) and inputs["labels"].shape == (32,)
    assert inputs["classifier"] is run.classifier[0][0] and inputs["bias"] is run.classifier[0][1]


def test_unknown_split_is_an_error():
    with pytest.raises(ValueError, match=r"split 'val' is not in this data; it has \['test', 'train'\]"):
        neural_collapse_table(make_run(), split="val")
    with pytest.raises(ValueError, match=r"no split column"):
        neural_collapse_table(make_run(metadata=False), split="train")


def test_run_without_labels_is_an_error():
    with pytest.raises(ValueError, match=r"has no labels"):
        neural_collapse_table(make_run(labels=False), split=None)


def test_digits_sample_collapses_during_training():
    # Product requirement: on the shipped sample, the last hidden layer's
    # training features move towards neural collapse over training.
    run = load_run(SAMPLE)
    layer, early, late = run.layers[-1], run.steps[1], run.steps[-1]
    table = neural_collapse_table(run, split="train", layers=[layer], steps=[early, late])
    first, last = table.row(0, named=True), table.row(1, named=True)
    n_train = int((run.metadata["split"] == "train").sum())
    assert first["n_samples"] == last["n_samples"] == n_train < run.n_samples
    assert last["nc1"] * 10 <= first["nc1"]
    assert last["etf_distance"] < first["etf_distance"]
    assert last["nc3"] is not None and last["nc3"] < first["nc3"]
    # The test split gives a full table too (NC measured on held-out rows).
    test = neural_collapse_table(run, split="test")
    assert test.height == len(run.layers) * len(run.steps)
    assert test["nc1"].null_count() == 0
    assert test.filter(pl.col("layer") != layer)["nc3"].null_count() == test.height - len(run.steps)
