"""A small MLP classifier whose training is recorded as a `Run`.

`train_mlp` trains an `MLPClassifier` and, at log-spaced checkpoints
(initialisation included), records every hidden layer's post-activation
output for all train and test samples, the logits, and the final linear
classifier, which is what the neural-collapse, geometry and similarity views
need. `digits_dataset` (`analysis.models.digits`, re-exported here) gives
the scikit-learn digits (bundled with scikit-learn, so nothing is
downloaded), standardised and split; `MLPConfig` lives in
`analysis.models.mlp_config`.

The options cover the neural-collapse literature's usual knobs: cross-entropy
or MSE loss (Han, Papyan & Donoho 2022), step or cosine learning-rate decay
(Papyan, Han & Donoho 2020 used step decay), layers with or without bias, and
a classifier fixed to a simplex equiangular tight frame (`simplex_etf`; Zhu
et al. 2021, Yang et al. 2022).

References
----------
.. [1] V. Papyan, X. Y. Han and D. L. Donoho, "Prevalence of neural collapse
   during the terminal phase of deep learning training", PNAS 117(40), 2020.
.. [2] X. Y. Han, V. Papyan and D. L. Donoho, "Neural collapse under MSE loss:
   proximity to and dynamics on the central path", ICLR 2022.
.. [3] Z. Zhu, T. Ding, J. Zhou, X. Li, C. You, J. Sulam and Q. Qu, "A
   geometric analysis of neural collapse with unconstrained features",
   NeurIPS 2021.
.. [4] Y. Yang, S. Chen, X. Li, L. Xie, Z. Lin and D. Tao, "Inducing neural
   collapse in imbalanced learning: do we really need a learnable classifier
   at the end of deep neural network?", NeurIPS 2022.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import nn

from analysis.capture import record_activations
from analysis.data.schema import Run
from analysis.models._loop import finish_run, run_epochs
from analysis.models._progress import StopFn, clamped_progress
from analysis.models.digits import digits_dataset
from analysis.models.mlp_config import ACTIVATIONS, LOSSES, LR_SCHEDULES, OPTIMIZERS, MLPConfig
from analysis.validation import ProgressFn

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "LR_SCHEDULES",
    "OPTIMIZERS",
    "MLPClassifier",
    "MLPConfig",
    "checkpoint_steps",
    "digits_dataset",
    "lr_factor",
    "simplex_etf",
    "train_mlp",
]

class MLPClassifier(nn.Sequential):
    """Hidden blocks ``hidden1``, ``hidden2``, ... (Linear + activation), then ``classifier``.

    Each ``hidden<i>`` module outputs that layer's post-activation features,
    so ``record_activations(model, X, ["hidden1", ...])`` reads them directly;
    ``classifier`` is the final Linear layer and outputs the logits.

    Parameters
    ----------
    in_features : int
    n_classes : int
    hidden_sizes : sequence of int
    activation : {"relu", "tanh", "gelu"}
    bias : bool, default=True
        Whether every Linear layer has a bias.
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        *,
        hidden_sizes: Sequence[int] = (64, 64, 32),
        activation: str = "relu",
        bias: bool = True,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}."
            )
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        width = int(in_features)
        for i, size in enumerate(hidden_sizes, start=1):
            blocks[f"hidden{i}"] = nn.Sequential(
                OrderedDict(
                    linear=nn.Linear(width, int(size), bias=bool(bias)),
                    act=ACTIVATIONS[activation](),
                )
            )
            width = int(size)
        blocks["classifier"] = nn.Linear(width, int(n_classes), bias=bool(bias))
        super().__init__(blocks)

    @property
    def hidden_layer_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.named_children() if name.startswith("hidden"))


def checkpoint_steps(total_steps: int, n_checkpoints: int) -> list[int]:
    """Log-spaced checkpoint steps from 0 to `total_steps`, both included.

    Step 0 is the initialisation; the others follow ``total_steps ** (i / m)``
    (i = 1..m, m = n_checkpoints - 1), rounded and nudged apart so that all are
    distinct: early training changes fastest, so it gets the densest sampling.

    Parameters
    ----------
    total_steps : int
        Number of optimiser steps of the whole training (>= 0).
    n_checkpoints : int
        Wanted number of checkpoints (>= 2).

    Returns
    -------
    list of int
        Ascending, distinct; ``min(n_checkpoints, total_steps + 1)`` entries.
    """
    total = int(total_steps)
    if total < 0 or n_checkpoints < 2:
        raise ValueError(
            f"checkpoint_steps needs total_steps >= 0 and n_checkpoints >= 2; got "
            f"{total_steps} and {n_checkpoints}."
        )
    if total + 1 <= n_checkpoints:
        return list(range(total + 1))
    m = n_checkpoints - 1
    steps = [0]
    for i in range(1, m + 1):
        target = round(total ** (i / m))
        # At least one past the previous, and leave room for the remaining ones.
        lowest, highest = steps[-1] + 1, total - (m - i)
        steps.append(min(max(target, lowest), highest))
    return steps


