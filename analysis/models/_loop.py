"""The minibatch loop the labs' trainers share: epochs, stop requests, checkpoints and throttled progress.

It also watches the loss: a training whose loss becomes NaN or infinite ends
at once, and `finish_run` turns what was recorded into a `TrainingDiverged`
error that carries the run cut back to its last finite checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Iterable
from typing import Any, NamedTuple

import numpy as np
import torch

from analysis.models._progress import StopFn
from analysis.validation import ProgressFn

# A UI redrawing its progress bar a thousand times costs more than the training it reports on.
_REPORT_EVERY = 0.01


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite; `result` holds what was kept.

    Attributes
    ----------
    result : Run or None
        The run (or a trainer's own result) cut back to its last checkpoint
        whose arrays are all finite; None when not even the initialisation is.
    step, epoch : int
        The optimiser step (and its 1-based epoch) whose loss was not finite.
    kept_step, kept_epoch : int or None
        The last checkpoint kept (epoch 0 is the initialisation).
    """

    def __init__(self, message: str, *, result: Any, step: int, epoch: int,
                 kept_step: int | None, kept_epoch: int | None) -> None:
        super().__init__(message)
        self.result = result
        self.step = step
        self.epoch = epoch
        self.kept_step = kept_step
        self.kept_epoch = kept_epoch


class LoopEnd(NamedTuple):
    """How `run_epochs` ended."""

    step: int  # optimiser steps taken
    stopped: bool  # should_stop() said yes
    diverged_epoch: int | None = None  # the epoch whose training loss was not finite
    bad_loss: float | None = None  # that loss (nan or +-inf)


def loss_value(loss: Any) -> float:
    """A training step's loss as a float (a 0-d tensor, a number)."""
    return float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)


def run_epochs(
    *,
    epochs: int,
    n_train: int,
    batch_size: int,
    epoch_order: Callable[[int], torch.Tensor],
    train_step: Callable[[torch.Tensor, int], Any],
    planned: Collection[int],
    checkpoint: Callable[[int], None],
    end_epoch: Callable[[int], str],
    report: ProgressFn,
    total_steps: int,
    should_stop: StopFn | None = None,
    min_batch: int = 1,
) -> LoopEnd:
    """Train for `epochs` passes over the training rows; return how it ended (`LoopEnd`).

    Each epoch takes its row order from ``epoch_order(epoch)`` (1-based) and
    walks it in batches of `batch_size`; ``train_step(rows, step)`` takes one
    optimiser step on those rows, `step` being its 1-based number, and returns
    the batch's loss (or None). A last batch smaller than `min_batch` is
    replaced by the epoch's first full batch (a contrastive loss needs two
    rows). After a step in `planned`, ``checkpoint(step)``. After each epoch,
    ``end_epoch(step)`` evaluates and returns the details of the progress
    line, which is reported at most every 1 % of `total_steps` and at the last
    epoch. ``should_stop()`` is asked before every step; when it says yes the
    loop ends at once, and recording the state reached is left to the caller
    (it knows which steps it recorded). A loss that is NaN or infinite also
    ends the loop at once (``diverged_epoch`` set; that step is not
    checkpointed): the caller passes the result to `finish_run`.
    """
    step = 0
    last_reported = 0.0
    for epoch in range(1, epochs + 1):
        order = epoch_order(epoch)
        for start in range(0, n_train, batch_size):
            if should_stop is not None and should_stop():
                return LoopEnd(step, True)
            rows = order[start : start + batch_size]
            if rows.numel() < min_batch:
                rows = order[:batch_size]
            step += 1
            loss = train_step(rows, step)
            if loss is not None:
                value = loss_value(loss)
                if not math.isfinite(value):
                    return LoopEnd(step, False, epoch, value)
            if step in planned:
                checkpoint(step)
        details = end_epoch(step)
        fraction = step / total_steps
        if fraction - last_reported >= _REPORT_EVERY or epoch == epochs:
            last_reported = fraction
            report(fraction, f"Epoch {epoch}/{epochs} · {details}")
    return LoopEnd(step, False)


def _finite(arrays: Iterable[Any]) -> bool:
    for arr in arrays:
        if arr is None:
            continue
        a = np.asarray(arr)
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            return False
    return True


def _first_bad_curve_step(curves: dict[str, list[float]]) -> float:
    """The step of the first curve point with a NaN or infinite value (inf when there is none)."""
    steps = curves.get("step", [])
    aligned = [v for v in curves.values() if len(v) == len(steps)]
    for i, step in enumerate(steps):
        if not all(math.isfinite(v[i]) for v in aligned):
            return step
    return math.inf


