"""Capture every layer of a local model over a user's texts or images, as a RepLens run file.

`capture_run(model_dirs, inputs, out)` loads each model folder
(`analysis.capture_models`: safetensors only, no code, no network), runs the
inputs (`analysis.capture_inputs`) through it in batches under
``torch.inference_mode()`` and pools every layer's hidden state to one vector
per example:

- ``"mean"``: the average over the real tokens (attention mask; padding left
  out); for a feature map (N, C, H, W) the global average pool;
- ``"cls"``: the first token (BERT's [CLS], ViT's class token);
- ``"last"``: the last real token (GPT-style models summarise there).

Defaults (``pooling=None``): ``"mean"`` for text, ``"cls"`` for a vision
transformer's token sequences, the global average pool for CNN feature maps.
Layers: ``embeddings`` then ``layer_1`` ... ``layer_L`` (transformers'
``output_hidden_states``); timm: ``stage_1`` ... (``forward_intermediates``: a CNN's
stages, a ViT's blocks as token sequences with the class token first)
then ``pre_logits`` (the vector the classifier reads). Several model folders
(checkpoints of one model) become the run's steps: the number at the end of
each folder name (``checkpoint-500`` -> 500) when they all have one and it
grows, else 0, 1, 2, ...

Bounded memory: the run file's header is written after the first batch (when
every layer's width is known), the file is then memory-mapped and each batch's
pooled rows are written into their place, layer by layer. What the process
holds is one batch's hidden states (batch x tokens x width x layers) plus the
pages the OS caches; never all layers x all examples. The labels and the
per-sample metadata (texts, or image paths and thumbnails) go in as a
`save_run` file would hold them; `load_run` reads the result.

Cancellation: `should_stop` (a callable returning True, or a
`threading.Event`) is polled before every batch; a stop raises
`CaptureCancelled` and leaves no file behind (as does any error), since both
files are written under temporary names and renamed at the end
(`analysis.data.atomic`).
"""

from __future__ import annotations

import json
import math
import mmap
import os
import re
import shutil
import struct
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.capture_inputs import CaptureInputs, read_inputs
from analysis.capture_models import LoadedModel, check_model_dir, load_model
from analysis.data.atomic import replaced_atomically
from analysis.data.limits import format_bytes, memory_budget_bytes
from analysis.data.runs import FORMAT_VERSION
from analysis.validation import ProgressFn

__all__ = ["POOLINGS", "CaptureCancelled", "capture_run", "checkpoint_steps", "default_threads"]

POOLINGS = ("mean", "cls", "last")
StopFn = Callable[[], bool] | threading.Event


class CaptureCancelled(Exception):
    """Raised when `should_stop` asks a capture to end; nothing was written."""


THREADS_ENV = "REPLENS_CAPTURE_THREADS"


