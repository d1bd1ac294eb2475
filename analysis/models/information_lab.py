"""The 12-bit information-bottleneck lab of Shwartz-Ziv & Tishby (2017) and Saxe et al. (2018).

The task
--------
The inputs are all 2^12 = 4,096 binary vectors x in {0, 1}^12
(`twelve_bit_inputs`: row r is the binary expansion of r, most significant
bit first). As in Shwartz-Ziv & Tishby, the label is a "spherically
symmetric" function of the bits: bit i sits on vertex v_i of a regular
icosahedron (`icosahedron_vertices`, unit vectors), each bit becomes a spin
``s_i = 2 x_i - 1`` and

    f(x) = || sum_i s_i v_i ||^2 = 12 + 2 sum_{i<j} s_i s_j (v_i . v_j),

the squared length of the spins' resultant vector (large when the ones
gather on one side of the sphere and the zeros on the other). The label is
``y = 1`` iff ``f(x) > LABEL_THRESHOLD = 12 - 4/sqrt(5) ~= 10.211``, i.e. iff
``f(x) >= 8 + 8/sqrt(5) ~= 11.578``. f takes 20 distinct values on the 4,096
inputs; cutting between ``16 - 16/sqrt(5) ~= 8.845`` and ``8 + 8/sqrt(5)`` is
the cut whose positive share is closest to 1/2: 2,036 of 4,096 inputs,
`POSITIVE_SHARE` = 0.49707 (the neighbouring cuts give 0.380 and 0.556).
(12 is the mean of f over all inputs, since distinct spins are uncorrelated.)

Every symmetry of the icosahedron (the 120 rotations and reflections)
permutes the vertices, hence the bits, and leaves f, so the label, unchanged;
so does flipping every bit (s -> -s). The paper describes its rule only as
a spherically symmetric function of 12 points spread on a sphere, thresholded
so that p(y=1) ~ 1/2; this is the simplest such rule, and it needed no
replacement: it splits the inputs almost evenly and the 12-10-7-5-4-3-2
network learns it to 100 % train and ~99.8 % test accuracy.

The network and its training
----------------------------
`train_information_lab` trains the fully connected 12-10-7-5-4-3-2 network
(five hidden layers, tanh or ReLU, two logits) on a stratified 85 % / 15 %
split with Adam (`train_mlp` with AdamW and zero weight decay, which is
Adam), a constant learning rate and cross-entropy, recording every hidden
layer's activations on all 4,096 inputs (train rows first, then test) at 30
log-spaced checkpoints. The defaults follow the reference code of
Shwartz-Ziv & Tishby (Adam, learning rate 4e-4, batch 256, tanh) but train
2,000 epochs (28,000 steps) instead of 8,000-10,000, which keeps a run at
about 30 s on one CPU thread and is enough to show both phases.

With the binning estimator (30 bins per unit over each layer's range across
all checkpoints, `analysis.metrics.information.information_plane_point`),
measured with seed 0 on one CPU thread: in the tanh network I(T;Y) of
hidden3-5 rises from ~0 to ~1 bit as the net fits (steps ~500-5,000), and
afterwards I(X;T) falls in the deeper layers: hidden5 from 6.27 bits (step
1,661) to 1.34, hidden4 from 7.90 (step 2,364) to 6.16, hidden3 from 10.83
to 10.30 (hidden1-2 keep all 12 bits throughout). Seeds 1 and 2 agree
(hidden5 7.90 -> 1.33 and 6.19 -> 1.23; hidden4 10.32 -> 6.41 and 9.55 ->
6.83). With ReLU (`INFORMATION_PRESETS["relu"]`) hidden4 and hidden5 do not
compress: their I(X;T) grows up to the last step (5.65 and 5.33 bits; with
seeds 1 and 2 hidden5 also peaks at the end and hidden4 loses at most 0.11
bits), as Saxe et al. report; with seed 0 hidden1-3 lose 0.2-0.4 bits after their peak. (ReLU
layers are unbounded, so their bins widen as the activations grow; Saxe et
al. also used fixed-width bins for them.)

Shipping a run compactly
------------------------
A full run (30 checkpoints x 4,096 inputs x 29 units) is ~7 MB even in
float16, while the network has only 294 parameters. So
`train_information_lab_with_weights` also returns every checkpoint's weights,
`save_information_weights` / `load_information_weights` store them (with the
config and the curves) in one small deterministic ``.safetensors`` file, and
`replay_information_run` recomputes the activations in numpy and rebuilds
the same `Run`.

References
----------
.. [1] R. Shwartz-Ziv and N. Tishby, "Opening the black box of deep neural
   networks via information", arXiv:1703.00810, 2017.
.. [2] A. M. Saxe, Y. Bansal, J. Dapello, M. Advani, A. Kolchinsky, B. D.
   Tracey and D. D. Cox, "On the information bottleneck theory of deep
   learning", ICLR 2018.
.. [3] N. Tishby and N. Zaslavsky, "Deep learning and the information
   bottleneck principle", IEEE ITW 2015.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from analysis.data.schema import Run
from analysis.models._checks import is_int
from analysis.models._progress import ProgressFn, StopFn

if TYPE_CHECKING:  # torch is imported only to train: replay and file I/O need numpy alone.
    from torch import nn

    from analysis.models.mlp import MLPConfig

__all__ = [
    "INFORMATION_ACTIVATIONS",
    "INFORMATION_PRESETS",
    "LABEL_THRESHOLD",
    "N_BITS",
    "POSITIVE_SHARE",
    "CheckpointWeights",
    "InformationLabConfig",
    "icosahedron_vertices",
    "load_information_weights",
    "replay_information_run",
    "save_information_weights",
    "train_information_lab",
    "train_information_lab_with_weights",
    "twelve_bit_inputs",
    "twelve_bit_labels",
    "twelve_bit_score",
    "twelve_bit_split",
]

N_BITS = 12
N_INPUTS = 2**N_BITS
# Midway between f's distinct values 16 - 16/sqrt(5) and 8 + 8/sqrt(5) (see the module docstring).
LABEL_THRESHOLD = 12.0 - 4.0 / math.sqrt(5.0)
# 2,036 of the 4,096 inputs have f(x) > LABEL_THRESHOLD (checked by the unit tests).
POSITIVE_SHARE = 2036 / 4096
INFORMATION_ACTIVATIONS = ("tanh", "relu")
LABEL_NAMES = ("y=0", "y=1")
LABEL_COLUMN = "label"

# step -> [(weight (out, in), bias (out,)) for each Linear layer, hidden1 first, the head last]
CheckpointWeights = dict[int, list[tuple[np.ndarray, np.ndarray]]]

_WEIGHTS_KEY = "replens_information_weights"
_WEIGHTS_FORMAT = 1
_TENSOR_NAME = re.compile(r"^step(\d+)/layer(\d+)/(weight|bias)$")


# --- the data -------------------------------------------------------------------------


def twelve_bit_inputs() -> np.ndarray:
    """All 4,096 binary inputs, in order: row r is r written in 12 bits.

    Returns
    -------
    ndarray of shape (4096, 12), float32
        0/1 entries; bit i of row r is ``(r >> (11 - i)) & 1`` (most
        significant bit first), so ``X @ 2 ** arange(11, -1, -1) == arange(4096)``.
    """
    r = np.arange(N_INPUTS, dtype=np.int64)
    shifts = N_BITS - 1 - np.arange(N_BITS, dtype=np.int64)
    return ((r[:, None] >> shifts[None, :]) & 1).astype(np.float32)


def icosahedron_vertices() -> np.ndarray:
    """The 12 vertices of a regular icosahedron, as unit vectors.

    The cyclic permutations of ``(0, ±1, ±φ)`` with φ the golden ratio,
    normalised: for a, b in (1, -1), vertices ``(0, a, bφ)``, ``(a, bφ, 0)``,
    ``(bφ, 0, a)``. Each vertex has 5 neighbours at angle arccos(1/sqrt(5))
    (~63.4 degrees), 5 at arccos(-1/sqrt(5)) and one antipode.

    Returns
    -------
    ndarray of shape (12, 3), float64
        Row i is the position of bit i.
    """
    phi = (1.0 + math.sqrt(5.0)) / 2.0
    rows = []
    for a in (1.0, -1.0):
        for b in (1.0, -1.0):
            rows += [(0.0, a, b * phi), (a, b * phi, 0.0), (b * phi, 0.0, a)]
    V = np.asarray(rows, dtype=np.float64)
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def _check_bits(X: Any) -> np.ndarray:
    arr = np.asarray(X)
    if arr.ndim != 2 or arr.shape[1] != N_BITS:
        raise ValueError(
            f"X must be a 2-D array of {N_BITS}-bit rows, shape (n, {N_BITS}); "
            f"got shape {arr.shape}."
        )
    if arr.dtype.kind not in "biuf" or not np.all((arr == 0) | (arr == 1)):
        raise ValueError("X must hold only 0s and 1s (one bit per column).")
    return arr.astype(np.float64)


def twelve_bit_score(X: Any) -> np.ndarray:
    """The symmetric function ``f(x) = ||sum_i (2 x_i - 1) v_i||^2`` of each row.

    Parameters
    ----------
    X : array-like of shape (n, 12)
        0/1 bits; bit i sits on vertex v_i of `icosahedron_vertices`.

    Returns
    -------
    ndarray of shape (n,), float64
        From 0 to ~41.89; 20 distinct values over all 4,096 inputs, mean 12.
    """
    spins = 2.0 * _check_bits(X) - 1.0
    resultant = spins @ icosahedron_vertices()
    return (resultant**2).sum(axis=1)


def twelve_bit_labels(X: Any) -> np.ndarray:
    """The lab's labels: ``y = 1`` iff ``twelve_bit_score(x) > LABEL_THRESHOLD``.

    Invariant under every symmetry of the icosahedron acting on the bits, and
    under flipping all bits; `POSITIVE_SHARE` of all 4,096 inputs are positive.

    Parameters
    ----------
    X : array-like of shape (n, 12)
        0/1 bits.

    Returns
    -------
    ndarray of shape (n,), int64
    """
    return (twelve_bit_score(X) > LABEL_THRESHOLD).astype(np.int64)


def twelve_bit_split(
    labels: Any, *, train_fraction: float = 0.85, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A stratified train/test split of the rows of `labels`.

    Each class c gives ``round(train_fraction * n_c)`` rows, drawn uniformly
    without replacement (``numpy.random.default_rng(seed)``, classes in
    ascending order), to the training split; the rest go to the test split.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
    train_fraction : float, default=0.85
        In (0, 1); every class must keep at least one row in each split.
    seed : int, default=0

    Returns
    -------
    train_rows, test_rows : ndarray of int64
        Row indices, each ascending.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be a 1-D array of integer codes; got shape {y.shape}, dtype {y.dtype}."
        )
    fraction = _check_train_fraction(train_fraction, name="train_fraction")
    rng = np.random.default_rng(int(seed))
    train_parts = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        k = round(fraction * rows.size)
        if not 1 <= k <= rows.size - 1:
            raise ValueError(
                f"train_fraction={train_fraction!r} leaves class {int(c)} ({rows.size} rows) "
                f"with {k} training rows; each split needs at least one row of every class."
            )
        train_parts.append(rng.permutation(rows)[:k])
    train = np.sort(np.concatenate(train_parts)).astype(np.int64)
    is_train = np.zeros(y.size, dtype=bool)
    is_train[train] = True
    return train, np.flatnonzero(~is_train).astype(np.int64)


# --- configuration --------------------------------------------------------------------


def _check_train_fraction(value: Any, *, name: str) -> float:
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = math.nan
    if isinstance(value, bool) or not (math.isfinite(fraction) and 0.0 < fraction < 1.0):
        raise ValueError(f"{name} must be a fraction in (0, 1); got {value!r}.")
    return fraction


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
        fraction = _check_train_fraction(
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
        from analysis.models.mlp import MLPConfig

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


# --- the run's pieces shared by training and replay -------------------------------------


@dataclass(frozen=True)
class _LabData:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    index: np.ndarray  # input_index of every run row, train rows first

    @property
    def n_train(self) -> int:
        return int(self.y_train.size)

    @property
    def n_test(self) -> int:
        return int(self.y_test.size)


def _lab_data(config: InformationLabConfig) -> _LabData:
    X = twelve_bit_inputs()
    y = twelve_bit_labels(X)
    train, test = twelve_bit_split(y, train_fraction=config.train_fraction, seed=config.data_seed)
    return _LabData(X[train], y[train], X[test], y[test], np.concatenate([train, test]))


def _bits_strings(index: np.ndarray) -> list[str]:
    return [format(int(r), f"0{N_BITS}b") for r in index]


def _extra_metadata(data: _LabData) -> pl.DataFrame:
    return pl.DataFrame(
        {"input_index": data.index.astype(np.int64), "bits": _bits_strings(data.index)}
    )


def _steps_per_epoch(config: InformationLabConfig, data: _LabData) -> int:
    return math.ceil(data.n_train / config.batch_size)


def _task(config: InformationLabConfig, data: _LabData) -> str:
    net = "-".join(str(w) for w in config.widths)
    return (
        "Information-bottleneck lab (Shwartz-Ziv & Tishby 2017): all 4096 inputs x in {0,1}^12, "
        "bit i on icosahedron vertex v_i, y = 1 iff ||sum_i (2 x_i - 1) v_i||^2 > 12 - 4/sqrt(5) "
        f"({100 * POSITIVE_SHARE:.1f}% positive, invariant under the icosahedron's symmetries); "
        f"{net} {config.activation} network, Adam lr={config.lr:g} (no weight decay, constant), "
        f"cross-entropy, batch {config.batch_size}, {config.epochs} epochs, seed {config.seed}; "
        f"stratified split {data.n_train} train / {data.n_test} test "
        f"({100 * config.train_fraction:g}%, data seed {config.data_seed}). "
        "metadata.input_index is the integer whose 12 bits (most significant first) are the row"
    )


def _epoch_curve(steps: Sequence[float], steps_per_epoch: int) -> list[float]:
    return [float(s) / steps_per_epoch for s in steps]


# --- training -------------------------------------------------------------------------


def _copy_weights(model: nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    linears = [getattr(model, name).linear for name in model.hidden_layer_names]
    linears.append(model.classifier)
    return [
        (
            lin.weight.detach().to("cpu").float().numpy().copy(),
            lin.bias.detach().to("cpu").float().numpy().copy(),
        )
        for lin in linears
    ]


@contextlib.contextmanager
def _epoch_curve_on_divergence(config: InformationLabConfig, data: _LabData) -> Iterator[None]:
    """A diverged training's kept run (`TrainingDiverged.result`) gets the ``epoch`` curve too."""
    from analysis.models._loop import TrainingDiverged

    try:
        yield
    except TrainingDiverged as exc:
        if exc.result is not None:
            exc.result.curves["epoch"] = _epoch_curve(exc.result.curves["step"], _steps_per_epoch(config, data))
        raise


