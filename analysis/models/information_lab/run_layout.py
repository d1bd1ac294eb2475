"""The pieces of the lab's `Run` that training and replay share: rows, metadata, task text, epoch curve.

Also `CheckpointWeights`, the per-step weights that training keeps and replay reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.models.information_lab.config import InformationLabConfig
from analysis.models.information_lab.task import (
    N_BITS,
    POSITIVE_SHARE,
    twelve_bit_inputs,
    twelve_bit_labels,
    twelve_bit_split,
)

__all__ = [
    "CheckpointWeights",
    "LabData",
    "epoch_curve",
    "extra_metadata",
    "lab_data",
    "n_steps_per_epoch",
    "task_description",
]

# step -> [(weight (out, in), bias (out,)) for each Linear layer, hidden1 first, the head last]
CheckpointWeights = dict[int, list[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class LabData:
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


def lab_data(config: InformationLabConfig) -> LabData:
    X = twelve_bit_inputs()
    y = twelve_bit_labels(X)
    train, test = twelve_bit_split(y, train_fraction=config.train_fraction, seed=config.data_seed)
    return LabData(X[train], y[train], X[test], y[test], np.concatenate([train, test]))


def bits_strings(index: np.ndarray) -> list[str]:
    return [format(int(r), f"0{N_BITS}b") for r in index]


def extra_metadata(data: LabData) -> pl.DataFrame:
    return pl.DataFrame(
        {"input_index": data.index.astype(np.int64), "bits": bits_strings(data.index)}
    )


def n_steps_per_epoch(config: InformationLabConfig, data: LabData) -> int:
    return math.ceil(data.n_train / config.batch_size)


def task_description(config: InformationLabConfig, data: LabData) -> str:
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


def epoch_curve(steps: Sequence[float], steps_per_epoch: int) -> list[float]:
    return [float(s) / steps_per_epoch for s in steps]
