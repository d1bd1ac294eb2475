"""Tests of the data model (schema.py) and the Run file format (runs.py)."""

from __future__ import annotations

import json
import mmap
import struct

import numpy as np
import polars as pl
import pytest
from safetensors.numpy import save_file

from analysis.data import Embedding, Run, encode_labels, is_run_file, load_run, save_run
from analysis.data.runs import FORMAT_VERSION, mmap_safetensors, read_safetensors_header

RNG = np.random.default_rng(0)
N = 10


def _full_run() -> Run:
    """A run using every optional part of the format."""
    layers = ("input", "block10", "block2")  # not sorted: order must survive
    steps = (0, 5, 100)
    acts = {}
    for layer in layers:
        for step in steps:
            dtype = np.float16 if layer == "block10" else np.float32
            acts[(layer, step)] = RNG.normal(size=(N, 4 if layer == "input" else 3)).astype(dtype)
    return Run(
        activations=acts,
        layers=layers,
        steps=steps,
        labels=np.arange(N) % 3,
        label_names=("cat", "dog", "eel"),
        metadata=pl.DataFrame(
            {"split": ["train"] * 7 + ["test"] * 3, "text": [f"s{i}" for i in range(N)]}
        ),
        classifier={
            0: (RNG.normal(size=(3, 3)).astype(np.float32), RNG.normal(size=3).astype(np.float32)),
            100: (RNG.normal(size=(3, 3)).astype(np.float32), None),  # no bias
        },
        logits={s: RNG.normal(size=(N, 3)).astype(np.float32) for s in steps},
        codes={("block2", s): RNG.integers(0, 8, size=N) for s in steps},
        codebooks={("block2", s): RNG.normal(size=(8, 3)).astype(np.float32) for s in steps},
        curves={"step": [0.0, 5.0, 100.0], "loss": [2.5, 1.25, 0.125]},
        task="toy task",
        name="toy",
    )


def _reaches_mmap(arr: np.ndarray) -> bool:
    base = arr
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return False


def _assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- round trip


def test_run_round_trip_is_exact(tmp_path):
    run = _full_run()
    path = save_run(run, tmp_path / "run.safetensors")
    assert path == tmp_path / "run.safetensors" and (tmp_path / "run.parquet").exists()
    back = load_run(path)
    assert back.layers == run.layers and back.steps == run.steps
    assert set(back.activations) == set(run.activations)
    for key, arr in run.activations.items():
        _assert_same(back.activations[key], arr)
    assert back.activations[("block10", 5)].dtype == np.float16
    _assert_same(back.labels, run.labels.astype(np.int64))
    assert back.label_names == run.label_names
    assert back.metadata.equals(run.metadata)
    assert set(back.classifier) == {0, 100}
    _assert_same(back.classifier[0][0], run.classifier[0][0])
    _assert_same(back.classifier[0][1], run.classifier[0][1])
    _assert_same(back.classifier[100][0], run.classifier[100][0])
    assert back.classifier[100][1] is None
    for step, arr in run.logits.items():
        _assert_same(back.logits[step], arr)
    for key, arr in run.codes.items():
        _assert_same(back.codes[key], arr)
    for key, arr in run.codebooks.items():
        _assert_same(back.codebooks[key], arr)
    assert back.curves == run.curves and back.task == "toy task" and back.name == "toy"
    assert back.describe() == run.describe()


def test_loaded_arrays_are_memory_mapped(tmp_path):
    save_run(_full_run(), tmp_path / "run.safetensors")
    back = load_run(tmp_path / "run.safetensors")
    # Labels are left out: Run validates them into a fresh int64 array.
    for arr in [*back.activations.values(), *back.logits.values(), *back.codes.values()]:
        assert not arr.flags.owndata and not arr.flags.writeable
        assert _reaches_mmap(arr)


def test_run_embedding_is_float32(tmp_path):
    save_run(_full_run(), tmp_path / "run.safetensors")
    back = load_run(tmp_path / "run.safetensors")
    emb = back.embedding("block10", 5)
    assert emb.X.dtype == np.float32 and emb.X.shape == (N, 3)
    np.testing.assert_array_equal(emb.X, back.activations[("block10", 5)].astype(np.float32))
    assert emb.label_names == ("cat", "dog", "eel") and emb.name == "toy · block10 · step 5"
    emb32 = back.embedding("input", 0)
    assert not emb32.X.flags.owndata  # float32 activations stay mapped
    with pytest.raises(
        ValueError, match=r"Unknown layer 'nope'; this run has \['input', 'block10', 'block2'\]"
    ):
        back.embedding("nope", 0)
    with pytest.raises(ValueError, match=r"Unknown step 7; this run has \[0, 5, 100\]"):
        back.embedding("input", 7)
    np.testing.assert_array_equal(back.predictions(5), back.logits[5].argmax(axis=1))
    assert back.splits() == ["test", "train"]


