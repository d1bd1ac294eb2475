"""Run files: uploads from bytes, sidecars, hostile headers, permissions."""

from __future__ import annotations

import json
import struct

import numpy as np
import polars as pl
import pytest

from analysis.data import Run, is_run_bytes, load_run, save_run


def _run() -> Run:
    rng = np.random.default_rng(0)
    acts = {(layer, s): rng.normal(size=(6, 3)).astype(np.float16) for layer in ("a", "b") for s in (0, 5)}
    return Run(acts, ("a", "b"), (0, 5), labels=np.arange(6) % 2,
               metadata=pl.DataFrame({"split": ["train"] * 3 + ["test"] * 3}))


def _raw_safetensors(header: dict, body: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def test_upload_bytes_round_trip_without_sidecar(tmp_path) -> None:
    path = save_run(_run(), tmp_path / "r.safetensors")
    data = path.read_bytes()
    assert is_run_bytes(data)
    run = load_run(data, name="r.safetensors")
    assert run.metadata is None  # an upload may come without its sidecar
    assert np.array_equal(run.activations[("b", 5)], _run().activations[("b", 5)])
    meta = pl.DataFrame({"split": ["x"] * 6})
    assert load_run(data, name="r.safetensors", metadata=meta).metadata.equals(meta)


def test_missing_sidecar_on_disk_is_an_error_not_silence(tmp_path) -> None:
    path = save_run(_run(), tmp_path / "r.safetensors")
    path.with_suffix(".parquet").unlink()
    with pytest.raises(ValueError, match=r"r\.safetensors: .*sidecar \.parquet that is missing"):
        load_run(path)


def test_saved_files_are_readable_by_others(tmp_path) -> None:
    path = save_run(_run(), tmp_path / "r.safetensors")
    assert path.stat().st_mode & 0o044 == 0o044
    assert not list(tmp_path.glob("*.partial"))


def test_hostile_shape_cannot_overflow_the_size_check() -> None:
    # 2**32 x 2**32 float32 overflows int64 to 0 bytes; offsets [0, 0] would then "fit".
    data = _raw_safetensors({"x": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 0]}})
    with pytest.raises(ValueError, match=r"evil\.safetensors: tensor 'x' declares shape"):
        load_run(data, name="evil.safetensors")


def test_unexpected_tensor_names_are_named(tmp_path) -> None:
    meta = {"replens": json.dumps({"replens_format": 1, "layers": ["a"], "steps": [0]})}
    body = np.zeros((2, 2), np.float32).tobytes()
    data = _raw_safetensors({"__metadata__": meta,
                             "act/a/zero": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, body)
    with pytest.raises(ValueError, match=r"unexpected tensor name 'act/a/zero'"):
        load_run(data, name="odd.safetensors")


def test_corrupt_metadata_without_layers_is_named() -> None:
    meta = {"replens": json.dumps({"replens_format": 1, "steps": [0]})}
    with pytest.raises(ValueError, match=r"c\.safetensors: .* no 'layers' list"):
        load_run(_raw_safetensors({"__metadata__": meta}), name="c.safetensors")


def test_bfloat16_tensors_are_refused_in_runs() -> None:
    meta = {"replens": json.dumps({"replens_format": 1, "layers": ["a"], "steps": [0]})}
    data = _raw_safetensors({"__metadata__": meta,
                             "act/a/0": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}, b"\0" * 8)
    with pytest.raises(ValueError, match=r"b\.safetensors: tensor 'act/a/0' is bfloat16"):
        load_run(data, name="b.safetensors")


def test_empty_run_file_is_named(tmp_path) -> None:
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.safetensors: file is empty or truncated"):
        load_run(tmp_path / "empty.safetensors")
