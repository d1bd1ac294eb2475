"""The contrastive lab: a small encoder trained with NT-Xent onto the circle or the sphere.

`train_contrastive` trains an MLP encoder whose outputs are L2-normalised (each
sample lands on the unit circle for ``out_dim=2``, on the 2-sphere for
``out_dim=3``) with the NT-Xent / InfoNCE loss of SimCLR: two augmented views
of every sample are pulled together and pushed away from the other views of
the batch. With ``negatives=False`` only the pulling term is left; nothing
then keeps the points apart and they all collapse to one point, the failure
that negatives (or tricks such as BYOL's predictor) exist to prevent.

At log-spaced checkpoints (initialisation included) the run records every
sample's clean (unaugmented) embedding, layer ``"embedding"``, and the
encoder's last hidden layer, layer ``"hidden"``. Its curves hold the loss and
the alignment and uniformity of Wang & Isola (2020), so a page can draw the
training trajectory in the alignment-uniformity plane.

Augmentations (`augment_images`) for the 8x8 digits: random integer shifts
(zero fill), random pixel masking and Gaussian pixel noise. They act on the
pixels scaled to [0, 1] (``load_digits() / 16``), where 0 is the blank
background, so that a shifted-in or masked pixel is blank paper; the encoder
reads those pixels directly. (Per-pixel standardised images have no common
"blank" value: zero there is each pixel's mean grey.) The Gaussian mixture
gets noise and masking (a masked feature is set to 0) and no shifts.

References
----------
.. [1] T. Chen, S. Kornblith, M. Norouzi and G. Hinton, "A simple framework
   for contrastive learning of visual representations", ICML 2020 (SimCLR,
   NT-Xent).
.. [2] A. van den Oord, Y. Li and O. Vinyals, "Representation learning with
   contrastive predictive coding", arXiv:1807.03748, 2018 (InfoNCE).
.. [3] T. Wang and P. Isola, "Understanding contrastive representation
   learning through alignment and uniformity on the hypersphere", ICML 2020.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
from torch import nn

from analysis.data.schema import Run
from analysis.models._checks import is_int
from analysis.models._loop import finish_run, run_epochs
from analysis.models._progress import clamped_progress
from analysis.models._threads import torch_threads
from analysis.models.digits import digits_dataset
from analysis.models.mlp import (
    ACTIVATIONS,
    ProgressFn,
    StopFn,
    _lr_factor,
    checkpoint_steps,
)

__all__ = [
    "CONTRASTIVE_DATASETS",
    "CONTRASTIVE_PRESETS",
    "ContrastiveConfig",
    "ContrastiveEncoder",
    "alignment_uniformity",
    "augment_images",
    "nt_xent_loss",
    "shift_images",
    "train_contrastive",
]

CONTRASTIVE_DATASETS = ("digits", "gaussian_mixture")

# The digits are 8x8 images; shifts need this shape.
_DIGIT_SHAPE = (8, 8)


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# --- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class ContrastiveConfig:
    """What `train_contrastive` trains and how.

    The defaults (the ``"circle"`` preset) train the digits onto the unit
    circle in about 15 s on one CPU thread (1,200 steps): from a nearly
    collapsed start the train uniformity falls from -0.09 to -1.53 (a
    perfectly uniform circle gives -1.58) while the alignment stays near 0.2,
    and the classes spread into arcs around the circle (circular std 13-40
    degrees for most digits; 1, 8 and 9 wider; 5-NN test accuracy on the
    circle 0.52, chance 0.10).

    Parameters
    ----------
    dataset : {"digits", "gaussian_mixture"}, default="digits"
        The scikit-learn digits (`digits_dataset`'s stratified split, pixels
        scaled to [0, 1]) or a synthetic
        `analysis.models.collapse_lab.gaussian_mixture_dataset` (default
        arguments, ``seed=data_seed``; no shifts).
    out_dim : int, default=2
        Dimension of the normalised embedding: 2 puts the samples on the
        unit circle, 3 on the 2-sphere; any value >= 2 is allowed.
    hidden_sizes : tuple of int, default=(128, 64)
        Widths of the encoder's hidden layers; the last is recorded as layer
        ``"hidden"``.
    activation : {"relu", "tanh", "gelu"}, default="relu"
    temperature : float, default=0.5
        tau > 0 dividing the cosine similarities in the loss.
    batch_size : int, default=256
        Samples per step (>= 2); each gives two views, so every view has
        ``2 * batch_size - 2`` negatives.
    epochs : int, default=200
    lr : float, default=3e-3
        Peak learning rate of AdamW, decayed to zero by a cosine schedule.
    weight_decay : float, default=1e-4
    negatives : bool, default=True
        False keeps only the positive (alignment) term of the loss,
        ``-mean cos(z1, z2) / tau``: with nothing pushing points apart the
        encoder maps every sample to the same point (collapse).
    noise_std : float, default=0.1
        Std of the Gaussian noise added to every pixel (pixels in [0, 1]; for
        the mixture, in feature units).
    max_shift : int, default=1
        Largest shift, in pixels, in each of x and y (digits only; each view
        draws its own shifts uniformly in ``-max_shift..max_shift``).
    mask_prob : float, default=0.1
        Probability that a pixel (feature) is set to 0, independently.
    seed : int, default=0
        Seeds the initialisation, batch order and augmentations.
    data_seed : int, default=0
        Seeds the train/test split (and the mixture).
    n_checkpoints : int, default=12
        Recorded checkpoints, log-spaced over optimiser steps with
        `checkpoint_steps` (step 0 and the last step included).
    """

    dataset: str = "digits"
    out_dim: int = 2
    hidden_sizes: tuple[int, ...] = (128, 64)
    activation: str = "relu"
    temperature: float = 0.5
    batch_size: int = 256
    epochs: int = 200
    lr: float = 3e-3
    weight_decay: float = 1e-4
    negatives: bool = True
    noise_std: float = 0.1
    max_shift: int = 1
    mask_prob: float = 0.1
    seed: int = 0
    data_seed: int = 0
    n_checkpoints: int = 12

    def __post_init__(self) -> None:
        if self.dataset not in CONTRASTIVE_DATASETS:
            raise ValueError(
                f"ContrastiveConfig.dataset must be one of {CONTRASTIVE_DATASETS}; "
                f"got {self.dataset!r}."
            )
        if not is_int(self.out_dim) or self.out_dim < 2:
            raise ValueError(
                "ContrastiveConfig.out_dim must be an integer >= 2 (2 = the circle, "
                f"3 = the sphere); got {self.out_dim!r}."
            )
        sizes = self.hidden_sizes
        if is_int(sizes):
            sizes = (sizes,)
        try:
            sizes = tuple(int(s) for s in sizes)
        except (TypeError, ValueError):
            raise ValueError(
                "ContrastiveConfig.hidden_sizes must be a sequence of positive ints; "
                f"got {self.hidden_sizes!r}."
            ) from None
        if not sizes or min(sizes) < 1:
            raise ValueError(
                "ContrastiveConfig.hidden_sizes must hold at least one positive width; "
                f"got {sizes}."
            )
        object.__setattr__(self, "hidden_sizes", sizes)
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"ContrastiveConfig.activation must be one of {sorted(ACTIVATIONS)}; "
                f"got {self.activation!r}."
            )
        tau = _as_float(self.temperature)
        if not (math.isfinite(tau) and tau > 0):
            raise ValueError(
                "ContrastiveConfig.temperature must be a positive number (typical 0.05-2); "
                f"got {self.temperature!r}."
            )
        object.__setattr__(self, "temperature", tau)
        if not is_int(self.batch_size) or self.batch_size < 2:
            raise ValueError(
                "ContrastiveConfig.batch_size must be an integer >= 2 (a view needs other "
                f"samples of its batch as negatives); got {self.batch_size!r}."
            )
        if not is_int(self.epochs) or self.epochs < 1:
            raise ValueError(f"ContrastiveConfig.epochs must be a positive integer; got {self.epochs!r}.")
        lr = _as_float(self.lr)
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"ContrastiveConfig.lr must be a positive number; got {self.lr!r}.")
        object.__setattr__(self, "lr", lr)
        for name in ("weight_decay", "noise_std"):
            value = _as_float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(
                    f"ContrastiveConfig.{name} must be a number >= 0; got {getattr(self, name)!r}."
                )
            object.__setattr__(self, name, value)
        mask = _as_float(self.mask_prob)
        if not (math.isfinite(mask) and 0 <= mask < 1):
            raise ValueError(
                "ContrastiveConfig.mask_prob must be a probability in [0, 1); "
                f"got {self.mask_prob!r}."
            )
        object.__setattr__(self, "mask_prob", mask)
        if not is_int(self.max_shift) or not 0 <= self.max_shift < min(_DIGIT_SHAPE):
            raise ValueError(
                "ContrastiveConfig.max_shift must be an integer pixel count in "
                f"0..{min(_DIGIT_SHAPE) - 1}; got {self.max_shift!r}."
            )
        if self.dataset != "digits" and self.max_shift != 0:
            raise ValueError(
                f"ContrastiveConfig.max_shift applies to images only; set max_shift=0 for "
                f"dataset={self.dataset!r}."
            )
        if not isinstance(self.negatives, (bool, np.bool_)):
            raise ValueError(
                f"ContrastiveConfig.negatives must be True or False; got {self.negatives!r}."
            )
        object.__setattr__(self, "negatives", bool(self.negatives))
        for name in ("seed", "data_seed"):
            if not is_int(getattr(self, name)):
                raise ValueError(
                    f"ContrastiveConfig.{name} must be an integer; got {getattr(self, name)!r}."
                )
        if not is_int(self.n_checkpoints) or self.n_checkpoints < 2:
            raise ValueError(
                "ContrastiveConfig.n_checkpoints must be an integer >= 2 (initialisation and "
                f"the last step); got {self.n_checkpoints!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        out = asdict(self)
        out["hidden_sizes"] = list(self.hidden_sizes)
        return out

    def describe(self) -> str:
        """A one-line summary, e.g. ``"NT-Xent onto the circle (tau=0.5, batch 256), ..."``."""
        target = {2: "the circle", 3: "the 2-sphere"}.get(self.out_dim, f"S^{self.out_dim - 1}")
        loss = "NT-Xent" if self.negatives else "alignment only (no negatives)"
        widths = "-".join(str(h) for h in self.hidden_sizes)
        augment = [f"noise {self.noise_std:g}", f"mask {self.mask_prob:g}"]
        if self.dataset == "digits":
            augment.insert(0, f"shift <= {self.max_shift}px")
        return (
            f"{loss} onto {target} (tau={self.temperature:g}, batch {self.batch_size}); "
            f"MLP {widths} ({self.activation}) -> {self.out_dim}; augment {', '.join(augment)}; "
            f"AdamW lr={self.lr:g} wd={self.weight_decay:g} cosine, {self.epochs} epochs, "
            f"seed {self.seed}"
        )


# --- augmentations ---------------------------------------------------------------------


def shift_images(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Shift each image by whole pixels, filling the uncovered border with 0.

    ``out[i, r, c] = images[i, r - dy[i], c - dx[i]]`` where that pixel exists,
    else 0: a positive `dy` moves the content down, a positive `dx` right.

    Parameters
    ----------
    images : Tensor of shape (n, H, W)
    dy, dx : int Tensor of shape (n,)
        Shifts with ``|dy| < H`` and ``|dx| < W``.

    Returns
    -------
    Tensor of shape (n, H, W)
    """
    if images.ndim != 3:
        raise ValueError(f"shift_images: images must have shape (n, H, W); got {tuple(images.shape)}.")
    n, H, W = images.shape
    dy = torch.as_tensor(dy, dtype=torch.long).reshape(-1)
    dx = torch.as_tensor(dx, dtype=torch.long).reshape(-1)
    if dy.numel() != n or dx.numel() != n:
        raise ValueError(f"shift_images: dy and dx need one shift per image ({n}).")
    pad = max(int(dy.abs().max()) if n else 0, int(dx.abs().max()) if n else 0)
    if pad >= max(H, W):
        raise ValueError(f"shift_images: shifts must be smaller than the image ({H}x{W}).")
    padded = F.pad(images, (pad, pad, pad, pad))
    rows = torch.arange(H)[None, :] - dy[:, None] + pad  # (n, H)
    cols = torch.arange(W)[None, :] - dx[:, None] + pad  # (n, W)
    batch = torch.arange(n)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]


