"""Rebuilding the lab's `Run` from its checkpoint weights, in numpy (no torch)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from analysis.data.schema import Run
from analysis.models._checks import is_int
from analysis.models.information_lab.config import InformationLabConfig
from analysis.models.information_lab.run_layout import (
    CheckpointWeights,
    epoch_curve,
    extra_metadata,
    lab_data,
    n_steps_per_epoch,
    task_description,
)
from analysis.models.information_lab.task import LABEL_COLUMN, LABEL_NAMES

__all__ = ["check_curves", "check_weights", "replay_information_run"]


def check_weights(weights: Any, config: InformationLabConfig, *, label: str) -> CheckpointWeights:
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError(
            f"{label}: weights must be a non-empty mapping step -> [(weight, bias), ...]."
        )
    widths = config.widths
    n_layers = len(widths) - 1
    out: CheckpointWeights = {}
    for step, layers in weights.items():
        if not is_int(step) or step < 0:
            raise ValueError(f"{label}: checkpoint steps must be integers >= 0; got {step!r}.")
        if not isinstance(layers, Sequence) or len(layers) != n_layers:
            got = len(layers) if isinstance(layers, Sequence) else type(layers).__name__
            raise ValueError(
                f"{label}: step {step} needs {n_layers} (weight, bias) pairs for the "
                f"{'-'.join(map(str, widths))} network; got {got}."
            )
        pairs = []
        for i, pair in enumerate(layers):
            if not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValueError(f"{label}: step {step} layer {i} must be a (weight, bias) pair.")
            W, b = (np.asarray(a) for a in pair)
            shape_w, shape_b = (widths[i + 1], widths[i]), (widths[i + 1],)
            if W.shape != shape_w or b.shape != shape_b:
                raise ValueError(
                    f"{label}: step {step} layer {i} has weight {W.shape} and bias {b.shape}; "
                    f"the configured network needs {shape_w} and {shape_b}."
                )
            if W.dtype.kind != "f" or b.dtype.kind != "f":
                raise ValueError(
                    f"{label}: step {step} layer {i} is not floating point ({W.dtype}, {b.dtype})."
                )
            if not (np.isfinite(W).all() and np.isfinite(b).all()):
                raise ValueError(f"{label}: step {step} layer {i} contains NaN or Inf.")
            pairs.append((W.astype(np.float32), b.astype(np.float32)))
        out[int(step)] = pairs
    return out


def replay_information_run(
    weights: CheckpointWeights,
    config: InformationLabConfig,
    curves: Mapping[str, Sequence[float]],
    *,
    name: str = "",
) -> Run:
    """Rebuild the `Run` of `train_information_lab` from its checkpoint weights, in numpy.

    The data and split are rebuilt from `config`; at every step of `weights`
    each hidden layer ``act(h @ W.T + b)`` and the logits are recomputed in
    numpy on all 4,096 inputs (no torch) and stored as float32. The result
    has the trained run's layout: same rows, metadata, labels, classifier,
    task (including the early-stop note when the last step is short of the
    planned total) and curves, with ``epoch`` recomputed from ``step``.

    The arithmetic is float64, rounded to float32 at the end: that is closer
    to the network's exact function than torch's float32 forward pass, so
    the replay differs from the trained run by torch's own rounding only,
    and it does not depend on the BLAS's summation order. Measured on the
    default runs (28,000 steps): at most 5.7e-6 (tanh) and 9.1e-6 (ReLU,
    whose units reach ~21) on the activations, ~4e-5 on the logits; a
    float32 replay differed by up to 1.7e-5 (ReLU).

    Parameters
    ----------
    weights : dict mapping step to list of (weight, bias)
        As returned by `train_information_lab_with_weights` or
        `load_information_weights`.
    config : InformationLabConfig
        The config they were trained with.
    curves : mapping of str to list of float
        The trained run's curves (must hold ``step``).
    name : str, default=""

    Returns
    -------
    Run
    """
    if not isinstance(config, InformationLabConfig):
        raise ValueError(f"config must be an InformationLabConfig; got {type(config).__name__}.")
    checked = check_weights(weights, config, label="replay_information_run")
    curve_values = check_curves(curves, label="replay_information_run")
    data = lab_data(config)
    X_all = np.concatenate([data.X_train, data.X_test]).astype(np.float64)
    labels = np.concatenate([data.y_train, data.y_test]).astype(np.int64)
    layers = tuple(f"hidden{i}" for i in range(1, len(config.hidden_sizes) + 1))
    steps = tuple(sorted(checked))

    activations: dict[tuple[str, int], np.ndarray] = {}
    logits: dict[int, np.ndarray] = {}
    classifier: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
    for step in steps:
        pairs = checked[step]
        # float64 arithmetic, float32 results (see the docstring).
        h = X_all
        for layer, (W, b) in zip(layers, pairs[:-1], strict=True):
            z = h @ W.astype(np.float64).T + b.astype(np.float64)
            h = np.tanh(z) if config.activation == "tanh" else np.maximum(z, 0.0)
            activations[(layer, step)] = h.astype(np.float32)
        W_head, b_head = pairs[-1]
        logits[step] = (h @ W_head.astype(np.float64).T + b_head.astype(np.float64)).astype(
            np.float32
        )
        classifier[step] = (W_head.copy(), b_head.copy())

    metadata = pl.DataFrame(
        {
            "id": np.arange(labels.size, dtype=np.int64),
            "split": np.array(["train"] * data.n_train + ["test"] * data.n_test),
            LABEL_COLUMN: [LABEL_NAMES[c] for c in labels],
        }
    ).hstack(extra_metadata(data))
    steps_per_epoch = n_steps_per_epoch(config, data)
    total_steps = config.epochs * steps_per_epoch
    task = task_description(config, data)
    if steps[-1] < total_steps:
        # train_mlp's note for a run stopped early.
        task += f" (stopped early at step {steps[-1]} of {total_steps})"
    curve_values["epoch"] = epoch_curve(curve_values["step"], steps_per_epoch)
    return Run(
        activations=activations,
        layers=layers,
        steps=steps,
        labels=labels,
        label_names=LABEL_NAMES,
        metadata=metadata,
        classifier=classifier,
        logits=logits,
        curves=curve_values,
        task=task,
        name=name,
    )


def check_curves(curves: Any, *, label: str) -> dict[str, list[float]]:
    if not isinstance(curves, Mapping) or "step" not in curves:
        raise ValueError(
            f"{label}: curves must be a mapping of curve name -> values holding 'step'."
        )
    out: dict[str, list[float]] = {}
    n = None
    for key, values in curves.items():
        if (
            not isinstance(key, str)
            or isinstance(values, (str, bytes))
            or not isinstance(values, Sequence)
        ):
            raise ValueError(f"{label}: curve {key!r} must be a named list of numbers.")
        try:
            floats = [float(v) for v in values]
        except (TypeError, ValueError):
            raise ValueError(f"{label}: curve {key!r} holds values that are not numbers.") from None
        if n is not None and len(floats) != n:
            raise ValueError(
                f"{label}: curves have different lengths ({key!r} has {len(floats)}, not {n})."
            )
        n = len(floats)
        out[key] = floats
    return out
