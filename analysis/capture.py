"""Record activations from any torch module with forward hooks.

Two entry points:

- `capture` (an `ActivationCapture` context manager) hooks named submodules
  while you run the model yourself, and always removes its hooks on exit, also
  when the block raises (the TransformerLens pattern, DESIGN.md section 7).
- `record_activations` runs a model over a whole data set (array, tensor or
  DataLoader) in eval mode without gradients and returns one float32 matrix of
  shape (n_samples, n_features) per layer, ready for an `Embedding` or a `Run`.

Example
-------
>>> with capture(model, {"hidden": "body.2"}) as cap:  # doctest: +SKIP
...     model(x)
>>> cap.activations()["hidden"].shape  # doctest: +SKIP
(128, 64)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["POOLINGS", "ActivationCapture", "capture", "record_activations"]

POOLINGS = ("mean", "last", "flatten")

# Listing every module of a large network in an error message helps nobody.
_MAX_NAMES_LISTED = 60


def _normalise_layers(layers: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    """Return {result name: module name}, validating the argument's form."""
    if isinstance(layers, str):
        # A str is a Sequence of characters; treating "fc1" as ["f", "c", "1"]
        # would be a baffling error, so accept one name as a convenience.
        return {layers: layers}
    if isinstance(layers, Mapping):
        out: dict[str, str] = {}
        for alias, module_name in layers.items():
            if not isinstance(alias, str) or not isinstance(module_name, str):
                raise ValueError(
                    "layers as a mapping must map result names (str) to module names (str); "
                    f"got {alias!r}: {module_name!r}."
                )
            out[alias] = module_name
    else:
        try:
            names = list(layers)
        except TypeError:
            raise ValueError(
                f"layers must be a module name, a sequence of names or a mapping "
                f"{{result name: module name}}; got {type(layers).__name__}."
            ) from None
        out = {}
        for name in names:
            if not isinstance(name, str):
                raise ValueError(f"layers must contain module names (str); got {name!r}.")
            out[name] = name  # duplicates collapse: one hook per requested name
    if not out:
        raise ValueError("layers is empty; name at least one submodule to record.")
    return out


def _unknown_layer_message(missing: list[str], available: list[str]) -> str:
    hints = []
    for name in missing:
        close = difflib.get_close_matches(name, available, n=3)
        if close:
            hints.append(f"{name!r} (did you mean {', '.join(repr(c) for c in close)}?)")
        else:
            hints.append(repr(name))
    listed = [repr(a) if a else "'' (the model itself)" for a in available[:_MAX_NAMES_LISTED]]
    more = len(available) - _MAX_NAMES_LISTED
    tail = f", ... ({more} more)" if more > 0 else ""
    return (
        f"Unknown layer name(s): {', '.join(hints)}. Available module names "
        f"(from model.named_modules()): {', '.join(listed)}{tail}."
    )


def _first_tensor(output: Any, *, layer: str) -> torch.Tensor:
    """The tensor a module returned (first element of a tuple, list or mapping)."""
    # Attention blocks and RNNs return (hidden, extras); HF ModelOutput is a mapping.
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    elif isinstance(output, Mapping) and output:
        output = next(iter(output.values()))
    if not isinstance(output, torch.Tensor):
        raise ValueError(
            f"Layer {layer!r} returned {type(output).__name__}, not a tensor (or a tuple "
            "whose first element is a tensor). Hook a submodule that outputs a tensor."
        )
    return output


def _pool(t: torch.Tensor, pooling: str | None, *, layer: str) -> torch.Tensor:
    """Reduce one batch of outputs to shape (batch, features)."""
    if t.ndim == 2:
        return t
    if t.ndim == 1:
        # One scalar per sample (e.g. a regression head): a 1-feature column.
        return t.reshape(-1, 1)
    if t.ndim == 0:
        raise ValueError(
            f"Layer {layer!r} returned a scalar (shape ()); it has no per-sample values. "
            "Hook a layer whose output has a batch dimension."
        )
    if t.ndim == 3:
        if pooling is None:
            raise ValueError(
                f"Layer {layer!r} returned a 3-D output of shape {tuple(t.shape)} "
                "(batch, positions, features). Choose pooling='mean' (average over "
                "positions), 'last' (the last position) or 'flatten' (concatenate all)."
            )
        if pooling == "mean":
            return t.mean(dim=1)
        if pooling == "last":
            return t[:, -1, :]
        return t.reshape(t.shape[0], -1)
    # 4-D and up (e.g. conv maps N, C, H, W): only flattening has one obvious meaning;
    # for global average pooling, hook the model's own pooling layer instead.
    if pooling == "flatten":
        return t.reshape(t.shape[0], -1)
    raise ValueError(
        f"Layer {layer!r} returned a {t.ndim}-D output of shape {tuple(t.shape)}. Use "
        "pooling='flatten', or hook a later layer (e.g. the model's pooling layer) "
        "whose output is (batch, features)."
    )


