"""The toy models of superposition (Elhage et al. 2022), trained as one batched computation.

The model maps n sparse features through m < n hidden dimensions and back::

    h = W x            (W of shape (m, n): the paper's convention)
    x' = ReLU(W^T h + b)

Feature i is 0 with probability S (the sparsity) and otherwise uniform on
[0, 1], independently of the others; the loss is the importance-weighted
squared error ``sum_i I_i (x_i - x'_i)^2``, averaged over the batch. The
paper's finding, reproduced by the default `ToyModelConfig` (n = 5, m = 2,
importance 0.9^i): dense features are stored one per dimension (the two most
important, orthogonally, the rest dropped); as they get sparser the model
stores more features than it has dimensions, first as antipodal pairs, then
all five as a regular pentagon (every feature dimensionality D_i = 2/5).

Many instances (different sparsities, importances or seeds) train at once as
one tensor computation: the weights of N instances are one tensor of shape
(N, m, n), every step draws a batch per instance with that instance's
sparsity and applies one batched forward/backward pass and one AdamW step
(AdamW is element-wise and the summed loss gives each instance the gradient
of its own loss, so instances never interact). A whole sweep therefore costs
about as much as one run.

Conventions for the results: `ToySweep.W_features` stores, per checkpoint and
instance, the paper's W^T, of shape (n_features, n_hidden): one row per
feature, as `analysis.metrics.superposition_geometry` expects.

References
----------
.. [1] N. Elhage, T. Hume, C. Olsson, N. Schiefer, T. Henighan, S. Kravec,
   Z. Hatfield-Dodds, R. Lasenby, D. Drain, C. Chen, R. Grosse, S. McCandlish,
   J. Kaplan, D. Amodei, M. Wattenberg and C. Olah, "Toy models of
   superposition", Transformer Circuits Thread, 2022.
   https://transformer-circuits.pub/2022/toy_model/index.html
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from analysis.models._checks import is_int
from analysis.models._progress import ProgressFn, StopFn, clamped_progress
from analysis.models._threads import torch_threads

__all__ = [
    "DEFAULT_TOY_SPARSITIES",
    "PHASE_LABELS",
    "TOY_LR_SCHEDULES",
    "PhaseDiagram",
    "ToyModelConfig",
    "ToySweep",
    "classify_two_feature_model",
    "phase_diagram",
    "theoretical_phases",
    "train_toy_models",
]


TOY_LR_SCHEDULES = ("constant", "cosine")

# The paper's sweep (its accompanying notebook): feature probability 1 - S from
# 1 (dense) down to 1/20 in 10 log-spaced steps, i.e. p_k = 20 ** (-k / 9).
DEFAULT_TOY_SPARSITIES: tuple[float, ...] = tuple(float(1.0 - 20.0 ** (-k / 9)) for k in range(10))

# Labels of `phase_diagram` cells and of `classify_two_feature_model`.
PHASE_LABELS: tuple[str, ...] = ("ignore second", "dedicated to second", "antipodal", "other")

# Random draws are generated ahead for several steps at once; this bounds that buffer.
_DRAW_BUFFER_BYTES = 32 * 2**20
_EVAL_SAMPLES = 4096


# --- validation ------------------------------------------------------------------------


def _positive_float(value: Any, *, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if isinstance(value, bool) or not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
    return out


def _check_sparsity(value: Any, *, name: str) -> float:
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


def _check_importance(values: Any, *, n_features: int, name: str) -> np.ndarray:
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
            _check_sparsity(s, name=f"ToyModelConfig.sparsities[{i}]")
            for i, s in enumerate(self.sparsities)
        )
        object.__setattr__(self, "sparsities", sparsities)
        decay = _positive_float(self.importance_decay, name="ToyModelConfig.importance_decay")
        object.__setattr__(self, "importance_decay", decay)
        if self.importances is not None:
            arr = _check_importance(
                self.importances, n_features=self.n_features, name="ToyModelConfig.importances"
            )
            object.__setattr__(self, "importances", tuple(float(v) for v in arr))
        object.__setattr__(self, "lr", _positive_float(self.lr, name="ToyModelConfig.lr"))
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


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ToySweep:
    """The trained instances of one `train_toy_models` call, at every checkpoint.

    Attributes
    ----------
    n_features, n_hidden : int
    sparsities : ndarray of shape (n_instances,), float64
        S of each instance.
    importances : ndarray of shape (n_instances, n_features), float64
    seeds : ndarray of shape (n_instances,), int64
    steps : ndarray of shape (n_checkpoints,), int64
        Optimiser steps of the checkpoints (0 = initialisation). After a stop,
        the last one is the step training stopped at.
    W_features : ndarray of shape (n_checkpoints, n_instances, n_features, n_hidden), float32
        The paper's W^T: row i is feature i's direction in the hidden space.
    b : ndarray of shape (n_checkpoints, n_instances, n_features), float32
    losses : ndarray of shape (n_checkpoints, n_instances), float64
        Each instance's loss ``mean over samples of sum_i I_i (x_i - x'_i)^2``
        on a fixed evaluation sample of 4096 inputs drawn from its own
        distribution (the same sample at every checkpoint).
    stopped : bool
        True if `should_stop` ended training early.
    seconds : float
        Wall-clock training time.
    config : dict
        What trained it (``ToyModelConfig.to_dict()``, or the settings given).
    """

    n_features: int
    n_hidden: int
    sparsities: np.ndarray
    importances: np.ndarray
    seeds: np.ndarray
    steps: np.ndarray
    W_features: np.ndarray
    b: np.ndarray
    losses: np.ndarray
    stopped: bool = False
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def n_instances(self) -> int:
        return int(self.sparsities.shape[0])

    @property
    def feature_probabilities(self) -> np.ndarray:
        """1 - S per instance."""
        return 1.0 - self.sparsities

    @property
    def final_W_features(self) -> np.ndarray:
        """W_features at the last checkpoint, shape (n_instances, n_features, n_hidden)."""
        return self.W_features[-1]

    @property
    def final_losses(self) -> np.ndarray:
        """Evaluation loss at the last checkpoint, shape (n_instances,)."""
        return self.losses[-1]

    def feature_norms(self, checkpoint: int = -1) -> np.ndarray:
        """||W_i|| per instance and feature at one checkpoint, shape (n_instances, n_features)."""
        return np.linalg.norm(self.W_features[checkpoint].astype(np.float64), axis=-1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (arrays as nested lists)."""
        return {
            "n_features": self.n_features,
            "n_hidden": self.n_hidden,
            "sparsities": self.sparsities.tolist(),
            "importances": self.importances.tolist(),
            "seeds": self.seeds.tolist(),
            "steps": self.steps.tolist(),
            "W_features": self.W_features.tolist(),
            "b": self.b.tolist(),
            "losses": self.losses.tolist(),
            "stopped": self.stopped,
            "seconds": self.seconds,
            "config": self.config,
        }


