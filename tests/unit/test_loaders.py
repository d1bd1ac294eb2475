"""Tests of the safe embedding loaders (analysis.data.loaders).

Every fixture is generated here in tmp_path. Bad inputs assert a ValueError
whose message starts with the file name and names the problem; malicious
pickles also assert that their payload never ran.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from safetensors.numpy import save_file
from safetensors.torch import save_file as save_torch_file

from analysis.data import (
    SUPPORTED_FORMATS,
    Embedding,
    LoadReport,
    Run,
    load_embedding,
    load_embedding_report,
    require_classes,
    save_run,
)
from analysis.data import loaders as loaders_module

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------- helpers


def _x(n: int = 12, d: int = 4, dtype: type = np.float32) -> np.ndarray:
    return RNG.normal(size=(n, d)).astype(dtype)


def _npy_bytes(descr: str, shape: tuple, body: bytes = b"", fortran: bool = False) -> bytes:
    """A hand-written .npy (format 1.0) with any header, for lying/corrupt files."""
    header = f"{{'descr': {descr!r}, 'fortran_order': {fortran!r}, 'shape': {shape!r}, }}"
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + body


def _st_bytes(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def _npy_of(arr: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, **kw)
    return buf.getvalue()


class _Payload:
    """Pickles to a call that writes `marker`: proof of execution if it ever runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _raises(match: str, *args, **kwargs) -> str:
    with pytest.raises(ValueError, match=match) as info:
        load_embedding(*args, **kwargs)
    return str(info.value)


def _mapped(arr: np.ndarray) -> bool:
    """Whether `arr` is a view whose base chain reaches a memory map."""
    import mmap

    base = arr
    while base is not None:
        if isinstance(base, np.memmap | mmap.mmap):
            return True
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return False


# --------------------------------------------------------------------------- npy


def test_npy_path_is_memory_mapped_without_copy(tmp_path):
    X = _x(2000, 64)
    path = tmp_path / "emb.npy"
    np.save(path, X)
    emb, report = load_embedding_report(path)
    assert isinstance(emb, Embedding)
    assert emb.X.dtype == np.float32
    assert not emb.X.flags.owndata
    assert _mapped(emb.X)
    assert type(emb.X) is np.ndarray  # a plain view of the map, not a np.memmap subclass
    assert report.memory_mapped
    np.testing.assert_array_equal(emb.X, X)
    assert report == LoadReport(
        source="emb.npy",
        format="npy",
        original_shape=(2000, 64),
        original_dtype="float32",
        shape=(2000, 64),
        memory_mapped=True,
    )
    assert emb.name == "emb"
    assert json.loads(json.dumps(report.to_dict()))["original_shape"] == [2000, 64]


def test_npy_bytes_are_read_without_copy():
    X = _x()
    data = _npy_of(X)
    emb, report = load_embedding_report(data, name="upload.npy")
    assert not emb.X.flags.owndata  # a view of the uploaded bytes
    assert not report.memory_mapped
    np.testing.assert_array_equal(emb.X, X)


@pytest.mark.parametrize(
    "dtype",
    [np.float64, np.float16, np.int64, np.int8, np.uint16, np.bool_],
)
def test_npy_other_dtypes_are_cast_to_float32(tmp_path, dtype):
    X = (RNG.normal(size=(10, 3)) * 4).astype(dtype)
    np.save(tmp_path / "emb.npy", X)
    emb, report = load_embedding_report(tmp_path / "emb.npy")
    assert emb.X.dtype == np.float32
    np.testing.assert_array_equal(emb.X, X.astype(np.float32))
    assert report.cast_from == str(np.dtype(dtype))
    assert not report.memory_mapped


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.float16])
def test_dtype_policy_refuse(tmp_path, dtype):
    np.save(tmp_path / "emb.npy", _x(dtype=dtype))
    _raises(
        r"^emb\.npy: has dtype .* not float32.*dtype_policy='cast'",
        tmp_path / "emb.npy",
        dtype_policy="refuse",
    )


def test_dtype_policy_refuse_accepts_float32(tmp_path):
    np.save(tmp_path / "emb.npy", _x())
    assert load_embedding(tmp_path / "emb.npy", dtype_policy="refuse").X.dtype == np.float32


def test_big_endian_is_byte_swapped(tmp_path):
    X = _x().astype(">f4")
    np.save(tmp_path / "emb.npy", X)
    emb, report = load_embedding_report(tmp_path / "emb.npy", dtype_policy="refuse")
    assert emb.X.dtype == np.dtype("<f4") and emb.X.dtype.isnative
    np.testing.assert_array_equal(emb.X, X.astype(np.float32))
    assert report.cast_from == ">f4"
    assert any("byte-swapped" in note for note in report.notes)


def test_fortran_order_npy(tmp_path):
    X = np.asfortranarray(_x())
    np.save(tmp_path / "emb.npy", X)
    for source, kw in (
        (tmp_path / "emb.npy", {}),
        ((tmp_path / "emb.npy").read_bytes(), {"name": "emb.npy"}),
    ):
        np.testing.assert_array_equal(load_embedding(source, **kw).X, X)


def test_npy_object_array_with_payload_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    arr = np.empty((2, 2), dtype=object)
    arr[0, 0] = _Payload(marker)
    np.save(tmp_path / "evil.npy", arr, allow_pickle=True)
    for source, kw in (
        (tmp_path / "evil.npy", {}),
        ((tmp_path / "evil.npy").read_bytes(), {"name": "evil.npy"}),
    ):
        message = _raises(
            r"^evil\.npy: .*Python objects \(dtype object\).*unpickling", source, **kw
        )
        assert "allow_pickle" not in message
    assert not marker.exists()