def _check_xy(X: Any, y: Any, *, name: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X_{name} must be 2-D (n_samples, n_features); got shape {X.shape}.")
    if X.shape[0] == 0:
        raise ValueError(f"X_{name} has no rows; train_mlp needs at least one {name} sample.")
    if X.dtype.kind not in "fiub":
        raise ValueError(f"X_{name} has dtype {X.dtype}; expected numbers.")
    X = X.astype(np.float32)
    bad_rows = int(np.count_nonzero(~np.isfinite(X).all(axis=1)))
    if bad_rows:
        raise ValueError(
            f"X_{name} contains NaN or Inf in {bad_rows} rows. Impute or drop them first."
        )
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y_{name} must have shape ({X.shape[0]},), one label per row of X_{name}; "
            f"got shape {y.shape}."
        )
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
        raise ValueError(
            f"y_{name} must hold integer class codes 0..C-1; got dtype {y.dtype}. "
            "Encode string labels first (analysis.data.encode_labels)."
        )
    y = y.astype(np.int64)
    if y.min() < 0:
        raise ValueError(f"y_{name} contains negative codes; class codes must be >= 0.")
    return X, y


def simplex_etf(n_classes: int, dim: int, *, seed: int = 0) -> np.ndarray:
    """A simplex equiangular tight frame: C unit vectors in R^dim, pairwise cosine -1/(C-1).

    Row c is ``sqrt(C/(C-1)) * P (e_c - 1/C)``, where the columns of P
    (dim x C) map the centred subspace of R^C (orthogonal to the all-ones
    vector, dimension C-1) isometrically into R^dim: an orthonormal (Helmert)
    basis of that subspace, embedded by a random orthonormal dim x (C-1)
    matrix drawn with `seed`. The rows then have unit norm, sum to zero, and
    every pair has cosine exactly -1/(C-1) (up to float64 rounding): the
    geometry class means and classifier rows converge to under neural
    collapse (Papyan et al. 2020), and the fixed classifier of Zhu et al.
    2021 and Yang et al. 2022.

    Parameters
    ----------
    n_classes : int
        C >= 2.
    dim : int
        Ambient dimension, at least ``n_classes - 1`` (a C-vertex simplex
        spans C-1 dimensions).
    seed : int, default=0
        Seeds the embedding into R^dim (any rotation is an equally valid ETF).

    Returns
    -------
    ndarray of shape (n_classes, dim), float64

    References
    ----------
    .. [1] Papyan, Han and Donoho, "Prevalence of neural collapse during the
       terminal phase of deep learning training", PNAS 2020.
    .. [2] Zhu et al., "A geometric analysis of neural collapse with
       unconstrained features", NeurIPS 2021.
    """
    from scipy.linalg import helmert

    for name, value in (("n_classes", n_classes), ("dim", dim), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"simplex_etf: {name} must be an integer; got {value!r}.")
    C, d = int(n_classes), int(dim)
    if C < 2:
        raise ValueError(f"simplex_etf: n_classes must be >= 2; got {C}.")
    if d < C - 1:
        raise ValueError(
            f"simplex_etf: dim={d} is too small for {C} classes; a simplex ETF needs "
            f"dim >= n_classes - 1 = {C - 1}. Widen the layer."
        )
    # helmert(C) rows 1..C-1: an orthonormal basis of the vectors orthogonal to 1.
    basis = helmert(C, full=False).T  # (C, C-1); row c = coordinates of e_c - 1/C
    gaussian = np.random.default_rng(int(seed)).standard_normal((d, C - 1))
    q, r = np.linalg.qr(gaussian)
    # Fix QR's sign ambiguity so the embedding depends on the seed only.
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    return math.sqrt(C / (C - 1)) * basis @ q.T