def default_threads() -> int:
    """Intra-op threads for a capture: ``REPLENS_CAPTURE_THREADS``, else half the cores (at most 8).

    Half, not all: torch's thread pool spins while it waits, so on a machine that is busy with
    other work (the app's other sessions) using every core makes a forward pass many times slower
    (measured: a tiny BERT 20x slower on 2 threads than on 1 on a loaded 2-core machine).
    """
    text = os.environ.get(THREADS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{THREADS_ENV} must be a whole number >= 1; got {text!r}.")
        return int(text)
    return max(1, min(8, (os.cpu_count() or 1) // 2))


def checkpoint_steps(folders: Sequence[str | os.PathLike]) -> list[int]:
    """The step of each checkpoint folder: its trailing number if all have one and they grow, else 0, 1, ..."""
    numbers = [re.search(r"(\d+)$", Path(f).name.rstrip("/")) for f in folders]
    if all(numbers):
        steps = [int(m.group(1)) for m in numbers]
        if all(a < b for a, b in zip(steps, steps[1:], strict=False)):
            return steps
    return list(range(len(folders)))


def _stopped(should_stop: StopFn | None) -> bool:
    if should_stop is None:
        return False
    if isinstance(should_stop, threading.Event):
        return should_stop.is_set()
    return bool(should_stop())


# ------------------------------------------------------------------------------------------ pooling
def _pool(t: Any, mask: Any, pooling: str | None, *, layer: str, text: bool) -> Any:
    """One layer's output (batch, tokens, width) or (batch, C, H, W) -> (batch, width), float32."""
    t = t.float()
    if t.ndim == 2:
        return t
    if t.ndim == 4:
        if pooling not in (None, "mean"):
            raise ValueError(
                f"Layer {layer!r} is a feature map {tuple(t.shape)} (N, C, H, W): it has no first or last "
                f"token, so pooling {pooling!r} does not apply. Use pooling 'mean' (global average pool)."
            )
        return t.mean(dim=(2, 3))
    if t.ndim != 3:
        raise ValueError(f"Layer {layer!r} has an output of shape {tuple(t.shape)}; expected 2-, 3- or 4-D.")
    chosen = pooling or ("mean" if text else "cls")
    if chosen == "cls":
        return t[:, 0, :]
    if mask is None:
        return t.mean(dim=1) if chosen == "mean" else t[:, -1, :]
    m = mask.to(t.dtype)
    if chosen == "mean":
        return (t * m.unsqueeze(-1)).sum(dim=1) / m.sum(dim=1, keepdim=True).clamp(min=1.0)
    last = (m.sum(dim=1).long() - 1).clamp(min=0)  # right padding: the last real token
    return t[np.arange(t.shape[0]), last, :]


def _pooling_note(kind: str, pooling: str | None) -> str:
    if pooling is not None:
        return {"mean": "mean over real tokens (feature maps: global average pool)",
                "cls": "first (CLS) token", "last": "last real token"}[pooling]
    if kind == "text":
        return "mean over real tokens (default for text)"
    return "CLS token for token sequences, global average pool for feature maps (defaults for images)"


# --------------------------------------------------------------------------------------- forward
def _open_images(paths: Sequence[str]) -> list[Any]:
    from PIL import Image

    images = []
    for path in paths:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images


def _encode(loaded: LoadedModel, items: Sequence[str], max_length: int) -> dict[str, Any]:
    if loaded.kind == "text":
        # Never more tokens than the model has positions for (BERT: 512), whatever was asked.
        limit = getattr(getattr(loaded.model, "config", None), "max_position_embeddings", None)
        if isinstance(limit, int) and limit > 0:
            max_length = min(max_length, limit)
        return dict(loaded.processor(list(items), padding=True, truncation=True, max_length=max_length,
                                     return_tensors="pt"))
    images = _open_images(items)
    if loaded.kind == "vision":
        return {"pixel_values": loaded.processor(images=images, return_tensors="pt")["pixel_values"]}
    import torch

    return {"x": torch.stack([loaded.processor(image) for image in images])}


def _timm_outputs(model: Any, x: Any) -> list[tuple[str, Any]]:
    """timm: every block / stage (`forward_intermediates`), then the classifier's input vector.

    Token models (ViT and kin, ``num_prefix_tokens`` > 0) are read as token sequences with their
    prefix (class) tokens first, so "cls" pools the class token; CNN stages are feature maps.
    """
    import inspect

    import torch

    params = inspect.signature(model.forward_intermediates).parameters
    tokens = getattr(model, "num_prefix_tokens", 0) > 0 and "return_prefix_tokens" in params
    if tokens and "output_fmt" in params:
        final, stages = model.forward_intermediates(x, output_fmt="NLC", return_prefix_tokens=True)
        stages = [torch.cat([s[1], s[0]], dim=1) if isinstance(s, tuple) else s for s in stages]
    else:
        final, stages = model.forward_intermediates(x)
    out = [(f"stage_{i + 1}", s) for i, s in enumerate(stages)]
    out.append(("pre_logits", model.forward_head(final, pre_logits=True)))
    return out


def _layer_outputs(loaded: LoadedModel, batch: dict[str, Any]) -> list[tuple[str, Any]]:
    """(layer name, raw output) of every layer for one encoded batch."""
    if loaded.kind == "timm":
        return _timm_outputs(loaded.model, batch["x"])
    result = loaded.model(**batch, output_hidden_states=True, return_dict=True)
    hidden = result.hidden_states
    if not hidden:
        raise ValueError(f"{loaded.name}: the model returned no hidden states; it cannot be captured layer by layer.")
    return [("embeddings" if i == 0 else f"layer_{i}", h) for i, h in enumerate(hidden)]


def _pooled_batch(loaded: LoadedModel, items: Sequence[str], *, pooling: str | None,
                  max_length: int) -> list[tuple[str, np.ndarray]]:
    batch = _encode(loaded, items, max_length)
    mask = batch.get("attention_mask")
    try:
        outputs = _layer_outputs(loaded, batch)
    except (RuntimeError, TypeError, IndexError) as exc:
        raise ValueError(
            f"{loaded.name}: the {loaded.architecture} forward pass failed ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}). RepLens captures encoders, decoder-only "
            "language models and image models; an encoder-decoder model needs its own decoder inputs."
        ) from None
    return [(name, _pool(t, mask, pooling, layer=name, text=loaded.kind == "text").cpu().numpy())
            for name, t in outputs]


# ------------------------------------------------------------------------------------ run writer
class _RunFileWriter:
    """A RepLens run file whose header is written first and whose tensors are filled in place."""

    def __init__(self, path: Path, tensors: dict[str, tuple[str, tuple[int, ...]]], header: dict[str, Any]):
        entries: dict[str, Any] = {"__metadata__": {"replens": json.dumps(header)}}
        offset = 0
        sizes = {"F32": 4, "I64": 8}
        for name, (dtype, shape) in tensors.items():
            nbytes = math.prod(shape) * sizes[dtype]
            entries[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
        raw = json.dumps(entries, separators=(",", ":")).encode("utf-8")
        raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned, as safetensors writes it
        self._data_start = 8 + len(raw)
        self._fh = open(path, "r+b")  # noqa: SIM115 - closed in close()
        self._fh.write(struct.pack("<Q", len(raw)) + raw)
        self._fh.truncate(self._data_start + offset)
        self._map = mmap.mmap(self._fh.fileno(), 0) if offset else None
        dtypes = {"F32": np.float32, "I64": np.int64}
        self.arrays = {
            name: np.ndarray(shape, dtype=dtypes[dtype], buffer=self._map,
                             offset=self._data_start + entries[name]["data_offsets"][0])
            for name, (dtype, shape) in tensors.items() if math.prod(shape)
        }

    def close(self) -> None:
        self.arrays.clear()
        if self._map is not None:
            self._map.flush()
            self._map.close()
        self._fh.close()


def _check_sizes(n: int, widths: dict[str, int], n_steps: int, out: Path) -> None:
    budget = memory_budget_bytes()
    for layer, width in widths.items():
        nbytes = n * width * 4
        if nbytes > budget:
            raise ValueError(
                f"Layer {layer!r} would hold {n:,} examples x {width:,} features x 4 bytes = "
                f"{format_bytes(nbytes)}, over the per-array budget of {format_bytes(budget)}. Use fewer "
                "examples, or raise REPLENS_MEMORY_BUDGET."
            )
    total = n * sum(widths.values()) * 4 * n_steps
    free = shutil.disk_usage(out.parent).free
    if total > free:
        raise ValueError(
            f"The run needs {format_bytes(total)} ({n:,} examples x {len(widths)} layers x {n_steps} "
            f"checkpoint(s)) but {out.parent} has {format_bytes(free)} free. Use fewer examples or another folder."
        )


# ------------------------------------------------------------------------------------ entry point
def capture_run(
    model_dirs: Sequence[str | os.PathLike],
    inputs: str | os.PathLike | CaptureInputs,
    out: str | os.PathLike,
    *,
    pooling: str | None = None,
    batch_size: int = 32,
    max_length: int = 128,
    text_column: str = "text",
    label_column: str | None = None,
    threads: int | None = None,
    name: str | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Path:
    """Run `inputs` through each model in `model_dirs` and write every layer's activations to `out`.

    Parameters
    ----------
    model_dirs : sequence of path-like
        One folder, or several checkpoints of one model (the run's steps, in this order).
    inputs : path-like or CaptureInputs
        A .txt file, a .csv / .parquet table, or a folder of images (`analysis.capture_inputs`).
    out : path-like
        The run file (``.safetensors``); the metadata goes to ``<stem>.parquet`` beside it.
    pooling : {"mean", "cls", "last"} or None
        How token sequences become one vector (module docstring); None: the defaults.
    batch_size : int, default=32
    max_length : int, default=128
        Texts are truncated to this many tokens.
    text_column, label_column : str
        For tables: the column holding the texts, and the optional one holding the labels.
    threads : int or None
        torch intra-op threads for the capture (None: `default_threads`); restored afterwards.
    name : str or None
        The run's name (default: model folder name on the inputs' name).
    progress : callable (fraction, message) or None
    should_stop : callable returning bool, threading.Event, or None
        Polled before each batch; a stop raises `CaptureCancelled`.

    Returns
    -------
    pathlib.Path
        `out`.

    Raises
    ------
    ValueError
        A bad model folder or inputs, checkpoints that disagree on their layers,
        or a run over the size limits.
    CaptureCancelled
        `should_stop` asked to stop; no file was written.
    """
    import torch

    from analysis.models._threads import torch_threads

    out = Path(out)
    if out.suffix != ".safetensors":
        raise ValueError(f"--out must name a .safetensors file; got {out.name!r}.")
    if pooling is not None and pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)} (or the default); got {pooling!r}.")
    if isinstance(batch_size, bool) or int(batch_size) < 1 or int(max_length) < 1:
        raise ValueError(f"batch size and max length must be >= 1; got {batch_size} and {max_length}.")
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be >= 1 (or left out for the default); got {threads}.")
    folders = [Path(d) for d in model_dirs]
    if not folders:
        raise ValueError("Give at least one model folder.")
    for folder in folders:  # cheap checks (no import, no weights read) before the inputs are read
        check_model_dir(folder)
    data = inputs if isinstance(inputs, CaptureInputs) else read_inputs(
        inputs, text_column=text_column, label_column=label_column)
    steps = checkpoint_steps(folders)
    report = progress or (lambda fraction, message: None)
    n, batch_size = data.n, int(batch_size)
    total_batches = len(folders) * math.ceil(n / batch_size)
    done_batches = 0
    started = time.perf_counter()
    sidecar = out.with_suffix(".parquet")
    with torch_threads(threads or default_threads()), replaced_atomically(sidecar, out) as staged, \
            torch.inference_mode():
        writer: _RunFileWriter | None = None
        layers: list[str] = []
        try:
            for index, (folder, step) in enumerate(zip(folders, steps, strict=True)):
                report(done_batches / total_batches, f"loading {folder.name}")
                loaded = load_model(folder)
                want = "text" if data.kind == "text" else "image"
                if (loaded.kind == "text") != (want == "text"):
                    raise ValueError(
                        f"{folder.name} is a {loaded.kind} model but the inputs are {want}s; give "
                        f"{'texts' if loaded.kind == 'text' else 'a folder of images'}."
                    )
                if index == 0:
                    first = loaded
                for start in range(0, n, batch_size):
                    if _stopped(should_stop):
                        raise CaptureCancelled("The capture was stopped; nothing was written.")
                    pooled = _pooled_batch(loaded, data.items[start:start + batch_size], pooling=pooling,
                                           max_length=max_length)
                    if writer is None:
                        widths = {layer: arr.shape[1] for layer, arr in pooled}
                        _check_sizes(n, widths, len(folders), out)
                        layers = list(widths)
                        writer = _open_writer(staged[-1], data, layers, widths, steps,
                                              _header(data, first, layers, steps, pooling, name))
                    got = [layer for layer, _ in pooled]
                    if got != layers or any(writer.arrays[f"act/{layer}/{step}"].shape[1] != arr.shape[1]
                                            for layer, arr in pooled):
                        raise ValueError(
                            f"{folder.name} has other layers or widths than {folders[0].name} "
                            f"({len(got)} vs {len(layers)} layers): checkpoints must be of one model."
                        )
                    for layer, arr in pooled:  # layer by layer into the mapped file
                        writer.arrays[f"act/{layer}/{step}"][start:start + arr.shape[0]] = arr
                    done_batches += 1
                    rate = min(n, start + batch_size) / max(time.perf_counter() - started, 1e-9)
                    report(done_batches / total_batches,
                           f"{folder.name}: {min(n, start + batch_size):,}/{n:,} examples"
                           + (f" ({rate:,.0f}/s)" if index == 0 else ""))
                del loaded
        finally:
            if writer is not None:
                writer.close()
        data.metadata.write_parquet(staged[0])
    report(1.0, f"wrote {out.name}: {n:,} examples x {len(layers)} layers x {len(folders)} checkpoint(s)")
    return out


def _open_writer(path: Path, data: CaptureInputs, layers: list[str], widths: dict[str, int],
                 steps: list[int], header: dict[str, Any]) -> _RunFileWriter:
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    if data.labels is not None:
        tensors["labels"] = ("I64", (data.n,))
    for layer in layers:
        for step in steps:
            tensors[f"act/{layer}/{step}"] = ("F32", (data.n, widths[layer]))
    writer = _RunFileWriter(path, tensors, header)
    if data.labels is not None:
        writer.arrays["labels"][:] = data.labels
    return writer


def _header(data: CaptureInputs, first: LoadedModel, layers: list[str], steps: list[int],
            pooling: str | None, name: str | None) -> dict[str, Any]:
    what = "texts" if data.kind == "text" else "images"
    return {
        "replens_format": FORMAT_VERSION,
        "name": name or f"{first.name} on {data.name}",
        "task": (f"Activations of {first.name} ({first.architecture}) over {data.n:,} {what} from "
                 f"{data.name}; pooling: {_pooling_note(first.kind, pooling)}; "
                 f"{len(steps)} checkpoint(s)."),
        "layers": layers,
        "steps": steps,
        "label_names": None if data.label_names is None else list(data.label_names),
        "curves": {},
        "has_metadata": True,
    }
