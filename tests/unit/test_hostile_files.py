"""Hostile files (issue 15): each is refused with a clear ValueError, fast and with a bounded peak.

Every hostile file is built here, small on disk. The calls that could allocate
run in a bounded child (`tests.bounded.run_bounded`, under RLIMIT_AS) through
`_measured` below, which reports the call's own peak resident growth.
"""

from __future__ import annotations

import ast
import io
import json
import struct
import time
import zipfile
from dataclasses import dataclass
from importlib import import_module

import numpy as np
import pytest

# Imported here, so that the bounded child imports them before its limit is set.
import analysis.data.classifier_io
import analysis.data.loaders
import analysis.data.runs
import analysis.data.weights  # noqa: F401
from analysis.data.formats.common import _Options, _Source
from tests.bounded import run_bounded

MiB = 2**20


# --------------------------------------------------------------------------- measuring


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)  # pragma: no cover


def _measured(target: str, *args, **kwargs):
    """Runs in the bounded child: call `target`, return (error type, message, seconds, growth).

    ru_maxrss (what run_bounded reads) starts, in a spawned child, at the RSS
    of the parent at fork time (Linux keeps the high-water mark across
    fork+exec), so after a big pytest process it reports hundreds of MiB that
    the call never touched. Resetting the mark (clear_refs 5) and reading VmHWM
    measures the call alone.
    """
    module_name, func_name = target.split(":")
    func = getattr(import_module(module_name), func_name)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = _status_kb("VmRSS")
    start = time.perf_counter()
    error_type, message = None, ""
    try:
        func(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the test inspects any failure
        error_type, message = type(exc).__name__, str(exc)
    seconds = time.perf_counter() - start
    growth = max(0, _status_kb("VmHWM") - before)
    # run_bounded sends back repr(value)[:2000]: keep the message short enough to survive.
    return (error_type, message[:400], len(message), seconds, growth)


@dataclass
class Measured:
    error_type: str | None
    message: str
    message_length: int
    seconds: float
    peak_rss_growth: int


def bounded(
    target: str, *args, allowance_bytes: int = 768 * MiB, torch: bool = False, **kwargs
) -> Measured:
    """`target(*args, **kwargs)` in a bounded child; `torch` preloads torch (for .pt files:
    importing it after the limit fails, and it makes every child seconds slower)."""
    result = run_bounded(
        "tests.unit.test_hostile_files:_measured",
        target,
        *args,
        allowance_bytes=allowance_bytes,
        preload=("numpy", "torch") if torch else ("numpy",),
        **kwargs,
    )
    if result.error_type is not None:  # the wrapper itself failed (e.g. MemoryError escaping)
        return Measured(result.error_type, result.message, len(result.message), result.seconds,
                        result.peak_rss_growth)
    return Measured(*ast.literal_eval(result.message))


def _report(label: str, m: Measured) -> None:
    # Shown with pytest -s; the numbers for the report.
    print(f"\n[{label}] {m.error_type} in {m.seconds:.3f} s, peak +{m.peak_rss_growth / MiB:.1f} MiB: "
          f"{m.message[:160]}")


def _refused(m: Measured, *phrases: str, peak: int = 64 * MiB) -> None:
    assert m.error_type == "ValueError", (m.error_type, m.message)
    for phrase in phrases:
        assert phrase in m.message, (phrase, m.message)
    assert m.peak_rss_growth < peak, m.peak_rss_growth / MiB


def _npz_bytes(compressed: bool = True, **arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _deflated_npz(members: dict[str, tuple[tuple[int, ...], str]]) -> bytes:
    """An npz of all-zero arrays written member by member (small on disk, huge inflated)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key, (shape, dtype) in members.items():
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
            )
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                fh.write(header.getvalue())
                chunk = bytes(4 * MiB)
                for start in range(0, nbytes, len(chunk)):
                    fh.write(chunk[: min(len(chunk), nbytes - start)])
    return buf.getvalue()


# --------------------------------------------------------------------------- 1. classifier npz


def test_classifier_npz_bomb_is_refused_from_the_zip_directory(monkeypatch):
    # 256 MiB of zeros in ~1 MB: refused from the directory, before a byte is inflated.
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "64MB")
    data = _deflated_npz({"weight": ((8192, 8192), "<f4")})
    assert len(data) < 2 * MiB
    m = bounded("analysis.data.classifier_io:load_classifier", data, "head.npz")
    _report("classifier npz bomb", m)
    _refused(m, "head.npz", "memory budget")


def test_classifier_npz_total_of_members_is_bounded(monkeypatch):
    # Each member fits the budget; together they do not.
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "64MB")
    data = _deflated_npz({"weight": ((4096, 2048), "<f4"), "bias": ((6 * MiB,), "<f8")})
    m = bounded("analysis.data.classifier_io:load_classifier", data, "two.npz")
    _report("classifier npz total", m)
    _refused(m, "two.npz", "memory budget")


def test_classifier_npy_declaring_a_huge_shape_is_refused(monkeypatch):
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "64MB")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (1_000_000, 100_000)}
    )
    m = bounded("analysis.data.classifier_io:load_classifier", header.getvalue() + b"\0" * 64,
                "w.npy")
    _report("classifier npy huge shape", m)
    _refused(m, "w.npy", "memory budget")


def test_classifier_error_lists_a_few_members_only():
    data = _npz_bytes(False, **{f"layer{i}": np.zeros(1, np.float32) for i in range(5000)})
    m = bounded("analysis.data.classifier_io:load_classifier", data, "many.npz")
    _report("classifier 5000 members", m)
    _refused(m, "many.npz", "and 4995 more", "'weight'")
    assert m.message_length < 600


def test_classifier_npz_reads_only_the_role_arrays():
    weight = np.arange(12, dtype=np.float32).reshape(3, 4)
    data = _npz_bytes(True, weight=weight, bias=np.ones(3), backbone=np.zeros((50, 50)))
    result = analysis.data.classifier_io.load_classifier(data, "ok.npz")
    np.testing.assert_array_equal(result.weight, weight)
    np.testing.assert_array_equal(result.bias, np.ones(3))


# --------------------------------------------------------------------------- 3. npz reads


def test_compressed_npz_member_is_inflated_with_a_peak_of_about_its_size():
    # 64 MiB float32 member: the old single readinto() held a 64 MiB bytes copy besides it.
    # The reader alone (the loader's NaN scan adds its own bounded temporaries).
    data = _deflated_npz({"emb": ((4 * MiB, 4), "<f4")})
    src = _Source(name="emb.npz", ext=".npz", size=len(data), data=data)
    opts = _Options(None, None, None, None, None, False)
    m = bounded("analysis.data.formats.zips:_read_npz", src, opts)
    _report("npz 64 MiB member", m)
    assert m.error_type is None, m.message
    assert m.peak_rss_growth < 64 * MiB + 16 * MiB, m.peak_rss_growth / MiB


def test_npz_members_read_together_are_bounded_by_the_budget(monkeypatch):
    # 48 MiB embedding + 24 MiB labels: each fits a 64 MB budget, together they do not.
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "64MB")
    n = 3 * MiB
    data = _deflated_npz({"emb": ((n, 4), "<f4"), "labels": ((n,), "<i8")})
    m = bounded("analysis.data.loaders:load_embedding", data, name="pair.npz")
    _report("npz total of members", m)
    _refused(m, "pair.npz", "'emb.npy'", "'labels.npy'", "memory budget")


def test_stored_npz_upload_is_served_without_a_copy():
    X = np.random.default_rng(0).normal(size=(1000, 16)).astype(np.float32)
    data = _npz_bytes(False, emb=X)
    emb = analysis.data.loaders.load_embedding(data, name="s.npz")
    np.testing.assert_array_equal(emb.X, X)
    assert np.shares_memory(emb.X, np.frombuffer(data, np.uint8))


# --------------------------------------------------------------------------- 2. .pt views


def _torch_bytes(obj) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _expanded(rows: int, cols: int) -> bytes:
    import torch

    return _torch_bytes({"emb": torch.ones(1).expand(rows, cols)})


def test_pt_expanded_view_is_refused_before_it_is_materialised():
    # 4 bytes of storage viewed as 50000 x 20000 float32 (3.7 GiB, under the default
    # 4 GiB budget): the file is ~1.5 KB.
    data = _expanded(50_000, 20_000)
    assert len(data) < 4096
    m = bounded("analysis.data.loaders:load_embedding", data, name="bcast.pt", torch=True)
    _report("pt stride-0 view", m)
    _refused(m, "bcast.pt", "tensor 'emb'", "strides (0, 0)", "contiguous().clone()")


def test_pt_expanded_view_is_refused_by_describe_file(tmp_path):
    path = tmp_path / "bcast.pt"
    path.write_bytes(_expanded(8192, 4096))  # 128 MiB once copied
    m = bounded("analysis.data.inspect:describe_file", path, torch=True)
    _report("describe_file stride-0 view", m)
    assert m.error_type is None  # describe_file returns its errors
    assert m.peak_rss_growth < 64 * MiB, m.peak_rss_growth / MiB


def test_weights_pt_expanded_view_is_refused():
    import torch

    data = _torch_bytes({"fc.weight": torch.zeros(1, 1).expand(4096, 2048)})  # 64 MiB as float64
    m = bounded("analysis.data.weights:load_weight_matrix", data, "w.pt", "fc.weight", torch=True)
    _report("weights stride-0 view", m)
    _refused(m, "w.pt", "tensor 'fc.weight'", "contiguous().clone()")


def test_pt_contiguous_transposed_and_sliced_tensors_still_load():
    import torch

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    for tensor in (base, base.t(), base[1:3], base[:, ::2]):
        emb = analysis.data.loaders.load_embedding(_torch_bytes({"emb": tensor}), name="ok.pt")
        np.testing.assert_array_equal(emb.X, tensor.numpy())


# --------------------------------------------------------------------------- 5, 6. safetensors


def _st(header: dict | bytes, body: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


_ST_LOADERS = [
    ("analysis.data.loaders:load_embedding", {"name": "h.safetensors"}),
    ("analysis.data.runs:load_run", {"name": "h.safetensors"}),
    ("analysis.data.classifier_io:load_classifier", {"name": "h.safetensors"}),
    ("analysis.data.weights:list_weight_tensors", {"name": "h.safetensors"}),
    ("analysis.data.weights:load_weight_matrix", {"name": "h.safetensors"}),
]


def _nested_header() -> bytes:
    depth = 200_000  # 400 KB of brackets: json.loads raised RecursionError
    return _st(b'{"a": ' + b"[" * depth + b"]" * depth + b"}")


@pytest.mark.parametrize("target, kwargs", _ST_LOADERS, ids=lambda v: str(v).split(":")[-1])
def test_deeply_nested_safetensors_header_is_a_value_error(target, kwargs):
    module, func = target.split(":")
    with pytest.raises(ValueError, match=r"^h\.safetensors: .*nests"):
        getattr(import_module(module), func)(_nested_header(), **kwargs)


def test_deeply_nested_safetensors_header_is_refused_fast_and_small():
    m = bounded("analysis.data.loaders:load_embedding", _nested_header(), name="h.safetensors")
    _report("nested header", m)
    _refused(m, "h.safetensors", "nests")


def test_deeply_nested_run_metadata_is_a_value_error():
    inner = "[" * 100_000 + "]" * 100_000
    data = _st({"__metadata__": {"replens": inner}, "labels": {
        "dtype": "I64", "shape": [2], "data_offsets": [0, 16]}}, bytes(16))
    with pytest.raises(ValueError, match=r"^run\.safetensors: the RepLens metadata is not valid"):
        analysis.data.runs.load_run(data, name="run.safetensors")


@pytest.mark.parametrize(
    "shape, phrase",
    [([2.5, 2], "2.5"), ([True, 2], "True"), ([-2, 2], "-2"), ([2.0, 2], "2.0"), (["2", 2], "'2'")],
)
def test_fractional_boolean_negative_shapes_are_refused(shape, phrase):
    data = _st({"emb": {"dtype": "F32", "shape": shape, "data_offsets": [0, 16]}}, bytes(16))
    for call in (
        lambda: analysis.data.loaders.load_embedding(data, name="s.safetensors"),
        lambda: analysis.data.weights.list_weight_tensors(data, "s.safetensors"),
    ):
        with pytest.raises(ValueError, match=r"^s\.safetensors: tensor 'emb' declares the shape") as info:
            call()
        assert phrase in str(info.value)


def test_overlapping_tensor_offsets_are_refused():
    data = _st(
        {
            "emb": {"dtype": "F32", "shape": [4, 2], "data_offsets": [0, 32]},
            "labels": {"dtype": "I64", "shape": [4], "data_offsets": [8, 40]},
        },
        bytes(40),
    )
    with pytest.raises(ValueError, match=r"^o\.safetensors: tensors 'emb' and 'labels' share bytes"):
        analysis.data.loaders.load_embedding(data, name="o.safetensors")


def test_offsets_disagreeing_with_the_shape_or_past_the_file_are_refused():
    short = _st({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 8]}}, bytes(16))
    with pytest.raises(ValueError, match=r"^w\.safetensors: tensor 'w' .*span 8 bytes"):
        analysis.data.weights.load_weight_matrix(short, "w.safetensors")
    past = _st({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]}}, bytes(16))
    with pytest.raises(ValueError, match=r"^w\.safetensors: tensor 'w' .*does not fit the 16-byte"):
        analysis.data.weights.load_weight_matrix(past, "w.safetensors")
    offsets = _st({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0.5, 16]}}, bytes(16))
    with pytest.raises(ValueError, match=r"^w\.safetensors: tensor 'w' declares the data_offsets"):
        analysis.data.weights.load_weight_matrix(offsets, "w.safetensors")


def test_non_string_metadata_is_refused():
    data = _st({"__metadata__": {"replens": {"layers": []}}})
    with pytest.raises(ValueError, match=r"^m\.safetensors: .*__metadata__ entry 'replens' is not a string"):
        analysis.data.runs.load_run(data, name="m.safetensors")


# --------------------------------------------------------------------------- 7. labels


def _X(n: int = 4) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.arange(n * 2, dtype=np.float32).reshape(n, 2))
    return buf.getvalue()


def test_txt_labels_beyond_int64_name_the_line():
    text = b"0\n1\n99999999999999999999999\n2\n"
    with pytest.raises(ValueError, match=r"^y\.txt: line 3 holds the integer 9+, beyond the int64"):
        analysis.data.loaders.load_embedding(_X(), name="x.npy", labels=text, labels_name="y.txt")


def test_nan_text_in_a_csv_label_column_is_not_a_class():
    csv = b"a,b,label\n1,2,cat\n3,4,nan\n5,6,dog\n7,8,NaN\n"
    with pytest.raises(ValueError, match=r"^t\.csv: .*'nan' in 2 row\(s\) \(rows 1, 3") as info:
        analysis.data.loaders.load_embedding(csv, name="t.csv")
    assert "missing label" in str(info.value)
    labels = b"label\ncat\nnan\ndog\ncat\n"
    with pytest.raises(ValueError, match=r"'nan' in 1 row\(s\) \(rows 1,"):
        analysis.data.loaders.load_embedding(_X(), name="x.npy", labels=labels, labels_name="l.csv")


def test_uint64_max_label_is_beyond_int64_not_negative():
    y = np.array([0, 1, np.iinfo(np.uint64).max, 1], dtype=np.uint64)
    buf = io.BytesIO()
    np.save(buf, y)
    with pytest.raises(ValueError, match=r"code 18446744073709551615 \(row 2\), beyond the int64") as info:
        analysis.data.loaders.load_embedding(_X(), name="x.npy", labels=buf.getvalue(), labels_name="y.npy")
    assert "negative" not in str(info.value)
    with pytest.raises(ValueError, match=r"beyond the int64"):
        analysis.data.loaders.load_embedding(_X(), name="x.npy", labels=np.array([0, 1, 1e30, 2]))


# --------------------------------------------------------------------------- 4. wide tables


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_wide_table_loads_with_a_constant_number_of_schema_lookups(fmt, monkeypatch):
    import polars as pl

    cols = 4000
    X = np.random.default_rng(0).normal(size=(20, cols)).astype(np.float32)
    df = pl.DataFrame({f"f{i}": X[:, i] for i in range(cols)}).with_columns(
        pl.Series("label", ["a", "b"] * 10)
    )
    buf = io.BytesIO()
    df.write_csv(buf) if fmt == "csv" else df.write_parquet(buf)
    # df.schema rebuilds the whole mapping on each access: one lookup per column was O(n^2).
    lookups = []
    original = pl.DataFrame.schema

    def counting(self):
        lookups.append(1)
        return original.fget(self)

    monkeypatch.setattr(pl.DataFrame, "schema", property(counting))
    emb = analysis.data.loaders.load_embedding(buf.getvalue(), name=f"wide.{fmt}")
    assert emb.X.shape == (20, cols)
    np.testing.assert_array_equal(emb.X, X)
    assert emb.label_names == ("a", "b")
    assert len(lookups) < 10, len(lookups)


# --------------------------------------------------------------------------- 8. the boundary


def _npy_with_header(text: bytes) -> bytes:
    text = text + b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + bytes(64)


def _zip_version(data: bytes, version: int) -> bytes:
    """Set every central-directory entry's 'version needed to extract' (zipfile refuses > 6.3)."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        out[at + 6 : at + 8] = struct.pack("<H", version)
        at = out.find(b"PK\x01\x02", at + 4)
    return bytes(out)


def test_npy_header_cut_inside_a_bracket_is_a_value_error():
    data = _npy_with_header(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,")
    for call in (
        lambda: analysis.data.loaders.load_embedding(data, name="t.npy"),
        lambda: analysis.data.classifier_io.load_classifier(data, "t.npy"),
        lambda: analysis.data.weights.load_weight_matrix(data, "t.npy"),
        lambda: analysis.data.loaders.load_embedding(_X(), name="x.npy", labels=data, labels_name="t.npy"),
    ):
        with pytest.raises(ValueError, match=r"^t\.npy: .*\.npy header"):
            call()


def test_zip_of_an_unknown_version_is_a_value_error():
    npz = _zip_version(_npz_bytes(False, emb=np.ones((3, 2), np.float32)), 100)
    for call in (
        lambda: analysis.data.loaders.load_embedding(npz, name="v.npz"),
        lambda: analysis.data.classifier_io.load_classifier(npz, "v.npz"),
    ):
        with pytest.raises(ValueError, match=r"^v\.npz: is not a readable zip archive"):
            call()
    import torch

    pt = _zip_version(_torch_bytes({"w": torch.ones(2, 2)}), 100)
    for call in (
        lambda: analysis.data.loaders.load_embedding(pt, name="v.pt"),
        lambda: analysis.data.weights.list_weight_tensors(pt, "v.pt"),
    ):
        with pytest.raises(ValueError, match=r"^v\.pt: .*not a readable zip archive"):
            call()


def test_the_boundary_names_the_file_for_what_a_library_raises():
    from analysis.data.formats.guard import _as_value_error

    for exc in (RecursionError(), OverflowError("big"), KeyError("k"), AttributeError("a"),
                struct.error("short"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad")):
        with pytest.raises(ValueError, match=r"^f\.bin: could not be read: "):
            with _as_value_error("f.bin"):
                raise exc


# --------------------------------------------------------------------------- zip member count


def _many_members(count: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(count):
            zf.writestr(f"{i}.npy", b"")
    return buf.getvalue()


def test_archive_of_too_many_members_is_refused_before_zipfile_parses_it():
    data = _many_members(70_000)  # ~6 MB; zipfile would build 70,000 ZipInfo objects
    m = bounded("analysis.data.loaders:load_embedding", data, name="many.npz")
    _report("npz of 70,000 members", m)
    _refused(m, "many.npz", "70,000 members", "at most 65,535", peak=16 * MiB)
    with pytest.raises(ValueError, match=r"^many\.pt: is a zip archive of 70,000 members"):
        analysis.data.weights.list_weight_tensors(data, "many.pt")


def test_a_lying_member_count_is_counted_from_the_directory():
    data = bytearray(_many_members(70_000))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = struct.pack("<HH", 3, 3)  # claim 3 members
    with pytest.raises(ValueError, match=r"^lie\.npz: is a zip archive of 70,000 members"):
        analysis.data.loaders.load_embedding(bytes(data), name="lie.npz")


def test_safetensors_header_of_millions_of_values_is_refused_before_parsing(monkeypatch):
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "64MB")
    data = _st(b'{"a": [' + b"0," * 4_000_000 + b"0]}")  # 8 MB header, 4 million values
    m = bounded("analysis.data.loaders:load_embedding", data, name="v.safetensors")
    _report("header of 4 million values", m)
    _refused(m, "v.safetensors", "JSON values", peak=32 * MiB)


def test_skipped_members_make_one_short_note_and_long_names_are_cut():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        with zf.open("emb.npy", "w") as fh:
            np.save(fh, np.ones((3, 2), np.float32))
        for i in range(100):
            zf.writestr(f"junk{i}.txt", b"")
    _, report = analysis.data.loaders.load_embedding_report(buf.getvalue(), name="j.npz")
    skipped = [n for n in report.notes if n.startswith("skipped")]
    assert len(skipped) == 1 and "... and 95 more" in skipped[0]
    data = _npz_bytes(False, **{"x" * 10_000: np.ones((3, 2), np.float32), "y": np.ones((3, 2))})
    with pytest.raises(ValueError, match=r"^k\.npz: has no array named") as info:
        analysis.data.loaders.load_embedding(data, name="k.npz", key="z" * 10_000)
    assert len(str(info.value)) < 600


def test_a_labels_txt_of_millions_of_short_lines_is_bounded(monkeypatch):
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "64MB")
    text = b"1\n" * 2_000_000  # 4 MB of text, 2 million Python strings
    with pytest.raises(ValueError, match=r"^y\.txt: the labels file \(2,000,001 lines as text\)"):
        analysis.data.loaders.load_embedding(_X(), name="x.npy", labels=text, labels_name="y.txt")


def _pt_with_pickle(pickle_bytes: bytes) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"emb": torch.ones(3, 2)}, buf)
    zin = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            zout.writestr(info.filename, pickle_bytes if info.filename.endswith("data.pkl") else body)
    return out.getvalue()


def test_pt_pickle_of_millions_of_objects_is_refused_before_unpickling():
    # 5 MB of EMPTY_DICT opcodes: unpickling builds 64 bytes per byte (1 MB measured: 77 MB, 2.7 s).
    data = _pt_with_pickle(b"\x80\x02](" + b"}" * (5 * MiB) + b"e.")
    m = bounded("analysis.data.loaders:load_embedding", data, name="objs.pt", torch=True)
    _report("pt pickle of 5 million dicts", m)
    _refused(m, "objs.pt", "data.pkl", "safetensors", peak=32 * MiB)
    with pytest.raises(ValueError, match=r"^objs\.pt: its object structure \(data\.pkl\)"):
        analysis.data.weights.list_weight_tensors(data, "objs.pt")