def lr_factor(schedule: str, step: int, *, total_steps: int) -> float:
    """The learning-rate multiplier used for optimiser update `step` (0-based).

    Parameters
    ----------
    schedule : {"cosine", "constant", "step"}
        ``"cosine"``: ``0.5 (1 + cos(pi step / total_steps))``, from 1 to 0.
        ``"constant"``: 1. ``"step"``: 1 before ``total_steps // 3``, 0.1 from
        there, 0.01 from ``2 * total_steps // 3`` (step decay by 10 at a
        third and two thirds of training, as in Papyan et al. 2020).
    step : int
        Number of updates already made.
    total_steps : int
        Planned number of updates.

    Returns
    -------
    float
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_factor: schedule must be one of {LR_SCHEDULES}; got {schedule!r}.")
    return _lr_factor(schedule, int(total_steps))(int(step))


def _lr_factor(schedule: str, total_steps: int) -> Callable[[int], float]:
    if schedule == "constant":
        return lambda step: 1.0
    if schedule == "step":
        first, second = total_steps // 3, 2 * total_steps // 3
        return lambda step: 1.0 if step < first else (0.1 if step < second else 0.01)
    # Cosine from the peak to zero over the planned steps (per optimiser step).
    return lambda step: (
        0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / max(total_steps, 1)))
    )


def _one_hot_mse(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # Summed over classes, averaged over samples (Han et al. 2022's squared loss).
    one_hot = nn.functional.one_hot(targets, logits.shape[1]).to(logits.dtype)
    return ((logits - one_hot) ** 2).sum(dim=1).mean()


def _check_held_out(
    held_out: tuple[Any, Any] | None, *, n_classes: int, n_features: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """`train_mlp`'s held-out samples checked: (X, y) with codes above the trained ones, or (None, None)."""
    if held_out is None:
        return None, None
    X_ho, y_ho = _check_xy(*held_out, name="held_out")
    if X_ho.shape[1] != n_features:
        raise ValueError(
            f"X_held_out has {X_ho.shape[1]} features but X_train has {n_features}; "
            "they must describe the same features."
        )
    if int(y_ho.min()) < n_classes:
        raise ValueError(
            f"y_held_out uses code {int(y_ho.min())}, a class the network trains on (train/test codes run "
            f"0..{n_classes - 1}); held-out classes need codes from {n_classes} on."
        )
    return X_ho, y_ho


