"""`MLPConfig`, the hyper-parameters of `analysis.models.mlp.train_mlp`, and the option names it accepts."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from torch import nn

__all__ = ["ACTIVATIONS", "LOSSES", "LR_SCHEDULES", "OPTIMIZERS", "MLPConfig"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}
OPTIMIZERS = ("adamw", "sgd")
LR_SCHEDULES = ("cosine", "constant", "step")
LOSSES = ("cross_entropy", "mse")


@dataclass(frozen=True)
class MLPConfig:
    """Hyper-parameters of `train_mlp`.

    The defaults train the scikit-learn digits to 100 % training accuracy in
    about 30 epochs (a few seconds on a laptop CPU); decoupled weight decay
    and a cosine learning-rate decay then keep pulling the last hidden layer
    towards neural collapse as training continues past zero error.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(64, 64, 32)
        Widths of the hidden layers, recorded as ``hidden1``, ``hidden2``, ...
        The last should be at least ``n_classes - 1`` for a simplex ETF to fit.
    activation : {"relu", "tanh", "gelu"}, default="relu"
    optimizer : {"adamw", "sgd"}, default="adamw"
        AdamW (decoupled weight decay) or SGD with `momentum`.
    lr : float, default=2e-3
        Peak learning rate.
    weight_decay : float, default=0.1
        AdamW's decoupled decay, or SGD's L2 coefficient (use ~5e-4 there).
    momentum : float, default=0.9
        Used by SGD only.
    lr_schedule : {"cosine", "constant", "step"}, default="cosine"
        Cosine decays the learning rate to zero over all optimiser steps;
        "step" multiplies it by 0.1 after a third and again after two thirds
        of them (the schedule of Papyan et al. 2020); see `lr_factor`.
    epochs : int, default=100
    batch_size : int, default=128
    seed : int, default=0
        Seeds the initialisation and the shuffling; equal configs give equal runs.
    n_checkpoints : int, default=10
        Number of recorded checkpoints, log-spaced over optimiser steps,
        always including step 0 (initialisation) and the last step.
    eval_batch_size : int, default=1024
        Rows per forward pass when recording activations (memory, not results).
    loss : {"cross_entropy", "mse"}, default="cross_entropy"
        Cross-entropy on the logits, or the squared error between the logits
        and the one-hot targets, summed over classes and averaged over the
        batch, ``mean_i ||z_i - e_{y_i}||^2`` (Han, Papyan & Donoho 2022).
        The summed form keeps the gradient per logit independent of the
        number of classes. The curves' losses use the same loss.
    bias : bool, default=True
        Whether every Linear layer (hidden and classifier) has a bias. Without
        one, the recorded classifier is ``(weight, None)``.
    fixed_etf_head : bool, default=False
        Fix the classifier weight to a simplex equiangular tight frame
        (`simplex_etf` with ``seed=seed``: unit-norm rows, pairwise cosine
        -1/(C-1)) and never train it; its bias, if any, is fixed at zero
        (Zhu et al. 2021; Yang et al. 2022). Needs the last hidden width to be
        at least ``n_classes - 1``, checked when training starts.

    References
    ----------
    .. [1] Papyan, Han and Donoho, PNAS 2020 (step decay, terminal phase).
    .. [2] Han, Papyan and Donoho, "Neural collapse under MSE loss", ICLR 2022.
    .. [3] Zhu et al., "A geometric analysis of neural collapse with
       unconstrained features", NeurIPS 2021.
    .. [4] Yang et al., "Inducing neural collapse in imbalanced learning: do we
       really need a learnable classifier at the end of deep neural network?",
       NeurIPS 2022.
    """

    hidden_sizes: tuple[int, ...] = (64, 64, 32)
    activation: str = "relu"
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 0.1
    momentum: float = 0.9
    lr_schedule: str = "cosine"
    epochs: int = 100
    batch_size: int = 128
    seed: int = 0
    n_checkpoints: int = 10
    eval_batch_size: int = 1024
    loss: str = "cross_entropy"
    bias: bool = True
    fixed_etf_head: bool = False

    def __post_init__(self) -> None:
        sizes = self.hidden_sizes
        if isinstance(sizes, (int, np.integer)):
            sizes = (sizes,)
        try:
            sizes = tuple(int(s) for s in sizes)
        except (TypeError, ValueError):
            raise ValueError(
                f"MLPConfig.hidden_sizes must be a sequence of positive ints; got {self.hidden_sizes!r}."
            ) from None
        if not sizes or min(sizes) < 1:
            raise ValueError(
                f"MLPConfig.hidden_sizes must hold at least one positive width; got {sizes}."
            )
        # Frozen dataclass: normalise lists to a hashable tuple in place.
        object.__setattr__(self, "hidden_sizes", sizes)
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"MLPConfig.activation must be one of {sorted(ACTIVATIONS)}; got {self.activation!r}."
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"MLPConfig.optimizer must be one of {OPTIMIZERS}; got {self.optimizer!r}."
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"MLPConfig.lr_schedule must be one of {LR_SCHEDULES}; got {self.lr_schedule!r}."
            )
        if self.loss not in LOSSES:
            raise ValueError(f"MLPConfig.loss must be one of {LOSSES}; got {self.loss!r}.")
        for name in ("bias", "fixed_etf_head"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"MLPConfig.{name} must be True or False; got {value!r}.")
            object.__setattr__(self, name, bool(value))
        for name in ("lr",):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"MLPConfig.{name} must be a positive number; got {value!r}.")
        for name in ("weight_decay", "momentum"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"MLPConfig.{name} must be >= 0; got {value!r}.")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"MLPConfig.{name} must be a positive integer; got {value!r}.")
        if (
            isinstance(self.n_checkpoints, bool)
            or not isinstance(self.n_checkpoints, (int, np.integer))
            or self.n_checkpoints < 2
        ):
            raise ValueError(
                "MLPConfig.n_checkpoints must be an integer >= 2 (initialisation and the "
                f"last step); got {self.n_checkpoints!r}."
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"MLPConfig.seed must be an integer; got {self.seed!r}.")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        out = asdict(self)
        out["hidden_sizes"] = list(self.hidden_sizes)
        return out

    def describe(self) -> str:
        """A one-line summary, e.g. ``"MLP 64-64-32 (relu), adamw lr=0.002 ..."``."""
        widths = "-".join(str(h) for h in self.hidden_sizes)
        # Non-default options only, so that the default description (stored in
        # the shipped sample) stays as it was.
        extras = ""
        if self.loss != "cross_entropy":
            extras += f", {self.loss.upper()} loss"
        if not self.bias:
            extras += ", no bias"
        if self.fixed_etf_head:
            extras += ", fixed simplex-ETF head"
        return (
            f"MLP {widths} ({self.activation}){extras}, {self.optimizer} lr={self.lr:g} "
            f"wd={self.weight_decay:g} {self.lr_schedule}, {self.epochs} epochs, "
            f"batch {self.batch_size}, seed {self.seed}"
        )
