"""Read a classifier (last-layer weight, bias) or predictions uploaded beside an embedding.

Accepted: ``.npy`` (the weight alone), ``.npz`` or ``.safetensors`` holding
``weight`` and optionally ``bias`` and ``predictions`` (names may carry a
prefix such as ``fc.weight``), or ``predictions`` alone. Never unpickles:
``np.load(allow_pickle=False)`` and the validated safetensors reader.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np

from analysis.data.safetensors_io import bf16_to_float32, parse_header, tensor_view

__all__ = ["ClassifierArrays", "load_classifier"]

_ROLES = ("weight", "bias", "predictions")


@dataclass(frozen=True, eq=False)
class ClassifierArrays:
    """What a classifier upload held (each may be None, but not all)."""

    weight: np.ndarray | None
    bias: np.ndarray | None
    predictions: np.ndarray | None


def _pick(arrays: dict[str, np.ndarray], name: str) -> ClassifierArrays:
    found: dict[str, np.ndarray] = {}
    for role in _ROLES:
        matches = [key for key in arrays if key == role or key.endswith(f".{role}") or key.endswith(f"/{role}")]
        if len(matches) > 1:
            raise ValueError(
                f"{name}: several arrays could be the {role} ({', '.join(matches)}). Keep one, named '{role}'."
            )
        if matches:
            found[role] = arrays[matches[0]]
    if not found:
        raise ValueError(
            f"{name}: found arrays {sorted(arrays) or 'none'}, but none named 'weight', 'bias' or "
            "'predictions'. Save the last layer's weight (n_classes x d) as 'weight'."
        )
    weight = found.get("weight")
    if weight is not None and (weight.ndim != 2 or weight.dtype.kind not in "fiu"):
        raise ValueError(
            f"{name}: the weight must be a 2-D numeric array (n_classes, n_features); got "
            f"shape {weight.shape}, dtype {weight.dtype}."
        )
    bias = found.get("bias")
    if bias is not None and (bias.ndim != 1 or bias.dtype.kind not in "fiu"):
        raise ValueError(f"{name}: the bias must be a 1-D numeric array (n_classes,); got shape {bias.shape}.")
    predictions = found.get("predictions")
    if predictions is not None and (predictions.ndim != 1 or predictions.dtype.kind not in "iu"):
        raise ValueError(
            f"{name}: predictions must be a 1-D array of integer class codes; got shape "
            f"{predictions.shape}, dtype {predictions.dtype}."
        )
    return ClassifierArrays(
        weight=None if weight is None else np.asarray(weight, dtype=np.float64),
        bias=None if bias is None else np.asarray(bias, dtype=np.float64),
        predictions=None if predictions is None else np.asarray(predictions, dtype=np.int64),
    )


def load_classifier(data: bytes, name: str) -> ClassifierArrays:
    """Parse an uploaded classifier file; ValueError names the file, the problem and the fix."""
    suffix = name.rsplit(".", 1)[-1].lower()
    if suffix == "npy":
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{name}: not a plain numeric .npy file ({exc}).") from None
        return _pick({"predictions" if arr.ndim == 1 else "weight": arr}, name)
    if suffix == "npz":
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise ValueError(f"{name}: not a readable .npz of plain arrays ({exc}).") from None
        return _pick(arrays, name)
    if suffix == "safetensors":
        tensors, _, start = parse_header(data, len(data), name)
        arrays = {}
        for key, entry in tensors.items():
            view = tensor_view(data, entry, start)
            arrays[key] = bf16_to_float32(view) if entry.dtype_name == "BF16" else view
        return _pick(arrays, name)
    raise ValueError(f"{name}: a classifier must be a .npy, .npz or .safetensors file (no pickles).")