def finite_steps(run: Any) -> list[int]:
    """The run's checkpoints before the first one holding a NaN or infinite value (any array or curve)."""
    kept: list[int] = []
    bad_curve = _first_bad_curve_step(run.curves)
    for step in run.steps:
        if step >= bad_curve:
            break
        arrays: list[Any] = [a for (_, s), a in run.activations.items() if s == step]
        arrays += [a for (_, s), a in run.codebooks.items() if s == step]
        arrays.append(run.logits.get(step))
        arrays.extend(run.classifier.get(step, (None, None)))
        if not _finite(arrays):
            break
        kept.append(step)
    return kept


def keep_steps(run: Any, steps: Collection[int], *, task_note: str = "") -> Any:
    """A copy of `run` with only the checkpoints in `steps` and the curve points up to the last of them."""
    keep = set(steps)
    last = max(keep)
    curves = dict(run.curves)
    if "step" in curves:
        last = min(last, _first_bad_curve_step(run.curves) - 0.5)
        n = sum(1 for s in curves["step"] if s <= last)
        curves = {k: list(v[:n]) if len(v) == len(run.curves["step"]) else list(v) for k, v in curves.items()}
    return dataclasses.replace(
        run,
        activations={k: v for k, v in run.activations.items() if k[1] in keep},
        steps=tuple(s for s in run.steps if s in keep),
        classifier={s: v for s, v in run.classifier.items() if s in keep},
        logits={s: v for s, v in run.logits.items() if s in keep},
        codes={k: v for k, v in run.codes.items() if k[1] in keep},
        codebooks={k: v for k, v in run.codebooks.items() if k[1] in keep},
        curves=curves,
        task=run.task + task_note,
    )


def epoch_of(step: int, steps_per_epoch: int) -> int:
    """The 1-based epoch an optimiser step belongs to (0 for the initialisation)."""
    return math.ceil(step / steps_per_epoch)


def divergence_message(*, bad_loss: float | None, epoch: int | None, step: int,
                       kept_step: int | None, kept_epoch: int | None, lr: float | None = None,
                       unit: str = "epoch") -> str:
    """'loss became NaN at epoch E; kept the checkpoint from epoch E'; lower the learning rate'."""
    if bad_loss is None:  # the loss stayed finite, a recorded checkpoint did not
        cause = "the recorded activations became NaN or infinite"
    else:
        cause = "the loss became " + ("NaN" if math.isnan(bad_loss) else ("+inf" if bad_loss > 0 else "-inf"))
    where = f"{unit} {epoch} (step {step})" if unit == "epoch" else f"step {step}"
    if kept_step is None:
        kept = "no checkpoint was finite"
    elif kept_step == 0:
        kept = "kept the checkpoint from the initialisation (step 0)"
    elif unit == "epoch":
        kept = f"kept the checkpoint from epoch {kept_epoch} (step {kept_step})"
    else:
        kept = f"kept the checkpoint from step {kept_step}"
    rate = "lower the learning rate" + (f" (it was {lr:g})" if lr is not None else "")
    return f"Training stopped: {cause} at {where}; {kept}; {rate}."


def finish_run(run: Any, end: LoopEnd, *, steps_per_epoch: int, lr: float | None) -> Any:
    """Return `run`, or raise `TrainingDiverged` when the loss or a checkpoint stopped being finite.

    The error's ``result`` is the run cut back to its checkpoints before the
    first non-finite one (a run whose checkpoints are all finite, even if the
    loss was still finite at some of them), with the curves up to it.
    """
    kept = finite_steps(run)
    if end.diverged_epoch is None and len(kept) == len(run.steps):
        return run
    if end.diverged_epoch is not None:
        step, epoch = end.step, end.diverged_epoch
    else:  # the loss stayed finite but a recorded checkpoint did not
        step = run.steps[len(kept)]
        epoch = epoch_of(step, steps_per_epoch)
    kept_step = kept[-1] if kept else None
    kept_epoch = None if kept_step is None else epoch_of(kept_step, steps_per_epoch)
    message = divergence_message(bad_loss=end.bad_loss, epoch=epoch, step=step, kept_step=kept_step,
                                 kept_epoch=kept_epoch, lr=lr)
    result = keep_steps(run, kept, task_note=f". {message}") if kept else None
    raise TrainingDiverged(message, result=result, step=step, epoch=epoch, kept_step=kept_step,
                           kept_epoch=kept_epoch)
