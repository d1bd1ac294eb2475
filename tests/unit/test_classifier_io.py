"""Classifier uploads (.npy, .npz, .safetensors): roles by name, dtypes, and refusals naming the file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save as save_safetensors

from analysis.data.classifier_io import ClassifierArrays, load_classifier


def _npy(arr: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _weight() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)


# --- what is accepted -----------------------------------------------------------------------


def test_npy_2d_is_the_weight() -> None:
    weight = _weight()
    result = load_classifier(_npy(weight), "head.npy")
    assert isinstance(result, ClassifierArrays)
    assert result.weight.dtype == np.float64 and result.weight.shape == (4, 6)
    np.testing.assert_array_equal(result.weight, weight.astype(np.float64))
    assert result.bias is None and result.predictions is None


def test_npy_1d_int_is_the_predictions() -> None:
    preds = np.array([0, 3, 1, 1, 2], dtype=np.int32)
    result = load_classifier(_npy(preds), "preds.NPY")  # suffix is case-insensitive
    assert result.weight is None and result.bias is None
    assert result.predictions.dtype == np.int64
    assert result.predictions.tolist() == [0, 3, 1, 1, 2]


def test_npz_with_all_three_roles() -> None:
    weight, bias = _weight(), np.arange(4, dtype=np.float32) / 2
    preds = np.array([1, 0, 2], dtype=np.uint8)
    result = load_classifier(_npz(weight=weight, bias=bias, predictions=preds), "clf.npz")
    assert result.weight.dtype == np.float64 and result.bias.dtype == np.float64
    assert result.predictions.dtype == np.int64
    np.testing.assert_array_equal(result.weight, weight)
    np.testing.assert_array_equal(result.bias, [0.0, 0.5, 1.0, 1.5])
    assert result.predictions.tolist() == [1, 0, 2]


def test_npz_with_prefixed_names() -> None:
    weight, bias = _weight(), np.ones(4, dtype=np.float64)
    data = _npz(**{"fc.weight": weight, "fc.bias": bias, "backbone_stats": np.zeros(3)})
    result = load_classifier(data, "model.npz")
    np.testing.assert_array_equal(result.weight, weight)
    np.testing.assert_array_equal(result.bias, bias)
    assert result.predictions is None


def test_safetensors_with_float16_weight_and_prefixed_names() -> None:
    weight = (_weight() * 4).astype(np.float16)
    bias = np.array([0.25, -1.0, 2.0, 0.0], dtype=np.float32)
    preds = np.array([3, 2, 1, 0, 0], dtype=np.int64)
    data = save_safetensors({"head.weight": weight, "head.bias": bias, "predictions": preds})
    result = load_classifier(data, "head.safetensors")
    assert result.weight.dtype == np.float64 and result.bias.dtype == np.float64
    assert result.predictions.dtype == np.int64
    np.testing.assert_array_equal(result.weight, weight.astype(np.float64))
    np.testing.assert_array_equal(result.bias, bias.astype(np.float64))
    assert result.predictions.tolist() == [3, 2, 1, 0, 0]


def test_safetensors_weight_only() -> None:
    weight = _weight().astype(np.float64)
    result = load_classifier(save_safetensors({"weight": weight}), "w.safetensors")
    np.testing.assert_array_equal(result.weight, weight)
    assert result.bias is None and result.predictions is None


# --- what is refused ------------------------------------------------------------------------


def test_two_candidate_weights_are_refused() -> None:
    data = _npz(**{"a.weight": _weight(), "b.weight": _weight()})
    with pytest.raises(ValueError, match=r"two\.npz") as info:
        load_classifier(data, "two.npz")
    assert "a.weight" in str(info.value) and "b.weight" in str(info.value)


def test_no_matching_names_are_refused() -> None:
    data = _npz(kernel=_weight(), offset=np.zeros(4))
    with pytest.raises(ValueError, match=r"odd\.npz.*weight"):
        load_classifier(data, "odd.npz")


def test_3d_weight_is_refused() -> None:
    cube = np.zeros((2, 3, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"cube\.npz.*2-D"):
        load_classifier(_npz(weight=cube), "cube.npz")
    with pytest.raises(ValueError, match=r"cube\.npy.*2-D"):
        load_classifier(_npy(cube), "cube.npy")


def test_2d_bias_is_refused() -> None:
    data = _npz(weight=_weight(), bias=np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"bias2d\.npz.*bias.*1-D"):
        load_classifier(data, "bias2d.npz")


def test_float_predictions_are_refused() -> None:
    with pytest.raises(ValueError, match=r"p\.npz.*integer"):
        load_classifier(_npz(predictions=np.array([0.0, 1.0, 2.0])), "p.npz")
    with pytest.raises(ValueError, match=r"p\.npy.*integer"):
        load_classifier(_npy(np.array([0.5, 1.0])), "p.npy")


class _Payload:
    """Unpickling this creates (opens for writing) the file at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _pickled_npy(marker: Path) -> bytes:
    arr = np.empty(1, dtype=object)
    arr[0] = _Payload(marker)
    return _npy(arr, allow_pickle=True)


def test_the_pickle_payload_works_when_unpickled(tmp_path: Path) -> None:
    # Control for the refusal test below: the payload really creates its marker.
    marker = tmp_path / "control-marker"
    np.load(io.BytesIO(_pickled_npy(marker)), allow_pickle=True)
    assert marker.exists()


def test_object_npy_is_refused_without_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = _pickled_npy(marker)
    with pytest.raises(ValueError, match=r"evil\.npy"):
        load_classifier(data, "evil.npy")
    assert not marker.exists()


def test_object_array_inside_npz_is_refused_without_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "pwned-npz"
    arr = np.empty(1, dtype=object)
    arr[0] = _Payload(marker)
    buf = io.BytesIO()
    np.savez(buf, weight=arr)  # savez pickles object arrays
    with pytest.raises(ValueError, match=r"evil\.npz"):
        load_classifier(buf.getvalue(), "evil.npz")
    assert not marker.exists()


def test_corrupt_npz_is_refused() -> None:
    good = _npz(weight=_weight())
    with pytest.raises(ValueError, match=r"broken\.npz"):
        load_classifier(good[: len(good) // 2], "broken.npz")
    with pytest.raises(ValueError, match=r"noise\.npz"):
        load_classifier(b"PK\x03\x04" + bytes(range(200)), "noise.npz")


def test_unknown_suffix_is_refused() -> None:
    with pytest.raises(ValueError, match=r"model\.pt.*\.npy, \.npz or \.safetensors"):
        load_classifier(_npy(_weight()), "model.pt")


def test_truncated_safetensors_is_refused() -> None:
    data = save_safetensors({"weight": _weight()})
    with pytest.raises(ValueError, match=r"cut\.safetensors"):
        load_classifier(data[:-10], "cut.safetensors")
    with pytest.raises(ValueError, match=r"tiny\.safetensors"):
        load_classifier(data[:5], "tiny.safetensors")
