"""`train_vq`: the data, the training loop with its remedies, and the recorded `Run`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F

from analysis.data.schema import Run
from analysis.models._loop import finish_run, run_epochs
from analysis.models._progress import clamped_progress
from analysis.models._threads import torch_threads
from analysis.models.digits import digits_dataset
from analysis.models.mlp import StopFn, checkpoint_steps
from analysis.models.vq.config import VQConfig
from analysis.models.vq.model import VQAutoencoder, code_usage
from analysis.validation import ProgressFn

__all__ = ["train_vq"]


def _kmeans_centres(z: np.ndarray, K: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    z = np.asarray(z, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n_unique = np.unique(np.round(z, 6), axis=0).shape[0]
    k = min(K, n_unique)
    centres = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(z).cluster_centers_
    if k < K:
        # Fewer distinct points than codes: the rest start at random inputs.
        extra = z[rng.integers(0, z.shape[0], K - k)]
        centres = np.concatenate([centres, extra])
    return centres.astype(np.float32)


def train_vq(
    config: VQConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    name: str = "",
) -> Run:
    """Train a `VQAutoencoder` on the standardised digits and return the `Run`.

    Each step minimises ``MSE(x, decoder(q)) + ||sg(z) - q||^2 + beta ||z -
    sg(q)||^2`` (the middle term only without ``ema``) with Adam, ``q`` the
    nearest code of the quantiser input ``z`` and gradients passed straight
    through the quantiser. Training runs on one torch intra-op thread
    (restored afterwards).

    At each checkpoint (`checkpoint_steps`; step 0 = initialisation, after
    any k-means initialisation) the run records, for every sample (train
    rows, then test rows):

    - layer ``"encoder"``: the quantiser input z, shape (n, quantiser_dim)
      (the encoder output, projected under ``lookup_dim``, unit rows under
      ``cosine``);
    - layer ``"reconstruction"``: the decoded image, standardised pixels,
      shape (n, 64);
    - ``codes[("encoder", step)]``: each sample's code, int64 in [0, K);
    - ``codebooks[("encoder", step)]``: the effective codes, shape
      (K, quantiser_dim) (unit rows under ``cosine``).

    Curves, at step 0, at the end of every epoch and at every checkpoint
    (x axis ``"step"``): ``train_recon``, ``test_recon`` (per-pixel MSE),
    ``perplexity`` and ``dead_fraction`` of the train codes (`code_usage`).

    Parameters
    ----------
    config : VQConfig, optional
        Defaults to ``VQConfig()`` (``VQ_PRESETS["plain"]``).
    progress : callable (fraction, message) -> None, optional
        Non-decreasing fractions in [0, 1], the last 1.0.
    should_stop : callable () -> bool, optional
        Polled before every optimiser step; True stops training, the current
        step is recorded as a last checkpoint and the run keeps those so far.
    name : str, default=""

    Returns
    -------
    Run
        Layers ``("encoder", "reconstruction")``; labels are the digits.
        Metadata columns: ``id``, ``split``, ``digit``, ``source_index``
        (row of ``sklearn.datasets.load_digits()``).

    Notes
    -----
    Deterministic for a given config and torch build: the initialisation is
    seeded inside ``torch.random.fork_rng``; batches and restarts use their
    own ``torch.Generator``.
    """
    config = VQConfig() if config is None else config
    if not isinstance(config, VQConfig):
        raise ValueError(
            f"config must be a VQConfig; got {type(config).__name__}. Build one with "
            "VQConfig(...) or pick one from VQ_PRESETS."
        )
    with torch_threads(1):
        return _train(config, progress=progress, should_stop=should_stop, name=name)


def _train(
    config: VQConfig,
    *,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
    name: str,
) -> Run:
    X_tr_np, y_tr, X_te_np, y_te, index_tr, index_te = digits_dataset(
        seed=config.data_seed, return_index=True
    )
    X_tr = torch.from_numpy(np.ascontiguousarray(X_tr_np, dtype=np.float32))
    X_te = torch.from_numpy(np.ascontiguousarray(X_te_np, dtype=np.float32))
    n_train, n_test = X_tr.shape[0], X_te.shape[0]
    n_total = n_train + n_test
    X_all = torch.cat([X_tr, X_te])
    labels = np.concatenate([y_tr, y_te]).astype(np.int64)
    label_names = tuple(str(c) for c in range(10))
    K = config.codebook_size

    batch = min(config.batch_size, n_train)
    steps_per_epoch = math.ceil(n_train / batch)
    total_steps = config.epochs * steps_per_epoch
    planned = set(checkpoint_steps(total_steps, config.n_checkpoints))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = VQAutoencoder(X_tr.shape[1], config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    seeds = np.random.SeedSequence(config.seed).generate_state(3)
    order_rng = torch.Generator().manual_seed(int(seeds[0]))
    restart_rng = torch.Generator().manual_seed(int(seeds[1]))
    orders = [torch.randperm(n_train, generator=order_rng) for _ in range(config.epochs)]

    if config.kmeans_init:
        n_init = min(n_train, max(4 * K, batch))
        with torch.no_grad():
            z0 = model.quantiser_input(X_tr[orders[0][:n_init]]).numpy()
        centres = torch.from_numpy(_kmeans_centres(z0, K, int(seeds[2]) % (2**31)))
        model.set_codes(torch.arange(K), centres)

    activations: dict[tuple[str, int], np.ndarray] = {}
    codes_rec: dict[tuple[str, int], np.ndarray] = {}
    codebooks: dict[tuple[str, int], np.ndarray] = {}
    recorded: list[int] = []
    curves: dict[str, list[float]] = {
        key: [] for key in ("step", "train_recon", "test_recon", "perplexity", "dead_fraction")
    }

    @torch.no_grad()
    def evaluate(step: int, *, checkpoint: bool) -> None:
        model.eval()
        out = model(X_all)
        if checkpoint:
            activations[("encoder", step)] = out["z"].numpy().astype(np.float32, copy=True)
            activations[("reconstruction", step)] = out["recon"].numpy().astype(np.float32, copy=True)
            codes_rec[("encoder", step)] = out["codes"].numpy().astype(np.int64, copy=True)
            codebooks[("encoder", step)] = model.codes_table().numpy().astype(np.float32, copy=True)
            recorded.append(step)
        if not curves["step"] or curves["step"][-1] != step:
            err = ((out["recon"] - X_all) ** 2).mean(dim=1)
            perplexity, dead = code_usage(out["codes"][:n_train].numpy(), K)
            curves["step"].append(float(step))
            curves["train_recon"].append(float(err[:n_train].mean()))
            curves["test_recon"].append(float(err[n_train:].mean()))
            curves["perplexity"].append(perplexity)
            curves["dead_fraction"].append(dead)
        model.train()

    report = clamped_progress(progress)

    evaluate(0, checkpoint=True)
    report(0.0, f"Initialised {config.describe()}; {total_steps} steps planned.")
    used = torch.zeros(K, dtype=torch.bool)

    def train_step(rows: torch.Tensor, step: int) -> torch.Tensor:
        x = X_tr[rows]
        out = model(x)
        z, q = out["z"], out["q"]
        loss = F.mse_loss(out["recon"], x) + config.beta * F.mse_loss(z, q.detach())
        if not config.ema:
            loss = loss + F.mse_loss(z.detach(), q)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if config.ema:
            model.ema_update(z.detach(), out["codes"])
        used[out["codes"]] = True
        if config.restart_dead and step % config.restart_every == 0:
            dead = torch.nonzero(~used).flatten()
            if dead.numel():
                pick = torch.randint(0, z.shape[0], (dead.numel(),), generator=restart_rng)
                model.set_codes(dead, z.detach()[pick])
            used.zero_()
        return loss

    def end_epoch(step: int) -> str:
        evaluate(step, checkpoint=False)
        return (f"test recon {curves['test_recon'][-1]:.4f} · perplexity {curves['perplexity'][-1]:.1f} · "
                f"dead codes {curves['dead_fraction'][-1]:.0%}")

    model.train()
    end = run_epochs(
        epochs=config.epochs, n_train=n_train, batch_size=batch, epoch_order=lambda epoch: orders[epoch - 1],
        train_step=train_step, planned=planned, checkpoint=lambda step: evaluate(step, checkpoint=True),
        end_epoch=end_epoch, report=report, total_steps=total_steps, should_stop=should_stop,
    )
    model.eval()
    step, stopped = end.step, end.stopped
    if stopped and step not in recorded:
        evaluate(step, checkpoint=True)

    columns: dict[str, Any] = {
        "id": np.arange(n_total, dtype=np.int64),
        "split": ["train"] * n_train + ["test"] * n_test,
        "digit": [label_names[c] for c in labels],
        "source_index": np.concatenate([index_tr, index_te]).astype(np.int64),
    }
    task = (
        "VQ lab: Handwritten digits (scikit-learn load_digits, 8x8 pixels, standardised); "
        f"{n_train} train / {n_test} test samples; {config.describe()}. "
        "metadata.source_index is the row in load_digits()"
    )
    if stopped:
        task += f" (stopped early at step {step} of {total_steps})"
    report(1.0, f"Stopped at step {step}." if stopped else f"Done: {step} steps."
           if end.diverged_epoch is None else f"Diverged at step {step}.")
    run = Run(
        activations=activations,
        layers=("encoder", "reconstruction"),
        steps=tuple(recorded),
        labels=labels,
        label_names=label_names,
        metadata=pl.DataFrame(columns),
        codes=codes_rec,
        codebooks=codebooks,
        curves=curves,
        task=task,
        name=name,
    )
    return finish_run(run, end, steps_per_epoch=steps_per_epoch, lr=config.lr)
