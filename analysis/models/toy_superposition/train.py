"""`train_toy_models`: many toy models trained as one batched tensor computation."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.models._progress import StopFn, clamped_progress
from analysis.models._threads import torch_threads
from analysis.models.toy_superposition.config import (
    ToyModelConfig,
    check_importance,
    check_sparsity,
)
from analysis.models.toy_superposition.sweep import ToySweep
from analysis.validation import ProgressFn

__all__ = ["train_toy_models"]

# Random draws are generated ahead for several steps at once; this bounds that buffer.
_DRAW_BUFFER_BYTES = 32 * 2**20
_EVAL_SAMPLES = 4096

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
            s_list.append(check_sparsity(item[0], name=f"settings[{k}] sparsity"))
            i_list.append(
                check_importance(item[1], n_features=n, name=f"settings[{k}] importance")
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
