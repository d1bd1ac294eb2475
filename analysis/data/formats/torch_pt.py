"""torch.save archives (.pt/.pth): zip directory checked first, then weights_only=True."""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Mapping
from typing import Any

import numpy as np

from analysis.data.formats.common import (
    _check_array_declared,
    _check_budget,
    _check_dtype,
    _check_shape,
    _err,
    _Options,
    _pooled_nbytes,
    _Raw,
    _shape_text,
    _Source,
    _wrong_format,
)
from analysis.data.formats.containers import _Entry, _find_label_key, _ignored_note, _pick_key
from analysis.data.formats.zips import _check_zip_directory, _open_zip
from analysis.data.limits import format_bytes

# ---- torch

# torch.load(weights_only=True) unpickles data.pkl in Python: each 1-byte opcode can
# build a 64-byte object (a 1 MB pickle of empty dicts took 77 MB and 2.7 s). A dict of
# tensors needs ~200 bytes per tensor, so 4 MiB is ~20,000 tensors.
_MAX_PICKLE_BYTES = 4 * 1024**2


def _check_pickle_size(infos: list[Any], fname: str) -> None:
    """Bound data.pkl (the object structure, not the tensor data) before unpickling it."""
    for info in infos:
        if info.filename == "data.pkl" or info.filename.endswith("/data.pkl"):
            if info.file_size > _MAX_PICKLE_BYTES:
                raise _err(
                    fname,
                    f"its object structure (data.pkl) is {format_bytes(info.file_size)}, above "
                    f"the {format_bytes(_MAX_PICKLE_BYTES)} a dict of tensors needs; it holds "
                    "large non-tensor data (lists, strings) or is hostile. Save a dict of the "
                    "tensors alone (torch.save({'embedding': X}, path)) or use safetensors.",
                )


def _pt_objects_error(fname: str) -> ValueError:
    return _err(
        fname,
        "contains Python objects other than tensors, which RepLens will not load because "
        "unpickling can run code. Save a dict of tensors (torch.save({'embedding': X, "
        "'labels': y}, path)) or use safetensors.",
    )


def _flatten_tensors(
    obj: Any, prefix: str, out: dict[str, Any], fname: str, depth: int = 0
) -> None:
    """Collect the tensors of a (nested) dict/list/tuple; anything else is refused."""
    import torch

    if depth > 32:
        raise _err(fname, "nests containers more than 32 levels deep; save a flat dict of tensors.")
    if isinstance(obj, torch.Tensor):
        out[prefix or "tensor"] = obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str | int):
                raise _pt_objects_error(fname)
            _flatten_tensors(v, f"{prefix}/{k}" if prefix else str(k), out, fname, depth + 1)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _flatten_tensors(v, f"{prefix}/{i}" if prefix else str(i), out, fname, depth + 1)
    elif obj is None or isinstance(obj, bool | int | float | str):
        pass  # plain values beside tensors (e.g. an epoch number) are harmless; not loaded
    else:
        raise _err(
            fname,
            f"contains a {type(obj).__name__} object, not only tensors. Save a dict of tensors "
            "(or use safetensors).",
        )


def _torch_kind(t: Any) -> tuple[str, str]:
    """(numpy-like kind, dtype text) of a tensor."""
    import torch

    text = str(t.dtype).removeprefix("torch.")
    if t.is_complex():
        return "c", text
    if t.dtype == torch.bool:
        return "b", text
    if t.is_floating_point():
        return "f", text
    return ("u" if text.startswith("uint") else "i"), text


def _check_view(t: Any, fname: str, what: str) -> None:
    """Refuse a tensor whose view reads its storage more than once (or past its end).

    torch.save stores a tensor as its storage (the bytes in the file) plus a view
    (shape, strides, offset). ``torch.ones(1).expand(50000, 20000)`` is 4 bytes of
    storage viewed as 10**9 elements (stride 0): torch.load and .numpy() keep it a
    view, but anything that copies it (a cast, a sort, a duplicate-row scan)
    materialises gigabytes from a 1.6 KB file. An embedding or weight matrix never
    legitimately repeats storage, so such views are refused here, from the metadata
    alone, before anything is materialised.
    """
    shape = tuple(int(s) for s in t.shape)
    strides = tuple(int(s) for s in t.stride())
    if math.prod(shape) == 0:
        return
    itemsize = t.element_size()
    storage = t.untyped_storage().nbytes() // max(itemsize, 1)
    offset = int(t.storage_offset())
    # Non-overlapping: taking the dims by increasing stride, each stride must step past
    # every element the smaller dims reach (stride 0, a broadcast, never does).
    reach, overlapping = 1, False
    for size, stride in sorted(((s, st) for s, st in zip(shape, strides, strict=True) if s > 1),
                               key=lambda p: p[1]):
        if stride < reach:
            overlapping = True
            break
        reach += stride * (size - 1)
    past_end = offset < 0 or any(st < 0 for st in strides) or offset + reach > storage
    if overlapping or past_end:
        problem = (
            "reads the same stored values more than once (a broadcast or expanded view)"
            if overlapping
            else "reaches past the end of its storage"
        )
        materialised = math.prod(shape) * itemsize
        raise _err(
            fname,
            f"{what} is a view of shape {_shape_text(shape)} with strides {strides} over "
            f"{format_bytes(storage * itemsize)} of stored data: it {problem}, and would "
            f"take {format_bytes(materialised)} once copied. Save a contiguous copy "
            "instead: torch.save(tensor.contiguous().clone(), path).",
        )


