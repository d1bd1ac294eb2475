"""save_run writes under a temporary name, flushes, then renames: a failed or killed save changes nothing."""

from __future__ import annotations

import os

import numpy as np
import polars as pl
import pytest

import analysis.data.runs as runs
from analysis.data import Run, load_run, save_run


def _run(value: float, *, metadata: bool = True) -> Run:
    acts = {(layer, s): np.full((6, 3), value + s, dtype=np.float32) for layer in ("a", "b") for s in (0, 5)}
    meta = pl.DataFrame({"split": ["train"] * 3 + ["test"] * 3, "v": [value] * 6}) if metadata else None
    return Run(acts, ("a", "b"), (0, 5), labels=np.arange(6) % 2, metadata=meta)


def _half_then_fail(error: type[BaseException]):
    """A safetensors writer that writes the first half of the real file, then dies."""
    real = runs.save_file

    def writer(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        with open(filename, "rb") as fh:
            data = fh.read()
        with open(filename, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise error("killed mid-write")

    return writer


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_a_save_killed_mid_write_leaves_no_file_and_no_temporary(tmp_path, monkeypatch, error) -> None:
    monkeypatch.setattr(runs, "save_file", _half_then_fail(error))
    with pytest.raises(error):
        save_run(_run(1.0), tmp_path / "r.safetensors")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_a_save_killed_mid_write_keeps_the_old_run_intact(tmp_path, monkeypatch, error) -> None:
    path = save_run(_run(1.0), tmp_path / "r.safetensors")
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    assert sorted(before) == ["r.parquet", "r.safetensors"]
    monkeypatch.setattr(runs, "save_file", _half_then_fail(error))
    with pytest.raises(error):
        save_run(_run(2.0), path)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before
    old = load_run(path)
    assert old.activations[("a", 5)][0, 0] == 6.0 and old.metadata["v"][0] == 1.0


def test_a_sidecar_that_fails_to_write_keeps_the_old_pair(tmp_path, monkeypatch) -> None:
    path = save_run(_run(1.0), tmp_path / "r.safetensors")
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}

    def broken(self, file, *args, **kwargs):
        with open(file, "wb") as fh:
            fh.write(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        save_run(_run(2.0), path)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before


def test_a_successful_save_replaces_both_files_and_leaves_nothing_else(tmp_path) -> None:
    path = save_run(_run(1.0), tmp_path / "r.safetensors")
    save_run(_run(2.0), path)
    assert sorted(os.listdir(tmp_path)) == ["r.parquet", "r.safetensors"]
    again = load_run(path)
    assert again.activations[("b", 0)][0, 0] == 2.0 and again.metadata["v"][0] == 2.0
    assert (path.stat().st_mode & 0o777) == 0o644 and (path.with_suffix(".parquet").stat().st_mode & 0o777) == 0o644
    save_run(_run(3.0, metadata=False), path)  # no metadata now: the stale sidecar goes
    assert os.listdir(tmp_path) == ["r.safetensors"]


def test_the_file_is_flushed_before_it_is_renamed(tmp_path, monkeypatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(runs.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(runs.os, "replace", lambda a, b: (events.append(f"replace {os.path.basename(b)}"),
                                                          real_replace(a, b))[1])
    save_run(_run(1.0), tmp_path / "r.safetensors")
    assert events[:2] == ["fsync", "fsync"]  # both staged files flushed ...
    assert events[2:4] == ["replace r.parquet", "replace r.safetensors"]  # ... before either is renamed
