"""Build the sample runs shipped in ``sample_data/`` (``python -m analysis.samples``).

The app and every page work on these with no upload. Regeneration is
deterministic: the same torch build on the same kind of machine writes
byte-identical ``.safetensors`` files (the parquet sidecars embed the writer's
version string, so only their content is guaranteed equal).

Shipped runs
------------
``digits_mlp``
    An MLP (64-64-32, tanh) trained with AdamW and weight decay on the
    scikit-learn digits for 500 epochs, long past zero training error, so the
    last hidden layer moves towards neural collapse. Ten log-spaced
    checkpoints from initialisation; hidden activations of all 1,797 samples
    stored as float16; logits and classifier weights as float32.

``digits_contrastive``, ``digits_vq_plain``, ``digits_vq_remedies``
    The contrastive and VQ labs' default runs (see ``sample_data/README.md``).

``ib_tanh``, ``ib_relu``
    The 12-bit information-bottleneck network (tanh or ReLU) of
    `analysis.models.information_lab`. A full run is ~14 MB while the network
    has 294 parameters, so these ship as their checkpoint weights
    (``<name>.weights.safetensors``, tracked) and the run files are replayed
    from them in a second on first use (git-ignored).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from analysis.data.limits import format_bytes
from analysis.data.runs import is_run_file, save_run
from analysis.data.schema import Run
from analysis.validation import ProgressFn

if TYPE_CHECKING:
    from analysis.models.mlp_config import MLPConfig

__all__ = [
    "SAMPLE_NAMES",
    "digits_mlp_config",
    "ensure_samples",
    "generate_samples",
    "main",
    "sample_dir",
    "sample_paths",
    "weights_path",
]

logger = logging.getLogger(__name__)


SAMPLE_NAMES = ("digits_mlp", "digits_contrastive", "digits_vq_plain", "digits_vq_remedies", "ib_tanh", "ib_relu")
# Samples shipped as checkpoint weights and replayed (name -> the lab preset).
_REPLAYED_SAMPLES = {"ib_tanh": "tanh", "ib_relu": "relu"}

_QUICK_ROWS = (240, 80)  # (train, test)

_FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504
# float16 keeps 11 significant bits: rounding moves a normal value by at most
# 2**-11 of itself; subnormals (|x| < 2**-14) by at most half their spacing 2**-25.
_FLOAT16_REL_ERR = 2.0**-11
_FLOAT16_ABS_FLOOR = 2.0**-25

_generation_lock = threading.Lock()


def digits_mlp_config(*, quick: bool = False) -> MLPConfig:
    """The `MLPConfig` of the shipped ``digits_mlp`` run (or of its quick variant).

    The recipe lives in `analysis.models.digits`; this name stays for callers of
    `analysis.samples`.
    """
    # Imported here: the app imports this module at start-up, and only
    # generation needs torch.
    from analysis.models.digits import digits_mlp_config as recipe

    return recipe(quick=quick)


def sample_dir() -> Path:
    """Where the shipped samples live: ``$REPLENS_SAMPLE_DIR`` or the repository's ``sample_data/``."""
    env = os.environ.get("REPLENS_SAMPLE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent / "sample_data"


def sample_paths() -> dict[str, Path]:
    """The shipped runs: name -> ``.safetensors`` path (which may not exist yet).

    Each run's per-sample metadata is the ``.parquet`` file beside it.
    """
    base = sample_dir()
    return {name: base / f"{name}.safetensors" for name in SAMPLE_NAMES}


def _is_complete(path: Path) -> bool:
    return path.is_file() and is_run_file(path) and path.with_suffix(".parquet").is_file()


def ensure_samples(*, progress: ProgressFn | None = None) -> dict[str, Path]:
    """Generate the shipped runs if any is missing or unreadable; return `sample_paths`.

    Safe to call from several threads (e.g. Streamlit sessions): generation
    runs once under a lock, and files are replaced atomically, so a reader
    never sees a half-written file.
    """
    paths = sample_paths()
    if all(_is_complete(p) for p in paths.values()):
        return paths
    with _generation_lock:
        missing = [name for name, p in paths.items() if not _is_complete(p)]
        if missing:
            logger.info("Sample runs missing (%s); generating them.", ", ".join(missing))
            # Replayed samples come back from their shipped weights in a second.
            generate_samples(sample_dir(), progress=progress, names=missing, retrain=False)
    return paths


def to_float16(arr: np.ndarray, *, name: str) -> tuple[np.ndarray, float]:
    """Cast to float16, refusing values float16 cannot hold; return (array, max abs error).

    Raises
    ------
    ValueError
        If any value is non-finite or ``|x| >= 65504`` (it would become Inf),
        or the rounding error exceeds float16's guaranteed bound.
    """
    arr32 = np.asarray(arr, dtype=np.float32)
    if not np.isfinite(arr32).all():
        raise ValueError(f"{name}: contains NaN or Inf; refusing to store it.")
    peak = float(np.abs(arr32).max()) if arr32.size else 0.0
    if peak >= _FLOAT16_MAX:
        raise ValueError(
            f"{name}: max |value| {peak:g} does not fit float16 (max {_FLOAT16_MAX:g}); "
            "store this run in float32."
        )
    arr16 = arr32.astype(np.float16)
    error = float(np.abs(arr16.astype(np.float32) - arr32).max()) if arr32.size else 0.0
    bound = peak * _FLOAT16_REL_ERR + _FLOAT16_ABS_FLOOR
    if error > bound:
        raise ValueError(f"{name}: float16 rounding error {error:g} exceeds its bound {bound:g}.")
    return arr16, error


def _build_digits_mlp(*, quick: bool, progress: ProgressFn | None) -> Run:
    from analysis.models.digits import digits_dataset
    from analysis.models.mlp import train_mlp

    config = digits_mlp_config(quick=quick)
    X_train, y_train, X_test, y_test, index_train, index_test = digits_dataset(
        test_size=0.25, seed=0, return_index=True
    )
    if quick:
        n_train, n_test = _QUICK_ROWS
        # The split is already shuffled and stratified, so a prefix is a fair sample.
        X_train, y_train, index_train = X_train[:n_train], y_train[:n_train], index_train[:n_train]
        X_test, y_test, index_test = X_test[:n_test], y_test[:n_test], index_test[:n_test]
    extra = pl.DataFrame(
        {"source_index": np.concatenate([index_train, index_test]).astype(np.int64)}
    )
    run = train_mlp(
        X_train,
        y_train,
        X_test,
        y_test,
        config,
        progress=progress,
        label_names=[str(d) for d in range(10)],
        label_column="digit",
        extra_metadata=extra,
        name="digits_mlp",
        task=(
            f"Handwritten digits (scikit-learn load_digits, 8x8 pixels standardised): "
            f"{config.describe()}; {len(y_train)} train / {len(y_test)} test samples, "
            "10 classes. metadata.source_index is the row in load_digits()."
        ),
    )
    worst = 0.0
    for key, arr in run.activations.items():
        run.activations[key], error = to_float16(arr, name=f"activations {key}")
        worst = max(worst, error)
    peak = max(float(np.abs(a.astype(np.float32)).max()) for a in run.activations.values())
    logger.info(
        "digits_mlp: float16 activations, max |x| %.4g (limit %g), max abs rounding error %.3g.",
        peak,
        _FLOAT16_MAX,
        worst,
    )
    last = run.steps[-1]
    n_train = len(y_train)
    logger.info(
        "digits_mlp: %d checkpoints %s; final train acc %.4f, test acc %.4f.",
        len(run.steps),
        list(run.steps),
        run.curves["train_acc"][-1],
        run.curves["test_acc"][-1],
    )
    # The logits at the last checkpoint must agree with the curves (same model state).
    predicted = run.predictions(last)
    if predicted is None or run.labels is None:
        raise RuntimeError("digits_mlp: the trainer recorded no logits or labels.")
    agreement = float((predicted[:n_train] == run.labels[:n_train]).mean())
    if abs(agreement - run.curves["train_acc"][-1]) > 1e-9:
        raise RuntimeError("digits_mlp: logits and curves disagree on the final train accuracy.")
    return run


def _save_atomically(run: Run, path: Path) -> None:
    """Write run + sidecar to a temporary folder beside `path`, then rename both.

    A concurrent reader (another Streamlit session) never sees a half-written
    sidecar, and os.replace keeps the old inodes alive for anyone who
    memory-mapped the old run (the app does) instead of truncating them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}-") as tmp:
        staged = save_run(run, Path(tmp) / path.name)
        sidecar = staged.with_suffix(".parquet")
        for file in (staged, sidecar):
            if file.exists():
                # safetensors creates its files 0600; shipped data is for everyone to read.
                file.chmod(0o644)
        if sidecar.exists():
            os.replace(sidecar, path.with_suffix(".parquet"))
        os.replace(staged, path)


def _build_digits_contrastive(*, quick: bool, progress: ProgressFn | None) -> Run:
    """The contrastive lab's default run (NT-Xent onto the circle), activations stored as float16."""
    from dataclasses import replace

    from analysis.models.contrastive import ContrastiveConfig, train_contrastive

    config = ContrastiveConfig()
    if quick:
        config = replace(config, epochs=3, n_checkpoints=4)
    run = train_contrastive(config, progress=progress, name="digits_contrastive")
    for key, arr in run.activations.items():
        run.activations[key], _ = to_float16(arr, name=f"activations {key}")
    logger.info("digits_contrastive: final uniformity %.3f, alignment %.3f.",
                run.curves["uniformity"][-1], run.curves["alignment"][-1])
    return run


def _build_vq(preset: str) -> Callable[..., Run]:
    """The VQ lab's preset as a sample (activations stored as float16)."""

    def build(*, quick: bool, progress: ProgressFn | None) -> Run:
        from dataclasses import replace

        from analysis.models.vq import VQ_PRESETS, train_vq

        config = VQ_PRESETS[preset]
        if quick:
            config = replace(config, epochs=2, n_checkpoints=3)
        run = train_vq(config, progress=progress, name=f"digits_vq_{preset.replace(' ', '_')}")
        for key, arr in run.activations.items():
            run.activations[key], _ = to_float16(arr, name=f"activations {key}")
        logger.info("VQ %s: perplexity %.1f, dead fraction %.2f.", preset, run.curves["perplexity"][-1],
                    run.curves["dead_fraction"][-1])
        return run

    return build


def weights_path(name: str, out_dir: str | os.PathLike | None = None) -> Path:
    """Where a replayed sample's checkpoint weights live (``<name>.weights.safetensors``)."""
    return Path(sample_dir() if out_dir is None else out_dir) / f"{name}.weights.safetensors"


def _replayed_sample(name: str, out: Path, *, quick: bool, retrain: bool, progress: ProgressFn | None) -> Run:
    """A 12-bit lab sample: train and store its weights (unless kept), then replay the run from them.

    The run always comes from the stored weights, so a freshly trained sample
    and one replayed from the shipped weights are the same bytes.
    """
    from dataclasses import replace

    from analysis.models.information_lab import (
        INFORMATION_PRESETS,
        load_information_weights,
        replay_information_run,
        save_information_weights,
        train_information_lab_with_weights,
    )

    path = weights_path(name, out)
    if retrain or not path.is_file():
        config = INFORMATION_PRESETS[_REPLAYED_SAMPLES[name]]
        if quick:
            config = replace(config, epochs=5, n_checkpoints=4)
        run, weights = train_information_lab_with_weights(config, progress=progress, name=name)
        save_information_weights(path, weights, config, run.curves, name)
        path.chmod(0o644)
    weights, config, curves, stored_name = load_information_weights(path)
    run = replay_information_run(weights, config, curves, name=stored_name or name)
    logger.info("%s: replayed %d checkpoints from %s; final train acc %.4f, test acc %.4f.", name,
                len(run.steps), path.name, run.curves["train_acc"][-1], run.curves["test_acc"][-1])
    return run


_BUILDERS: dict[str, Callable[..., Run]] = {
    "digits_mlp": _build_digits_mlp,
    "digits_contrastive": _build_digits_contrastive,
    "digits_vq_plain": _build_vq("plain"),
    "digits_vq_remedies": _build_vq("all remedies"),
}


def generate_samples(
    out_dir: str | os.PathLike = "sample_data",
    *,
    quick: bool = False,
    progress: ProgressFn | None = None,
    names: Sequence[str] | None = None,
    retrain: bool = True,
) -> list[Path]:
    """Train and write the sample runs into `out_dir`.

    Parameters
    ----------
    out_dir : path, default="sample_data"
        Created if needed; existing sample files are replaced atomically.
    quick : bool, default=False
        A few epochs on a slice of the data (for tests): same files and
        layers, seconds instead of the full run.
    progress : callable (fraction, message) -> None, optional
        Non-decreasing fractions in [0, 1], last 1.0.
    names : sequence of str, optional
        Only these samples (default all of `SAMPLE_NAMES`).
    retrain : bool, default=True
        Retrain the replayed samples (``ib_*``) and rewrite their weights; with
        False, existing weights in `out_dir` are replayed without training.

    Returns
    -------
    list of Path
        The ``.safetensors`` files written, one per run (each with its
        ``.parquet`` sidecar beside it).

    Notes
    -----
    Training runs with one torch thread (restored afterwards): these matrices
    are far too small to gain from two, contention from other processes
    makes multi-threaded runs several times slower, and the shipped bytes then
    do not depend on the machine's core count.
    """
    # Imported here: analysis.models imports torch, which the app avoids at start-up.
    from analysis.models._threads import torch_threads

    out = Path(out_dir)
    written: list[Path] = []
    started = time.perf_counter()

    def scaled(lo: float, hi: float) -> ProgressFn | None:
        if progress is None:
            return None
        return lambda fraction, message: progress(lo + (hi - lo) * fraction, message)

    chosen = list(SAMPLE_NAMES if names is None else names)
    unknown = [name for name in chosen if name not in SAMPLE_NAMES]
    if unknown:
        raise ValueError(f"unknown sample names {unknown}; the samples are {SAMPLE_NAMES}.")
    n = len(chosen)
    for i, name in enumerate(chosen):
        with torch_threads(1):
            if name in _REPLAYED_SAMPLES:
                run = _replayed_sample(name, out, quick=quick, retrain=retrain,
                                       progress=scaled(i / n, (i + 0.95) / n))
            else:
                run = _BUILDERS[name](quick=quick, progress=scaled(i / n, (i + 0.95) / n))
        path = out / f"{name}.safetensors"
        _save_atomically(run, path)
        written.append(path)
        size = path.stat().st_size + path.with_suffix(".parquet").stat().st_size
        logger.info("Wrote %s (+ .parquet), %s.", path, format_bytes(size))
    if progress is not None:
        progress(1.0, f"Wrote {len(written)} sample run(s) to {out}.")
    logger.info("Sample generation took %.1f s.", time.perf_counter() - started)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis.samples [--out DIR] [--quick]``: regenerate the samples."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.samples",
        description="Regenerate the sample runs shipped in sample_data/ (deterministic).",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output folder (default: {sample_dir()})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny run for smoke tests (not the shipped one)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    out = args.out if args.out is not None else sample_dir()
    started = time.perf_counter()
    paths = generate_samples(out, quick=args.quick)
    elapsed = time.perf_counter() - started
    total = 0
    for path in paths:
        replayed = path.stem in _REPLAYED_SAMPLES
        files = [weights_path(path.stem, path.parent)] if replayed else [path, path.with_suffix(".parquet")]
        for file in files:
            size = file.stat().st_size
            total += size
            print(f"{file}  {format_bytes(size)}")
        if replayed:
            print(f"  (replayed into {path.name} + .parquet on first use, not shipped)")
    print(f"Total shipped size: {format_bytes(total)} ({total:,} bytes); took {elapsed:.1f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