def train_information_lab_with_weights(
    config: InformationLabConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    name: str = "",
) -> tuple[Run, CheckpointWeights]:
    """`train_information_lab`, also returning every checkpoint's weights.

    Returns
    -------
    run : Run
        As `train_information_lab`.
    weights : dict mapping step to list of (weight, bias)
        For each recorded step, one float32 ``(weight (out, in), bias (out,))``
        per Linear layer: ``hidden1`` ... ``hidden<L>``, then the classifier
        (6 pairs, 294 parameters, for the default network). With the config,
        `replay_information_run` rebuilds the run from them.
    """
    from analysis.models._threads import torch_threads
    from analysis.models.mlp import train_mlp

    config = InformationLabConfig() if config is None else config
    if not isinstance(config, InformationLabConfig):
        raise ValueError(
            f"config must be an InformationLabConfig; got {type(config).__name__}. "
            "Build one with InformationLabConfig(...) or pick one from INFORMATION_PRESETS."
        )
    data = _lab_data(config)
    weights: CheckpointWeights = {}

    def keep_weights(step: int, model: nn.Module) -> None:
        weights[int(step)] = _copy_weights(model)

    # One intra-op thread: these matrices are far too small to gain from more,
    # and the run then does not depend on the machine's core count.
    with torch_threads(1), _epoch_curve_on_divergence(config, data):
        run = train_mlp(
            data.X_train,
            data.y_train,
            data.X_test,
            data.y_test,
            config.mlp_config(),
            progress=progress,
            should_stop=should_stop,
            label_names=LABEL_NAMES,
            label_column=LABEL_COLUMN,
            extra_metadata=_extra_metadata(data),
            task=_task(config, data),
            name=name,
            on_checkpoint=keep_weights,
        )
    run.curves["epoch"] = _epoch_curve(run.curves["step"], _steps_per_epoch(config, data))
    return run, weights