def train_mlp(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    config: MLPConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    label_names: Sequence[str] | None = None,
    label_column: str = "digit",
    extra_metadata: pl.DataFrame | None = None,
    task: str | None = None,
    name: str = "",
    on_checkpoint: Callable[[int, nn.Module], None] | None = None,
    held_out: tuple[Any, Any] | None = None,
) -> Run:
    """Train an `MLPClassifier` (cross-entropy or MSE loss) and record it as a `Run`.

    The run's samples are all train rows followed by all test rows. At each
    checkpoint (see `checkpoint_steps`; step 0 is the initialisation, before
    any update) it records, in float32:

    - ``activations[("hidden<i>", step)]``: post-activation output of hidden
      layer i, ndarray of shape (n_train + n_test, hidden_sizes[i-1]);
    - ``logits[step]``: ndarray of shape (n_train + n_test, n_classes);
    - ``classifier[step]``: (weight of shape (n_classes, hidden_sizes[-1]),
      bias of shape (n_classes,), or None with ``config.bias=False``).

    Curves (``step``, ``train_loss``, ``train_acc``, ``test_loss``,
    ``test_acc``) are evaluated on the full sets in eval mode at step 0, at
    every epoch's end and at every checkpoint. Steps count optimiser updates.

    Parameters
    ----------
    X_train : ndarray of shape (n_train, n_features)
    y_train : ndarray of shape (n_train,)
        Integer class codes 0..C-1.
    X_test : ndarray of shape (n_test, n_features)
    y_test : ndarray of shape (n_test,)
    config : MLPConfig, optional
        Defaults to ``MLPConfig()``.
    progress : callable (fraction, message) -> None, optional
        Called with non-decreasing fractions in [0, 1], last with 1.0.
    should_stop : callable () -> bool, optional
        Polled before every optimiser step. When it returns True training
        stops; the current step is recorded as a last checkpoint (if it is
        not one already) and the run holds the checkpoints so far.
    label_names : sequence of str, optional
        Name of each class code; default ``"0"``, ``"1"``, ...
    label_column : str, default="digit"
        Metadata column holding each sample's class name.
    extra_metadata : polars.DataFrame, optional
        Extra per-sample columns (n_train + n_test rows, train rows first),
        appended to the metadata.
    task : str, optional
        Description stored in the run; default built from the config and sizes.
    name : str, default=""
        Name stored in the run.
    on_checkpoint : callable (step, model) -> None, optional
        Called at every recorded checkpoint (step 0 and an early-stop step
        included), right after that checkpoint's activations, logits and
        classifier are recorded, with the step and the model (e.g. to copy
        its weights); it must not modify the model or its training flag.
        None (the default) changes nothing.
    held_out : (X_held_out, y_held_out), optional
        Samples of classes the network is NOT trained on (Galanti et al.
        2022, transfer to new classes): never in a batch, the loss or the
        curves, but their features and logits are recorded at every
        checkpoint, as rows after the test rows with split ``"held_out"``.
        Their codes must all be above the trained classes' codes; the head
        then has ``min(y_held_out)`` rows and `label_names` must name the
        held-out codes too.

    Returns
    -------
    Run
        Metadata columns: ``id`` (row number), ``split`` ("train"/"test",
        and "held_out" with `held_out`),
        `label_column`, then `extra_metadata`'s.

    Raises
    ------
    ValueError
        On malformed data, or ``config.fixed_etf_head`` with a last hidden
        layer narrower than ``n_classes - 1``.

    Notes
    -----
    Deterministic for a given config, data, torch build and thread count:
    the initialisation is seeded with ``config.seed`` inside
    ``torch.random.fork_rng`` (the caller's global RNG state is left as it
    was) and shuffling uses its own seeded ``torch.Generator``.
    """
    config = MLPConfig() if config is None else config
    if not isinstance(config, MLPConfig):
        raise ValueError(f"config must be an MLPConfig; got {type(config).__name__}.")
    X_tr, y_tr = _check_xy(X_train, y_train, name="train")
    X_te, y_te = _check_xy(X_test, y_test, name="test")
    if X_te.shape[1] != X_tr.shape[1]:
        raise ValueError(
            f"X_test has {X_te.shape[1]} features but X_train has {X_tr.shape[1]}; "
            "they must describe the same features."
        )
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    X_ho, y_ho = _check_held_out(held_out, n_classes=n_classes, n_features=X_tr.shape[1])
    n_named = n_classes if y_ho is None else int(y_ho.max()) + 1
    if label_names is not None:
        label_names = tuple(str(s) for s in label_names)
        if len(label_names) < n_named:
            raise ValueError(
                f"labels use code {n_named - 1} but only {len(label_names)} label_names "
                "were given; give one name per class code."
            )
        # Without held-out classes every name gets a row of the head; with them the trained codes do.
        n_classes = len(label_names) if y_ho is None else int(y_ho.min())
    else:
        label_names = tuple(str(c) for c in range(n_named))
        n_classes = n_named if y_ho is None else int(y_ho.min())
    if np.unique(y_tr).size < 2:
        raise ValueError("y_train holds fewer than 2 classes; a classifier needs at least 2.")
    n_train, n_test = X_tr.shape[0], X_te.shape[0]
    n_held = 0 if X_ho is None else X_ho.shape[0]
    n_total = n_train + n_test + n_held
    if extra_metadata is not None and extra_metadata.height != n_total:
        raise ValueError(
            f"extra_metadata has {extra_metadata.height} rows; it needs one per sample "
            f"({n_train} train + {n_test} test + {n_held} held-out = {n_total}), train rows first."
        )

    width = config.hidden_sizes[-1]
    if config.fixed_etf_head and width < n_classes - 1:
        raise ValueError(
            f"MLPConfig.fixed_etf_head needs the last hidden layer to be at least "
            f"n_classes - 1 = {n_classes - 1} wide for a simplex ETF of {n_classes} classes; "
            f"hidden_sizes ends with {width}. Widen the last layer or set fixed_etf_head=False."
        )

    steps_per_epoch = math.ceil(n_train / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    planned = checkpoint_steps(total_steps, config.n_checkpoints)
    planned_set = set(planned)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = MLPClassifier(
            X_tr.shape[1],
            n_classes,
            hidden_sizes=config.hidden_sizes,
            activation=config.activation,
            bias=config.bias,
        )
    if config.fixed_etf_head:
        # Overwrite after the seeded construction, so the hidden layers start
        # exactly as they would with a learned head (only the head differs).
        head = model.classifier
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(simplex_etf(n_classes, width, seed=config.seed)))
            if head.bias is not None:
                head.bias.zero_()
        for param in head.parameters():
            param.requires_grad_(False)
    shuffle_rng = torch.Generator().manual_seed(config.seed)
    # Frozen head parameters stay out of the optimiser: no update, no weight decay.
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adamw":
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(
            params, lr=config.lr, weight_decay=config.weight_decay
        )
    else:
        optimizer = torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _lr_factor(config.lr_schedule, total_steps)
    )
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = (
        nn.CrossEntropyLoss() if config.loss == "cross_entropy" else _one_hot_mse
    )

    X_tr_t = torch.from_numpy(X_tr)
    y_tr_t = torch.from_numpy(y_tr)
    X_all = np.concatenate([X_tr, X_te] + ([] if X_ho is None else [X_ho]), axis=0)
    y_all_t = torch.from_numpy(np.concatenate([y_tr, y_te] + ([] if y_ho is None else [y_ho])))
    hidden = model.hidden_layer_names
    layer_map = {h: h for h in hidden} | {"__logits__": "classifier"}

    activations: dict[tuple[str, int], np.ndarray] = {}
    classifier: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
    logits: dict[int, np.ndarray] = {}
    recorded: list[int] = []
    curves: dict[str, list[float]] = {
        "step": [],
        "train_loss": [],
        "train_acc": [],
        "test_loss": [],
        "test_acc": [],
    }

    def add_curve_point(step: int, all_logits: np.ndarray) -> None:
        if curves["step"] and curves["step"][-1] == step:
            return
        logits_t = torch.from_numpy(all_logits)
        for split, rows in (("train", slice(0, n_train)), ("test", slice(n_train, n_train + n_test))):
            lg, yy = logits_t[rows], y_all_t[rows]
            curves[f"{split}_loss"].append(float(loss_fn(lg, yy)))
            curves[f"{split}_acc"].append(float((lg.argmax(dim=1) == yy).double().mean()))
        curves["step"].append(float(step))

    def record(step: int) -> None:
        acts = record_activations(model, X_all, layer_map, batch_size=config.eval_batch_size)
        for h in hidden:
            activations[(h, step)] = acts[h]
        logits[step] = acts["__logits__"]
        head = model.classifier
        classifier[step] = (
            head.weight.detach().to(torch.float32).numpy().copy(),
            None if head.bias is None else head.bias.detach().to(torch.float32).numpy().copy(),
        )
        recorded.append(step)
        add_curve_point(step, logits[step])
        if on_checkpoint is not None:
            on_checkpoint(step, model)

    def evaluate(step: int) -> None:
        if curves["step"] and curves["step"][-1] == step:
            return  # a checkpoint at this step already added the point
        acts = record_activations(
            model, X_all, {"__logits__": "classifier"}, batch_size=config.eval_batch_size
        )
        add_curve_point(step, acts["__logits__"])

    report = clamped_progress(progress)

    record(0)
    report(0.0, f"Initialised {config.describe()}; {total_steps} steps planned.")

    def train_step(rows: torch.Tensor, step: int) -> torch.Tensor:
        loss = loss_fn(model(X_tr_t[rows]), y_tr_t[rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss

    def end_epoch(step: int) -> str:
        evaluate(step)
        return (f"train loss {curves['train_loss'][-1]:.4f} · train acc {curves['train_acc'][-1]:.3f} · "
                f"test acc {curves['test_acc'][-1]:.3f}")

    model.train()
    end = run_epochs(
        epochs=config.epochs, n_train=n_train, batch_size=config.batch_size,
        epoch_order=lambda epoch: torch.randperm(n_train, generator=shuffle_rng), train_step=train_step,
        planned=planned_set, checkpoint=record,  # record_activations restores train mode afterwards
        end_epoch=end_epoch, report=report, total_steps=total_steps, should_stop=should_stop,
    )
    model.eval()
    step, stopped = end.step, end.stopped
    if stopped and step not in recorded:
        record(step)

    split = np.array(["train"] * n_train + ["test"] * n_test + ["held_out"] * n_held)
    labels = y_all_t.numpy()
    metadata = pl.DataFrame(
        {
            "id": np.arange(n_total, dtype=np.int64),
            "split": split,
            label_column: [label_names[c] for c in labels],
        }
    )
    if extra_metadata is not None:
        metadata = metadata.hstack(extra_metadata)
    if task is None:
        task = (
            f"{config.describe()}; {n_train} train / {n_test} test samples, "
            f"{X_tr.shape[1]} features, {n_classes} classes"
        )
    if stopped:
        task += f" (stopped early at step {step} of {total_steps})"
    report(1.0, f"Stopped at step {step}." if stopped else f"Done: {step} steps."
           if end.diverged_epoch is None else f"Diverged at step {step}.")
    run = Run(
        activations=activations,
        layers=hidden,
        steps=tuple(recorded),
        labels=labels,
        label_names=label_names,
        metadata=metadata,
        classifier=classifier,
        logits=logits,
        curves=curves,
        task=task,
        name=name,
    )
    return finish_run(run, end, steps_per_epoch=steps_per_epoch, lr=config.lr)
