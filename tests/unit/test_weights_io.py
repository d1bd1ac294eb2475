"""Weight-matrix uploads (.safetensors, state-dict .pt/.pth, .npy): listing, loading, refusals."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save as save_safetensors
from safetensors.torch import save as save_safetensors_torch

from analysis.data.weights import list_weight_tensors, load_weight_matrix


def _npy(arr: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _torch_bytes(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))


class _Payload:
    """Unpickling this runs code that writes `marker`: proof of execution if it ever runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


# --- safetensors ----------------------------------------------------------------------------


def test_safetensors_lists_only_2d_numeric_tensors() -> None:
    W = np.arange(12, dtype=np.float32).reshape(3, 4)
    data = save_safetensors(
        {
            "enc.weight": W,
            "enc.bias": np.ones(3, np.float32),
            "conv": np.zeros((2, 2, 2), np.float32),
            "mask": np.ones((2, 2), dtype=bool),
            "dec.weight": np.ones((4, 3), np.float16),
        }
    )
    listed = list_weight_tensors(data, "model.safetensors")
    assert listed == {"dec.weight": (4, 3), "enc.weight": (3, 4)}
    loaded = load_weight_matrix(data, "model.safetensors", "enc.weight")
    assert loaded.dtype == np.float64 and loaded.flags.writeable
    np.testing.assert_array_equal(loaded, W)
    np.testing.assert_array_equal(load_weight_matrix(data, "model.safetensors", "dec.weight"), 1.0)


def test_safetensors_bfloat16_is_widened_exactly() -> None:
    t = torch.tensor([[1.5, -2.0], [0.0078125, 3.0]], dtype=torch.bfloat16)
    data = save_safetensors_torch({"w": t})
    assert list_weight_tensors(data, "w.safetensors") == {"w": (2, 2)}
    np.testing.assert_array_equal(
        load_weight_matrix(data, "w.safetensors"), [[1.5, -2.0], [0.0078125, 3.0]]
    )


def test_single_matrix_needs_no_key_but_several_do() -> None:
    one = save_safetensors({"w": np.eye(3, dtype=np.float32), "b": np.zeros(3, np.float32)})
    np.testing.assert_array_equal(load_weight_matrix(one, "one.safetensors"), np.eye(3))
    two = save_safetensors({"a": np.eye(2, dtype=np.float32), "b": np.eye(3, dtype=np.float32)})
    with pytest.raises(ValueError, match=r"two\.safetensors.*several 2-D.*'a' \(2, 2\)"):
        load_weight_matrix(two, "two.safetensors")


def test_unknown_and_non_matrix_keys_are_refused() -> None:
    data = save_safetensors({"w": np.eye(2, dtype=np.float32), "b": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match=r"m\.safetensors.*no tensor named 'nope'.*'w'"):
        load_weight_matrix(data, "m.safetensors", "nope")
    with pytest.raises(ValueError, match=r"m\.safetensors.*'b' has shape \(2,\).*not a 2-D"):
        load_weight_matrix(data, "m.safetensors", "b")


def test_safetensors_without_matrix_is_refused() -> None:
    data = save_safetensors({"b": np.zeros(3, np.float32), "t": np.zeros((1, 2, 3), np.float32)})
    with pytest.raises(ValueError, match=r"bias\.safetensors: no 2-D numeric tensor.*'b' \(3,\)"):
        list_weight_tensors(data, "bias.safetensors")
    with pytest.raises(ValueError, match=r"n_features x n_hidden"):
        load_weight_matrix(data, "bias.safetensors", "b")


def test_truncated_safetensors_is_refused() -> None:
    data = save_safetensors({"w": np.ones((8, 8), np.float32)})
    with pytest.raises(ValueError, match=r"cut\.safetensors.*truncated"):
        list_weight_tensors(data[:-10], "cut.safetensors")


def test_budget_is_checked_before_widening(monkeypatch: pytest.MonkeyPatch) -> None:
    data = save_safetensors({"w": np.ones((64, 64), np.float32)})  # 16 KiB, 32 KiB as float64
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "20KB")
    with pytest.raises(ValueError, match=r"big\.safetensors.*float64.*memory budget"):
        load_weight_matrix(data, "big.safetensors", "w")


# --- torch state dicts ----------------------------------------------------------------------


def test_state_dict_pt() -> None:
    model = _model()
    data = _torch_bytes(model.state_dict())
    listed = list_weight_tensors(data, "model.pt")
    assert listed == {"0.weight": (4, 6), "2.weight": (3, 4)}
    w = load_weight_matrix(data, "model.pt", "0.weight")
    assert w.dtype == np.float64
    np.testing.assert_array_equal(w, model[0].weight.detach().numpy().astype(np.float64))


