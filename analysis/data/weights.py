"""Read weight matrices for the superposition view: .safetensors, state-dict .pt/.pth, .npy.

`list_weight_tensors` names the 2-D numeric tensors of an upload (with their
shapes) so the user can choose one; `load_weight_matrix` returns the chosen one
as float64. Never unpickles user data: safetensors through the validated
header reader, ``.pt`` only after the zip directory checks and then with
``torch.load(weights_only=True)`` (the checks of `analysis.data.formats.torch_pt`),
``.npy`` through numpy's literal-only header reader with pickles refused.
"""

from __future__ import annotations

import io
import math
import pickle
from typing import Any

import numpy as np

from analysis.data.formats.common import _shape_text, _short, _Source
from analysis.data.formats.guard import _as_value_error
from analysis.data.formats.npy import _read_npy_header
from analysis.data.formats.torch_pt import (
    _check_pickle_size,
    _flatten_tensors,
    _tensor_to_numpy,
    _torch_kind,
)
from analysis.data.formats.zips import _check_zip_directory, _check_zip_size
from analysis.data.limits import format_bytes, memory_budget_bytes
from analysis.data.safetensors_io import bf16_to_float32, parse_header, tensor_view

__all__ = ["WEIGHT_SUFFIXES", "list_weight_tensors", "load_weight_matrix"]

WEIGHT_SUFFIXES = ("safetensors", "pt", "pth", "npy")
# The key under which a .npy file's single array is listed.
NPY_KEY = "array"

_WHAT_WE_READ = "RepLens reads weight matrices (n_features x n_hidden)"


