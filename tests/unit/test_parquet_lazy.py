"""Parquet is read through polars' lazy scan: only the columns the loader uses are read."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data import load_embedding
from analysis.data.formats import tables
from analysis.data.formats.common import _Source


def _table(tmp_path, n=200, blob_bytes=20_000):
    """Embedding list column, a label, a text column and a large binary column (images, say)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    df = pl.DataFrame({
        "emb": X.tolist(),
        "label": rng.integers(0, 3, n),
        "text": [f"row {i}" for i in range(n)],
        # Random bytes do not compress: the column really is n * blob_bytes on disk and in memory.
        "image": [rng.bytes(blob_bytes) for _ in range(n)],
    })
    path = tmp_path / "emb.parquet"
    df.write_parquet(path, compression="uncompressed")
    return path, X, df


def test_unused_large_column_is_not_read(tmp_path, monkeypatch):
    path, X, df = _table(tmp_path)  # the image column alone is 4 MB
    collected = []
    real = pl.LazyFrame.collect

    def spy(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        collected.append(out.columns)
        return out

    monkeypatch.setattr(pl.LazyFrame, "collect", spy)
    # Below the whole table's size, above the used columns': refused if the image column were counted.
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "1MB")
    emb = load_embedding(path, embedding_column="emb", metadata_columns=["text"])
    assert collected == [["emb", "label", "text"]]
    np.testing.assert_array_equal(emb.X, X)
    np.testing.assert_array_equal(emb.labels, df["label"].to_numpy())  # label-like column still found
    assert emb.metadata.columns == ["text"]


def test_without_metadata_columns_every_column_is_read_and_kept(tmp_path):
    # Unused columns become metadata by default, so they must all be read (as before the lazy scan).
    path, X, _ = _table(tmp_path, blob_bytes=16)
    emb = load_embedding(path, embedding_column="emb")
    assert emb.metadata.columns == ["text", "image"]
    np.testing.assert_array_equal(emb.X, X)


def test_budget_still_refuses_the_columns_it_reads(tmp_path, monkeypatch):
    path, _, _ = _table(tmp_path)
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "1MB")
    with pytest.raises(ValueError, match=r"emb\.parquet: the table declares .* above the memory budget"):
        load_embedding(path, embedding_column="emb", metadata_columns=["image"])


def test_numeric_columns_without_a_named_embedding(tmp_path):
    # No embedding_column: every numeric column may be a dimension, so those are read; the blob is not.
    rng = np.random.default_rng(1)
    df = pl.DataFrame({"a": rng.normal(size=50), "id": np.arange(50), "b": rng.normal(size=50),
                       "note": ["x"] * 50, "blob": [rng.bytes(100) for _ in range(50)]})
    path = tmp_path / "t.parquet"
    df.write_parquet(path)
    src = _Source(name="t.parquet", ext=".parquet", size=path.stat().st_size, path=path)
    opts = tables._Options(key=None, pooling=None, label_column=None, embedding_column=None,
                           metadata_columns=["note"], labels_given=False)
    assert tables._read_parquet_table(src, tables._parquet_columns(opts)).columns == ["a", "id", "b", "note"]
    emb = load_embedding(path, metadata_columns=["note"])
    np.testing.assert_array_equal(emb.X, df.select("a", "b").to_numpy().astype(np.float32))


def test_pattern_like_and_missing_names(tmp_path):
    df = pl.DataFrame({"^x.*$": [1.0, 2.0, 3.0], "*": [4.0, 5.0, 6.0], "other": [7.0, 8.0, 9.0]})
    path = tmp_path / "odd.parquet"
    df.write_parquet(path)
    # Names are selected by position, never read as patterns.
    emb = load_embedding(path, embedding_column=["^x.*$", "*"], metadata_columns=[])
    np.testing.assert_array_equal(emb.X, [[1, 4], [2, 5], [3, 6]])
    # A missing name is an error that lists the file's real columns.
    with pytest.raises(ValueError, match=r"has no column 'nope'.*Its columns are: .*other"):
        load_embedding(path, embedding_column="nope", metadata_columns=[])
