"""Small torch models and the trainers that turn them into `Run`s (DESIGN.md section 1)."""

from analysis.models.mlp import (
    MLPClassifier,
    MLPConfig,
    checkpoint_steps,
    digits_dataset,
    train_mlp,
)

__all__ = [
    "MLPClassifier",
    "MLPConfig",
    "checkpoint_steps",
    "digits_dataset",
    "train_mlp",
]