def _suffix(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in WEIGHT_SUFFIXES:
        raise ValueError(
            f"{name}: weights must be a .safetensors, a state-dict .pt/.pth (torch.save of a "
            "dict of tensors) or a .npy file; got "
            f"{'.' + suffix if suffix else 'no extension'}. Save the weights with "
            "safetensors (preferred) or torch.save(model.state_dict(), path)."
        )
    return suffix


def _check_budget(name: str, key: str, shape: tuple[int, ...]) -> None:
    nbytes = math.prod(shape) * 8
    budget = memory_budget_bytes()
    if nbytes > budget:
        raise ValueError(
            f"{name}: tensor {key!r} of shape {_shape_text(shape)} needs {format_bytes(nbytes)} "
            f"as float64, above the memory budget of {format_bytes(budget)}. Choose a smaller "
            "matrix, or raise REPLENS_MEMORY_BUDGET."
        )


def _usable(shape: tuple[int, ...], kind: str) -> bool:
    return len(shape) == 2 and min(shape) >= 1 and kind in "iuf"


def _no_matrix_error(name: str, shapes: dict[str, tuple[tuple[int, ...], str]]) -> ValueError:
    if shapes:
        items = list(shapes.items())
        found = ", ".join(f"{_short(k)} {_shape_text(s)} {t}" for k, (s, t) in items[:10])
        found += f", and {len(items) - 10} more" if len(items) > 10 else ""
        held = f"it holds {found}"
    else:
        held = "it holds no tensors"
    return ValueError(
        f"{name}: no 2-D numeric tensor ({held}); {_WHAT_WE_READ}. Save the weight "
        "matrix you want to study as a 2-D float tensor."
    )


# ---- safetensors


def _st_entries(
    data: Any, name: str
) -> tuple[dict[str, Any], int, dict[str, tuple[tuple[int, ...], str]]]:
    tensors, _, start = parse_header(data, len(data), name)
    # Every safetensors dtype RepLens reads is a real number except BOOL.
    usable = {
        k: e for k, e in tensors.items() if _usable(e.shape, "b" if e.dtype_name == "BOOL" else "f")
    }
    everything = {k: (e.shape, e.dtype_name) for k, e in tensors.items()}
    return usable, start, everything


# ---- torch state dicts


def _pt_tensors(data: Any, name: str) -> dict[str, Any]:
    """The tensors of a torch.save zip archive, loaded with weights_only=True after the zip checks."""
    head = bytes(data[:16])
    if not head.startswith(b"PK\x03\x04"):
        if len(head) >= 2 and head[0] == 0x80:
            raise ValueError(
                f"{name}: is in PyTorch's legacy pickle format, which can only be read by "
                "unpickling (and that can run code). Re-save it with torch.save in the zip format "
                "(the default since PyTorch 1.6), or use safetensors."
            )
        raise ValueError(
            f"{name}: is not a torch.save archive (no zip signature). Save the weights with "
            "torch.save(model.state_dict(), path) or safetensors."
        )
    import zipfile

    _check_zip_size(_Source(name=name, ext=".pt", size=len(data), data=data))
    try:
        zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    except (
        zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError,
    ) as exc:
        raise ValueError(
            f"{name}: is not a readable zip archive ({exc}); it is truncated or corrupt. Save it again."
        ) from None
    with zf:
        names = zf.namelist()
        if any(
            n.endswith("/constants.pkl") or "/code/" in n or n.startswith("code/") for n in names
        ):
            raise ValueError(
                f"{name}: is a TorchScript model, not a state dict. Save the weights with "
                "torch.save(model.state_dict(), path) or safetensors."
            )
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            raise ValueError(
                f"{name}: is a zip archive but not a torch.save file (no data.pkl). Save it with torch.save."
            )
        _check_zip_directory(zf, name, compressed_ok=False)
        _check_pickle_size(zf.infolist(), name)
        # torch.load copies every storage out of the upload, which stays held beside them.
        total = sum(i.file_size for i in zf.infolist()) + len(data)
        if total > memory_budget_bytes():
            raise ValueError(
                f"{name}: the archive declares {format_bytes(total)} (with the upload held in "
                f"memory), above the memory budget of "
                f"{format_bytes(memory_budget_bytes())}. Save only the weight matrix you need, or "
                "raise REPLENS_MEMORY_BUDGET."
            )
    import torch  # late: slow to import, only .pt needs it

    try:
        obj = torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError:
        raise _state_dict_error(name) from None
    except Exception as exc:  # corrupt archives raise RuntimeError & co.
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in detail or "pickle" in detail.lower():
            raise _state_dict_error(name) from None
        raise ValueError(
            f"{name}: could not be read as a torch.save archive ({detail[:200]}). Save it again."
        ) from None
    tensors: dict[str, Any] = {}
    _flatten_tensors(obj, "", tensors, name)
    return tensors


def _state_dict_error(name: str) -> ValueError:
    return ValueError(
        f"{name}: contains Python objects other than tensors (e.g. a pickled nn.Module), which "
        "RepLens will not load because unpickling can run code. Save the weights alone: "
        "torch.save(model.state_dict(), path), or safetensors."
    )


def _pt_entries(
    tensors: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, tuple[tuple[int, ...], str]]]:
    usable, everything = {}, {}
    for k, t in tensors.items():
        shape = tuple(int(s) for s in t.shape)
        kind, text = _torch_kind(t)
        everything[k] = (shape, text)
        if _usable(shape, kind):
            usable[k] = t
    return usable, everything


# ---- npy


def _npy_array(data: Any, name: str) -> np.ndarray:
    if not bytes(data[:6]) == b"\x93NUMPY":
        raise ValueError(
            f"{name}: is not a .npy file (no numpy magic bytes). Save it with numpy.save."
        )
    fh = io.BytesIO(bytes(data))
    hdr = _read_npy_header(fh, name)
    if hdr.dtype.kind == "O" or hdr.dtype.names is not None or hdr.dtype.kind not in "iuf":
        raise ValueError(
            f"{name}: holds dtype {hdr.dtype}, not plain real numbers; RepLens never unpickles "
            "object arrays. Save a numeric array, e.g. np.save(path, W.astype(np.float32))."
        )
    if not _usable(hdr.shape, hdr.dtype.kind):
        raise ValueError(
            f"{name}: holds an array of shape {_shape_text(hdr.shape)}, not a 2-D matrix with at "
            f"least one row and column; {_WHAT_WE_READ}. Save one 2-D weight matrix."
        )
    _check_budget(name, NPY_KEY, hdr.shape)
    available = len(data) - hdr.offset
    if available < hdr.nbytes:
        raise ValueError(
            f"{name}: the header declares shape {_shape_text(hdr.shape)} ({hdr.dtype}), "
            f"{hdr.nbytes} bytes, but only {available} bytes follow: the file is truncated. Save it again."
        )
    arr = np.frombuffer(data, dtype=hdr.dtype, count=hdr.count, offset=hdr.offset)
    return arr.reshape(hdr.shape, order="F" if hdr.fortran else "C")