def test_nested_checkpoint_pth_with_plain_values() -> None:
    W = torch.randn(5, 2, dtype=torch.float64)
    data = _torch_bytes({"epoch": 3, "model": {"embed.weight": W, "ids": torch.arange(5)}})
    assert list_weight_tensors(data, "ckpt.PTH") == {"model/embed.weight": (5, 2)}
    np.testing.assert_array_equal(load_weight_matrix(data, "ckpt.PTH"), W.numpy())


def test_integer_matrices_are_listed_and_bool_or_complex_are_not() -> None:
    data = _torch_bytes(
        {
            "counts": torch.ones(2, 3, dtype=torch.int32),
            "mask": torch.ones(2, 2, dtype=torch.bool),
            "z": torch.ones(2, 2, dtype=torch.complex64),
        }
    )
    assert list_weight_tensors(data, "m.pt") == {"counts": (2, 3)}
    np.testing.assert_array_equal(load_weight_matrix(data, "m.pt", "counts"), np.ones((2, 3)))


def test_pt_without_matrix_is_refused() -> None:
    data = _torch_bytes({"bias": torch.zeros(3)})
    with pytest.raises(
        ValueError, match=r"model\.pt: no 2-D numeric tensor.*RepLens reads weight matrices"
    ):
        list_weight_tensors(data, "model.pt")


def test_pickled_module_is_refused() -> None:
    data = _torch_bytes(_model())  # the whole nn.Module, not its state dict
    with pytest.raises(ValueError, match=r"net\.pt.*state_dict"):
        list_weight_tensors(data, "net.pt")


def test_the_payload_works_when_unpickled(tmp_path: Path) -> None:
    # Control for the refusal tests: unpickling the payload really writes the marker.
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def test_pickle_payload_in_pt_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = _torch_bytes({"w": torch.zeros(3, 2), "x": _Payload(marker)})
    assert not marker.exists()
    for fn in (list_weight_tensors, lambda d, n: load_weight_matrix(d, n, "w")):
        with pytest.raises(ValueError, match=r"evil\.pt.*unpickling can run code"):
            fn(data, "evil.pt")
    assert not marker.exists()


def test_legacy_and_raw_pickles_are_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned-raw"
    raw = pickle.dumps({"w": _Payload(marker)}, protocol=2)
    with pytest.raises(ValueError, match=r"old\.pt.*legacy pickle format"):
        list_weight_tensors(raw, "old.pt")
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2, 2)}, buf, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match=r"legacy\.pth.*legacy pickle format"):
        list_weight_tensors(buf.getvalue(), "legacy.pth")
    assert not marker.exists()


def test_non_torch_zip_and_garbage_are_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match=r"z\.pt.*no data\.pkl"):
        list_weight_tensors(buf.getvalue(), "z.pt")
    with pytest.raises(ValueError, match=r"g\.pt.*not a torch\.save archive"):
        list_weight_tensors(b"hello world, not a model", "g.pt")
    good = _torch_bytes({"w": torch.ones(4, 4)})
    with pytest.raises(ValueError, match=r"cut\.pt"):
        list_weight_tensors(good[: len(good) // 2], "cut.pt")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, still in use
def test_torchscript_is_refused() -> None:
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buf)
    with pytest.raises(ValueError, match=r"ts\.pt.*TorchScript"):
        list_weight_tensors(buf.getvalue(), "ts.pt")


# --- npy ------------------------------------------------------------------------------------


def test_npy_single_matrix_key_ignored() -> None:
    W = np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))
    data = _npy(W)
    assert list_weight_tensors(data, "w.npy") == {"array": (2, 3)}
    for key in (None, "array", "anything"):
        loaded = load_weight_matrix(data, "w.npy", key)
        assert loaded.dtype == np.float64
        np.testing.assert_array_equal(loaded, W)


def test_npy_refusals(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"v\.npy.*shape \(4,\).*not a 2-D"):
        list_weight_tensors(_npy(np.ones(4)), "v.npy")
    with pytest.raises(ValueError, match=r"c\.npy.*shape \(0, 3\)"):
        list_weight_tensors(_npy(np.ones((0, 3))), "c.npy")
    with pytest.raises(ValueError, match=r"cut\.npy.*truncated"):
        list_weight_tensors(_npy(np.ones((8, 8)))[:-16], "cut.npy")
    with pytest.raises(ValueError, match=r"x\.npy.*not a \.npy"):
        list_weight_tensors(b"not numpy", "x.npy")
    marker = tmp_path / "pwned-npy"
    arr = np.empty((1, 1), dtype=object)
    arr[0, 0] = _Payload(marker)
    with pytest.raises(ValueError, match=r"evil\.npy.*never unpickles"):
        load_weight_matrix(_npy(arr, allow_pickle=True), "evil.npy")
    assert not marker.exists()


def test_unknown_suffix_is_refused() -> None:
    with pytest.raises(ValueError, match=r"w\.npz.*\.safetensors.*\.pt/\.pth.*\.npy"):
        list_weight_tensors(b"", "w.npz")
    with pytest.raises(ValueError, match=r"weights: .*no extension"):
        load_weight_matrix(b"", "weights", "w")
