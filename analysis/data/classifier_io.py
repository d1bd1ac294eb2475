"""Read a classifier (last-layer weight, bias) or predictions uploaded beside an embedding.

Accepted: ``.npy`` (the weight alone), ``.npz`` or ``.safetensors`` holding
``weight`` and optionally ``bias`` and ``predictions`` (names may carry a
prefix such as ``fc.weight``), or ``predictions`` alone. Never unpickles, and
checks declared sizes before reading: ``.npy`` headers with numpy's
literal-only reader, ``.npz`` through the embedding loader's zip directory and
header checks (`analysis.data.formats.zips`), safetensors through the
validated header reader. Only the arrays that play a role are read.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

from analysis.data.formats.common import (
    _check_budget,
    _check_dtype,
    _names_text,
    _shape_text,
    _Source,
    _wrong_format,
)
from analysis.data.formats.guard import _as_value_error
from analysis.data.formats.npy import _NPY_MAX_HEADER, _read_npy_header
from analysis.data.formats.zips import (
    _check_read_total,
    _check_zip_directory,
    _npz_members,
    _open_zip,
    _read_zip_npy,
)
from analysis.data.safetensors_io import bf16_to_float32, parse_header, tensor_view

__all__ = ["ClassifierArrays", "load_classifier"]

_ROLES = ("weight", "bias", "predictions")
# Enough bytes for any .npy header numpy accepts (magic, length, the header itself).
_NPY_HEAD = _NPY_MAX_HEADER + 16


@dataclass(frozen=True, eq=False)
class ClassifierArrays:
    """What a classifier upload held (each may be None, but not all)."""

    weight: np.ndarray | None
    bias: np.ndarray | None
    predictions: np.ndarray | None


def _role_keys(names: list[str], name: str) -> dict[str, str]:
    """Which array plays which role, from the names alone (nothing is read yet)."""
    found: dict[str, str] = {}
    for role in _ROLES:
        matches = [key for key in names if key == role or key.endswith((f".{role}", f"/{role}"))]
        if len(matches) > 1:
            raise ValueError(
                f"{name}: several arrays could be the {role} ({_names_text(matches)}). Keep "
                f"one, named '{role}'."
            )
        if matches:
            found[role] = matches[0]
    if not found:
        raise ValueError(
            f"{name}: found arrays {_names_text(names)}, but none named 'weight', 'bias' or "
            "'predictions'. Save the last layer's weight (n_classes x d) as 'weight'."
        )
    return found


def _check_declared(role: str, shape: tuple[int, ...], dtype: np.dtype, name: str) -> None:
    """Rank and dtype of a role, from the declared shape and dtype (before any read)."""
    if role == "weight" and (len(shape) != 2 or dtype.kind not in "fiu"):
        raise ValueError(
            f"{name}: the weight must be a 2-D numeric array (n_classes, n_features); got "
            f"shape {shape}, dtype {dtype}."
        )
    if role == "bias" and (len(shape) != 1 or dtype.kind not in "fiu"):
        raise ValueError(f"{name}: the bias must be a 1-D numeric array (n_classes,); got shape {shape}.")
    if role == "predictions" and (len(shape) != 1 or dtype.kind not in "iu"):
        raise ValueError(
            f"{name}: predictions must be a 1-D array of integer class codes; got shape "
            f"{shape}, dtype {dtype}."
        )


def _check_total(declared: list[tuple[tuple[int, ...], np.dtype]], name: str) -> None:
    """The arrays read plus their float64/int64 copies must fit the memory budget."""
    total = sum(math.prod(shape) * (dtype.itemsize + 8) for shape, dtype in declared)
    _check_budget(name, total, "the classifier upload (its arrays plus their float64 copies)")


def _pick(arrays: dict[str, np.ndarray], name: str) -> ClassifierArrays:
    roles = _role_keys(list(arrays), name)
    found = {role: arrays[key] for role, key in roles.items()}
    for role, arr in found.items():
        _check_declared(role, arr.shape, arr.dtype, name)
    _check_total([(a.shape, a.dtype) for a in found.values()], name)
    return _arrays(found)


def _arrays(found: dict[str, np.ndarray]) -> ClassifierArrays:
    weight, bias, predictions = (found.get(role) for role in _ROLES)
    return ClassifierArrays(
        weight=None if weight is None else np.asarray(weight, dtype=np.float64),
        bias=None if bias is None else np.asarray(bias, dtype=np.float64),
        predictions=None if predictions is None else np.asarray(predictions, dtype=np.int64),
    )


def _load_npy(data: bytes, name: str) -> ClassifierArrays:
    src = _Source(name=name, ext=".npy", size=len(data), data=data)
    if not bytes(data[:6]) == b"\x93NUMPY":
        raise _wrong_format(src, ".npy", src.head())
    hdr = _read_npy_header(io.BytesIO(data[:_NPY_HEAD]), name)
    _check_dtype(hdr.dtype, name, "the array")
    role = "predictions" if len(hdr.shape) == 1 else "weight"
    _check_declared(role, hdr.shape, hdr.dtype, name)
    _check_total([(hdr.shape, hdr.dtype)], name)
    if len(data) - hdr.offset < hdr.nbytes:
        raise ValueError(
            f"{name}: the header declares shape {_shape_text(hdr.shape)} ({hdr.nbytes} bytes) "
            f"but only {len(data) - hdr.offset} bytes follow: the file is truncated. Save it again."
        )
    arr = np.frombuffer(data, dtype=hdr.dtype, count=hdr.count, offset=hdr.offset)
    return _arrays({role: arr.reshape(hdr.shape, order="F" if hdr.fortran else "C")})


def _load_npz(data: bytes, name: str) -> ClassifierArrays:
    """The same directory, header and budget checks as an embedding .npz (zips.py)."""
    src = _Source(name=name, ext=".npz", size=len(data), data=data)
    if not bytes(data[:4]) == b"PK\x03\x04":
        raise _wrong_format(src, ".npz", src.head())
    with _open_zip(src) as zf:
        _check_zip_directory(zf, name, compressed_ok=True)
        infos, headers = _npz_members(zf, src, [])
        roles = _role_keys(list(headers), name)
        for role, key in roles.items():
            _check_dtype(headers[key].dtype, name, f"array {key!r}")
            _check_declared(role, headers[key].shape, headers[key].dtype, name)
        _check_total([(headers[k].shape, headers[k].dtype) for k in roles.values()], name)
        _check_read_total(src, [infos[k] for k in roles.values()])
        found = {
            role: _read_zip_npy(zf, infos[key], headers[key], src, f"array {key!r}")[0]
            for role, key in roles.items()
        }
    return _arrays(found)


def load_classifier(data: bytes, name: str) -> ClassifierArrays:
    """Parse an uploaded classifier file; ValueError names the file, the problem and the fix."""
    suffix = name.rsplit(".", 1)[-1].lower()
    with _as_value_error(name):
        if suffix == "npy":
            return _load_npy(data, name)
        if suffix == "npz":
            return _load_npz(data, name)
        if suffix == "safetensors":
            tensors, _, start = parse_header(data, len(data), name)
            roles = _role_keys(list(tensors), name)
            arrays = {}
            for key in roles.values():
                entry = tensors[key]
                view = tensor_view(data, entry, start)
                arrays[key] = bf16_to_float32(view) if entry.dtype_name == "BF16" else view
            return _pick(arrays, name)
    raise ValueError(f"{name}: a classifier must be a .npy, .npz or .safetensors file (no pickles).")
