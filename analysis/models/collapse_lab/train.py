"""`train_collapse_lab`: build the data set, make it long-tailed or noisy, train the MLP into a `Run`."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from analysis.data.schema import Run
from analysis.models._threads import torch_threads
from analysis.models.collapse_lab.config import CollapseLabConfig
from analysis.models.collapse_lab.data import (
    flip_labels,
    gaussian_mixture_dataset,
    long_tail_subsample,
)
from analysis.models.digits import digits_dataset
from analysis.models.mlp import StopFn, train_mlp
from analysis.validation import ProgressFn

__all__ = ["train_collapse_lab"]


def train_collapse_lab(
    config: CollapseLabConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    name: str = "",
) -> Run:
    """Build the data of `config`, train its MLP past zero error, and return the `Run`.

    Order of operations: the data set and its stratified split; the training
    split subsampled to the long-tailed profile (if ``imbalance_ratio > 1``);
    then a share of the remaining training labels flipped (if
    ``label_noise > 0``). The test split is untouched by both. Training runs
    on one torch intra-op thread (the previous count is restored): these
    matrices are too small to gain from more, and the result then does not
    depend on the machine's core count.

    Parameters
    ----------
    config : CollapseLabConfig, optional
        Defaults to ``CollapseLabConfig()`` (``PRESETS["balanced"]``).
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
        Layers ``hidden1``, ``hidden2``, ...; samples are the train rows then
        the test rows. ``labels`` are the labels trained on (noisy where a
        training label was flipped). Metadata columns: ``id``, ``split``,
        the class name of that label (column ``digit`` for the digits,
        ``class`` for the mixture), ``clean_label`` (the true class name),
        ``label_flipped`` (bool), and for the digits ``source_index`` (the
        row in ``sklearn.datasets.load_digits()``). With
        ``held_out_classes`` the last classes' samples (from both splits)
        follow the test rows with split ``"held_out"``; the classifier has
        a row per trained class only.
    """
    config = CollapseLabConfig() if config is None else config
    if not isinstance(config, CollapseLabConfig):
        raise ValueError(
            f"config must be a CollapseLabConfig; got {type(config).__name__}. "
            "Build one with CollapseLabConfig(...) or pick one from PRESETS."
        )
    # The data set and split use data_seed itself (data_seed=0 gives the shipped
    # sample's digits split); the subsampling and the flips get independent streams.
    subsample_seed, noise_seed = (
        int(s) for s in np.random.SeedSequence(config.data_seed).generate_state(2)
    )
    source_train: np.ndarray | None = None
    source_test: np.ndarray | None = None
    if config.dataset == "digits":
        X_tr, y_tr, X_te, y_te, source_train, source_test = digits_dataset(
            test_size=config.test_size, seed=config.data_seed, return_index=True
        )
        label_column = "digit"
        data_text = (
            "Handwritten digits (scikit-learn load_digits, 8x8 pixels standardised on the "
            "full training split)"
        )
    else:
        X_tr, y_tr, X_te, y_te = gaussian_mixture_dataset(
            n_classes=config.n_classes,
            n_features=config.n_features,
            n_per_class=config.n_per_class,
            separation=config.separation,
            test_size=config.test_size,
            seed=config.data_seed,
        )
        label_column = "class"
        data_text = (
            f"Gaussian mixture ({config.n_features} features, unit noise, mean centre "
            f"distance {config.separation:g}, {config.n_per_class} per class before the split)"
        )
    label_names = tuple(str(c) for c in range(config.n_dataset_classes))
    n_classes = config.n_dataset_classes - config.held_out_classes  # the classes trained on
    notes = []
    held_out = None
    source_held: np.ndarray | None = None
    if config.held_out_classes > 0:
        # Every sample of the last classes, from both splits, leaves training and becomes "held_out".
        in_tr, in_te = y_tr >= n_classes, y_te >= n_classes
        held_out = (np.concatenate([X_tr[in_tr], X_te[in_te]]), np.concatenate([y_tr[in_tr], y_te[in_te]]))
        if source_train is not None and source_test is not None:
            source_held = np.concatenate([source_train[in_tr], source_test[in_te]])
            source_train, source_test = source_train[~in_tr], source_test[~in_te]
        X_tr, y_tr, X_te, y_te = X_tr[~in_tr], y_tr[~in_tr], X_te[~in_te], y_te[~in_te]
        notes.append(
            f"classes {', '.join(label_names[n_classes:])} held out ({held_out[1].size} samples never trained "
            "on; their features are recorded as split 'held_out')"
        )

    if config.imbalance_ratio > 1.0:
        keep = long_tail_subsample(
            y_tr, imbalance_ratio=config.imbalance_ratio, n_classes=n_classes, seed=subsample_seed
        )
        X_tr, y_tr = X_tr[keep], y_tr[keep]
        if source_train is not None:
            source_train = source_train[keep]
        sizes = np.bincount(y_tr, minlength=n_classes)
        notes.append(
            f"long-tailed train split, imbalance ratio {config.imbalance_ratio:g} "
            f"(train sizes per class {sizes.tolist()}; test split balanced)"
        )
    clean_tr = y_tr
    flipped_tr = np.zeros(y_tr.size, dtype=bool)
    if config.label_noise > 0:
        y_tr, flipped_tr = flip_labels(
            clean_tr, fraction=config.label_noise, n_classes=n_classes, seed=noise_seed
        )
        notes.append(
            f"{100 * config.label_noise:g}% label noise ({int(flipped_tr.sum())} train labels "
            "moved to a random other class; test labels clean)"
        )

    y_held = np.zeros(0, dtype=np.int64) if held_out is None else held_out[1]
    clean_all = np.concatenate([clean_tr, y_te, y_held])
    extra: dict[str, Any] = {
        "clean_label": [label_names[c] for c in clean_all],
        "label_flipped": np.concatenate([flipped_tr, np.zeros(y_te.size + y_held.size, dtype=bool)]),
    }
    if source_train is not None and source_test is not None:
        parts = [source_train, source_test] + ([] if source_held is None else [source_held])
        extra["source_index"] = np.concatenate(parts).astype(np.int64)
    task = (
        f"Neural-collapse lab: {data_text}; {len(y_tr)} train / {len(y_te)} test samples, "
        f"{config.n_dataset_classes} classes"
        + "".join(f"; {note}" for note in notes)
        + f"; {config.mlp.describe()}"
        + (". metadata.source_index is the row in load_digits()" if source_train is not None else "")
    )
    with torch_threads(1):
        return train_mlp(
            X_tr,
            y_tr,
            X_te,
            y_te,
            config.mlp,
            progress=progress,
            should_stop=should_stop,
            label_names=label_names,
            label_column=label_column,
            extra_metadata=pl.DataFrame(extra),
            task=task,
            name=name,
            held_out=held_out,
        )
