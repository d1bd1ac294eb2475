"""`VQConfig`, what the VQ lab trains and which remedies it switches on, and its presets."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from analysis.models._checks import is_int

__all__ = ["VQ_PRESETS", "VQConfig"]


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _positive_sizes(value: Any, name: str) -> tuple[int, ...]:
    sizes = (value,) if is_int(value) else value
    try:
        sizes = tuple(int(s) for s in sizes)
    except (TypeError, ValueError):
        raise ValueError(
            f"VQConfig.{name} must be a sequence of positive ints; got {value!r}."
        ) from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"VQConfig.{name} must hold at least one positive width; got {sizes}.")
    return sizes


# --- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class VQConfig:
    """What `train_vq` trains and how.

    The defaults (the ``"plain"`` preset) are a plain VQ-VAE with K = 256
    codes, the codebook initialised as in the original (uniform in
    ``[-1/K, 1/K]``, i.e. near the origin, far from most encoder outputs).
    On the digits it ends with 13% of its codes in use (perplexity 27);
    ``"all remedies"`` uses all of them (perplexity 224) with a lower test
    reconstruction error (0.69 against 0.89); see `VQ_PRESETS`.

    Parameters
    ----------
    codebook_size : int, default=256
        K, the number of codes (>= 2).
    code_dim : int, default=16
        Dimension of the encoder output (and of the codes, unless
        `lookup_dim` is set).
    hidden_sizes : tuple of int, default=(128, 64)
        Encoder widths; the decoder mirrors them.
    beta : float, default=0.25
        Commitment weight: ``beta * ||z - sg(q)||^2`` pulls encoder outputs
        towards their codes.
    ema : bool, default=False
        Update the codebook by exponential moving averages (decay
        `ema_decay`, Laplace smoothing `ema_eps`) instead of the codebook
        loss ``||sg(z) - q||^2``; the codebook then gets no gradient.
    ema_decay : float, default=0.99
    ema_eps : float, default=1e-5
    kmeans_init : bool, default=False
        Before step 0, set the codebook to k-means centres (scikit-learn
        `KMeans`, one run) of the quantiser inputs of the first epoch's first
        batches (at least ``4 * K`` samples, or the whole train split).
    restart_dead : bool, default=False
        Every `restart_every` steps, move each code that no sample of the
        batches since the last restart chose to a random quantiser input of
        the current batch.
    restart_every : int, default=20
    cosine : bool, default=False
        L2-normalise quantiser inputs and codes before the lookup; the
        decoder reads the unit-norm code.
    lookup_dim : int or None, default=None
        With an int, factorised codes: ``Linear(code_dim, lookup_dim)`` before
        the quantiser, the codebook of shape (K, lookup_dim), and
        ``Linear(lookup_dim, code_dim)`` after it.
    epochs : int, default=100
    batch_size : int, default=128
    lr : float, default=2e-3
        Adam learning rate (constant).
    seed : int, default=0
        Seeds the initialisation, batch order, k-means and restarts.
    data_seed : int, default=0
        Seeds the train/test split.
    n_checkpoints : int, default=10
        Recorded checkpoints, log-spaced over optimiser steps with
        `checkpoint_steps` (step 0 and the last step included).
    """

    codebook_size: int = 256
    code_dim: int = 16
    hidden_sizes: tuple[int, ...] = (128, 64)
    beta: float = 0.25
    ema: bool = False
    ema_decay: float = 0.99
    ema_eps: float = 1e-5
    kmeans_init: bool = False
    restart_dead: bool = False
    restart_every: int = 20
    cosine: bool = False
    lookup_dim: int | None = None
    epochs: int = 100
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    data_seed: int = 0
    n_checkpoints: int = 10

    def __post_init__(self) -> None:
        if not is_int(self.codebook_size) or self.codebook_size < 2:
            raise ValueError(
                f"VQConfig.codebook_size must be an integer >= 2; got {self.codebook_size!r}."
            )
        if not is_int(self.code_dim) or self.code_dim < 1:
            raise ValueError(f"VQConfig.code_dim must be a positive integer; got {self.code_dim!r}.")
        object.__setattr__(self, "hidden_sizes", _positive_sizes(self.hidden_sizes, "hidden_sizes"))
        beta = _as_float(self.beta)
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"VQConfig.beta must be a number >= 0 (typical 0.25); got {self.beta!r}.")
        object.__setattr__(self, "beta", beta)
        for name in ("ema", "kmeans_init", "restart_dead", "cosine"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"VQConfig.{name} must be True or False; got {value!r}.")
            object.__setattr__(self, name, bool(value))
        decay = _as_float(self.ema_decay)
        if not (math.isfinite(decay) and 0 < decay < 1):
            raise ValueError(
                f"VQConfig.ema_decay must be in (0, 1) (typical 0.99); got {self.ema_decay!r}."
            )
        object.__setattr__(self, "ema_decay", decay)
        eps = _as_float(self.ema_eps)
        if not (math.isfinite(eps) and eps > 0):
            raise ValueError(f"VQConfig.ema_eps must be a positive number; got {self.ema_eps!r}.")
        object.__setattr__(self, "ema_eps", eps)
        if not is_int(self.restart_every) or self.restart_every < 1:
            raise ValueError(
                f"VQConfig.restart_every must be a positive integer (steps); got {self.restart_every!r}."
            )
        if self.lookup_dim is not None and (not is_int(self.lookup_dim) or self.lookup_dim < 1):
            raise ValueError(
                f"VQConfig.lookup_dim must be None or a positive integer; got {self.lookup_dim!r}."
            )
        if not is_int(self.epochs) or self.epochs < 1:
            raise ValueError(f"VQConfig.epochs must be a positive integer; got {self.epochs!r}.")
        if not is_int(self.batch_size) or self.batch_size < 1:
            raise ValueError(f"VQConfig.batch_size must be a positive integer; got {self.batch_size!r}.")
        lr = _as_float(self.lr)
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"VQConfig.lr must be a positive number; got {self.lr!r}.")
        object.__setattr__(self, "lr", lr)
        for name in ("seed", "data_seed"):
            if not is_int(getattr(self, name)):
                raise ValueError(f"VQConfig.{name} must be an integer; got {getattr(self, name)!r}.")
        if not is_int(self.n_checkpoints) or self.n_checkpoints < 2:
            raise ValueError(
                "VQConfig.n_checkpoints must be an integer >= 2 (initialisation and the last "
                f"step); got {self.n_checkpoints!r}."
            )

    @property
    def quantiser_dim(self) -> int:
        """Dimension of the codes: `lookup_dim` when set, else `code_dim`."""
        return int(self.code_dim if self.lookup_dim is None else self.lookup_dim)

    def remedies(self) -> list[str]:
        """The switched-on remedies, in a fixed order (empty for plain VQ)."""
        out = []
        if self.ema:
            out.append(f"EMA codebook (decay {self.ema_decay:g})")
        if self.kmeans_init:
            out.append("k-means init")
        if self.restart_dead:
            out.append(f"dead-code restart every {self.restart_every} steps")
        if self.cosine:
            out.append("cosine codes")
        if self.lookup_dim is not None:
            out.append(f"lookup in {self.lookup_dim}-d")
        return out

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        out = asdict(self)
        out["hidden_sizes"] = list(self.hidden_sizes)
        return out

    def describe(self) -> str:
        """A one-line summary, e.g. ``"VQ-VAE K=256 codes of dim 16 (plain VQ); ..."``."""
        widths = "-".join(str(h) for h in self.hidden_sizes)
        remedies = ", ".join(self.remedies()) or "plain VQ"
        return (
            f"VQ-VAE K={self.codebook_size} codes of dim {self.quantiser_dim} ({remedies}); "
            f"MLP 64-{widths}-{self.code_dim} and mirror, commitment beta={self.beta:g}; "
            f"Adam lr={self.lr:g}, batch {self.batch_size}, {self.epochs} epochs, seed {self.seed}"
        )


# Measured on the digits, seed 0, one CPU thread (2-core machine), 100 epochs = 1,100
# steps; utilisation = share of the K codes used by the train split (1 - dead_fraction),
# perplexity of the train codes, reconstruction = per-pixel MSE on standardised pixels:
#   preset          time  utilisation (step 0 -> end)  perplexity  train MSE  test MSE
#   plain           2.7 s  0.11 -> 0.13                  27.2       0.486      0.893
#   EMA             2.5 s  0.11 -> 0.24                  53.3       0.374      0.808
#   restart         2.4 s  0.11 -> 1.00                 214.9       0.286      0.708
#   k-means init    2.1 s  1.00 -> 0.18                  38.6       0.436      0.849
#   cosine          2.5 s  0.11 -> 0.30                  71.3       0.425      0.848
#   low-dim lookup  2.3 s  0.02 -> 0.16                  33.6       0.510      0.949
#   all remedies    3.2 s  1.00 -> 1.00                 224.1       0.327      0.692
#   small K (16)    2.1 s  0.50 -> 1.00                  12.2       0.555      1.023
# Seeds 1 and 2 give the same picture (plain 0.14 / 0.12 of the codes, all remedies
# 1.00, test MSE 0.91 / 0.89 against 0.69 / 0.78). K-means initialisation alone does
# not last: the encoder moves away from its step-0 outputs and most codes die again;
# restarts keep reviving them. Low-dimensional lookup alone barely helps here.
VQ_PRESETS: dict[str, VQConfig] = {
    "plain": VQConfig(),
    "EMA": VQConfig(ema=True),
    "restart": VQConfig(restart_dead=True),
    "k-means init": VQConfig(kmeans_init=True),
    "cosine": VQConfig(cosine=True),
    "low-dim lookup": VQConfig(lookup_dim=4),
    "all remedies": VQConfig(ema=True, kmeans_init=True, restart_dead=True, cosine=True, lookup_dim=8),
    "small K": VQConfig(codebook_size=16),
}
