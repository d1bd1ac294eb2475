"""`InformationLabConfig`, what the 12-bit lab trains and how, and its presets."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from analysis.models._checks import is_int
from analysis.models.information_lab.task import N_BITS, N_INPUTS, check_train_fraction

if TYPE_CHECKING:
    from analysis.models.mlp_config import MLPConfig

__all__ = ["INFORMATION_ACTIVATIONS", "INFORMATION_PRESETS", "InformationLabConfig"]

INFORMATION_ACTIVATIONS = ("tanh", "relu")


@dataclass(frozen=True)
class InformationLabConfig:
    """What `train_information_lab` trains and how.

    Parameters
    ----------
    activation : {"tanh", "relu"}, default="tanh"
        Of every hidden layer. tanh shows compression; ReLU does not (Saxe et al.).
    hidden_sizes : tuple of int, default=(10, 7, 5, 4, 3)
        Widths of the hidden layers ``hidden1`` ... (the 12-10-7-5-4-3-2 network).
    lr : float, default=4e-4
        Adam's learning rate, constant (that of Shwartz-Ziv & Tishby's code).
    batch_size : int, default=256
    epochs : int, default=2000
        2,000 epochs of 3,482 training inputs are 28,000 steps (~30 s on
        one CPU thread): enough for the fitting phase and a clear
        compression phase in the deeper tanh layers.
    train_fraction : float, default=0.85
        Share of each class in the training split (`twelve_bit_split`).
    n_checkpoints : int, default=30
        Log-spaced checkpoints (`analysis.models.mlp.checkpoint_steps`),
        initialisation and the last step included.
    seed : int, default=0
        Seeds the initialisation and the batch order.
    data_seed : int, default=0
        Seeds the split.
    """

    activation: str = "tanh"
    hidden_sizes: tuple[int, ...] = (10, 7, 5, 4, 3)
    lr: float = 4e-4
    batch_size: int = 256
    epochs: int = 2000
    train_fraction: float = 0.85
    n_checkpoints: int = 30
    seed: int = 0
    data_seed: int = 0

    def __post_init__(self) -> None:
        if self.activation not in INFORMATION_ACTIVATIONS:
            raise ValueError(
                f"InformationLabConfig.activation must be one of {INFORMATION_ACTIVATIONS}; "
                f"got {self.activation!r}."
            )
        sizes = self.hidden_sizes
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            sizes = None
        elif not all(is_int(s) and s >= 1 for s in sizes):
            sizes = None
        if not sizes:
            raise ValueError(
                "InformationLabConfig.hidden_sizes must be a non-empty sequence of positive "
                f"integers (hidden widths); got {self.hidden_sizes!r}."
            )
        object.__setattr__(self, "hidden_sizes", tuple(int(s) for s in sizes))
        try:
            lr = float(self.lr)
        except (TypeError, ValueError):
            lr = math.nan
        if isinstance(self.lr, bool) or not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"InformationLabConfig.lr must be a positive number; got {self.lr!r}.")
        object.__setattr__(self, "lr", lr)
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(
                    f"InformationLabConfig.{name} must be a positive integer; got {value!r}."
                )
            object.__setattr__(self, name, int(value))
        fraction = check_train_fraction(
            self.train_fraction, name="InformationLabConfig.train_fraction"
        )
        object.__setattr__(self, "train_fraction", fraction)
        # Both classes hold ~2,000 inputs: each split must keep at least one of each.
        for n_class in (N_INPUTS - 2036, 2036):
            k = round(fraction * n_class)
            if not 1 <= k <= n_class - 1:
                raise ValueError(
                    f"InformationLabConfig.train_fraction={fraction!r} leaves a class of "
                    f"{n_class} inputs with {k} training rows; each split needs at least one."
                )
        if not is_int(self.n_checkpoints) or self.n_checkpoints < 2:
            raise ValueError(
                "InformationLabConfig.n_checkpoints must be an integer >= 2 (initialisation and "
                f"the last step); got {self.n_checkpoints!r}."
            )
        object.__setattr__(self, "n_checkpoints", int(self.n_checkpoints))
        for name in ("seed", "data_seed"):
            value = getattr(self, name)
            if not is_int(value):
                raise ValueError(f"InformationLabConfig.{name} must be an integer; got {value!r}.")
            object.__setattr__(self, name, int(value))

    @property
    def widths(self) -> tuple[int, ...]:
        """Every layer's width, input to logits: (12, *hidden_sizes, 2)."""
        return (N_BITS, *self.hidden_sizes, 2)

    def mlp_config(self) -> MLPConfig:
        """The `MLPConfig` for `train_mlp`: Adam (AdamW, no decay), constant lr, cross-entropy."""
        from analysis.models.mlp_config import MLPConfig

        return MLPConfig(
            hidden_sizes=self.hidden_sizes,
            activation=self.activation,
            optimizer="adamw",
            lr=self.lr,
            weight_decay=0.0,
            lr_schedule="constant",
            epochs=self.epochs,
            batch_size=self.batch_size,
            seed=self.seed,
            n_checkpoints=self.n_checkpoints,
            loss="cross_entropy",
        )

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        out = asdict(self)
        out["hidden_sizes"] = list(self.hidden_sizes)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> InformationLabConfig:
        """Rebuild a config from `to_dict`'s output (validated; unknown keys refused)."""
        if not isinstance(values, Mapping):
            raise ValueError(
                f"An InformationLabConfig needs a mapping; got {type(values).__name__}."
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"InformationLabConfig has no field(s) {unknown}; known: {sorted(known)}."
            )
        return cls(**dict(values))

    def describe(self) -> str:
        """A one-line summary, e.g. ``"12-10-7-5-4-3-2 (tanh), Adam lr=0.0004, ..."``."""
        net = "-".join(str(w) for w in self.widths)
        return (
            f"{net} ({self.activation}), Adam lr={self.lr:g} constant, batch {self.batch_size}, "
            f"{self.epochs} epochs, {100 * self.train_fraction:g}% train, seed {self.seed}, "
            f"data seed {self.data_seed}"
        )


INFORMATION_PRESETS: dict[str, InformationLabConfig] = {
    # Saturating units: I(X;T) of the deeper layers falls after the fit (compression).
    "tanh": InformationLabConfig(),
    # The same network and training with ReLU: no compression (Saxe et al. 2018).
    "relu": replace(InformationLabConfig(), activation="relu"),
}