def train_information_lab(
    config: InformationLabConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    name: str = "",
) -> Run:
    """Train the 12-bit information-bottleneck network and return its `Run`.

    Builds the 4,096 inputs and their labels (module docstring), splits them
    (`twelve_bit_split`), and trains with `train_mlp` on one torch thread:
    Adam (AdamW with zero weight decay), constant learning rate,
    cross-entropy.

    Parameters
    ----------
    config : InformationLabConfig, optional
        Defaults to ``InformationLabConfig()`` (``INFORMATION_PRESETS["tanh"]``).
    progress : callable (fraction, message) -> None, optional
        Passed to `train_mlp`: non-decreasing fractions in [0, 1], last 1.0.
    should_stop : callable () -> bool, optional
        Passed to `train_mlp`: polled before every optimiser step; True stops
        training and the run keeps the checkpoints so far.
    name : str, default=""
        Name stored in the run.

    Returns
    -------
    Run
        Layers ``hidden1`` ... ``hidden5`` (widths 10, 7, 5, 4, 3 by default),
        each recorded on all 4,096 inputs (train rows, then test rows, each in
        ascending input order) at every checkpoint; logits and classifier;
        labels 0/1 named ``"y=0"``/``"y=1"``. Metadata columns: ``id``,
        ``split``, ``label``, ``input_index`` (int64: the integer whose bits
        are the row) and ``bits`` (e.g. ``"010011000101"``, most significant
        first). Curves: `train_mlp`'s plus ``epoch`` (step / steps per epoch,
        aligned with ``step``).
    """
    run, _ = train_information_lab_with_weights(
        config, progress=progress, should_stop=should_stop, name=name
    )
    return run