# --- training --------------------------------------------------------------------------


def _draw_inputs(u: Any, p: Any) -> Any:
    """Map uniform draws u in [0, 1) to sparse features: ``u / p`` if ``u < p`` else 0.

    Given ``u < p``, ``u / p`` is uniform on [0, 1); so each feature is non-zero
    with probability p = 1 - S and then uniform on [0, 1), from one draw.
    """
    import torch

    return torch.where(u < p, u / p, torch.zeros((), dtype=u.dtype))


def _batched_loss(W: Any, b: Any, x: Any, importance: Any) -> Any:
    """Per-instance loss, shape (N,): mean over the batch of sum_i I_i (x_i - x'_i)^2.

    W: (N, m, n); b: (N, n); x: (N, B, n); importance: (N, 1, n).
    """
    import torch

    h = torch.bmm(x, W.transpose(1, 2))
    out = torch.relu(torch.bmm(h, W) + b[:, None, :])
    return (importance * (x - out) ** 2).sum(-1).mean(-1)


def train_toy_models(
    config: ToyModelConfig | None = None,
    *,
    settings: Sequence[tuple[float, Sequence[float]]] | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> ToySweep:
    """Train a sweep of toy models of superposition as one batched tensor computation.

    Every instance k has its own ``torch.Generator`` seeded with
    ``config.seed + k``: it first draws W (Xavier-normal, std sqrt(2 / (n + m)),
    as the paper's notebook; b starts at 0), then a fixed evaluation sample of
    4096 inputs, then every training batch. Instance k's parameters get the
    gradient of its own loss only (the optimised objective is the sum of the
    instances' losses, and AdamW acts element-wise), so results do not depend
    on which other instances share the batch. Training runs on one torch
    intra-op thread (the previous count is restored).

    Parameters
    ----------
    config : ToyModelConfig, optional
        Defaults to ``ToyModelConfig()``: the paper's n = 5, m = 2 sweep over
        10 sparsities (about 16-18 s on one CPU thread).
    settings : sequence of (sparsity, importance vector), optional
        Explicit instances instead of ``config.sparsities`` x
        ``instances_per_setting`` with ``config.importance``: instance k gets
        ``settings[k]`` (each importance vector has n_features entries > 0).
        The other fields of `config` (sizes, optimiser, seed) still apply.
    progress : callable (fraction, message) -> None, optional
        Called with non-decreasing fractions in [0, 1] (about every 1 % of the
        steps); the last call has 1.0.
    should_stop : callable () -> bool, optional
        Polled before every optimiser step; True stops training, and the sweep
        keeps the checkpoints so far plus the step it stopped at.

    Returns
    -------
    ToySweep

    Raises
    ------
    TrainingDiverged
        When the summed loss becomes NaN or infinite (checked before each
        update) or a checkpoint holds a non-finite weight: training stops and
        the error's ``result`` is the sweep cut back to its last finite
        checkpoint (its ``epoch`` and ``kept_epoch`` repeat the steps: the toy
        models draw fresh inputs every step and have no epochs).
    """
    import torch

    from analysis.models._loop import TrainingDiverged, divergence_message

    config = ToyModelConfig() if config is None else config
    if not isinstance(config, ToyModelConfig):
        raise ValueError(
            f"config must be a ToyModelConfig; got {type(config).__name__}. Build one with "
            "ToyModelConfig(...)."
        )
    n, m = config.n_features, config.n_hidden
    if settings is None:
        reps = config.instances_per_setting
        sparsities = np.repeat(np.asarray(config.sparsities, dtype=np.float64), reps)
        importances = np.tile(config.importance, (sparsities.size, 1))
        config_record = config.to_dict()
    else:
        if isinstance(settings, (str, bytes)) or not isinstance(settings, Sequence) or not settings:
            raise ValueError(
                "settings must be a non-empty sequence of (sparsity, importance vector) pairs; "
                f"got {settings!r}."
            )
        s_list, i_list = [], []
        for k, item in enumerate(settings):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise ValueError(
                    f"settings[{k}] must be a (sparsity, importance vector) pair; got {item!r}."
                )
            s_list.append(_check_sparsity(item[0], name=f"settings[{k}] sparsity"))
            i_list.append(
                _check_importance(item[1], n_features=n, name=f"settings[{k}] importance")
            )
        sparsities = np.asarray(s_list, dtype=np.float64)
        importances = np.stack(i_list)
        config_record = config.to_dict() | {
            "settings": [[s, imp.tolist()] for s, imp in zip(s_list, i_list, strict=True)]
        }
    N = int(sparsities.size)
    seeds = config.seed + np.arange(N, dtype=np.int64)

    from analysis.models.mlp import checkpoint_steps

    total = config.steps
    planned = checkpoint_steps(total, config.n_checkpoints)
    planned_set = set(planned)
    B = config.batch_size
    # Steps whose draws are generated at once; a generator's stream does not
    # depend on how its draws are chunked, so this does not change the result.
    chunk = int(max(1, min(64, _DRAW_BUFFER_BYTES // (4 * N * B * n))))

    report = clamped_progress(progress)

    started = time.perf_counter()
    with torch_threads(1):
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        std = math.sqrt(2.0 / (n + m))
        W0 = torch.empty(N, m, n)
        eval_u = torch.empty(N, _EVAL_SAMPLES, n)
        for k, g in enumerate(gens):
            W0[k] = torch.randn(m, n, generator=g) * std
            torch.rand(_EVAL_SAMPLES, n, generator=g, out=eval_u[k])
        W = W0.clone().requires_grad_(True)
        b = torch.zeros(N, n, requires_grad=True)
        p = torch.from_numpy((1.0 - sparsities).astype(np.float32))[:, None, None]
        imp = torch.from_numpy(importances.astype(np.float32))[:, None, :]
        eval_x = _draw_inputs(eval_u, p)
        del eval_u
        optimizer = torch.optim.AdamW([W, b], lr=config.lr, weight_decay=config.weight_decay)
        cosine = config.lr_schedule == "cosine"

        W_rec: list[np.ndarray] = []
        b_rec: list[np.ndarray] = []
        loss_rec: list[np.ndarray] = []
        recorded: list[int] = []

        def record(step: int) -> None:
            with torch.no_grad():
                W_rec.append(W.detach().transpose(1, 2).contiguous().numpy().copy())
                b_rec.append(b.detach().numpy().copy())
                loss_rec.append(_batched_loss(W, b, eval_x, imp).double().numpy())
            recorded.append(step)

        record(0)
        report(0.0, f"Initialised {N} instances; {total} steps planned.")
        buffer = torch.empty(N, chunk, B, n)
        stopped = False
        bad_loss: float | None = None
        step = 0
        last_reported = 0.0
        while step < total:
            if should_stop is not None and should_stop():
                stopped = True
                break
            k = step % chunk
            if k == 0:
                for i, g in enumerate(gens):
                    torch.rand(chunk, B, n, generator=g, out=buffer[i])
            x = _draw_inputs(buffer[:, k], p)
            loss = _batched_loss(W, b, x, imp).sum()
            if not math.isfinite(float(loss.detach())):  # checked before it can reach the weights
                bad_loss = float(loss.detach())
                step += 1
                break
            if cosine:
                for group in optimizer.param_groups:
                    group["lr"] = config.lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step in planned_set:
                record(step)
            fraction = step / total
            if fraction - last_reported >= 0.01 and step < total:
                last_reported = fraction
                report(fraction, f"Step {step}/{total} · summed loss {float(loss.detach()):.4f}")
        if stopped and step not in recorded:
            record(step)
    seconds = time.perf_counter() - started
    kept = len(recorded)
    for i in range(len(recorded)):
        if not (np.isfinite(W_rec[i]).all() and np.isfinite(b_rec[i]).all() and np.isfinite(loss_rec[i]).all()):
            kept = i
            break
    diverged = bad_loss is not None or kept < len(recorded)
    report(
        1.0,
        (f"Stopped at step {step}/{total}" if stopped else
         f"Diverged at step {step}/{total}" if diverged else f"Trained {N} instances, {total} steps")
        + f" in {seconds:.1f} s.",
    )
    if diverged:
        bad_step = step if bad_loss is not None else recorded[kept]
        kept_step = recorded[kept - 1] if kept else None
        recorded, W_rec, b_rec, loss_rec = recorded[:kept], W_rec[:kept], b_rec[:kept], loss_rec[:kept]
        message = divergence_message(bad_loss=bad_loss, epoch=None, step=bad_step, kept_step=kept_step,
                                     kept_epoch=None, lr=config.lr, unit="step")
        partial = None if not kept else ToySweep(
            n_features=n, n_hidden=m, sparsities=sparsities, importances=importances, seeds=seeds,
            steps=np.asarray(recorded, dtype=np.int64), W_features=np.stack(W_rec).astype(np.float32),
            b=np.stack(b_rec).astype(np.float32), losses=np.stack(loss_rec), stopped=False,
            seconds=seconds, config=config_record,
        )
        raise TrainingDiverged(message, result=partial, step=bad_step, epoch=bad_step, kept_step=kept_step,
                               kept_epoch=kept_step)
    return ToySweep(
        n_features=n,
        n_hidden=m,
        sparsities=sparsities,
        importances=importances,
        seeds=seeds,
        steps=np.asarray(recorded, dtype=np.int64),
        W_features=np.stack(W_rec).astype(np.float32),
        b=np.stack(b_rec).astype(np.float32),
        losses=np.stack(loss_rec),
        stopped=stopped,
        seconds=seconds,
        config=config_record,
    )


# --- the n = 2, m = 1 phase diagram ------------------------------------------------------


def classify_two_feature_model(W_features: Any, *, threshold: float = 0.5) -> np.ndarray:
    """What a two-feature toy model does with its features, as a code into `PHASE_LABELS`.

    A feature counts as represented when its norm ||W_i|| exceeds `threshold`
    (a trained model puts represented features near norm 1 and drops the others
    to near 0, so 0.5 sits between the two). Then:

    - 0, "ignore second": feature 1 represented, feature 2 not;
    - 1, "dedicated to second": feature 2 represented, feature 1 not (with
      m = 1 the single dimension goes to the second feature);
    - 2, "antipodal": both represented, in opposite directions (cosine
      < -0.5; with m = 1, opposite signs), i.e. in superposition;
    - 3, "other": neither represented, or both in the same direction (not a
      solution the paper's optimum takes; usually an unconverged model).

    Parameters
    ----------
    W_features : array-like of shape (..., 2, n_hidden)
        One row per feature (the paper's W^T), any leading batch shape.
    threshold : float, default=0.5

    Returns
    -------
    ndarray of int64, shape ``W_features.shape[:-2]``
    """
    W = np.asarray(W_features, dtype=np.float64)
    if W.ndim < 2 or W.shape[-2] != 2:
        raise ValueError(
            "classify_two_feature_model: W_features must have shape (..., 2, n_hidden), one "
            f"row per feature; got shape {W.shape}."
        )
    thr = _positive_float(threshold, name="classify_two_feature_model: threshold")
    norms = np.linalg.norm(W, axis=-1)
    rep1, rep2 = norms[..., 0] > thr, norms[..., 1] > thr
    dot = (W[..., 0, :] * W[..., 1, :]).sum(-1)
    cos = dot / np.maximum(norms[..., 0] * norms[..., 1], 1e-12)
    labels = np.full(W.shape[:-2], 3, dtype=np.int64)
    labels[rep1 & ~rep2] = 0
    labels[rep2 & ~rep1] = 1
    labels[rep1 & rep2 & (cos < -0.5)] = 2
    return labels


@dataclass(frozen=True)
class PhaseDiagram:
    """The outcome of `phase_diagram` on its (feature probability x relative importance) grid.

    Attributes
    ----------
    feature_probabilities : ndarray of shape (n_rows,), float64
        1 - S of each row, descending (dense first).
    relative_importances : ndarray of shape (n_cols,), float64
        I_2 / I_1 of each column, ascending (I_1 = 1).
    labels : ndarray of shape (n_rows, n_cols), int64
        Codes into `label_names` (`classify_two_feature_model` of the kept model).
    W_features : ndarray of shape (n_rows, n_cols, 2, 1), float32
        The kept model of each cell (lowest evaluation loss among its restarts).
    b : ndarray of shape (n_rows, n_cols, 2), float32
    losses : ndarray of shape (n_rows, n_cols), float64
        The kept model's loss on the cell's evaluation sample.
    label_names : tuple of str
        `PHASE_LABELS`.
    threshold : float
        The norm threshold used by the classification.
    restarts : int
    seconds : float
    stopped : bool
    """

    feature_probabilities: np.ndarray
    relative_importances: np.ndarray
    labels: np.ndarray
    W_features: np.ndarray
    b: np.ndarray
    losses: np.ndarray
    label_names: tuple[str, ...] = PHASE_LABELS
    threshold: float = 0.5
    restarts: int = 1
    seconds: float = 0.0
    stopped: bool = False

    @property
    def sparsities(self) -> np.ndarray:
        """S = 1 - feature probability of each row."""
        return 1.0 - self.feature_probabilities

    def label_grid(self) -> np.ndarray:
        """The labels as strings, shape (n_rows, n_cols)."""
        return np.asarray(self.label_names, dtype=object)[self.labels]

    def to_text(self) -> str:
        """A text rendering: one row per feature probability, one character per cell.

        ``.`` ignore second, ``D`` dedicated to second, ``A`` antipodal, ``?`` other.
        """
        chars = np.array([".", "D", "A", "?"])
        lines = ["1-S \\ I2/I1  " + " ".join(f"{r:.2g}" for r in self.relative_importances)]
        for p, row in zip(self.feature_probabilities, self.labels, strict=True):
            lines.append(f"{p:10.3g}  " + "".join(chars[row]))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "feature_probabilities": self.feature_probabilities.tolist(),
            "relative_importances": self.relative_importances.tolist(),
            "labels": self.labels.tolist(),
            "label_names": list(self.label_names),
            "W_features": self.W_features.tolist(),
            "b": self.b.tolist(),
            "losses": self.losses.tolist(),
            "threshold": self.threshold,
            "restarts": self.restarts,
            "seconds": self.seconds,
            "stopped": self.stopped,
        }


def _eval_losses(
    W_features: np.ndarray, b: np.ndarray, p: np.ndarray, importance: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Loss of each instance on inputs mapped from the shared uniform draws `u` (E, n).

    W_features (N, n, m), b (N, n), p (N,), importance (N, n). Using the same
    draws for every instance (common random numbers) makes the comparison of
    restarts of one cell nearly free of sampling noise.
    """
    Wf = W_features.astype(np.float64)
    x = np.where(u[None] < p[:, None, None], u[None] / p[:, None, None], 0.0)  # (N, E, n)
    h = x @ Wf  # (N, E, m)
    out = np.maximum(h @ Wf.transpose(0, 2, 1) + b.astype(np.float64)[:, None, :], 0.0)
    return (importance[:, None, :] * (x - out) ** 2).sum(-1).mean(-1)


def theoretical_phases(feature_probability: Any, relative_importance: Any) -> np.ndarray:
    """Closed-form phase of the n = 2, m = 1 toy model: the candidate with the lowest expected loss.

    With I_1 = 1, I_2 = r, p = 1 - S and x_i = 0 with probability S, else
    uniform on [0, 1] (so E x = p/2, E x^2 = p/3), the three candidate
    solutions have expected importance-weighted loss:

    - ignore second, W = (1, 0), feature 2 predicted by its best constant
      (the bias, E x_2 = p/2): ``r (p/3 - p^2/4)`` (its variance);
    - dedicated to second: ``p/3 - p^2/4`` by symmetry;
    - antipodal, W = (1, -1), b = 0: exact whenever one feature is active;
      when both are (probability p^2) each output loses the smaller input,
      ``E min(u, v)^2 = 1/6``, so ``(1 + r) p^2 / 6``.

    The antipodal loss uses b = 0, an upper bound (a small negative bias can
    do slightly better), so the boundary is conservative. This is the
    analysis of Elhage et al. (2022, "Phase change") for these candidates.

    Parameters
    ----------
    feature_probability : array-like of shape (n_p,)
    relative_importance : array-like of shape (n_r,)

    Returns
    -------
    ndarray of shape (n_r, n_p), int
        Codes into `PHASE_LABELS` (0 ignore second, 1 dedicated to second, 2 antipodal).
    """
    p = np.asarray(feature_probability, dtype=np.float64)[None, :]
    r = np.asarray(relative_importance, dtype=np.float64)[:, None]
    variance = p / 3.0 - p**2 / 4.0
    losses = np.stack(np.broadcast_arrays(r * variance, variance, (1.0 + r) * p**2 / 6.0))
    return np.argmin(losses, axis=0).astype(np.int64)


def phase_diagram(
    n_sparsities: int = 12,
    n_importances: int = 12,
    *,
    probability_range: tuple[float, float] = (1.0, 0.01),
    importance_range: tuple[float, float] = (0.1, 10.0),
    restarts: int = 4,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 3e-3,
    lr_schedule: str = "cosine",
    seed: int = 0,
    threshold: float = 0.5,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> PhaseDiagram:
    """The paper's phase diagram for n = 2 features in m = 1 dimension.

    A grid over feature probability 1 - S (rows, log-spaced from
    ``probability_range[0]`` down to ``probability_range[1]``) and the
    relative importance I_2 / I_1 of the second feature (columns, log-spaced
    over `importance_range`, I_1 = 1). Every cell trains `restarts` models
    from different seeds, all cells and restarts together as one
    `train_toy_models` batch; each cell keeps the restart with the lowest
    loss on a shared evaluation sample of 16,384 inputs (the same uniform
    draws for every cell, mapped through the cell's sparsity), which avoids
    most local minima (with m = 1, two features that start on the same side
    must cross 0 to become antipodal). The kept model is classified by
    `classify_two_feature_model`: "ignore second", "dedicated to second"
    (the one dimension goes to feature 2, feature 1 is dropped) or
    "antipodal" (both stored, opposite signs: superposition).

    Expected picture (Elhage et al. 2022, "Superposition as a phase change"):
    dense features give the dimension to the more important feature (the
    boundary at I_2 / I_1 = 1); as features get sparser an antipodal region
    opens around equal importance and widens.

    Parameters
    ----------
    n_sparsities, n_importances : int, default=12
        Grid rows and columns (>= 1 each; a single row or column uses the
        first end of its range).
    probability_range : (float, float), default=(1.0, 0.01)
        Feature probabilities of the first and last row, in (0, 1] and >= 1e-4.
    importance_range : (float, float), default=(0.1, 10.0)
        I_2 / I_1 of the first and last column, > 0.
    restarts : int, default=4
        Seeds per cell (>= 1).
    steps, batch_size, lr, lr_schedule, seed
        As in `ToyModelConfig`. The defaults (2,000 steps of batch 256, AdamW
        lr 3e-3 with cosine decay) train the default 12 x 12 grid with 4 restarts
        (576 models) in about 18 s on one CPU thread.
    threshold : float, default=0.5
        Norm above which a feature counts as represented.
    progress, should_stop
        As in `train_toy_models`; after a stop the cells are classified from
        the weights at the step training stopped.

    Returns
    -------
    PhaseDiagram
    """
    for name, value in (
        ("n_sparsities", n_sparsities),
        ("n_importances", n_importances),
        ("restarts", restarts),
    ):
        if not is_int(value) or value < 1:
            raise ValueError(f"phase_diagram: {name} must be an integer >= 1; got {value!r}.")
    if not is_int(seed):
        raise ValueError(f"phase_diagram: seed must be an integer; got {seed!r}.")
    ranges = {}
    for name, pair in (
        ("probability_range", probability_range),
        ("importance_range", importance_range),
    ):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"phase_diagram: {name} must be a pair (first, last); got {pair!r}.")
        ranges[name] = tuple(_positive_float(v, name=f"phase_diagram: {name}") for v in pair)
    p_first, p_last = ranges["probability_range"]
    for v in (p_first, p_last):
        if not 1e-4 <= v <= 1.0:
            raise ValueError(
                "phase_diagram: probability_range values are feature probabilities 1 - S and "
                f"must lie in [1e-4, 1]; got {probability_range!r}."
            )
    thr = _positive_float(threshold, name="phase_diagram: threshold")
    r_first, r_last = ranges["importance_range"]
    probs = np.geomspace(p_first, p_last, int(n_sparsities))
    rel = np.geomspace(r_first, r_last, int(n_importances))
    R = int(restarts)
    settings = [(float(1.0 - p), (1.0, float(r))) for p in probs for r in rel for _ in range(R)]
    config = ToyModelConfig(
        n_features=2,
        n_hidden=1,
        sparsities=(0.0,),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        lr_schedule=lr_schedule,
        seed=seed,
        n_checkpoints=2,
    )
    sweep = train_toy_models(config, settings=settings, progress=progress, should_stop=should_stop)

    rows, cols = probs.size, rel.size
    u = np.random.default_rng(int(seed)).random((16_384, 2))
    p_inst = np.repeat(probs, cols * R)
    losses = _eval_losses(sweep.final_W_features, sweep.b[-1], p_inst, sweep.importances, u)
    losses = losses.reshape(rows * cols, R)
    best = losses.argmin(axis=1)
    pick = np.arange(rows * cols) * R + best
    W_kept = sweep.final_W_features[pick]
    b_kept = sweep.b[-1][pick]
    labels = classify_two_feature_model(W_kept, threshold=thr)
    return PhaseDiagram(
        feature_probabilities=probs,
        relative_importances=rel,
        labels=labels.reshape(rows, cols),
        W_features=W_kept.reshape(rows, cols, 2, 1),
        b=b_kept.reshape(rows, cols, 2),
        losses=losses[np.arange(rows * cols), best].reshape(rows, cols),
        threshold=thr,
        restarts=R,
        seconds=sweep.seconds,
        stopped=sweep.stopped,
    )
