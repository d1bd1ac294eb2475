"""`ToyModelConfig`, what a toy-model sweep trains, and the checks its values share with training."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from analysis.models._checks import is_int

__all__ = [
    "DEFAULT_TOY_SPARSITIES",
    "TOY_LR_SCHEDULES",
    "ToyModelConfig",
    "check_importance",
    "check_sparsity",
    "positive_float",
]

TOY_LR_SCHEDULES = ("constant", "cosine")

# The paper's sweep (its accompanying notebook): feature probability 1 - S from
# 1 (dense) down to 1/20 in 10 log-spaced steps, i.e. p_k = 20 ** (-k / 9).
DEFAULT_TOY_SPARSITIES: tuple[float, ...] = tuple(float(1.0 - 20.0 ** (-k / 9)) for k in range(10))

# --- validation ------------------------------------------------------------------------


def positive_float(value: Any, *, name: str) -> float:
    """`value` as a finite float > 0, or a ValueError naming `name`."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if isinstance(value, bool) or not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
    return out


def check_sparsity(value: Any, *, name: str) -> float:
    """`value` as a sparsity S in [0, 1 - 1e-4], or a ValueError naming `name`."""
    try:
        s = float(value)
    except (TypeError, ValueError):
        s = math.nan
    if isinstance(value, bool) or not (math.isfinite(s) and 0.0 <= s < 1.0):
        raise ValueError(
            f"{name} must be a sparsity in [0, 1) (the probability that a feature is 0; "
            f"1 would make every input 0); got {value!r}."
        )
    if 1.0 - s < 1e-4:
        raise ValueError(
            f"{name}={value!r} leaves a feature probability 1 - S below 1e-4: the batches "
            "would almost never contain a non-zero feature. Use S <= 0.9999."
        )
    return s