# --- replay ---------------------------------------------------------------------------


def _check_weights(weights: Any, config: InformationLabConfig, *, label: str) -> CheckpointWeights:
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
    checked = _check_weights(weights, config, label="replay_information_run")
    curve_values = _check_curves(curves, label="replay_information_run")
    data = _lab_data(config)
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
    ).hstack(_extra_metadata(data))
    steps_per_epoch = _steps_per_epoch(config, data)
    total_steps = config.epochs * steps_per_epoch
    task = _task(config, data)
    if steps[-1] < total_steps:
        # train_mlp's note for a run stopped early.
        task += f" (stopped early at step {steps[-1]} of {total_steps})"
    curve_values["epoch"] = _epoch_curve(curve_values["step"], steps_per_epoch)
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


def _check_curves(curves: Any, *, label: str) -> dict[str, list[float]]:
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


# --- the weights file -----------------------------------------------------------------


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
    checked = _check_weights(weights, config, label="save_information_weights")
    curve_values = _check_curves(curves, label="save_information_weights")
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
    curves = _check_curves(header["curves"], label=label)

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
    return _check_weights(weights, config, label=label), config, curves, header["name"]


def _safetensors_metadata(blob: bytes, label: str) -> dict[str, str]:
    # safetensors.numpy.load drops the metadata: read it from the (already validated) header.
    from analysis.data.safetensors_io import parse_header

    _, meta, _ = parse_header(blob, len(blob), label, check_budget=False)
    return meta
