"""Save and load a `Run` as one .safetensors file (plus an optional sidecar parquet).

Layout (DESIGN.md section 2): tensors ``act/<layer>/<step>``, ``labels``,
``classifier/<step>/weight``, ``classifier/<step>/bias``, ``logits/<step>``,
``codes/<layer>/<step>``, ``codebook/<layer>/<step>``; the header's
``__metadata__`` holds one JSON string under ``replens`` (format version, layer
and step order, label names, task, curves). Per-sample metadata goes in
``<stem>.parquet`` beside it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import polars as pl
from safetensors.numpy import save_file

from analysis.data.atomic import replaced_atomically
from analysis.data.formats.guard import _as_value_error
from analysis.data.safetensors_io import TensorEntry, map_file, parse_header, tensor_view
from analysis.data.schema import Run

FORMAT_VERSION = 1

def _layer_key(layer: str) -> str:
    if "/" in layer:
        raise ValueError(f"Layer name {layer!r} contains '/', which the file format reserves.")
    return layer


def save_run(run: Run, path: str | os.PathLike) -> Path:
    """Write `run` to ``path`` (.safetensors) and its metadata to ``<stem>.parquet``.

    Arrays are written with their own dtype (e.g. float16 activations stay
    float16), so `load_run` returns exactly what was saved.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"save_run writes .safetensors files; got {path.name!r}.")
    tensors: dict[str, np.ndarray] = {}
    for (layer, step), arr in run.activations.items():
        tensors[f"act/{_layer_key(layer)}/{step}"] = np.ascontiguousarray(arr)
    if run.labels is not None:
        tensors["labels"] = np.ascontiguousarray(run.labels, dtype=np.int64)
    classifier_bias: dict[str, bool] = {}
    for step, (weight, bias) in run.classifier.items():
        tensors[f"classifier/{step}/weight"] = np.ascontiguousarray(weight)
        if bias is not None:
            tensors[f"classifier/{step}/bias"] = np.ascontiguousarray(bias)
        classifier_bias[str(step)] = bias is not None
    for step, arr in run.logits.items():
        tensors[f"logits/{step}"] = np.ascontiguousarray(arr)
    for (layer, step), arr in run.codes.items():
        tensors[f"codes/{_layer_key(layer)}/{step}"] = np.ascontiguousarray(arr)
    for (layer, step), arr in run.codebooks.items():
        tensors[f"codebook/{_layer_key(layer)}/{step}"] = np.ascontiguousarray(arr)
    header = {
        "replens_format": FORMAT_VERSION,
        "name": run.name,
        "task": run.task,
        "layers": list(run.layers),
        "steps": list(run.steps),
        "label_names": None if run.label_names is None else list(run.label_names),
        "curves": {k: [float(v) for v in vals] for k, vals in run.curves.items()},
        "has_metadata": run.metadata is not None,
    }
    sidecar = path.with_suffix(".parquet")
    # The sidecar is renamed into place before the run (analysis.data.atomic): a
    # save that is cancelled, fails or is killed leaves the previous files as
    # they were, and a reader never sees half a file.
    targets = (path,) if run.metadata is None else (sidecar, path)
    with replaced_atomically(*targets) as staged:
        save_file(tensors, str(staged[-1]), metadata={"replens": json.dumps(header)})
        if run.metadata is not None:
            run.metadata.write_parquet(staged[0])
    if run.metadata is None and sidecar.exists():
        sidecar.unlink()
    return path


def read_safetensors_header(path: str | os.PathLike) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """Validate a safetensors file's header: (tensors by name, ``__metadata__``)."""
    path = Path(path)
    buf, size = map_file(path)
    tensors, meta, _ = parse_header(buf, size, path.name)
    return tensors, meta


