"""analysis.data.atomic.write_bytes_atomically: old bytes or new ones, never half, no temporary left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analysis.data.atomic import write_bytes_atomically


def test_writes_replaces_and_sets_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "w.safetensors"
    assert write_bytes_atomically(target, b"first") == target
    assert target.read_bytes() == b"first"
    assert target.stat().st_mode & 0o777 == 0o644
    write_bytes_atomically(target, b"second", mode=0o600)
    assert target.read_bytes() == b"second"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["w.safetensors"]


def test_a_failed_rename_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "w.safetensors"
    target.write_bytes(b"old")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]
