"""The lab's weights file: checkpoint weights, config, curves and name in one small ``.safetensors``.

The bytes are encoded here; `analysis.data.atomic.write_bytes_atomically` writes them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from analysis.data.atomic import write_bytes_atomically
from analysis.models.information_lab.config import InformationLabConfig
from analysis.models.information_lab.replay import check_curves, check_weights
from analysis.models.information_lab.run_layout import CheckpointWeights

__all__ = ["load_information_weights", "save_information_weights"]

_WEIGHTS_KEY = "replens_information_weights"
_WEIGHTS_FORMAT = 1
_TENSOR_NAME = re.compile(r"^step(\d+)/layer(\d+)/(weight|bias)$")


def save_information_weights(
    path: str | os.PathLike,
    weights: CheckpointWeights,
    config: InformationLabConfig,
    curves: Mapping[str, Sequence[float]],
    name: str = "",
) -> Path:
    """Write checkpoint weights, config, curves and name to one ``.safetensors`` file.

    Tensors are named ``step<NNNNN>/layer<i>/weight`` and ``.../bias`` (float32;
    layer 0 is ``hidden1``, the last is the classifier). The header's
    metadata holds ONE entry, ``replens_information_weights``: a JSON object
    (sorted keys) with the format version, ``name``, ``config``
    (`InformationLabConfig.to_dict`) and ``curves``. One entry, not one per
    item: safetensors writes its metadata map in a random order per process,
    so several entries would make the bytes differ between two saves. With
    one, equal inputs give byte-identical files. Nothing is pickled.

    The file is written to a temporary name beside `path` and renamed into
    place (readable by everyone, 0644).

    Returns
    -------
    pathlib.Path
    """
    from safetensors.numpy import save as save_safetensors

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"save_information_weights writes .safetensors files; got {path.name!r}.")
    if not isinstance(config, InformationLabConfig):
        raise ValueError(f"config must be an InformationLabConfig; got {type(config).__name__}.")
    checked = check_weights(weights, config, label="save_information_weights")
    curve_values = check_curves(curves, label="save_information_weights")
    tensors: dict[str, np.ndarray] = {}
    for step in sorted(checked):
        for i, (W, b) in enumerate(checked[step]):
            tensors[f"step{step:05d}/layer{i}/weight"] = np.ascontiguousarray(W, dtype=np.float32)
            tensors[f"step{step:05d}/layer{i}/bias"] = np.ascontiguousarray(b, dtype=np.float32)
    header = {
        "format": _WEIGHTS_FORMAT,
        "name": str(name),
        "config": config.to_dict(),
        "curves": curve_values,
    }
    blob = save_safetensors(tensors, metadata={_WEIGHTS_KEY: json.dumps(header, sort_keys=True)})
    return write_bytes_atomically(path, blob)


def load_information_weights(
    path: str | os.PathLike,
) -> tuple[CheckpointWeights, InformationLabConfig, dict[str, list[float]], str]:
    """Read a file written by `save_information_weights`.

    Returns
    -------
    weights : dict mapping step to list of (weight, bias), float32
    config : InformationLabConfig
    curves : dict of str to list of float
    name : str

    Raises
    ------
    ValueError
        When the file is not a safetensors file, lacks or garbles the lab's
        metadata, or holds tensors that do not fit the configured network.
    """
    from safetensors.numpy import load as load_safetensors

    path = Path(path)
    label = path.name
    blob = path.read_bytes()
    try:
        tensors = load_safetensors(blob)
    except Exception as exc:  # safetensors raises its own error types on a malformed file
        raise ValueError(f"{label}: not a readable safetensors file ({exc}).") from None
    meta = _safetensors_metadata(blob, label)
    raw = meta.get(_WEIGHTS_KEY)
    if raw is None:
        raise ValueError(
            f"{label}: no '{_WEIGHTS_KEY}' metadata; "
            "not a file written by save_information_weights."
        )
    try:
        header = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{label}: the '{_WEIGHTS_KEY}' metadata is not valid JSON ({exc})."
        ) from None
    if not isinstance(header, dict) or header.get("format") != _WEIGHTS_FORMAT:
        got = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise ValueError(
            f"{label}: unsupported weights format {got!r}; "
            f"this version reads format {_WEIGHTS_FORMAT}."
        )
    missing = [key for key in ("name", "config", "curves") if key not in header]
    if missing:
        raise ValueError(f"{label}: the metadata lacks {missing}.")
    if not isinstance(header["name"], str):
        raise ValueError(f"{label}: the stored name is not a string.")
    try:
        config = InformationLabConfig.from_dict(header["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{label}: the stored config is invalid ({exc}).") from None
    curves = check_curves(header["curves"], label=label)

    grouped: dict[int, dict[int, dict[str, np.ndarray]]] = {}
    for tensor_name, arr in tensors.items():
        match = _TENSOR_NAME.match(tensor_name)
        if match is None:
            raise ValueError(
                f"{label}: unexpected tensor {tensor_name!r}; "
                "expected names like 'step00012/layer0/weight'."
            )
        if arr.dtype != np.float32:
            raise ValueError(f"{label}: tensor {tensor_name!r} is {arr.dtype}; expected float32.")
        step, layer, kind = int(match[1]), int(match[2]), match[3]
        grouped.setdefault(step, {}).setdefault(layer, {})[kind] = arr
    if not grouped:
        raise ValueError(f"{label}: holds no checkpoint weights.")
    n_layers = len(config.widths) - 1
    weights: CheckpointWeights = {}
    for step in sorted(grouped):
        layers = grouped[step]
        if sorted(layers) != list(range(n_layers)) or any(
            set(parts) != {"weight", "bias"} for parts in layers.values()
        ):
            raise ValueError(
                f"{label}: step {step} does not hold a weight and a bias for each of layers "
                f"0..{n_layers - 1} (the {'-'.join(map(str, config.widths))} network)."
            )
        weights[step] = [(layers[i]["weight"], layers[i]["bias"]) for i in range(n_layers)]
    return check_weights(weights, config, label=label), config, curves, header["name"]


def _safetensors_metadata(blob: bytes, label: str) -> dict[str, str]:
    # safetensors.numpy.load drops the metadata: read it from the (already validated) header.
    from analysis.data.safetensors_io import parse_header

    _, meta, _ = parse_header(blob, len(blob), label, check_budget=False)
    return meta