def test_minimal_run_and_sidecar_removed(tmp_path):
    run = _full_run()
    save_run(run, tmp_path / "r.safetensors")
    bare = Run(activations={("h", 0): np.ones((3, 2), np.float32)}, layers=("h",), steps=(0,))
    save_run(bare, tmp_path / "r.safetensors")
    assert not (tmp_path / "r.parquet").exists()  # a stale sidecar would mislabel rows
    back = load_run(tmp_path / "r.safetensors")
    assert back.labels is None and back.metadata is None and back.classifier == {}
    assert back.curves == {} and back.logits == {} and back.codes == {}


def test_is_run_file(tmp_path):
    save_run(_full_run(), tmp_path / "run.safetensors")
    save_file({"emb": np.ones((3, 2), np.float32)}, str(tmp_path / "plain.safetensors"))
    (tmp_path / "text.safetensors").write_text("not at all")
    assert is_run_file(tmp_path / "run.safetensors")
    assert not is_run_file(tmp_path / "plain.safetensors")
    assert not is_run_file(tmp_path / "text.safetensors")
    assert not is_run_file(tmp_path / "missing.safetensors")


# --------------------------------------------------------------------------- bad run files


def _rewrite_header(path, mutate) -> None:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    mutate(header)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])


def test_truncated_run_file(tmp_path):
    save_run(_full_run(), tmp_path / "run.safetensors")
    data = (tmp_path / "run.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-100])
    with pytest.raises(
        ValueError, match=r"^cut\.safetensors: tensor .* does not fit .*truncated or corrupt"
    ):
        load_run(tmp_path / "cut.safetensors")
    (tmp_path / "head.safetensors").write_bytes(data[:200])
    with pytest.raises(
        ValueError, match=r"^head\.safetensors: declares a \d+-byte header in a 200-byte file"
    ):
        load_run(tmp_path / "head.safetensors")
    (tmp_path / "tiny.safetensors").write_bytes(data[:5])
    with pytest.raises(ValueError, match=r"^tiny\.safetensors: file is empty or truncated"):
        load_run(tmp_path / "tiny.safetensors")


def test_header_lying_about_sizes(tmp_path):
    path = tmp_path / "lie.safetensors"
    save_run(_full_run(), path)

    def bigger(header):
        header["act/input/0"]["shape"] = [N * 1000, 4]

    _rewrite_header(path, bigger)
    with pytest.raises(
        ValueError, match=r"^lie\.safetensors: tensor 'act/input/0' declares shape \[10000, 4\]"
    ):
        load_run(path)

    def outside(header):
        begin, end = header["labels"]["data_offsets"]
        header["labels"]["data_offsets"] = [begin + 10**9, end + 10**9]

    save_run(_full_run(), path)
    _rewrite_header(path, outside)
    with pytest.raises(ValueError, match=r"^lie\.safetensors: tensor 'labels' .*does not fit"):
        load_run(path)


def test_bad_header_json_and_dtype(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 5) + b"{nope")
    with pytest.raises(
        ValueError, match=r"^bad\.safetensors: the safetensors header is not valid JSON"
    ):
        read_safetensors_header(path)
    path.write_bytes(struct.pack("<Q", 2) + b"[]")
    with pytest.raises(
        ValueError, match=r"^bad\.safetensors: the safetensors header is not a JSON object"
    ):
        read_safetensors_header(path)
    raw = json.dumps({"x": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
    with pytest.raises(ValueError, match=r"^bad\.safetensors: tensor 'x' has dtype C64, which RepLens does not read"):
        mmap_safetensors(path)


def test_plain_safetensors_and_wrong_version(tmp_path):
    save_file({"emb": np.ones((3, 2), np.float32)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(
        ValueError, match=r"^plain\.safetensors: .*without RepLens run metadata.*load_embedding"
    ):
        load_run(tmp_path / "plain.safetensors")
    meta = {
        "replens": json.dumps(
            {"replens_format": FORMAT_VERSION + 98, "layers": ["h"], "steps": [0]}
        )
    }
    save_file(
        {"act/h/0": np.ones((3, 2), np.float32)}, str(tmp_path / "new.safetensors"), metadata=meta
    )
    with pytest.raises(
        ValueError, match=rf"^new\.safetensors: RepLens run format {FORMAT_VERSION + 98}"
    ):
        load_run(tmp_path / "new.safetensors")
    save_file(
        {"act/h/0": np.ones((3, 2), np.float32)},
        str(tmp_path / "j.safetensors"),
        metadata={"replens": "{"},
    )
    with pytest.raises(
        ValueError, match=r"^j\.safetensors: the RepLens metadata is not valid JSON"
    ):
        load_run(tmp_path / "j.safetensors")
    with pytest.raises(ValueError, match=r"no such file"):
        load_run(tmp_path / "missing.safetensors")


def test_save_run_refusals(tmp_path):
    run = Run(activations={("a/b", 0): np.ones((3, 2), np.float32)}, layers=("a/b",), steps=(0,))
    with pytest.raises(ValueError, match=r"Layer name 'a/b' contains '/'"):
        save_run(run, tmp_path / "r.safetensors")
    with pytest.raises(ValueError, match=r"save_run writes \.safetensors files; got 'r\.npz'"):
        save_run(run, tmp_path / "r.npz")


# --------------------------------------------------------------------------- Run validation


def test_run_validation():
    a = np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match="at least one layer and one step"):
        Run(activations={}, layers=(), steps=())
    with pytest.raises(ValueError, match=r"steps must be unique and ascending; got \[5, 0\]"):
        Run(activations={("h", 0): a, ("h", 5): a}, layers=("h",), steps=(5, 0))
    with pytest.raises(ValueError, match=r"missing activations for 1 \(layer, step\) pairs"):
        Run(activations={("h", 0): a}, layers=("h",), steps=(0, 1))
    with pytest.raises(ValueError, match=r"disagree on the number of samples: \[3, 4\]"):
        Run(activations={("h", 0): a, ("g", 0): np.ones((4, 2))}, layers=("h", "g"), steps=(0,))
    with pytest.raises(ValueError, match=r"must be 2-D"):
        Run(activations={("h", 0): np.ones((3, 2, 2))}, layers=("h",), steps=(0,))
    with pytest.raises(ValueError, match=r"labels has 2 entries but the embedding has 3 rows"):
        Run(activations={("h", 0): a}, layers=("h",), steps=(0,), labels=[0, 1])
    with pytest.raises(ValueError, match=r"metadata has 2 rows but activations have 3"):
        Run(
            activations={("h", 0): a},
            layers=("h",),
            steps=(0,),
            metadata=pl.DataFrame({"x": [1, 2]}),
        )


# --------------------------------------------------------------------------- Embedding


def test_embedding_keeps_float32_without_copy_and_casts_others():
    X = np.ones((4, 3), np.float32)
    assert Embedding(X=X).X is X
    cast = Embedding(X=np.ones((4, 3), np.float64))
    assert cast.X.dtype == np.float32
    assert Embedding(X=[[1, 2], [3, 4]]).X.dtype == np.float32
    big = np.ones((4, 3), ">f4")
    assert Embedding(X=big).X.dtype.isnative


def test_embedding_validation():
    X = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"must be 2-D .* got shape \(4,\)"):
        Embedding(X=np.ones(4))
    with pytest.raises(ValueError, match=r"labels has 3 entries but the embedding has 4 rows"):
        Embedding(X=X, labels=[0, 1, 2])
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 of 4"):
        Embedding(X=X, labels=[0, 1, np.nan, 1])
    with pytest.raises(ValueError, match=r"non-integer values"):
        Embedding(X=X, labels=[0, 1, 0.5, 1])
    with pytest.raises(ValueError, match=r"dtype <U1; expected integer class codes"):
        Embedding(X=X, labels=["a", "b", "a", "b"])
    with pytest.raises(ValueError, match=r"negative codes"):
        Embedding(X=X, labels=[0, -1, 0, 1])
    with pytest.raises(ValueError, match=r"labels use code 2 but only 2 label_names"):
        Embedding(X=X, labels=[0, 1, 2, 1], label_names=("a", "b"))
    with pytest.raises(ValueError, match=r"metadata has 2 rows but X has 4"):
        Embedding(X=X, metadata=pl.DataFrame({"a": [1, 2]}))


def test_embedding_helpers():
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    emb = Embedding(
        X=X,
        labels=[1, 0, 1, 1],
        label_names=("a", "b"),
        metadata=pl.DataFrame({"i": [0, 1, 2, 3]}),
        name="e",
    )
    assert emb.n_samples == 4 and emb.n_features == 3 and emb.n_classes == 2
    assert emb.label_strings() == ["b", "a", "b", "b"] and emb.class_name(7) == "7"
    sub = emb.subset(np.array([True, False, False, True]))
    np.testing.assert_array_equal(sub.X, X[[0, 3]])
    assert sub.labels.tolist() == [1, 1] and sub.metadata["i"].to_list() == [0, 3]
    assert emb.subset(np.array([2])).labels.tolist() == [1]
    same = Embedding(X=X.copy(), labels=[1, 0, 1, 1], label_names=("a", "b"), metadata=emb.metadata)
    assert same.content_hash() == emb.content_hash()
    changed = X.copy()
    changed[3, 2] += 1
    assert (
        Embedding(
            X=changed, labels=[1, 0, 1, 1], label_names=("a", "b"), metadata=emb.metadata
        ).content_hash()
        != emb.content_hash()
    )


def test_encode_labels():
    codes, names = encode_labels(["dog", "cat", "dog", "emu"])
    assert codes.tolist() == [1, 0, 1, 2] and names == ("cat", "dog", "emu")
    codes, names = encode_labels(np.array([10, 3, 10]))
    assert codes.tolist() == [1, 0, 1] and names == ("3", "10")
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 entries"):
        encode_labels(np.array([1.0, np.nan]))
