"""`train_contrastive`: the data, the training loop and the recorded `Run`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import torch

from analysis.data.schema import Run
from analysis.models._loop import finish_run, run_epochs
from analysis.models._progress import clamped_progress
from analysis.models._threads import torch_threads
from analysis.models.contrastive.augment import augment_images
from analysis.models.contrastive.config import DIGIT_SHAPE, ContrastiveConfig
from analysis.models.contrastive.encoder import (
    ContrastiveEncoder,
    alignment_uniformity,
    nt_xent_loss,
)
from analysis.models.digits import digits_dataset
from analysis.models.mlp import (
    ProgressFn,
    StopFn,
    _lr_factor,
    checkpoint_steps,
)

__all__ = ["train_contrastive"]


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
            "image_shape": DIGIT_SHAPE,
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