# ---- public


def list_weight_tensors(data: bytes, name: str) -> dict[str, tuple[int, ...]]:
    """The 2-D numeric tensors of an upload, name -> shape, in file order.

    Tensors of other ranks, booleans, complex numbers and empty matrices are
    skipped. A ``.npy`` file lists its single array under the key ``"array"``.
    ValueError (naming the file, the problem and the fix) when there is none,
    when the file is corrupt, or when it holds anything but tensors.
    """
    suffix = _suffix(name)
    with _as_value_error(name):
        return _list(data, name, suffix)


def _list(data: Any, name: str, suffix: str) -> dict[str, tuple[int, ...]]:
    if suffix == "npy":
        return {NPY_KEY: tuple(int(s) for s in _npy_array(data, name).shape)}
    if suffix == "safetensors":
        usable, _, everything = _st_entries(data, name)
        if not usable:
            raise _no_matrix_error(name, everything)
        return {k: tuple(e.shape) for k, e in usable.items()}
    usable_t, everything = _pt_entries(_pt_tensors(data, name))
    if not usable_t:
        raise _no_matrix_error(name, everything)
    return {k: tuple(int(s) for s in t.shape) for k, t in usable_t.items()}


def load_weight_matrix(data: bytes, name: str, key: str | None = None) -> np.ndarray:
    """One 2-D tensor of an upload as a float64 array (a copy, safe to keep).

    `key` names the tensor (as `list_weight_tensors` lists it); it may be None
    when the file holds exactly one 2-D numeric tensor, and is ignored for
    ``.npy``. bfloat16 and float16 are widened exactly.
    """
    suffix = _suffix(name)
    with _as_value_error(name):
        return _load(data, name, suffix, key)


def _load(data: Any, name: str, suffix: str, key: str | None) -> np.ndarray:
    if suffix == "npy":
        return np.array(_npy_array(data, name), dtype=np.float64)
    if suffix == "safetensors":
        usable, start, everything = _st_entries(data, name)
        if not usable:
            raise _no_matrix_error(name, everything)
        chosen = _choose(usable, key, name, everything)
        entry = usable[chosen]
        _check_budget(name, chosen, entry.shape)
        view = tensor_view(data, entry, start)
        if entry.dtype_name == "BF16":
            view = bf16_to_float32(view)
        return np.array(view, dtype=np.float64)
    usable_t, everything = _pt_entries(_pt_tensors(data, name))
    if not usable_t:
        raise _no_matrix_error(name, everything)
    chosen = _choose(usable_t, key, name, everything)
    _check_budget(name, chosen, tuple(int(s) for s in usable_t[chosen].shape))
    arr, _ = _tensor_to_numpy(usable_t[chosen], name, f"tensor {chosen!r}")
    return np.array(arr, dtype=np.float64)


def _choose(
    usable: dict[str, Any],
    key: str | None,
    name: str,
    everything: dict[str, tuple[tuple[int, ...], str]],
) -> str:
    listing = ", ".join(f"{_short(k)} {_shape_text(tuple(everything[k][0]))}" for k in list(usable)[:20])
    listing += f", and {len(usable) - 20} more" if len(usable) > 20 else ""
    if key is None:
        if len(usable) == 1:
            return next(iter(usable))
        raise ValueError(
            f"{name}: holds several 2-D tensors ({listing}). Choose one by its name (key)."
        )
    if key in usable:
        return key
    if key in everything:
        shape, dtype = everything[key]
        raise ValueError(
            f"{name}: tensor {key!r} has shape {_shape_text(tuple(shape))} ({dtype}), not a 2-D "
            f"numeric matrix; {_WHAT_WE_READ}. Choose one of: {listing}."
        )
    raise ValueError(f"{name}: has no tensor named {key!r}. Choose one of: {listing}.")
