"""Tests of analysis.data.inspect: summarize_embedding and describe_file."""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest
import torch

from analysis.data import Embedding, Run, save_run
from analysis.data import inspect as inspect_module
from analysis.data.inspect import describe_file, summarize_embedding


def test_summary_by_hand():
    X = np.array(
        [
            [3.0, 4.0],  # norm 5
            [0.0, 0.0],  # zero row
            [3.0, 4.0],  # duplicate of row 0
            [np.nan, 1.0],  # non-finite
            [1.0, 0.0],  # norm 1
            [3.0, 4.0],  # duplicate of row 0
            [0.0, 0.0],  # duplicate of row 1
        ],
        dtype=np.float32,
    )
    emb = Embedding(X=X, labels=[0, 1, 0, 2, 2, 0, 1], label_names=("a", "b", "c"), name="toy")
    s = summarize_embedding(emb)
    assert s["n"] == 7 and s["d"] == 2 and s["n_classes"] == 3
    assert s["class_sizes"] == {"a": 3, "b": 2, "c": 2}
    assert s["n_duplicate_rows"] == 3
    assert s["n_nonfinite_rows"] == 1
    assert s["n_zero_rows"] == 2
    finite_norms = [5.0, 0.0, 5.0, 1.0, 5.0, 0.0]
    assert s["norm_min"] == 0.0 and s["norm_max"] == 5.0
    assert s["norm_mean"] == pytest.approx(np.mean(finite_norms))
    assert s["norm_median"] == pytest.approx(np.median(finite_norms))
    assert s["dtype"] == "float32" and s["memory_bytes"] == X.nbytes
    json.dumps(s)  # JSON-ready


