"""The minibatch loop the labs' trainers share: epochs, stop requests, checkpoints and throttled progress."""

from __future__ import annotations

from collections.abc import Callable, Collection

import torch

from analysis.models._progress import ProgressFn, StopFn

# A UI redrawing its progress bar a thousand times costs more than the training it reports on.
_REPORT_EVERY = 0.01


def run_epochs(
    *,
    epochs: int,
    n_train: int,
    batch_size: int,
    epoch_order: Callable[[int], torch.Tensor],
    train_step: Callable[[torch.Tensor, int], None],
    planned: Collection[int],
    checkpoint: Callable[[int], None],
    end_epoch: Callable[[int], str],
    report: ProgressFn,
    total_steps: int,
    should_stop: StopFn | None = None,
    min_batch: int = 1,
) -> tuple[int, bool]:
    """Train for `epochs` passes over the training rows; return (steps taken, whether it was stopped).

    Each epoch takes its row order from ``epoch_order(epoch)`` (1-based) and
    walks it in batches of `batch_size`; ``train_step(rows, step)`` takes one
    optimiser step on those rows, `step` being its 1-based number. A last
    batch smaller than `min_batch` is replaced by the epoch's first full
    batch (a contrastive loss needs two rows). After a step in `planned`,
    ``checkpoint(step)``. After each epoch, ``end_epoch(step)`` evaluates and
    returns the details of the progress line, which is reported at most every
    1 % of `total_steps` and at the last epoch. ``should_stop()`` is asked
    before every step; when it says yes the loop ends at once, and recording
    the state reached is left to the caller (it knows which steps it recorded).
    """
    step = 0
    last_reported = 0.0
    for epoch in range(1, epochs + 1):
        order = epoch_order(epoch)
        for start in range(0, n_train, batch_size):
            if should_stop is not None and should_stop():
                return step, True
            rows = order[start : start + batch_size]
            if rows.numel() < min_batch:
                rows = order[:batch_size]
            step += 1
            train_step(rows, step)
            if step in planned:
                checkpoint(step)
        details = end_epoch(step)
        fraction = step / total_steps
        if fraction - last_reported >= _REPORT_EVERY or epoch == epochs:
            last_reported = fraction
            report(fraction, f"Epoch {epoch}/{epochs} · {details}")
    return step, False