class ActivationCapture:
    """Context manager recording the outputs of named submodules.

    Use `capture` to build one. On entry it registers one forward hook per
    requested layer; every forward call then appends that layer's output,
    detached, pooled to (batch, features), copied to the CPU as float32 numpy.
    On exit the hooks are removed, also when the block raises.

    Parameters
    ----------
    model : torch.nn.Module
        The model whose submodules are hooked.
    layers : str, sequence of str or mapping of str to str
        Module names as in ``dict(model.named_modules())`` (``""`` is the model
        itself). A mapping ``{result name: module name}`` renames the results.
    pooling : {"mean", "last", "flatten"} or None
        How to reduce outputs with more than two dimensions. 3-D outputs
        (batch, positions, features): ``"mean"`` averages over positions,
        ``"last"`` takes the last position, ``"flatten"`` concatenates them.
        Higher-dimensional outputs allow only ``"flatten"``. With None such an
        output raises ValueError. 1-D outputs become one column; 2-D outputs
        are kept as they are.

    Attributes
    ----------
    layer_map : dict of str to str
        Result name -> module name.
    records : dict of str to list of ndarray
        The captured batches per result name, in call order.

    Notes
    -----
    A module called several times per forward pass (shared weights) appends
    one record per call. Outputs are copied, so an in-place operation after
    the hooked module (e.g. ``ReLU(inplace=True)``) cannot change them.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str] | Mapping[str, str],
        *,
        pooling: str | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
        if pooling is not None and pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS} or None; got {pooling!r}.")
        self.model = model
        self.pooling = pooling
        self.layer_map = _normalise_layers(layers)
        modules = dict(model.named_modules())
        missing = [m for m in dict.fromkeys(self.layer_map.values()) if m not in modules]
        if missing:
            # Validated before any hook is registered, so a bad name leaks nothing.
            raise ValueError(_unknown_layer_message(missing, list(modules)))
        self._modules = {alias: modules[name] for alias, name in self.layer_map.items()}
        self.records: dict[str, list[np.ndarray]] = {alias: [] for alias in self.layer_map}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    @property
    def active(self) -> bool:
        """Whether the hooks are currently registered."""
        return bool(self._handles)

    def _make_hook(self, alias: str) -> Callable[[nn.Module, Any, Any], None]:
        module_name = self.layer_map[alias]

        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            tensor = _first_tensor(output, layer=module_name)
            pooled = _pool(tensor.detach(), self.pooling, layer=module_name)
            # copy=True: the module's output may be modified in place later in the
            # forward pass (inplace ReLU), and .numpy() would share its memory.
            host = pooled.to(device="cpu", dtype=torch.float32, copy=True)
            self.records[alias].append(host.numpy())

        return hook

    def __enter__(self) -> ActivationCapture:
        if self._handles:
            raise RuntimeError("This ActivationCapture is already active; it cannot be nested.")
        self.clear()
        try:
            for alias, module in self._modules.items():
                self._handles.append(module.register_forward_hook(self._make_hook(alias)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this object registered (safe to call twice)."""
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.remove()

    def clear(self) -> None:
        """Forget the recorded batches (hooks stay as they are)."""
        self.records = {alias: [] for alias in self.layer_map}

    def n_rows(self, name: str) -> int:
        """Rows recorded so far for result `name`."""
        return sum(int(r.shape[0]) for r in self.records[name])

    def activations(self) -> dict[str, np.ndarray]:
        """The recorded batches concatenated per layer.

        Returns
        -------
        dict of str to ndarray of shape (n_rows, n_features), float32

        Raises
        ------
        ValueError
            If a layer recorded nothing (it was not called during the forward
            passes) or its batches disagree on the number of features.
        """
        out: dict[str, np.ndarray] = {}
        for alias, batches in self.records.items():
            if not batches:
                raise ValueError(
                    f"Layer {self.layer_map[alias]!r} recorded nothing: it was not called "
                    "during the forward pass. Check that the model uses this module."
                )
            widths = {b.shape[1] for b in batches}
            if len(widths) != 1:
                raise ValueError(
                    f"Layer {self.layer_map[alias]!r} produced batches with different "
                    f"feature counts {sorted(widths)} (variable-length sequences with "
                    "pooling='flatten'?). Use pooling='mean' or 'last'."
                )
            out[alias] = batches[0] if len(batches) == 1 else np.concatenate(batches, axis=0)
        return out