def test_summary_from_given_row_norms_equals_its_own_pass():
    from analysis.validation import row_norms

    X = np.array([[3.0, 4.0], [0.0, 0.0], [np.nan, 1.0], [np.inf, 0.0], [1.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    emb = Embedding(X=X)
    with np.errstate(invalid="ignore"):  # inf / inf while scaling the Inf row: its norm is NaN, as wanted
        norms = row_norms(X)
    own, given = summarize_embedding(emb), summarize_embedding(emb, norms=norms)
    assert given == own
    assert given["n_nonfinite_rows"] == 2 and given["n_zero_rows"] == 1 and given["n_duplicate_rows"] == 1
    with pytest.raises(ValueError, match="one value per row"):
        summarize_embedding(emb, norms=np.ones(5))


def test_summary_without_labels_and_all_nonfinite():
    X = np.full((3, 2), np.inf, dtype=np.float32)
    s = summarize_embedding(Embedding(X=X))
    assert s["n_classes"] == 0 and s["class_sizes"] == {}
    assert s["n_nonfinite_rows"] == 3 and s["norm_min"] is None and s["norm_median"] is None


def test_duplicates_match_numpy_unique_across_blocks(monkeypatch):
    # Small blocks force the chunked hashing path to span several blocks.
    monkeypatch.setattr(inspect_module, "_BLOCK_VALUES", 64)
    rng = np.random.default_rng(1)
    base = rng.normal(size=(300, 8)).astype(np.float32)
    X = np.concatenate([base, base[rng.integers(0, 300, size=120)]])
    rng.shuffle(X)
    expected = X.shape[0] - np.unique(X, axis=0).shape[0]
    assert summarize_embedding(Embedding(X=X))["n_duplicate_rows"] == expected == 120


def test_duplicates_never_counted_from_hash_collisions(monkeypatch):
    # Zero multipliers put every row in one hash bucket: the exact comparison must
    # still count only true duplicates.
    monkeypatch.setattr(inspect_module, "_hash_coefficients", lambda d: np.zeros(d, np.uint64))
    X = np.array([[1, 2], [3, 4], [1, 2], [5, 6]], dtype=np.float32)
    assert summarize_embedding(Embedding(X=X))["n_duplicate_rows"] == 1


def test_describe_embedding_file(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    X[3] = np.nan
    X[7] = X[8]
    np.savez(tmp_path / "e.npz", emb=X, labels=np.arange(50) % 5)
    info = describe_file(tmp_path / "e.npz")
    assert info["ok"] and info["kind"] == "embedding" and info["format"] == "npz"
    assert info["shape"] == [50, 6] and info["dtype"] == "float32"
    assert info["n"] == 49 and info["d"] == 6  # the NaN row is counted, not kept
    assert info["n_nonfinite_rows"] == 1 and info["n_duplicate_rows"] == 1
    assert info["n_classes"] == 5 and sum(info["class_sizes"].values()) == 49
    assert info["file_size_bytes"] == (tmp_path / "e.npz").stat().st_size
    assert info["labels_from"] == "e.npz['labels']"
    json.dumps(info)


def test_describe_run_file(tmp_path):
    acts = {("h", s): np.ones((4, 3), dtype=np.float32) * s for s in (0, 10)}
    run = Run(
        activations=acts,
        layers=("h",),
        steps=(0, 10),
        labels=np.array([0, 1, 0, 1]),
        metadata=pl.DataFrame({"split": ["train", "train", "test", "test"]}),
        task="toy",
        name="r",
    )
    save_run(run, tmp_path / "r.safetensors")
    info = describe_file(tmp_path / "r.safetensors")
    assert info["ok"] and info["kind"] == "run"
    assert info["layers"] == {"h": 3} and info["steps"] == [0, 10] and info["n_classes"] == 2
    assert info["splits"] == ["test", "train"] and info["task"] == "toy"
    assert info["file_size_bytes"] == (tmp_path / "r.safetensors").stat().st_size
    json.dumps(info)


def test_describe_3d_needs_pooling(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((4, 3, 2), dtype=np.float16))
    info = describe_file(tmp_path / "a.npy")
    assert (
        not info["ok"] and info["error"].startswith("a.npy: ") and "pooling='mean'" in info["error"]
    )
    info = describe_file(tmp_path / "a.npy", pooling="mean")
    assert (
        info["ok"] and info["shape"] == [4, 3, 2] and info["d"] == 2 and info["dtype"] == "float16"
    )


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


@pytest.mark.parametrize(
    ("fname", "content", "pattern"),
    [
        ("empty.npy", b"", r"^empty\.npy: the file is empty"),
        ("x.csv", b"a,b\n1,2\n3\n", r"^x\.csv: line 3 has 1 fields"),
        ("x.xyz", b"hello", r"^x\.xyz: unsupported file type"),
    ],
)
def test_describe_problems_become_messages(tmp_path, fname, content, pattern):
    (tmp_path / fname).write_bytes(content)
    info = describe_file(tmp_path / fname)
    assert info["ok"] is False
    assert re.search(pattern, info["error"]), info["error"]


def test_describe_never_raises_nor_unpickles(tmp_path):
    marker = tmp_path / "marker"
    torch.save({"emb": torch.zeros(3, 2), "x": _Payload(marker)}, tmp_path / "evil.pt")
    info = describe_file(tmp_path / "evil.pt")
    assert set(info) == {"ok", "error"} and info["ok"] is False
    assert info["error"].startswith("evil.pt: contains Python objects other than tensors")
    assert not marker.exists()
    assert describe_file(tmp_path / "missing.npy") == {
        "ok": False,
        "error": f"missing.npy: no such file ({tmp_path / 'missing.npy'}).",
    }
    assert describe_file(tmp_path)["error"].endswith(f"is a directory, not a file ({tmp_path}).")


def test_describe_unexpected_errors_are_caught(tmp_path, monkeypatch):
    np.save(tmp_path / "e.npy", np.ones((3, 2), dtype=np.float32))

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(inspect_module, "load_embedding_report", boom)
    info = describe_file(tmp_path / "e.npy")
    assert info == {"ok": False, "error": "e.npy: could not be read (RuntimeError: disk on fire)."}