def mmap_safetensors(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Memory-map every tensor of a safetensors file (read-only, no copy)."""
    path = Path(path)
    buf, size = map_file(path)
    return _views(buf, size, path.name)


def _views(buf, size: int, label: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    tensors, meta, data_start = parse_header(buf, size, label)
    bf16 = [name for name, entry in tensors.items() if entry.dtype_name == "BF16"]
    if bf16:
        raise ValueError(
            f"{label}: tensor {bf16[0]!r} is bfloat16; RepLens runs store float16/32/64 "
            "(save_run writes numpy arrays). Convert it before saving."
        )
    return {name: tensor_view(buf, entry, data_start) for name, entry in tensors.items()}, meta


def is_run_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a safetensors file written by `save_run`."""
    try:
        _, meta = read_safetensors_header(path)
    except (OSError, ValueError):
        return False
    return "replens" in meta


def is_run_bytes(data: bytes) -> bool:
    """Whether in-memory bytes are a safetensors file written by `save_run`."""
    try:
        _, meta, _ = parse_header(data, len(data), "upload")
    except ValueError:
        return False
    return "replens" in meta


def load_run(source: str | os.PathLike | bytes, *, name: str | None = None,
             metadata: pl.DataFrame | None = None) -> Run:
    """Read a Run written by `save_run`.

    From a path, tensors are memory-mapped (not copied) and the sidecar
    ``<stem>.parquet`` supplies per-sample metadata. From bytes (an upload),
    tensors are views of those bytes; `name` labels messages and `metadata`
    may be passed separately.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        label = name or "uploaded run"
        with _as_value_error(label):
            tensors, meta = _views(source, len(source), label)
            # An upload may come without its sidecar: load it without metadata.
            return _run_from_tensors(tensors, meta, label=label, metadata=metadata,
                                     default_name=name or label, sidecar_optional=True)
    path = Path(source)
    label = path.name
    if not path.exists():
        raise ValueError(f"{path}: no such file.")
    with _as_value_error(label):
        tensors, meta = mmap_safetensors(path)
        sidecar = path.with_suffix(".parquet")
        if metadata is None and sidecar.exists():
            try:
                metadata = pl.read_parquet(sidecar)
            except (pl.exceptions.PolarsError, OSError) as exc:
                raise ValueError(
                    f"{sidecar.name}: the run's metadata sidecar could not be read "
                    f"({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}). "
                    "Write it again, or remove it to load the run without metadata."
                ) from None
        return _run_from_tensors(tensors, meta, label=label, metadata=metadata,
                                 default_name=name or path.stem)


def _check_run_header(header: object, label: str) -> None:
    """The types of the RepLens metadata fields, so that a corrupt file is a ValueError."""
    if not isinstance(header, dict):
        raise ValueError(f"{label}: the RepLens metadata is not a JSON object; the file is corrupt.")
    expected = {
        "layers": (list, str),
        "steps": (list, int),
        "label_names": (list, str),
        "curves": (dict, list),
    }
    for field, (outer, inner) in expected.items():
        value = header.get(field)
        if value is None and field in ("label_names", "curves"):
            continue
        if not isinstance(value, outer):
            raise ValueError(
                f"{label}: the RepLens metadata has no {field!r} {outer.__name__}; the file is "
                "corrupt. Regenerate the run."
            )
        items = value.values() if isinstance(value, dict) else value
        if not all(isinstance(v, inner) and not isinstance(v, bool) for v in items):
            raise ValueError(
                f"{label}: the RepLens metadata field {field!r} is not a {outer.__name__} of "
                f"{inner.__name__}; the file is corrupt. Regenerate the run."
            )
    for key, values in (header.get("curves") or {}).items():
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise ValueError(
                f"{label}: the training curve {str(key)[:40]!r} holds non-numbers; the file is "
                "corrupt. Regenerate the run."
            )
    for field in ("name", "task"):
        if header.get(field) is not None and not isinstance(header[field], str):
            raise ValueError(f"{label}: the RepLens metadata field {field!r} is not a string.")


def _run_from_tensors(tensors: dict[str, np.ndarray], meta: dict[str, str], *, label: str,
                      metadata: pl.DataFrame | None, default_name: str,
                      sidecar_optional: bool = False) -> Run:
    if "replens" not in meta:
        raise ValueError(
            f"{label}: a safetensors file without RepLens run metadata. "
            "Load it as a single embedding with load_embedding instead."
        )
    try:
        header = json.loads(meta["replens"])
    except (json.JSONDecodeError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise ValueError(f"{label}: the RepLens metadata is not valid JSON.") from None
    _check_run_header(header, label)
    version = header.get("replens_format")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{label}: RepLens run format {version!r}; this version reads format "
            f"{FORMAT_VERSION}. Regenerate the run with this version."
        )
    for required in ("layers", "steps"):
        if not isinstance(header.get(required), list):
            raise ValueError(f"{label}: the RepLens metadata has no {required!r} list; the file is corrupt.")
    activations: dict[tuple[str, int], np.ndarray] = {}
    classifier_w: dict[int, np.ndarray] = {}
    classifier_b: dict[int, np.ndarray] = {}
    logits: dict[int, np.ndarray] = {}
    codes: dict[tuple[str, int], np.ndarray] = {}
    codebooks: dict[tuple[str, int], np.ndarray] = {}
    for tensor_name, arr in tensors.items():
        parts = tensor_name.split("/")
        try:
            if parts[0] == "act" and len(parts) == 3:
                activations[(parts[1], int(parts[2]))] = arr
            elif parts[0] == "classifier" and len(parts) == 3 and parts[2] in ("weight", "bias"):
                (classifier_w if parts[2] == "weight" else classifier_b)[int(parts[1])] = arr
            elif parts[0] == "logits" and len(parts) == 2:
                logits[int(parts[1])] = arr
            elif parts[0] == "codes" and len(parts) == 3:
                codes[(parts[1], int(parts[2]))] = arr
            elif parts[0] == "codebook" and len(parts) == 3:
                codebooks[(parts[1], int(parts[2]))] = arr
            elif tensor_name != "labels":
                raise ValueError
        except ValueError:
            raise ValueError(
                f"{label}: unexpected tensor name {tensor_name!r}. A RepLens run names tensors "
                "act/<layer>/<step>, labels, classifier/<step>/weight|bias, logits/<step>, "
                "codes/<layer>/<step> and codebook/<layer>/<step> (steps are integers)."
            ) from None
    if not header.get("has_metadata"):
        metadata = None
    elif metadata is None and not sidecar_optional:
        raise ValueError(
            f"{label}: the run has per-sample metadata in a sidecar .parquet that is missing. "
            "Keep the .parquet beside the .safetensors (same name), or upload it as the metadata table."
        )
    label_names = header.get("label_names")
    return Run(
        activations=activations,
        layers=tuple(header["layers"]),
        steps=tuple(header["steps"]),
        labels=tensors.get("labels"),
        label_names=None if label_names is None else tuple(label_names),
        metadata=metadata,
        classifier={s: (w, classifier_b.get(s)) for s, w in classifier_w.items()},
        logits=logits,
        codes=codes,
        codebooks=codebooks,
        curves={k: list(v) for k, v in header.get("curves", {}).items()},
        task=header.get("task", ""),
        name=header.get("name") or default_name,
    )