def capture(
    model: nn.Module,
    layers: Sequence[str] | Mapping[str, str],
    *,
    pooling: str | None = None,
) -> ActivationCapture:
    """Hook `layers` of `model` for the duration of a ``with`` block.

    Parameters
    ----------
    model : torch.nn.Module
    layers : str, sequence of str or mapping of str to str
        Module names from ``model.named_modules()``, or ``{result name: module name}``.
    pooling : {"mean", "last", "flatten"} or None
        Reduction of outputs with more than two dimensions (see `ActivationCapture`).

    Returns
    -------
    ActivationCapture
        Enter it with ``with``; read `ActivationCapture.activations` afterwards.

    Raises
    ------
    ValueError
        Unknown layer names (the message lists the available ones) or an
        unknown pooling.
    """
    return ActivationCapture(model, layers, pooling=pooling)


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _as_batch_input(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        arr = x
        if arr.dtype.kind == "f" and arr.dtype != np.float32:
            # torch layers default to float32; float64 inputs would fail to matmul.
            arr = arr.astype(np.float32)
        if not arr.flags.writeable:
            # torch.from_numpy warns on read-only (e.g. memory-mapped) arrays.
            arr = arr.copy()
        return torch.from_numpy(np.ascontiguousarray(arr))
    raise ValueError(
        f"Each batch must be a tensor, an ndarray or an (x, y) tuple; got {type(x).__name__}."
    )


def _iter_batches(data: Any, batch_size: int) -> Iterator[torch.Tensor]:
    """Yield input batches from an array, a tensor or an iterable of batches."""
    if isinstance(data, (torch.Tensor, np.ndarray)):
        if data.ndim == 0 or data.shape[0] == 0:
            raise ValueError(
                f"data has shape {tuple(data.shape)}; it needs at least one sample along axis 0."
            )
        for start in range(0, int(data.shape[0]), batch_size):
            yield _as_batch_input(data[start : start + batch_size])
        return
    if not isinstance(data, Iterable):
        raise ValueError(
            "data must be a tensor, an ndarray, or an iterable (e.g. a DataLoader) of "
            f"tensors or (x, y) tuples; got {type(data).__name__}."
        )
    for item in data:
        if isinstance(item, (tuple, list)):
            if not item:
                raise ValueError("data yielded an empty tuple; expected x or (x, y).")
            item = item[0]  # (x, y) pairs from a labelled DataLoader: x only
        yield _as_batch_input(item)


def record_activations(
    model: nn.Module,
    data: torch.Tensor | np.ndarray | Iterable[Any],
    layers: Sequence[str] | Mapping[str, str],
    *,
    batch_size: int = 256,
    pooling: str | None = None,
) -> dict[str, np.ndarray]:
    """Run `model` over `data` and return each layer's activations.

    The model runs under ``torch.no_grad()`` in eval mode (dropout off, batch
    norm using running statistics); every submodule's previous training flag
    is restored afterwards, also on error. Batches are moved to the device of
    the model's parameters.

    Parameters
    ----------
    model : torch.nn.Module
    data : Tensor, ndarray or iterable
        A tensor or array of shape (n_samples, ...) split into batches of
        `batch_size` along axis 0 (floating arrays are cast to float32), or an
        iterable such as a DataLoader yielding tensors or (x, y) tuples, whose
        own batching is used.
    layers : str, sequence of str or mapping of str to str
        Module names from ``model.named_modules()``, or ``{result name: module name}``.
    batch_size : int, default=256
        Rows per forward pass when `data` is a tensor or an array.
    pooling : {"mean", "last", "flatten"} or None
        Reduction of outputs with more than two dimensions (see `ActivationCapture`).

    Returns
    -------
    dict of str to ndarray of shape (n_samples, n_features), float32
        Keyed by result name, rows in data order.

    Raises
    ------
    ValueError
        Unknown layers, empty data, unsupported batch types, or a layer that
        does not produce exactly one row per sample (e.g. called twice per
        forward pass).
    """
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    cap = ActivationCapture(model, layers, pooling=pooling)
    device = _model_device(model)
    # Restore each submodule's own flag: model.train(previous) would flatten a
    # deliberately mixed state (e.g. a frozen, eval-mode backbone) into one mode.
    previous_modes = [(module, module.training) for module in model.modules()]
    n_samples = 0
    try:
        model.eval()
        with torch.no_grad(), cap:
            for batch in _iter_batches(data, int(batch_size)):
                n_samples += int(batch.shape[0]) if batch.ndim else 1
                model(batch.to(device))
    finally:
        for module, mode in previous_modes:
            module.training = mode
    if n_samples == 0:
        raise ValueError("data yielded no batches; nothing to record.")
    out = cap.activations()
    for alias, arr in out.items():
        if arr.shape[0] != n_samples:
            raise ValueError(
                f"Layer {cap.layer_map[alias]!r} produced {arr.shape[0]} rows for "
                f"{n_samples} samples. It is probably called more than once per forward "
                "pass (shared weights) or changes the batch dimension; hook another module."
            )
    return out
