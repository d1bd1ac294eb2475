"""safetensors files: a JSON header checked against the file, then raw tensors."""

from __future__ import annotations

import numpy as np

from analysis.data.formats.common import (
    _check_array_declared,
    _err,
    _Options,
    _Raw,
    _Source,
    _wrong_format,
)
from analysis.data.formats.containers import _Entry, _find_label_key, _ignored_note, _pick_key
from analysis.data.safetensors_io import (
    ST_DTYPES,
    TensorEntry,
    bf16_to_float32,
    map_file,
    parse_header,
    tensor_view,
)


def _st_dtype_label(t: TensorEntry) -> str:
    return (
        "bfloat16"
        if t.dtype_name == "BF16"
        else str(ST_DTYPES[t.dtype_name].newbyteorder("="))
    )


def _read_safetensors(src: _Source, opts: _Options) -> _Raw:
    head = src.head(16)
    if len(head) < 9 or head[8:9] != b"{":
        raise _wrong_format(src, ".safetensors", src.head())
    if src.path is not None:
        buf, _ = map_file(src.path)
        mapped = True
    else:
        buf, mapped = src.data, False
    # The loader checks its own (pooling-aware) budget below, so not here.
    tensors, meta, data_start = parse_header(buf, src.size, src.name, check_budget=False)
    if "replens" in meta:
        raise _err(
            src.name,
            "is a RepLens run (several layers and checkpoints), not a single embedding. Load it "
            "with analysis.data.load_run (the app and the `replens` CLI detect runs by themselves).",
        )
    entries = {
        k: _Entry(
            t.shape,
            "f" if t.dtype_name == "BF16" else t.storage.kind,
            _st_dtype_label(t),
        )
        for k, t in tensors.items()
    }
    chosen = _pick_key(entries, opts.key, src.name)
    t = tensors[chosen]
    what = f"tensor {chosen!r}"
    storage = t.storage
    _check_array_declared(
        t.shape,
        np.dtype(np.float32) if t.dtype_name == "BF16" else storage,
        src.name,
        opts.pooling,
        what,
    )
    arr = tensor_view(buf, t, data_start)
    cast_from = None
    if t.dtype_name == "BF16":
        arr, cast_from, mapped = bf16_to_float32(arr), "bfloat16", False
    notes: list[str] = []
    labels = labels_from = None
    label_key = None if opts.labels_given else _find_label_key(entries, chosen, t.shape[0], notes)
    if label_key is not None:
        lt = tensors[label_key]
        labels = tensor_view(buf, lt, data_start).reshape(-1)
        if lt.dtype_name == "BF16":
            labels = bf16_to_float32(labels)
        labels_from = f"{src.name}[{label_key!r}]"
    notes += _ignored_note(entries, {chosen, label_key} - {None})  # type: ignore[arg-type]
    return _Raw(
        array=arr,
        original_dtype=_st_dtype_label(t),
        memory_mapped=mapped,
        key=chosen if len(entries) > 1 or opts.key else None,
        cast_from=cast_from,
        labels=labels,
        labels_from=labels_from,
        notes=notes,
    )
