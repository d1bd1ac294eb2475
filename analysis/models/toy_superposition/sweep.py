"""`ToySweep`: the trained instances of one `train_toy_models` call, at every checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ToySweep"]


@dataclass(frozen=True)
class ToySweep:
    """The trained instances of one `train_toy_models` call, at every checkpoint.

    Attributes
    ----------
    n_features, n_hidden : int
    sparsities : ndarray of shape (n_instances,), float64
        S of each instance.
    importances : ndarray of shape (n_instances, n_features), float64
    seeds : ndarray of shape (n_instances,), int64
    steps : ndarray of shape (n_checkpoints,), int64
        Optimiser steps of the checkpoints (0 = initialisation). After a stop,
        the last one is the step training stopped at.
    W_features : ndarray of shape (n_checkpoints, n_instances, n_features, n_hidden), float32
        The paper's W^T: row i is feature i's direction in the hidden space.
    b : ndarray of shape (n_checkpoints, n_instances, n_features), float32
    losses : ndarray of shape (n_checkpoints, n_instances), float64
        Each instance's loss ``mean over samples of sum_i I_i (x_i - x'_i)^2``
        on a fixed evaluation sample of 4096 inputs drawn from its own
        distribution (the same sample at every checkpoint).
    stopped : bool
        True if `should_stop` ended training early.
    seconds : float
        Wall-clock training time.
    config : dict
        What trained it (``ToyModelConfig.to_dict()``, or the settings given).
    """

    n_features: int
    n_hidden: int
    sparsities: np.ndarray
    importances: np.ndarray
    seeds: np.ndarray
    steps: np.ndarray
    W_features: np.ndarray
    b: np.ndarray
    losses: np.ndarray
    stopped: bool = False
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def n_instances(self) -> int:
        return int(self.sparsities.shape[0])

    @property
    def feature_probabilities(self) -> np.ndarray:
        """1 - S per instance."""
        return 1.0 - self.sparsities

    @property
    def final_W_features(self) -> np.ndarray:
        """W_features at the last checkpoint, shape (n_instances, n_features, n_hidden)."""
        return self.W_features[-1]

    @property
    def final_losses(self) -> np.ndarray:
        """Evaluation loss at the last checkpoint, shape (n_instances,)."""
        return self.losses[-1]

    def feature_norms(self, checkpoint: int = -1) -> np.ndarray:
        """||W_i|| per instance and feature at one checkpoint, shape (n_instances, n_features)."""
        return np.linalg.norm(self.W_features[checkpoint].astype(np.float64), axis=-1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (arrays as nested lists)."""
        return {
            "n_features": self.n_features,
            "n_hidden": self.n_hidden,
            "sparsities": self.sparsities.tolist(),
            "importances": self.importances.tolist(),
            "seeds": self.seeds.tolist(),
            "steps": self.steps.tolist(),
            "W_features": self.W_features.tolist(),
            "b": self.b.tolist(),
            "losses": self.losses.tolist(),
            "stopped": self.stopped,
            "seconds": self.seconds,
            "config": self.config,
        }