def test_payload_is_live_when_unpickled(tmp_path):
    """Control: the payload used above really would write the marker if unpickled."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize(
    ("arr", "pattern"),
    [
        (np.zeros((3, 2), dtype=[("a", "<f4"), ("b", "<i4")]), r"structured \(record\) dtype"),
        (np.ones((3, 2), dtype=np.complex64), r"complex numbers"),
        (np.array([["a", "b"], ["c", "d"]]), r"holds strings"),
        (np.zeros((3, 2), dtype="datetime64[s]"), r"dates or times"),
    ],
)
def test_npy_unsupported_dtypes(tmp_path, arr, pattern):
    np.save(tmp_path / "bad.npy", arr)
    _raises(rf"^bad\.npy: .*{pattern}", tmp_path / "bad.npy")


@pytest.mark.parametrize(
    ("shape", "pattern"),
    [
        ((), r"single number \(0-d\)"),
        ((5,), r"1-D with shape \(5,\).*reshape\(-1, 1\).*labels="),
        ((2, 2, 2, 2), r"4-D with shape \(2, 2, 2, 2\)"),
        ((1, 4), r"1 sample\(s\)\. At least 2"),
        ((5, 0), r"no features"),
        ((0, 3), r"0 sample\(s\)"),
    ],
)
def test_npy_bad_shapes(tmp_path, shape, pattern):
    np.save(tmp_path / "emb.npy", np.zeros(shape, dtype=np.float32))
    _raises(rf"^emb\.npy: .*{pattern}", tmp_path / "emb.npy")


def test_3d_without_pooling_names_shape_and_choices(tmp_path):
    np.save(tmp_path / "acts.npy", np.zeros((4, 5, 3), dtype=np.float32))
    _raises(
        r"^acts\.npy: .*3-D activations of shape \(4, 5, 3\).*pooling='mean'.*pooling='last'.*pooling='flatten'",
        tmp_path / "acts.npy",
    )


def test_3d_pooling_values(tmp_path):
    A = RNG.normal(size=(6, 5, 3)).astype(np.float32)
    np.save(tmp_path / "acts.npy", A)
    mean, report = load_embedding_report(tmp_path / "acts.npy", pooling="mean")
    np.testing.assert_allclose(mean.X, A.mean(axis=1), rtol=1e-6)
    assert (
        report.pooling == "mean" and report.original_shape == (6, 5, 3) and report.shape == (6, 3)
    )
    assert report.cast_from is None  # float64 accumulation is not a cast of the data
    last = load_embedding(tmp_path / "acts.npy", pooling="last")
    np.testing.assert_array_equal(last.X, A[:, -1, :])
    flat = load_embedding(tmp_path / "acts.npy", pooling="flatten")
    np.testing.assert_array_equal(flat.X, A.reshape(6, 15))


def test_invalid_pooling_value(tmp_path):
    np.save(tmp_path / "acts.npy", np.zeros((4, 5, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"pooling must be one of \('mean', 'last', 'flatten'\)"):
        load_embedding(tmp_path / "acts.npy", pooling="max")


def test_pooling_on_2d_is_noted(tmp_path):
    np.save(tmp_path / "emb.npy", _x())
    _, report = load_embedding_report(tmp_path / "emb.npy", pooling="mean")
    assert report.pooling is None and any("ignored" in n for n in report.notes)


def test_npy_truncated_data(tmp_path):
    data = _npy_of(_x(10, 4))
    (tmp_path / "emb.npy").write_bytes(data[:-20])
    _raises(r"^emb\.npy: .*shape \(10, 4\).*only \d+ bytes follow.*truncated", tmp_path / "emb.npy")
    _raises(r"^emb\.npy: .*truncated", data[:-20], name="emb.npy")


def test_npy_truncated_header(tmp_path):
    (tmp_path / "emb.npy").write_bytes(_npy_of(_x())[:30])
    _raises(r"^emb\.npy: .*corrupt or truncated \.npy header", tmp_path / "emb.npy")


def test_npy_header_declaring_absurd_shape_is_refused_before_reading(tmp_path):
    # The body is tiny: refusing for the budget (not truncation) proves the check comes first.
    (tmp_path / "emb.npy").write_bytes(_npy_bytes("<f4", (10**12, 10**6), b"\0" * 64))
    _raises(
        r"^emb\.npy: .*declares .*above the memory budget.*REPLENS_MEMORY_BUDGET",
        tmp_path / "emb.npy",
    )


def test_npy_oversized_header_is_refused_without_pickle_hint(tmp_path):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }" + " " * 20_000 + "\n"
    data = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header.encode() + b"\0" * 16
    message = _raises(r"^big\.npy: has a corrupt or truncated \.npy header", data, name="big.npy")
    assert "allow_pickle" not in message and "pickle" not in message


def test_npy_format_3_is_refused(tmp_path):
    data = b"\x93NUMPY\x03\x00" + b"\0" * 60
    _raises(r"^v3\.npy: uses \.npy format version 3\.0", data, name="v3.npy")


def test_npy_negative_shape(tmp_path):
    (tmp_path / "emb.npy").write_bytes(_npy_bytes("<f4", (-4, 3), b"\0" * 64))
    _raises(r"^emb\.npy: .*impossible shape \(-4, 3\)", tmp_path / "emb.npy")


def test_memory_budget_from_environment(tmp_path, monkeypatch):
    np.save(tmp_path / "emb.npy", np.zeros((512, 1024), dtype=np.float32))  # 2 MB
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "1MB")
    _raises(r"^emb\.npy: .*2\.0 MB, above the memory budget of 1\.0 MB", tmp_path / "emb.npy")


# --------------------------------------------------------------------------- wrong files


@pytest.mark.parametrize(
    ("fname", "content", "pattern"),
    [
        ("emb.npy", b"PK\x03\x04" + b"\0" * 40, r"is not a valid \.npy file; .*zip archive"),
        ("emb.npy", b"a,b\n1,2\n3,4\n", r"is not a valid \.npy file; .*text file"),
        (
            "emb.csv",
            _npy_bytes("<f4", (2, 2), b"\0" * 16),
            r"is not a CSV text file; .*\.npy array",
        ),
        ("emb.csv", b"\x00\x01\x02binary\x00", r"is not a CSV text file"),
        ("emb.parquet", b"a,b\n1,2\n", r"is not a valid \.parquet file; .*text file"),
        (
            "emb.safetensors",
            _npy_bytes("<f4", (2, 2), b"\0" * 16),
            r"is not a valid \.safetensors file; .*\.npy array",
        ),
        ("emb.pt", b"hello, world\n", r"is not a valid \.pt file; .*text file"),
        ("emb.npz", b"\x93NUMPY" + b"\0" * 40, r"is not a valid \.npz file; .*\.npy array"),
    ],
)
def test_magic_bytes_must_match_extension(tmp_path, fname, content, pattern):
    (tmp_path / fname).write_bytes(content)
    _raises(rf"^{re.escape(fname)}: {pattern}", tmp_path / fname)
    _raises(rf"^{re.escape(fname)}: {pattern}", content, name=fname)


def test_empty_file_and_empty_upload(tmp_path):
    (tmp_path / "emb.npy").write_bytes(b"")
    _raises(r"^emb\.npy: the file is empty", tmp_path / "emb.npy")
    _raises(r"^emb\.npy: the file is empty", b"", name="emb.npy")


def test_unknown_extension_lists_supported_formats(tmp_path):
    (tmp_path / "emb.h5").write_bytes(b"\x89HDF\r\n")
    message = _raises(
        r"^emb\.h5: unsupported file type '\.h5'\. Supported formats: ", tmp_path / "emb.h5"
    )
    for ext in SUPPORTED_FORMATS:
        assert ext in message
    _raises(r"^emb\.npy\.gz: .*Decompress it first", b"\x1f\x8b\x08", name="emb.npy.gz")


def test_missing_path_and_directory(tmp_path):
    _raises(r"^nope\.npy: no such file", tmp_path / "nope.npy")
    _raises(r"^sub: .*is a directory", tmp_path.joinpath("sub").mkdir() or tmp_path / "sub")


def test_bytes_need_a_name():
    with pytest.raises(ValueError, match=r"`name` .* is required when passing bytes"):
        load_embedding(_npy_of(_x()))


def test_upload_above_limit(monkeypatch):
    monkeypatch.setattr(loaders_module, "UPLOAD_LIMIT_MB", 1)
    _raises(
        r"^big\.npy: the upload is 2\.0 MB, above the 1 MB upload limit",
        b"\0" * (2 * 1024**2),
        name="big.npy",
    )


def test_upload_object_with_getvalue():
    upload = io.BytesIO(_npy_of(_x()))
    upload.name = "up.npy"
    assert load_embedding(upload).name == "up"


def test_options_that_do_not_apply(tmp_path):
    np.save(tmp_path / "emb.npy", _x())
    _raises(r"^emb\.npy: key= only applies", tmp_path / "emb.npy", key="a")
    _raises(r"^emb\.npy: label_column= only applies", tmp_path / "emb.npy", label_column="y")
    with pytest.raises(ValueError, match="nonfinite must be"):
        load_embedding(tmp_path / "emb.npy", nonfinite="ignore")
    with pytest.raises(ValueError, match="dtype_policy must be"):
        load_embedding(tmp_path / "emb.npy", dtype_policy="maybe")


# --------------------------------------------------------------------------- nonfinite


def test_nonfinite_raise_counts_rows(tmp_path):
    X = _x(10, 3)
    X[2, 0] = np.nan
    X[5, 1] = np.inf
    X[5, 2] = np.nan
    X[7, 2] = -np.inf
    np.save(tmp_path / "emb.npy", X)
    _raises(
        r"^emb\.npy: Input contains NaN in 2 row\(s\) and Inf in 2 row\(s\): 3 of 10 rows, "
        r"e\.g\. rows \[2, 5, 7\]\. Pass nonfinite='drop'",
        tmp_path / "emb.npy",
    )


def test_nonfinite_drop_drops_labels_and_metadata(tmp_path):
    X = _x(6, 2)
    X[1, 0] = np.nan
    X[4, 1] = np.inf
    frame = pl.DataFrame(
        {
            "a": X[:, 0],
            "b": X[:, 1],
            "label": ["x", "y", "x", "y", "z", "x"],
            "note": list("uvwxyz"),
        }
    )
    frame.write_parquet(tmp_path / "t.parquet")
    emb, report = load_embedding_report(tmp_path / "t.parquet", nonfinite="drop")
    keep = [0, 2, 3, 5]
    np.testing.assert_array_equal(emb.X, X[keep])
    assert report.dropped_nonfinite_rows == 2 and report.dropped_row_indices == (1, 4)
    assert emb.label_strings() == ["x", "x", "y", "x"]
    assert emb.metadata["note"].to_list() == ["u", "w", "x", "z"]


def test_nonfinite_from_float64_overflow_is_explained(tmp_path):
    X = np.ones((4, 2))
    X[0, 0] = 1e300
    np.save(tmp_path / "emb.npy", X)
    _raises(r"^emb\.npy: Input contains Inf in 1 row.*float32 range", tmp_path / "emb.npy")


def test_drop_leaving_fewer_than_two_rows(tmp_path):
    X = np.full((3, 2), np.nan, dtype=np.float32)
    X[0] = 1
    np.save(tmp_path / "emb.npy", X)
    _raises(
        r"^emb\.npy: 2 of 3 rows contain NaN or Inf; fewer than 2 rows",
        tmp_path / "emb.npy",
        nonfinite="drop",
    )


# --------------------------------------------------------------------------- labels


def test_labels_array_ints_and_strings(tmp_path):
    np.save(tmp_path / "emb.npy", _x(4, 2))
    emb = load_embedding(tmp_path / "emb.npy", labels=np.array([3, 1, 3, 0]))
    assert emb.labels.tolist() == [3, 1, 3, 0] and emb.label_names is None
    emb = load_embedding(tmp_path / "emb.npy", labels=["dog", "cat", "dog", "eel"])
    assert emb.labels.tolist() == [1, 0, 1, 2] and emb.label_names == ("cat", "dog", "eel")
    emb, report = load_embedding_report(tmp_path / "emb.npy", labels=np.array([0.0, 1.0, 1.0, 0.0]))
    assert emb.labels.tolist() == [0, 1, 1, 0] and report.labels_from == "array"


def test_single_class_allowed_at_load_but_require_classes_refuses(tmp_path):
    np.save(tmp_path / "emb.npy", _x(4, 2))
    emb = load_embedding(tmp_path / "emb.npy", labels=["a"] * 4)
    assert emb.n_classes == 1
    with pytest.raises(
        ValueError, match=r"^emb: has 1 class\(es\) \(a\) but this diagnostic needs at least 2"
    ):
        require_classes(emb)
    require_classes(emb, min_classes=1)
    with pytest.raises(ValueError, match=r"^emb: has no labels.*labels=\.\.\. or label_column="):
        require_classes(load_embedding(tmp_path / "emb.npy"))
    require_classes(load_embedding(tmp_path / "emb.npy", labels=[0, 1, 0, 1]))


@pytest.mark.parametrize(
    ("labels", "pattern"),
    [
        (np.array([0, 1, 2]), r"has 3 entries but the embedding has 4 rows"),
        (np.array([0.0, np.nan, 1.0, 1.0]), r"NaN or Inf in 1 of 4"),
        (np.array([0.5, 1.0, 1.0, 0.0]), r"non-integer values"),
        (np.array([0, -1, 1, 1]), r"negative codes"),
        (np.zeros((4, 2)), r"one label per sample"),
        (np.array(["a", None, "b", "c"], dtype=object), r"mixes types or holds empty values"),
    ],
)
def test_bad_label_arrays(tmp_path, labels, pattern):
    np.save(tmp_path / "emb.npy", _x(4, 2))
    _raises(rf"^emb\.npy: .*{pattern}", tmp_path / "emb.npy", labels=labels)


def test_labels_from_files(tmp_path):
    np.save(tmp_path / "emb.npy", _x(4, 2))
    np.save(tmp_path / "y.npy", np.array([1, 0, 1, 0]))
    (tmp_path / "y.txt").write_text("cat\ndog\ncat\nemu\n\n")
    (tmp_path / "y.csv").write_text("label\n2\n2\n0\n1\n")
    (tmp_path / "ys.csv").write_text("b\na\nb\na\n")  # no header: text only
    pl.DataFrame({"target": ["u", "v", "v", "u"]}).write_parquet(tmp_path / "y.parquet")
    emb, report = load_embedding_report(tmp_path / "emb.npy", labels=tmp_path / "y.npy")
    assert emb.labels.tolist() == [1, 0, 1, 0] and report.labels_from == "y.npy"
    emb = load_embedding(tmp_path / "emb.npy", labels=str(tmp_path / "y.txt"))
    assert emb.label_strings() == ["cat", "dog", "cat", "emu"]
    assert load_embedding(tmp_path / "emb.npy", labels=tmp_path / "y.csv").labels.tolist() == [
        2,
        2,
        0,
        1,
    ]
    assert load_embedding(tmp_path / "emb.npy", labels=tmp_path / "ys.csv").label_strings() == [
        "b",
        "a",
        "b",
        "a",
    ]
    assert load_embedding(tmp_path / "emb.npy", labels=tmp_path / "y.parquet").label_strings() == [
        "u",
        "v",
        "v",
        "u",
    ]
    # Uploads: bytes with their own name.
    emb = load_embedding(
        (tmp_path / "emb.npy").read_bytes(),
        name="emb.npy",
        labels=b"1\n2\n3\n4\n",
        labels_name="y.txt",
    )
    assert emb.labels.tolist() == [1, 2, 3, 4]
    np.save(tmp_path / "ystr.npy", np.array(["x", "y", "x", "y"]))
    assert load_embedding(tmp_path / "emb.npy", labels=tmp_path / "ystr.npy").label_names == (
        "x",
        "y",
    )


def test_bad_label_files(tmp_path):
    np.save(tmp_path / "emb.npy", _x(4, 2))
    (tmp_path / "short.txt").write_text("a\nb\nc\n")
    _raises(
        r"^emb\.npy: labels \(short\.txt\) has 3 entries but the embedding has 4 rows",
        tmp_path / "emb.npy",
        labels=tmp_path / "short.txt",
    )
    (tmp_path / "gap.txt").write_text("a\n\nb\nc\n")
    _raises(r"^gap\.txt: line 2 is empty", tmp_path / "emb.npy", labels=tmp_path / "gap.txt")
    (tmp_path / "y.json").write_text("[1, 2]")
    _raises(
        r"^y\.json: labels files must be one of \.npy, \.csv, \.txt, \.parquet",
        tmp_path / "emb.npy",
        labels=tmp_path / "y.json",
    )
    np.save(tmp_path / "y2.npy", np.zeros((4, 3)))
    _raises(
        r"^y2\.npy: labels must have shape \(n,\)", tmp_path / "emb.npy", labels=tmp_path / "y2.npy"
    )
    (tmp_path / "bad.txt").write_bytes(b"a\n\xff\xfe\nb\nc\n")
    _raises(
        r"^bad\.txt: is not valid UTF-8 text \(first bad byte at line 2\)",
        tmp_path / "emb.npy",
        labels=tmp_path / "bad.txt",
    )
    with pytest.raises(ValueError, match=r"`labels_name`"):
        load_embedding(tmp_path / "emb.npy", labels=b"1\n2\n3\n4\n")
    arr = np.empty(4, dtype=object)
    marker = tmp_path / "marker"
    arr[0] = _Payload(marker)
    np.save(tmp_path / "evil_labels.npy", arr, allow_pickle=True)
    message = _raises(
        r"^evil_labels\.npy: the labels holds Python objects",
        tmp_path / "emb.npy",
        labels=tmp_path / "evil_labels.npy",
    )
    assert "allow_pickle" not in message and not marker.exists()


# --------------------------------------------------------------------------- npz


def test_npz_single_and_several_arrays(tmp_path):
    X = _x()
    np.savez(tmp_path / "one.npz", X)
    emb, report = load_embedding_report(tmp_path / "one.npz")
    np.testing.assert_array_equal(emb.X, X)
    assert report.memory_mapped and _mapped(emb.X)  # stored member of a file on disk
    assert report.key is None
    np.savez(tmp_path / "two.npz", layer1=X, layer2=X * 2)
    _raises(
        r"^two\.npz: holds several arrays .*'layer1' \(12, 4\) float32.*'layer2'.*Pass key=",
        tmp_path / "two.npz",
    )
    emb, report = load_embedding_report(tmp_path / "two.npz", key="layer2")
    np.testing.assert_array_equal(emb.X, X * 2)
    assert report.key == "layer2" and emb.name == "two[layer2]"
    _raises(
        r"^two\.npz: has no array named 'nope'\. It holds: 'layer1'",
        tmp_path / "two.npz",
        key="nope",
    )


def test_npz_labels_key_used_when_length_matches(tmp_path):
    X = _x(6, 3)
    np.savez_compressed(
        tmp_path / "e.npz", emb=X, labels=np.array(["a", "b"] * 3), ids=np.arange(6)
    )
    emb, report = load_embedding_report(tmp_path / "e.npz")
    np.testing.assert_array_equal(emb.X, X)
    assert emb.label_strings() == ["a", "b"] * 3 and report.labels_from == "e.npz['labels']"
    assert not report.memory_mapped
    assert any("'ids'" in note for note in report.notes)
    np.savez(tmp_path / "f.npz", emb=X, y=np.arange(5))
    emb, report = load_embedding_report(tmp_path / "f.npz")
    assert emb.labels is None and any("5 entries but there are 6" in n for n in report.notes)
    # Explicit labels win over the file's.
    emb = load_embedding(tmp_path / "e.npz", labels=[0, 0, 0, 1, 1, 1])
    assert emb.labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_npz_object_member_is_never_read(tmp_path):
    marker = tmp_path / "marker"
    evil = np.empty(3, dtype=object)
    evil[0] = _Payload(marker)
    np.savez(tmp_path / "mixed.npz", emb=_x(), config=evil)
    emb = load_embedding(
        tmp_path / "mixed.npz"
    )  # the float array is fine; the object one is skipped
    assert emb.X.shape == (12, 4)
    np.savez(tmp_path / "evil.npz", emb=evil.reshape(3, 1))
    message = _raises(r"^evil\.npz: array 'emb' holds Python objects", tmp_path / "evil.npz")
    assert "allow_pickle" not in message
    _raises(
        r"^mixed\.npz: array 'config' holds Python objects", tmp_path / "mixed.npz", key="config"
    )
    assert not marker.exists()


def test_npz_zip_bomb_is_refused_from_the_directory(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("emb.npy", _npy_bytes("<f4", (4096, 1024)) + bytes(16 * 1024**2))
    _raises(
        r"^bomb\.npz: member 'emb\.npy' declares 16\.0 MB from .* compressed, a ratio above 1000:1",
        tmp_path / "bomb.npz",
    )


def test_npz_member_above_budget(tmp_path, monkeypatch):
    np.savez_compressed(tmp_path / "big.npz", emb=RNG.normal(size=(512, 512)))  # 2 MB declared
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "1MB")
    _raises(
        r"^big\.npz: member 'emb\.npy' declares 2\.0 MB uncompressed, above the memory budget",
        tmp_path / "big.npz",
    )


def test_npz_truncated_and_lying(tmp_path):
    np.savez(tmp_path / "ok.npz", emb=_x())
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    _raises(
        r"^cut\.npz: is not a readable zip archive .*truncated or corrupt", tmp_path / "cut.npz"
    )
    with zipfile.ZipFile(tmp_path / "lie.npz", "w") as zf:
        zf.writestr("emb.npy", _npy_bytes("<f4", (100, 4), b"\0" * 32))
    _raises(
        r"^lie\.npz: array 'emb' declares shape \(100, 4\) .*holds only 32 bytes",
        tmp_path / "lie.npz",
    )
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    _raises(r"^empty\.npz: is an empty archive", tmp_path / "empty.npz")


# --------------------------------------------------------------------------- safetensors


def test_safetensors_keys_labels_and_mapping(tmp_path):
    X = _x(8, 3)
    save_file({"emb": X}, str(tmp_path / "one.safetensors"))
    emb, report = load_embedding_report(tmp_path / "one.safetensors")
    np.testing.assert_array_equal(emb.X, X)
    assert report.memory_mapped and _mapped(emb.X)
    save_file({"a": X, "b": X + 1, "y": np.arange(8) % 2}, str(tmp_path / "two.safetensors"))
    _raises(r"^two\.safetensors: holds several arrays .*Pass key=", tmp_path / "two.safetensors")
    emb, report = load_embedding_report(tmp_path / "two.safetensors", key="b")
    np.testing.assert_array_equal(emb.X, X + 1)
    assert emb.labels.tolist() == [0, 1] * 4 and report.labels_from == "two.safetensors['y']"
    data = (tmp_path / "two.safetensors").read_bytes()
    emb = load_embedding(data, name="two.safetensors", key="a")
    np.testing.assert_array_equal(emb.X, X)


def test_safetensors_bfloat16_widened_exactly(tmp_path):
    T = torch.randn(6, 4).to(torch.bfloat16)
    save_torch_file({"emb": T}, str(tmp_path / "bf.safetensors"))
    emb, report = load_embedding_report(tmp_path / "bf.safetensors")
    np.testing.assert_array_equal(emb.X, T.float().numpy())
    assert report.cast_from == "bfloat16" and report.original_dtype == "bfloat16"
    _raises(
        r"^bf\.safetensors: has dtype bfloat16, not float32",
        tmp_path / "bf.safetensors",
        dtype_policy="refuse",
    )


def test_safetensors_run_file_is_refused(tmp_path):
    run = Run(activations={("h", 0): _x(5, 2)}, layers=("h",), steps=(0,))
    save_run(run, tmp_path / "run.safetensors")
    _raises(r"^run\.safetensors: is a RepLens run .*load_run", tmp_path / "run.safetensors")
    data = (tmp_path / "run.safetensors").read_bytes()
    _raises(r"^run\.safetensors: is a RepLens run .*load_run", data, name="run.safetensors")


def test_safetensors_bad_files(tmp_path):
    X = _x(4, 2)
    save_file({"emb": X}, str(tmp_path / "ok.safetensors"))
    data = (tmp_path / "ok.safetensors").read_bytes()
    _raises(
        r"^cut\.safetensors: tensor 'emb' declares shape \[4, 2\] .*truncated or corrupt",
        data[:-8],
        name="cut.safetensors",
    )
    lie = _st_bytes(
        {"emb": {"dtype": "F32", "shape": [400, 2], "data_offsets": [0, 32]}}, X.tobytes()
    )
    _raises(
        r"^lie\.safetensors: tensor 'emb' declares shape \[400, 2\] \(3200 bytes\)",
        lie,
        name="lie.safetensors",
    )
    weird = _st_bytes(
        {"emb": {"dtype": "C64", "shape": [2, 2], "data_offsets": [0, 32]}}, b"\0" * 32
    )
    _raises(
        r"^weird\.safetensors: tensor 'emb' has dtype C64, which RepLens does not read",
        weird,
        name="weird.safetensors",
    )
    head = struct.pack("<Q", 10**6) + b"{}"
    _raises(r"^long\.safetensors: declares a 1000000-byte header", head, name="long.safetensors")
    bad_json = struct.pack("<Q", 4) + b"{abc"
    _raises(
        r"^j\.safetensors: the safetensors header is not valid JSON", bad_json, name="j.safetensors"
    )


def test_safetensors_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "1KB")
    save_file({"emb": _x(100, 4)}, str(tmp_path / "e.safetensors"))
    _raises(
        r"^e\.safetensors: tensor 'emb' of shape \(100, 4\) .*above the memory budget",
        tmp_path / "e.safetensors",
    )


# --------------------------------------------------------------------------- pt


def test_pt_tensor_dict_and_list(tmp_path):
    X = _x(7, 3)
    torch.save(torch.from_numpy(X), tmp_path / "t.pt")
    emb, report = load_embedding_report(tmp_path / "t.pt")
    np.testing.assert_array_equal(emb.X, X)
    assert report.memory_mapped and not emb.X.flags.owndata and report.format == "pt"
    torch.save(
        {"emb": torch.from_numpy(X), "labels": torch.tensor([0, 1, 2, 0, 1, 2, 0]), "epoch": 3},
        tmp_path / "d.pth",
    )
    emb, report = load_embedding_report(tmp_path / "d.pth")
    assert emb.labels.tolist() == [0, 1, 2, 0, 1, 2, 0] and report.format == "pt"
    torch.save({"acts": [torch.from_numpy(X), torch.from_numpy(X * 3)]}, tmp_path / "l.pt")
    _raises(r"^l\.pt: holds several arrays .*'acts/0'.*'acts/1'.*Pass key=", tmp_path / "l.pt")
    np.testing.assert_array_equal(load_embedding(tmp_path / "l.pt", key="acts/1").X, X * 3)
    emb = load_embedding((tmp_path / "d.pth").read_bytes(), name="d.pth")
    np.testing.assert_array_equal(emb.X, X)


def test_pt_bfloat16_and_3d(tmp_path):
    T = torch.randn(5, 4, 3).to(torch.bfloat16)
    torch.save({"h": T}, tmp_path / "bf.pt")
    emb, report = load_embedding_report(tmp_path / "bf.pt", pooling="last")
    np.testing.assert_array_equal(emb.X, T[:, -1, :].float().numpy())
    assert report.cast_from == "bfloat16"
    _raises(r"^bf\.pt: tensor 'h' holds 3-D activations of shape \(5, 4, 3\)", tmp_path / "bf.pt")


def test_pt_malicious_pickle_in_zip_never_runs(tmp_path):
    marker = tmp_path / "marker"
    torch.save({"emb": torch.zeros(3, 2), "extra": _Payload(marker)}, tmp_path / "evil.pt")
    for source, kw in (
        (tmp_path / "evil.pt", {}),
        ((tmp_path / "evil.pt").read_bytes(), {"name": "evil.pt"}),
    ):
        message = _raises(
            r"^evil\.pt: contains Python objects other than tensors, which RepLens will not load "
            r"because unpickling can run code",
            source,
            **kw,
        )
        assert "weights_only=False" not in message
    assert not marker.exists()


def test_pt_pickled_module_is_refused(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "model.pt")
    _raises(r"^model\.pt: contains Python objects other than tensors", tmp_path / "model.pt")


def test_pt_legacy_pickle_is_refused_without_loading(tmp_path):
    marker = tmp_path / "marker"
    (tmp_path / "legacy.pt").write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    _raises(
        r"^legacy\.pt: is in PyTorch's legacy pickle format.*torch\.save.*safetensors",
        tmp_path / "legacy.pt",
    )
    torch.save(torch.zeros(3, 2), tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    _raises(r"^old\.pt: is in PyTorch's legacy pickle format", tmp_path / "old.pt")
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, still in use
def test_pt_torchscript_is_refused(tmp_path):
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(tmp_path / "ts.pt"))
    _raises(r"^ts\.pt: is a TorchScript model, not tensors.*safetensors", tmp_path / "ts.pt")


def test_pt_compressed_or_foreign_zip_is_refused(tmp_path):
    torch.save({"emb": torch.zeros(3, 2)}, tmp_path / "ok.pt")
    with (
        zipfile.ZipFile(tmp_path / "ok.pt") as src,
        zipfile.ZipFile(tmp_path / "deflated.pt", "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    _raises(
        r"^deflated\.pt: member .* is compressed, but torch\.save never compresses",
        tmp_path / "deflated.pt",
    )
    with zipfile.ZipFile(tmp_path / "other.pt", "w") as zf:
        zf.writestr("readme.txt", "hi")
    _raises(r"^other\.pt: is a zip archive but not a torch\.save file", tmp_path / "other.pt")


def test_pt_non_tensor_leaf_is_refused(tmp_path):
    # weights_only admits torch.dtype objects; they are still not data RepLens reads.
    torch.save({"emb": torch.zeros(3, 2), "dtype": torch.float32}, tmp_path / "d.pt")
    _raises(r"^d\.pt: contains a dtype object, not only tensors", tmp_path / "d.pt")


def test_pt_complex_tensor(tmp_path):
    torch.save(torch.zeros(3, 2, dtype=torch.complex64), tmp_path / "c.pt")
    _raises(r"^c\.pt: tensor 'tensor' holds complex numbers", tmp_path / "c.pt")


# --------------------------------------------------------------------------- csv


def test_csv_with_header_labels_and_metadata(tmp_path):
    (tmp_path / "t.csv").write_text(
        "id,x,y,label,text\n0,1.5,2,cat,hello\n1,-0.5,nan,dog,world\n2,3,inf,cat,again\n3,4,-1e3,dog,more\n"
    )
    emb, report = load_embedding_report(tmp_path / "t.csv", nonfinite="drop")
    np.testing.assert_array_equal(emb.X, [[1.5, 2.0], [4.0, -1000.0]])
    assert report.dropped_nonfinite_rows == 2
    assert emb.label_strings() == ["cat", "dog"] and report.labels_from == "column 'label'"
    assert emb.metadata.to_dict(as_series=False) == {"id": [0, 3], "text": ["hello", "more"]}
    emb, report = load_embedding_report(
        tmp_path / "t.csv", label_column="text", metadata_columns=["label"], nonfinite="drop"
    )
    assert emb.label_names == ("again", "hello", "more", "world") and emb.metadata.columns == [
        "label"
    ]
    assert report.metadata_columns == ("label",)
    assert any("row-id" in n for n in report.notes)


def test_csv_parsing_details(tmp_path):
    (tmp_path / "h.csv").write_bytes(b"\xef\xbb\xbfa,b\r\n1,2\r\n3,4\r\n\r\n\r\n")
    emb, report = load_embedding_report(tmp_path / "h.csv")
    np.testing.assert_array_equal(emb.X, [[1, 2], [3, 4]])
    assert report.cast_from == "int64"
    (tmp_path / "n.csv").write_text("1.0,2.0,0\n3.0,4.0,1\n5.0,6.0,1\n")
    emb = load_embedding(tmp_path / "n.csv", label_column="column_2")
    np.testing.assert_array_equal(emb.X, [[1, 2], [3, 4], [5, 6]])
    assert emb.labels.tolist() == [0, 1, 1]
    # A pandas index column (empty header) is a row id, not a dimension.
    (tmp_path / "p.csv").write_text(",a,b\n0,1,2\n1,3,4\n")
    emb, report = load_embedding_report(tmp_path / "p.csv")
    assert emb.X.shape == (2, 2) and emb.metadata.columns == [""]


@pytest.mark.parametrize("index", [True, False])
def test_csv_pandas_integer_header_is_a_header(tmp_path, index):
    # pandas.DataFrame(X).to_csv() writes the column names 0, 1, 2, ... (and an empty
    # index name): they must not become a row of data.
    X = _x(5, 3).astype(np.float64)
    lines = [("," if index else "") + "0,1,2"]
    lines += [
        (f"{i}," if index else "") + ",".join(repr(float(v)) for v in row)
        for i, row in enumerate(X)
    ]
    (tmp_path / "pd.csv").write_text("\n".join(lines) + "\n")
    emb, report = load_embedding_report(tmp_path / "pd.csv")
    np.testing.assert_array_equal(emb.X, X.astype(np.float32))
    assert any("pandas" in n for n in report.notes)


def test_csv_not_utf8(tmp_path):
    (tmp_path / "latin.csv").write_bytes("name,x,y\nJosé,1,2\nZoë,3,4\n".encode("latin-1"))
    _raises(
        r"^latin\.csv: is not valid UTF-8 text \(first bad byte at line 2\)\. Re-save the file as UTF-8",
        tmp_path / "latin.csv",
    )


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("a,b\n1,2\n3,4,5\n6,7\n", r"line 3 has 3 fields but the first row has 2"),
        ("a,b,c\n1,2,3\n4,5\n6,7,8\n", r"line 3 has 2 fields but the first row has 3"),
        ("a,b\n1,2\n\n6,7\n", r"line 3 is blank"),
    ],
)
def test_csv_ragged_rows_name_the_line(tmp_path, text, pattern):
    (tmp_path / "r.csv").write_text(text)
    _raises(rf"^r\.csv: {pattern}", tmp_path / "r.csv")


def test_csv_text_in_numeric_column(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,oops\n5,6\n7,NA\n9,10\n")
    _raises(
        r"^t\.csv: column 'b' is numeric but has text in 2 cell\(s\) \(lines 3, 5: 'oops', 'NA'\)",
        tmp_path / "t.csv",
    )


def test_csv_empty_cells(tmp_path):
    (tmp_path / "e.csv").write_text("a,b,c\n1,2,3\n4,,6\n7,,9\n")
    _raises(
        r"^e\.csv: column 'b' has 2 empty cell\(s\) \(lines 3, 4\).*nonfinite='drop'",
        tmp_path / "e.csv",
    )


def test_csv_structural_problems(tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n")
    _raises(r"^h\.csv: has a header but no data rows", tmp_path / "h.csv")
    (tmp_path / "w.csv").write_text("\n \n")
    _raises(r"^w\.csv: holds only whitespace", tmp_path / "w.csv")
    (tmp_path / "s.csv").write_text("name,city\nann,rome\nbob,oslo\n")
    _raises(r"^s\.csv: has no numeric columns to use as the embedding", tmp_path / "s.csv")
    (tmp_path / "semi.csv").write_text("a;b\n1;2\n3;4\n")
    _raises(
        r"^semi\.csv: has no numeric columns.*contains ';': RepLens reads comma-separated",
        tmp_path / "semi.csv",
    )
    (tmp_path / "ok.csv").write_text("a,b\n1,2\n3,4\n")
    _raises(
        r"^ok\.csv: has no column 'nope' \(asked for as label_column\)\. Its columns are: 'a', 'b'",
        tmp_path / "ok.csv",
        label_column="nope",
    )
    _raises(r"^ok\.csv: has no column 'm'", tmp_path / "ok.csv", metadata_columns=["m"])
    _raises(
        r"^ok\.csv: pass either labels= or label_column=",
        tmp_path / "ok.csv",
        labels=[0, 1],
        label_column="a",
    )
    (tmp_path / "l.csv").write_text("a,label\n1,x\n2,\n3,y\n")
    _raises(r"^l\.csv: label column 'label' has 1 empty cell\(s\) \(lines 3\)", tmp_path / "l.csv")


# --------------------------------------------------------------------------- parquet


def test_parquet_vector_columns(tmp_path):
    X = _x(5, 3)
    pl.DataFrame({"emb": X.tolist(), "split": ["tr"] * 5}).write_parquet(tmp_path / "l.parquet")
    emb, report = load_embedding_report(tmp_path / "l.parquet")
    np.testing.assert_array_equal(emb.X, X)
    assert report.key == "emb" and emb.metadata.columns == ["split"]
    pl.DataFrame({"emb": pl.Series(X)}).write_parquet(tmp_path / "a.parquet")  # Array column
    np.testing.assert_array_equal(load_embedding(tmp_path / "a.parquet").X, X)
    A = RNG.normal(size=(5, 2, 3)).astype(np.float32)
    pl.DataFrame({"acts": pl.Series(A)}).write_parquet(tmp_path / "a3.parquet")
    _raises(r"^a3\.parquet: .*3-D activations of shape \(5, 2, 3\)", tmp_path / "a3.parquet")
    np.testing.assert_allclose(
        load_embedding(tmp_path / "a3.parquet", pooling="mean").X, A.mean(1), rtol=1e-6
    )
    pl.DataFrame({"e1": X.tolist(), "e2": X.tolist()}).write_parquet(tmp_path / "two.parquet")
    _raises(
        r"^two\.parquet: has several vector columns \['e1', 'e2'\]\. Pass embedding_column=",
        tmp_path / "two.parquet",
    )
    np.testing.assert_array_equal(
        load_embedding(tmp_path / "two.parquet", embedding_column="e2").X, X
    )


def test_parquet_bad_vectors(tmp_path):
    pl.DataFrame({"emb": [[1.0, 2.0], [3.0], [4.0, 5.0]]}).write_parquet(tmp_path / "rag.parquet")
    _raises(
        r"^rag\.parquet: column 'emb' holds vectors of different lengths \(row 0 has 2, row 1 has 1\)",
        tmp_path / "rag.parquet",
    )
    pl.DataFrame({"emb": [[1.0, 2.0], None, [4.0, 5.0]]}).write_parquet(tmp_path / "null.parquet")
    _raises(r"^null\.parquet: column 'emb' has 1 empty vector", tmp_path / "null.parquet")
    pl.DataFrame({"emb": [[1.0, None], [3.0, 4.0]]}).write_parquet(tmp_path / "hole.parquet")
    _raises(
        r"^hole\.parquet: column 'emb' has 1 empty value\(s\) inside its vectors",
        tmp_path / "hole.parquet",
    )


def test_parquet_truncated(tmp_path):
    pl.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).write_parquet(tmp_path / "ok.parquet")
    data = (tmp_path / "ok.parquet").read_bytes()
    _raises(
        r"^cut\.parquet: is truncated: the Parquet footer is missing",
        data[:-10],
        name="cut.parquet",
    )


def test_parquet_budget(tmp_path, monkeypatch):
    pl.DataFrame({"a": np.arange(100_000, dtype=np.float64)}).write_parquet(
        tmp_path / "big.parquet"
    )
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "100KB")
    _raises(
        r"^big\.parquet: the table declares .* above the memory budget", tmp_path / "big.parquet"
    )


# --------------------------------------------------------------------------- properties


def _save(fmt: str, X: np.ndarray, folder: Path) -> Path:
    path = folder / f"emb.{fmt}"
    if fmt == "npy":
        np.save(path, X)
    elif fmt == "npz":
        np.savez(path, emb=X)
    elif fmt == "npz-compressed":
        path = folder / "emb.npz"
        np.savez_compressed(path, emb=X)
    elif fmt == "csv":
        # float64 text: every float32 is exact in float64, so the CSV round trip is exact.
        pl.DataFrame(X.astype(np.float64), schema=[f"f{i}" for i in range(X.shape[1])]).write_csv(
            path
        )
    elif fmt == "parquet":
        pl.DataFrame({"emb": pl.Series(X)}).write_parquet(path)
    elif fmt == "safetensors":
        save_file({"emb": X}, str(path))
    elif fmt == "pt":
        torch.save({"emb": torch.from_numpy(X.copy())}, path)
    return path


_FORMATS = ["npy", "npz", "npz-compressed", "csv", "parquet", "safetensors", "pt"]
_matrices = hnp.arrays(
    dtype=np.float32,
    shape=st.tuples(st.integers(2, 12), st.integers(1, 6)),
    elements=st.floats(width=32, allow_nan=False, allow_infinity=False),
)


@pytest.mark.parametrize("fmt", _FORMATS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=_matrices)
def test_round_trip_property(fmt, X):
    with tempfile.TemporaryDirectory() as folder:
        path = _save(fmt, X, Path(folder))
        from_path = load_embedding(path)
        from_bytes = load_embedding(path.read_bytes(), name=path.name)
        for emb in (from_path, from_bytes):
            assert emb.X.dtype == np.float32 and emb.X.shape == X.shape
            np.testing.assert_array_equal(emb.X, X)
        del from_path  # release the memory map before the folder is removed (Windows)


def test_supported_formats_all_have_readers():
    assert set(SUPPORTED_FORMATS) == set(loaders_module._READERS)
    assert os.extsep == "."


def test_labels_text_file_over_the_budget_is_refused(tmp_path, monkeypatch) -> None:
    X = np.zeros((3, 2), dtype=np.float32)
    emb_path = tmp_path / "emb.npy"
    np.save(emb_path, X)
    labels_path = tmp_path / "big_labels.txt"
    labels_path.write_text("0\n1\n0\n" + "#" * 4096)
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "1KB")
    with pytest.raises(ValueError, match=r"big_labels\.txt: the labels file declares .* memory budget"):
        load_embedding(emb_path, labels=labels_path)