def augment_images(
    x: torch.Tensor,
    *,
    image_shape: tuple[int, int] | None,
    max_shift: int,
    noise_std: float,
    mask_prob: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """One random augmented view of each row: shift, then mask, then noise.

    Zero is taken to be the blank background: shifted-in and masked pixels
    become 0. Steps, each skipped when its strength is 0 (so all three at 0
    return an unchanged copy and draw no random numbers):

    1. shift (images only): the row, reshaped to `image_shape`, moves by
       integers ``dy, dx`` drawn uniformly from ``-max_shift..max_shift``
       (`shift_images`);
    2. masking: each pixel independently set to 0 with probability `mask_prob`;
    3. noise: ``N(0, noise_std^2)`` added to every pixel.

    Parameters
    ----------
    x : Tensor of shape (n, n_features)
    image_shape : (H, W) or None
        With ``H * W == n_features``; None means the rows are not images and
        `max_shift` must be 0.
    max_shift : int
    noise_std : float
    mask_prob : float
    generator : torch.Generator
        All randomness comes from it (reproducible views).

    Returns
    -------
    Tensor of shape (n, n_features)
    """
    out = x.clone()
    n, d = out.shape
    if max_shift > 0:
        if image_shape is None or image_shape[0] * image_shape[1] != d:
            raise ValueError(
                f"augment_images: shifts need image_shape with H*W = {d}; got {image_shape!r}."
            )
        dy = torch.randint(-max_shift, max_shift + 1, (n,), generator=generator)
        dx = torch.randint(-max_shift, max_shift + 1, (n,), generator=generator)
        out = shift_images(out.reshape(n, *image_shape), dy, dx).reshape(n, d)
    if mask_prob > 0:
        keep = torch.rand(out.shape, generator=generator) >= mask_prob
        out = out * keep
    if noise_std > 0:
        out = out + noise_std * torch.randn(out.shape, generator=generator)
    return out


# --- model and loss --------------------------------------------------------------------


class ContrastiveEncoder(nn.Module):
    """An MLP whose output rows are L2-normalised: points on the unit sphere S^(out_dim-1).

    ``hidden`` (Linear + activation blocks) gives the last hidden features;
    ``head`` maps them linearly to `out_dim`; `forward` returns the
    normalised head output.
    """

    def __init__(
        self,
        in_features: int,
        out_dim: int,
        *,
        hidden_sizes: Sequence[int] = (128, 64),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        width = int(in_features)
        for i, size in enumerate(hidden_sizes, start=1):
            blocks[f"linear{i}"] = nn.Linear(width, int(size))
            blocks[f"act{i}"] = ACTIVATIONS[activation]()
            width = int(size)
        self.hidden = nn.Sequential(blocks)
        self.head = nn.Linear(width, int(out_dim))

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(last hidden features, normalised embedding)."""
        h = self.hidden(x)
        return h, F.normalize(self.head(h), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[1]


def nt_xent_loss(
    z1: torch.Tensor, z2: torch.Tensor, *, temperature: float, negatives: bool = True
) -> torch.Tensor:
    """NT-Xent (SimCLR) loss of B positive pairs, or its alignment term alone.

    With ``z = [z1; z2]`` (2B unit rows) and ``s_ij = z_i . z_j / tau``, each
    view i is classified against its partner p(i) among the other 2B - 1 views:
    ``loss = mean_i [ -s_i,p(i) + log sum_{j != i} exp(s_ij) ]``. With
    ``negatives=False`` only ``-mean_i s_i,p(i)`` (= ``-mean cos(z1, z2) / tau``)
    is left.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, d)
        L2-normalised embeddings of the two views; row k of each is one pair.
    temperature : float
    negatives : bool, default=True

    Returns
    -------
    scalar Tensor
    """
    if not negatives:
        return -(z1 * z2).sum(dim=1).mean() / temperature
    B = z1.shape[0]
    z = torch.cat([z1, z2], dim=0)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * B, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(B, 2 * B), torch.arange(0, B)])
    return F.cross_entropy(logits, targets)


def alignment_uniformity(
    z1: torch.Tensor, z2: torch.Tensor, z: torch.Tensor, *, alpha: float = 2.0, t: float = 2.0
) -> tuple[float, float]:
    """Wang & Isola's alignment of positive pairs and uniformity of a point set.

    ``alignment = mean_i ||z1_i - z2_i||^alpha`` (alpha = 2: 0 when views
    coincide, at most 4); ``uniformity = log mean_{i<j} exp(-t ||z_i - z_j||^2)``
    over all pairs (0 when all points coincide; more negative = more uniform).
    Rows are assumed unit-norm. For the training curves; the library metrics
    are `analysis.metrics.alignment` / `uniformity`.
    """
    align = (z1 - z2).norm(dim=1).pow(alpha).mean()
    n = z.shape[0]
    sq = torch.cdist(z.double(), z.double()).pow(2)
    upper = torch.triu_indices(n, n, offset=1)
    values = -t * sq[upper[0], upper[1]]
    uniform = torch.logsumexp(values, dim=0) - math.log(values.numel())
    return float(align), float(uniform)


# --- presets ---------------------------------------------------------------------------

# Measured on the digits, seed 0, one CPU thread (2-core machine), final checkpoint,
# train curves (alignment alpha=2, uniformity t=2), kNN = 5-NN test accuracy on the
# embedding, probe = logistic regression test accuracy on the "hidden" layer:
#   preset            time   alignment      uniformity       kNN    probe
#   circle            15 s   0.10 -> 0.21   -0.09 -> -1.53   0.52   0.86
#   sphere            12 s   1.00 -> 0.16   -0.86 -> -2.03   0.77   0.90
#   low temperature   13 s   0.10 -> 0.09   -0.09 -> -1.27   0.56   0.88
#   high temperature  20 s   0.10 -> 0.19   -0.09 -> -1.48   0.47   0.83
#   no negatives      16 s   0.10 -> 0.00   -0.09 -> -0.00   0.12   0.84
# On the circle tau = 0.1 keeps views tighter (alignment 0.09) but leaves the
# points less uniform (mean pairwise cosine 0.21 against 0.01 at tau = 0.5).
CONTRASTIVE_PRESETS: dict[str, ContrastiveConfig] = {
    "circle": ContrastiveConfig(),
    "sphere": ContrastiveConfig(out_dim=3),
    "low temperature": ContrastiveConfig(temperature=0.1),
    "high temperature": ContrastiveConfig(temperature=2.0),
    "no negatives": ContrastiveConfig(negatives=False),
}


# --- training --------------------------------------------------------------------------


def _load_data(config: ContrastiveConfig) -> dict[str, Any]:
    if config.dataset == "digits":
        from sklearn.datasets import load_digits

        _, y_tr, _, y_te, index_tr, index_te = digits_dataset(seed=config.data_seed, return_index=True)
        pixels = (load_digits().data / 16.0).astype(np.float32)
        return {
            "X_train": pixels[index_tr],
            "y_train": y_tr,
            "X_test": pixels[index_te],
            "y_test": y_te,
            "source_index": np.concatenate([index_tr, index_te]).astype(np.int64),
            "label_column": "digit",
            "image_shape": _DIGIT_SHAPE,
            "text": "Handwritten digits (scikit-learn load_digits, 8x8 pixels scaled to [0, 1])",
        }
    from analysis.models.collapse_lab import gaussian_mixture_dataset

    X_tr, y_tr, X_te, y_te = gaussian_mixture_dataset(seed=config.data_seed)
    return {
        "X_train": X_tr,
        "y_train": y_tr,
        "X_test": X_te,
        "y_test": y_te,
        "source_index": None,
        "label_column": "class",
        "image_shape": None,
        "text": f"Gaussian mixture ({X_tr.shape[1]} features, 5 classes)",
    }


def train_contrastive(
    config: ContrastiveConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    name: str = "",
) -> Run:
    """Train a `ContrastiveEncoder` with NT-Xent on augmented views and return the `Run`.

    Each step draws a batch of training samples, two independent augmented
    views of each (`augment_images`), and minimises `nt_xent_loss` with
    AdamW under a cosine learning-rate decay. Training runs on one torch
    intra-op thread (restored afterwards).

    At each checkpoint (`checkpoint_steps`; step 0 = initialisation) the run
    records, for every sample (train rows, then test rows), clean inputs:

    - layer ``"hidden"``: the last hidden layer, shape (n, hidden_sizes[-1]);
    - layer ``"embedding"``: the unit-norm output, shape (n, out_dim).

    Curves, evaluated at step 0, at the end of every epoch and at every
    checkpoint (x axis ``"step"``, optimiser updates):

    - ``train_loss``: the loss (`nt_xent_loss` with this config's options)
      on a fixed pair of augmented views of the whole train split, drawn once
      and cut into batches of ``batch_size``, averaged over batches; fixed
      views make the curve move only with the encoder;
    - ``alignment``, ``uniformity``: Wang & Isola (alpha = 2, t = 2), the
      alignment over those fixed view pairs and the uniformity of the clean
      train embeddings over all pairs (`alignment_uniformity`);
    - ``test_alignment``, ``test_uniformity``: the same on the test split.

    Parameters
    ----------
    config : ContrastiveConfig, optional
        Defaults to ``ContrastiveConfig()`` (``CONTRASTIVE_PRESETS["circle"]``).
    progress : callable (fraction, message) -> None, optional
        Non-decreasing fractions in [0, 1], the last 1.0.
    should_stop : callable () -> bool, optional
        Polled before every optimiser step; True stops training, the current
        step is recorded as a last checkpoint and the run keeps those so far.
    name : str, default=""

    Returns
    -------
    Run
        Layers ``("hidden", "embedding")``; labels are the classes.
        Metadata columns: ``id``, ``split``, ``digit`` (``class`` for the
        mixture) and, for the digits, ``source_index`` (row of
        ``sklearn.datasets.load_digits()``).

    Notes
    -----
    Deterministic for a given config and torch build: the initialisation is
    seeded inside ``torch.random.fork_rng`` and batches and augmentations use
    their own ``torch.Generator``.
    """
    config = ContrastiveConfig() if config is None else config
    if not isinstance(config, ContrastiveConfig):
        raise ValueError(
            f"config must be a ContrastiveConfig; got {type(config).__name__}. Build one with "
            "ContrastiveConfig(...) or pick one from CONTRASTIVE_PRESETS."
        )
    with torch_threads(1):
        return _train(config, progress=progress, should_stop=should_stop, name=name)


def _train(
    config: ContrastiveConfig,
    *,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
    name: str,
) -> Run:
    data = _load_data(config)
    X_tr = torch.from_numpy(np.ascontiguousarray(data["X_train"], dtype=np.float32))
    X_te = torch.from_numpy(np.ascontiguousarray(data["X_test"], dtype=np.float32))
    y_tr, y_te = data["y_train"], data["y_test"]
    n_train, n_test = X_tr.shape[0], X_te.shape[0]
    n_total = n_train + n_test
    X_all = torch.cat([X_tr, X_te])
    labels = np.concatenate([y_tr, y_te]).astype(np.int64)
    n_classes = int(labels.max()) + 1
    label_names = tuple(str(c) for c in range(n_classes))

    batch = min(config.batch_size, n_train)
    steps_per_epoch = math.ceil(n_train / batch)
    total_steps = config.epochs * steps_per_epoch
    planned = set(checkpoint_steps(total_steps, config.n_checkpoints))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = ContrastiveEncoder(
            X_tr.shape[1],
            config.out_dim,
            hidden_sizes=config.hidden_sizes,
            activation=config.activation,
        )
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor("cosine", total_steps))
    # Separate streams: batch order, training views, and the fixed evaluation views.
    seeds = np.random.SeedSequence(config.seed).generate_state(3)
    order_rng = torch.Generator().manual_seed(int(seeds[0]))
    view_rng = torch.Generator().manual_seed(int(seeds[1]))
    eval_rng = torch.Generator().manual_seed(int(seeds[2]))
    augment = {
        "image_shape": data["image_shape"],
        "max_shift": config.max_shift,
        "noise_std": config.noise_std,
        "mask_prob": config.mask_prob,
    }
    eval_views = {
        split: (
            augment_images(X, generator=eval_rng, **augment),
            augment_images(X, generator=eval_rng, **augment),
        )
        for split, X in (("train", X_tr), ("test", X_te))
    }

    activations: dict[tuple[str, int], np.ndarray] = {}
    recorded: list[int] = []
    curves: dict[str, list[float]] = {
        key: []
        for key in (
            "step",
            "train_loss",
            "alignment",
            "uniformity",
            "test_alignment",
            "test_uniformity",
        )
    }

    @torch.no_grad()
    def evaluate(step: int, *, checkpoint: bool) -> None:
        was_training = model.training
        model.eval()
        if checkpoint:
            hidden, emb = model.features(X_all)
            activations[("hidden", step)] = hidden.numpy().astype(np.float32, copy=True)
            activations[("embedding", step)] = emb.numpy().astype(np.float32, copy=True)
            recorded.append(step)
        if not curves["step"] or curves["step"][-1] != step:
            clean = model(X_all)
            for split, rows in (("train", slice(0, n_train)), ("test", slice(n_train, n_total))):
                v1, v2 = (model(v) for v in eval_views[split])
                align, uniform = alignment_uniformity(v1, v2, clean[rows])
                prefix = "" if split == "train" else "test_"
                curves[f"{prefix}alignment"].append(align)
                curves[f"{prefix}uniformity"].append(uniform)
                if split == "train":
                    losses = [
                        float(
                            nt_xent_loss(
                                v1[s : s + batch],
                                v2[s : s + batch],
                                temperature=config.temperature,
                                negatives=config.negatives,
                            )
                        )
                        for s in range(0, n_train, batch)
                        if min(batch, n_train - s) >= 2
                    ]
                    curves["train_loss"].append(float(np.mean(losses)))
            curves["step"].append(float(step))
        model.train(was_training)

    report = clamped_progress(progress)

    evaluate(0, checkpoint=True)
    report(0.0, f"Initialised {config.describe()}; {total_steps} steps planned.")

    def train_step(rows: torch.Tensor, step: int) -> torch.Tensor:
        x = X_tr[rows]
        v1 = augment_images(x, generator=view_rng, **augment)
        v2 = augment_images(x, generator=view_rng, **augment)
        loss = nt_xent_loss(model(v1), model(v2), temperature=config.temperature, negatives=config.negatives)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss

    def end_epoch(step: int) -> str:
        evaluate(step, checkpoint=False)
        return (f"loss {curves['train_loss'][-1]:.4f} · alignment {curves['alignment'][-1]:.3f} · "
                f"uniformity {curves['uniformity'][-1]:.3f}")

    model.train()
    end = run_epochs(
        epochs=config.epochs, n_train=n_train, batch_size=batch,
        epoch_order=lambda epoch: torch.randperm(n_train, generator=order_rng), train_step=train_step,
        planned=planned, checkpoint=lambda step: evaluate(step, checkpoint=True), end_epoch=end_epoch,
        report=report, total_steps=total_steps, should_stop=should_stop,
        min_batch=2,  # a batch of one has no negatives: the epoch's first full batch stands in for it
    )
    model.eval()
    step, stopped = end.step, end.stopped
    if stopped and step not in recorded:
        evaluate(step, checkpoint=True)

    columns: dict[str, Any] = {
        "id": np.arange(n_total, dtype=np.int64),
        "split": ["train"] * n_train + ["test"] * n_test,
        data["label_column"]: [label_names[c] for c in labels],
    }
    if data["source_index"] is not None:
        columns["source_index"] = data["source_index"]
    task = (
        f"Contrastive lab: {data['text']}; {n_train} train / {n_test} test samples, "
        f"{n_classes} classes; {config.describe()}"
        + (". metadata.source_index is the row in load_digits()" if config.dataset == "digits" else "")
    )
    if stopped:
        task += f" (stopped early at step {step} of {total_steps})"
    report(1.0, f"Stopped at step {step}." if stopped else f"Done: {step} steps."
           if end.diverged_epoch is None else f"Diverged at step {step}.")
    run = Run(
        activations=activations,
        layers=("hidden", "embedding"),
        steps=tuple(recorded),
        labels=labels,
        label_names=label_names,
        metadata=pl.DataFrame(columns),
        curves=curves,
        task=task,
        name=name,
    )
    return finish_run(run, end, steps_per_epoch=steps_per_epoch, lr=config.lr)