def check_importance(values: Any, *, n_features: int, name: str) -> np.ndarray:
    """`values` as ``n_features`` finite importances > 0 (float64), or a ValueError naming `name`."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers; got {values!r}.") from exc
    if arr.shape != (n_features,):
        raise ValueError(
            f"{name} must hold one importance per feature ({n_features} values); got shape "
            f"{arr.shape}."
        )
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise ValueError(f"{name} must be finite and > 0; got {arr.tolist()}.")
    return arr


# --- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class ToyModelConfig:
    """A sweep of toy models of superposition for `train_toy_models`.

    One instance is trained per sparsity and repeat: ``len(sparsities) *
    instances_per_setting`` instances in all, ordered sparsity by sparsity
    (the repeats of one sparsity adjacent). Instance k is seeded with
    ``seed + k`` (its initialisation and all its batches come from its own
    generator), so a sweep gives exactly what its instances give trained one
    by one with those seeds.

    Parameters
    ----------
    n_features : int, default=5
        n >= 2 features.
    n_hidden : int, default=2
        m >= 1 hidden dimensions (m < n for superposition to be possible, but
        m >= n is allowed).
    sparsities : tuple of float, default=DEFAULT_TOY_SPARSITIES
        S per setting, each in [0, 1) with 1 - S >= 1e-4. The default is the
        paper's: feature probability 1 - S = 20^(-k/9), k = 0..9, from dense
        (S = 0) to S = 0.95.
    importance_decay : float, default=0.9
        Importance I_i = decay^i (i = 0..n-1), the paper's choice; > 0.
    importances : tuple of float, optional
        An explicit importance per feature (all > 0); overrides `importance_decay`.
    steps : int, default=10_000
        Optimiser steps (the paper's notebook: 10,000 at batch 1024, lr 1e-3).
    batch_size : int, default=1024
        Fresh samples per instance per step.
    lr : float, default=1e-3
        AdamW learning rate (no weight decay by default).
    lr_schedule : {"constant", "cosine"}, default="constant"
        Constant, or cosine decay from `lr` to 0 over `steps`.
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay (>= 0).
    seed : int, default=0
        Instance k uses ``seed + k``.
    n_checkpoints : int, default=20
        Log-spaced checkpoints (`analysis.models.checkpoint_steps`), step 0
        (the initialisation) and the last step included; >= 2.
    instances_per_setting : int, default=1
        Independent repeats (different seeds) of every sparsity, trained in the
        same batch; several help against the local minima single seeds can
        land in.
    """

    n_features: int = 5
    n_hidden: int = 2
    sparsities: tuple[float, ...] = DEFAULT_TOY_SPARSITIES
    importance_decay: float = 0.9
    importances: tuple[float, ...] | None = None
    steps: int = 10_000
    batch_size: int = 1024
    lr: float = 1e-3
    lr_schedule: str = "constant"
    weight_decay: float = 0.0
    seed: int = 0
    n_checkpoints: int = 20
    instances_per_setting: int = 1

    def __post_init__(self) -> None:
        for name, low in (
            ("n_features", 2),
            ("n_hidden", 1),
            ("steps", 0),
            ("batch_size", 1),
            ("n_checkpoints", 2),
            ("instances_per_setting", 1),
        ):
            value = getattr(self, name)
            if not is_int(value) or value < low:
                raise ValueError(
                    f"ToyModelConfig.{name} must be an integer >= {low}; got {value!r}."
                )
            object.__setattr__(self, name, int(value))
        if not is_int(self.seed):
            raise ValueError(f"ToyModelConfig.seed must be an integer; got {self.seed!r}.")
        object.__setattr__(self, "seed", int(self.seed))
        if isinstance(self.sparsities, (str, bytes)) or not isinstance(self.sparsities, Sequence):
            raise ValueError(
                "ToyModelConfig.sparsities must be a sequence of floats in [0, 1); got "
                f"{self.sparsities!r}."
            )
        if len(self.sparsities) == 0:
            raise ValueError("ToyModelConfig.sparsities is empty; give at least one sparsity.")
        sparsities = tuple(
            check_sparsity(s, name=f"ToyModelConfig.sparsities[{i}]")
            for i, s in enumerate(self.sparsities)
        )
        object.__setattr__(self, "sparsities", sparsities)
        decay = positive_float(self.importance_decay, name="ToyModelConfig.importance_decay")
        object.__setattr__(self, "importance_decay", decay)
        if self.importances is not None:
            arr = check_importance(
                self.importances, n_features=self.n_features, name="ToyModelConfig.importances"
            )
            object.__setattr__(self, "importances", tuple(float(v) for v in arr))
        object.__setattr__(self, "lr", positive_float(self.lr, name="ToyModelConfig.lr"))
        if self.lr_schedule not in TOY_LR_SCHEDULES:
            raise ValueError(
                f"ToyModelConfig.lr_schedule must be one of {TOY_LR_SCHEDULES}; got "
                f"{self.lr_schedule!r}."
            )
        try:
            wd = float(self.weight_decay)
        except (TypeError, ValueError):
            wd = math.nan
        if isinstance(self.weight_decay, bool) or not (math.isfinite(wd) and wd >= 0):
            raise ValueError(
                f"ToyModelConfig.weight_decay must be a finite number >= 0; got {self.weight_decay!r}."
            )
        object.__setattr__(self, "weight_decay", wd)

    @property
    def importance(self) -> np.ndarray:
        """The importance vector I, shape (n_features,), float64."""
        if self.importances is not None:
            return np.asarray(self.importances, dtype=np.float64)
        return self.importance_decay ** np.arange(self.n_features, dtype=np.float64)

    @property
    def n_instances(self) -> int:
        """``len(sparsities) * instances_per_setting``."""
        return len(self.sparsities) * self.instances_per_setting

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        out = asdict(self)
        out["sparsities"] = list(self.sparsities)
        out["importances"] = None if self.importances is None else list(self.importances)
        return out

    def describe(self) -> str:
        """A one-line summary."""
        imp = (
            f"importance {self.importance_decay:g}^i"
            if self.importances is None
            else "importance " + ", ".join(f"{v:g}" for v in self.importances)
        )
        return (
            f"toy model ReLU(W^T W x + b), {self.n_features} features -> {self.n_hidden} hidden, "
            f"{imp}, {len(self.sparsities)} sparsities x {self.instances_per_setting} seeds, "
            f"{self.steps} steps, batch {self.batch_size}, AdamW lr {self.lr:g} ({self.lr_schedule})"
        )
