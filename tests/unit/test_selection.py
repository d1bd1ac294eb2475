"""analysis.data.Selection: one user choice, one row rule, one content key (issue 16)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data import ALL_SPLITS, Embedding, Run, Selection, load_run, save_run


def _run(seed: int = 0) -> Run:
    rng = np.random.default_rng(seed)
    n = 12
    acts = {(layer, step): rng.normal(size=(n, 3 if layer == "a" else 2)).astype(np.float32)
            for layer in ("a", "b") for step in (0, 5)}
    logits = {step: rng.normal(size=(n, 3)) for step in (0, 5)}
    return Run(
        activations=acts, layers=("a", "b"), steps=(0, 5),
        labels=np.arange(n) % 3, label_names=("x", "y", "z"),
        metadata=pl.DataFrame({"split": ["train", "test"] * 6, "id": list(range(n))}),
        classifier={5: (rng.normal(size=(3, 2)), np.zeros(3))},
        logits=logits,
        codes={("b", 5): np.arange(n) % 4},
        name="toy",
    )


def test_defaults_are_the_last_layer_and_step_and_every_row() -> None:
    run = _run()
    sel = Selection(run)
    assert (sel.layer, sel.step, sel.split) == ("b", 5, ALL_SPLITS)
    assert sel.row_ids is None and sel.n_samples == 12
    assert np.shares_memory(sel.X, run.activations[("b", 5)])  # no copy


def test_split_rows_come_from_run_rows_and_slice_every_array() -> None:
    run = _run()
    sel = Selection(run, "b", 5, split="test")
    rows = run.rows("test")
    np.testing.assert_array_equal(rows, np.arange(1, 12, 2))
    np.testing.assert_array_equal(sel.X, run.activations[("b", 5)][rows])
    np.testing.assert_array_equal(sel.labels, run.labels[rows])
    assert sel.metadata["split"].to_list() == ["test"] * 6
    np.testing.assert_array_equal(sel.predictions, run.logits[5].argmax(axis=1)[rows])
    np.testing.assert_array_equal(sel.codes, (np.arange(12) % 4)[rows])
    assert sel.classifier[0].shape == (3, 2)
    assert sel.label_names == ("x", "y", "z")


def test_unknown_split_layer_and_step_name_what_exists() -> None:
    run = _run()
    with pytest.raises(ValueError, match=r"'val'.*\['test', 'train'\]"):
        Selection(run, split="val")
    with pytest.raises(ValueError, match=r"Unknown layer 'c'"):
        Selection(run, "c")
    with pytest.raises(ValueError, match=r"Unknown step 7"):
        Selection(run, "a", 7)


def test_at_keeps_layer_and_rows_and_with_rows_indexes_the_selection() -> None:
    run = _run()
    sel = Selection(run, "a", 5, split="train")
    earlier = sel.at(0)
    assert (earlier.layer, earlier.step) == ("a", 0)
    np.testing.assert_array_equal(earlier.X, run.activations[("a", 0)][run.rows("train")])
    sub = sel.with_rows(np.array([0, 2]))
    np.testing.assert_array_equal(sub.row_ids, run.rows("train")[[0, 2]])
    mask = np.zeros(sel.n_samples, dtype=bool)
    mask[[1, 3]] = True
    np.testing.assert_array_equal(sel.with_rows(mask).row_ids, run.rows("train")[[1, 3]])
    with pytest.raises(ValueError, match="6 rows"):
        sel.with_rows(np.zeros(5, dtype=bool))


def test_key_is_a_content_hash() -> None:
    a, b = _run(0), _run(0)
    assert Selection(a, "a", 5).key == Selection(b, "a", 5).key  # equal content, other objects
    assert Selection(a, "a", 5).key != Selection(_run(1), "a", 5).key
    keys = {Selection(a, "a", 5).key, Selection(a, "a", 0).key, Selection(a, "b", 5).key,
            Selection(a, "a", 5, split="train").key, Selection(a, "a", 5).with_rows(np.arange(11)).key}
    assert len(keys) == 5
    # The same rows chosen by split or by ids are the same selection.
    assert Selection(a, "a", 5, split="train").key == Selection(a, "a", 5).with_rows(a.rows("train")).key
    assert Selection(a, source_key="upload:1").key != Selection(a, source_key="upload:2").key


def test_an_embedding_source_and_its_split_column() -> None:
    emb = Embedding(X=np.eye(4, dtype=np.float32), labels=np.array([0, 0, 1, 1]),
                    metadata=pl.DataFrame({"split": ["train", "train", "test", "test"]}))
    sel = Selection(emb, split="test")
    assert sel.layer is None and sel.step is None and sel.predictions is None and sel.codes is None
    np.testing.assert_array_equal(sel.X, np.eye(4, dtype=np.float32)[2:])
    assert Selection(emb).X is emb.X


def test_a_memory_mapped_run_stays_mapped_when_every_row_is_chosen(tmp_path) -> None:
    path = save_run(_run(), tmp_path / "r.safetensors")
    run = load_run(path)
    sel = Selection(run, "a", 5)
    assert not sel.X.flags.owndata  # a view into the mapped file, not a copy
    np.testing.assert_array_equal(sel.X, _run().activations[("a", 5)])


def test_rows_without_a_split_belong_to_no_split_but_to_all_rows() -> None:
    emb = Embedding(X=np.eye(3, dtype=np.float32),
                    metadata=pl.DataFrame({"split": ["train", None, "test"]}))
    assert emb.splits() == ["test", "train"]  # a missing value is not a split (and does not break sorting)
    np.testing.assert_array_equal(emb.rows("train"), [0])
    assert emb.rows("all") is None and Selection(emb).n_samples == 3
