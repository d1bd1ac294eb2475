"""Small torch models and the trainers that turn them into `Run`s (DESIGN.md section 1)."""

from analysis.models.collapse_lab import (
    DATASETS,
    DEFAULT_LAB_MLP,
    PRESETS,
    CollapseLabConfig,
    flip_labels,
    gaussian_mixture_dataset,
    long_tail_counts,
    long_tail_subsample,
    train_collapse_lab,
)
from analysis.models.mlp import (
    LOSSES,
    LR_SCHEDULES,
    MLPClassifier,
    MLPConfig,
    checkpoint_steps,
    digits_dataset,
    lr_factor,
    simplex_etf,
    train_mlp,
)

__all__ = [
    "DATASETS",
    "DEFAULT_LAB_MLP",
    "LOSSES",
    "LR_SCHEDULES",
    "PRESETS",
    "CollapseLabConfig",
    "MLPClassifier",
    "MLPConfig",
    "checkpoint_steps",
    "digits_dataset",
    "flip_labels",
    "gaussian_mixture_dataset",
    "long_tail_counts",
    "long_tail_subsample",
    "lr_factor",
    "simplex_etf",
    "train_collapse_lab",
    "train_mlp",
]