def _tensor_to_numpy(t: Any, fname: str, what: str) -> tuple[np.ndarray, str | None]:
    """A tensor as a numpy array (shared memory when possible), bfloat16 widened."""
    import torch

    if t.layout != torch.strided:
        raise _err(fname, f"{what} is a sparse tensor ({t.layout}); save it dense (t.to_dense()).")
    if t.is_quantized:
        raise _err(fname, f"{what} is a quantized tensor; save it dequantized (t.dequantize()).")
    _check_view(t, fname, what)
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.float().numpy(), "bfloat16"
    try:
        return t.numpy(), None
    except (TypeError, RuntimeError):
        raise _err(
            fname, f"{what} has dtype {t.dtype}, which numpy cannot hold; save it as float32."
        ) from None


def _read_pt(src: _Source, opts: _Options) -> _Raw:
    head = src.head(16)
    if not head.startswith(b"PK\x03\x04"):
        if len(head) >= 2 and head[0] == 0x80:
            raise _err(
                src.name,
                "is in PyTorch's legacy pickle format, which can only be read by unpickling (and "
                "that can run code). Re-save it with torch.save in the zip format (the default "
                "since PyTorch 1.6) or use safetensors.",
            )
        raise _wrong_format(src, ".pt", src.head())
    with _open_zip(src) as zf:
        names = zf.namelist()
        if any(
            n.endswith("/constants.pkl") or "/code/" in n or n.startswith("code/") for n in names
        ):
            raise _err(
                src.name,
                "is a TorchScript model, not tensors. Export the tensors you want (e.g. the "
                "activations) with safetensors or torch.save of a dict of tensors.",
            )
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            raise _err(
                src.name,
                "is a zip archive but not a torch.save file (no data.pkl). Save it with torch.save.",
            )
        _check_zip_directory(zf, src.name, compressed_ok=False)
        _check_pickle_size(zf.infolist(), src.name)
        # torch.load copies every storage out of an upload (a file is memory-mapped):
        # the copies and the upload held beside them must fit the budget together.
        total = sum(i.file_size for i in zf.infolist())
        held = src.size if src.data is not None else 0
        what = "the archive, with the upload held in memory," if held else "the archive"
        _check_budget(src.name, total + held, what)
    import torch  # imported late: torch is slow to import and only .pt needs it

    try:
        if src.path is not None:
            # mmap=True maps tensor storages from the file instead of reading them.
            obj = torch.load(str(src.path), weights_only=True, map_location="cpu", mmap=True)
        else:
            obj = torch.load(io.BytesIO(src.data), weights_only=True, map_location="cpu")  # type: ignore[arg-type]
    except pickle.UnpicklingError:
        raise _pt_objects_error(src.name) from None
    except Exception as exc:  # torch raises RuntimeError & co. for corrupt archives
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in detail or "pickle" in detail.lower():
            raise _pt_objects_error(src.name) from None
        raise _err(
            src.name, f"could not be read as a torch.save archive ({detail[:200]}). Save it again."
        ) from None
    tensors: dict[str, Any] = {}
    _flatten_tensors(obj, "", tensors, src.name)
    entries = {
        k: _Entry(tuple(int(s) for s in t.shape), *_torch_kind(t)) for k, t in tensors.items()
    }
    chosen = _pick_key(entries, opts.key, src.name)
    entry = entries[chosen]
    what = f"tensor {chosen!r}"
    if entry.kind == "c":
        _check_dtype(np.dtype(np.complex64), src.name, what)
    _check_shape(entry.shape, src.name, opts.pooling, what)
    _check_budget(src.name, _pooled_nbytes(entry.shape, opts.pooling), f"{what} as float32")
    arr, cast_from = _tensor_to_numpy(tensors[chosen], src.name, what)
    _check_array_declared(arr.shape, arr.dtype, src.name, opts.pooling, what)
    notes: list[str] = []
    labels = labels_from = None
    label_key = (
        None if opts.labels_given else _find_label_key(entries, chosen, entry.shape[0], notes)
    )
    if label_key is not None:
        labels = _tensor_to_numpy(tensors[label_key], src.name, f"labels {label_key!r}")[0].reshape(
            -1
        )
        labels_from = f"{src.name}[{label_key!r}]"
    notes += _ignored_note(entries, {chosen, label_key} - {None})  # type: ignore[arg-type]
    return _Raw(
        array=arr,
        original_dtype=entry.dtype,
        memory_mapped=src.path is not None and cast_from is None,
        key=chosen if len(entries) > 1 or opts.key else None,
        cast_from=cast_from,
        labels=labels,
        labels_from=labels_from,
        notes=notes,
    )
