"""The Superposition page's numbers: the toy-model sweep, the n = 2, m = 1 phase diagram, uploaded weights.

The page analyses weight matrices (toy models it trains, matrices a user
uploads), never the sidebar's activations, so nothing here takes a Selection.

- `toy_model_panel` trains one sweep over the default sparsities
  (`train_toy_models`, all instances in one batch) and `measure_sweep` turns
  it into what the Toy model tab draws: each instance's final W (one row per
  feature), its bias, `superposition_geometry` of every instance and the
  feature dimensionalities D_i against feature probability.
- `phase_panel` trains the paper's phase diagram and adds the closed-form
  boundaries (`theoretical_phases`) on a fine grid.
- `weights_panel` measures one uploaded matrix (`superposition_geometry`).

Reference: N. Elhage et al., "Toy Models of Superposition", Transformer
Circuits Thread, 2022 (D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2; sections
"Feature dimensionality" and "Superposition as a phase change").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from analysis.metrics.superposition import SuperpositionGeometry, superposition_geometry

# The trainers are looked up on the package at call time (``toy.train_toy_models``), not bound
# here, so a test that wraps the package's trainer (tests/app/test_training_limits_page.py) sees
# the page's training go through it.
from analysis.models import toy_superposition as toy
from analysis.models.toy_superposition import (
    PhaseDiagram,
    ToyModelConfig,
    ToySweep,
    theoretical_phases,
)
from analysis.validation import ProgressFn

__all__ = [
    "PhaseDiagram",
    "PhasePanel",
    "SuperpositionGeometry",
    "ToyModelPanel",
    "ToySweep",
    "WeightsPanel",
    "measure_sweep",
    "phase_panel",
    "theoretical_phases",
    "toy_config",
    "toy_model_panel",
    "weights_panel",
]

# Points per axis of the closed-form boundary drawn over the trained phase diagram.
THEORY_RESOLUTION = 120


def toy_config(n_features: int, n_hidden: int, *, steps: int, seed: int, importance_decay: float) -> ToyModelConfig:
    """The default sweep (`ToyModelConfig`: every default sparsity, AdamW, batch 1,024) with the page's choices."""
    return replace(ToyModelConfig(), n_features=int(n_features), n_hidden=int(n_hidden), steps=int(steps),
                   seed=int(seed), importance_decay=float(importance_decay))


def instance_label(feature_probability: float) -> str:
    """How the page names one instance of a sweep: its feature probability 1 − S."""
    return f"1 − S = {feature_probability:.2g}"


@dataclass(frozen=True, eq=False)
class ToyModelPanel:
    """Everything the Toy model tab draws for one sweep.

    Attributes
    ----------
    sweep : ToySweep
        The trained instances (every checkpoint).
    W : ndarray of shape (n_instances, n_features, n_hidden), float32
        Each instance's final W^T: row i is feature i's direction in the hidden space.
    b : ndarray of shape (n_instances, n_features), float32
        Each instance's final bias.
    feature_probabilities : ndarray of shape (n_instances,)
        1 − S per instance, dense first.
    labels : list of str
        `instance_label` of each instance.
    geometry : tuple of SuperpositionGeometry
        `superposition_geometry(W[i])` per instance.
    feature_dimensionality : ndarray of shape (n_instances, n_features)
        D_i of every instance (`geometry[i].feature_dimensionality`, stacked).
    seconds : float
        Wall-clock training time of the sweep.
    """

    sweep: ToySweep
    W: np.ndarray
    b: np.ndarray
    feature_probabilities: np.ndarray
    labels: list[str]
    geometry: tuple[SuperpositionGeometry, ...]
    feature_dimensionality: np.ndarray
    seconds: float

    @property
    def n_features(self) -> int:
        return int(self.sweep.n_features)

    @property
    def n_hidden(self) -> int:
        return int(self.sweep.n_hidden)

    @property
    def n_instances(self) -> int:
        return int(self.W.shape[0])

    def describe_instance(self, i: int) -> str:
        """One instance's dimensions per feature (m / ||W||_F^2) and its D_i, in words."""
        g = self.geometry[i]
        return (f"{self.labels[i]}: dimensions per feature {g.dimensions_per_feature:.2f}; D_i = "
                + ", ".join(f"{d:.2f}" for d in g.feature_dimensionality))


def measure_sweep(sweep: ToySweep) -> ToyModelPanel:
    """The Toy model tab from a trained sweep: final weights and biases, and the geometry of every instance."""
    W = sweep.final_W_features
    probability = sweep.feature_probabilities
    geometry = tuple(superposition_geometry(w) for w in W)
    return ToyModelPanel(sweep=sweep, W=W, b=sweep.b[-1], feature_probabilities=probability,
                         labels=[instance_label(p) for p in probability], geometry=geometry,
                         feature_dimensionality=np.stack([g.feature_dimensionality for g in geometry]),
                         seconds=float(sweep.seconds))


def toy_model_panel(n_features: int, n_hidden: int, *, steps: int = 10_000, seed: int = 0,
                    importance_decay: float = 0.9, progress: ProgressFn | None = None) -> ToyModelPanel:
    """Train one model per default sparsity (one batched computation) and measure them (`measure_sweep`)."""
    config = toy_config(n_features, n_hidden, steps=steps, seed=seed, importance_decay=importance_decay)
    return measure_sweep(toy.train_toy_models(config, progress=progress))


@dataclass(frozen=True, eq=False)
class PhasePanel:
    """The Phase diagram tab: what training found per cell, and the closed-form boundaries.

    Attributes
    ----------
    diagram : PhaseDiagram
    cell_labels : ndarray of str, shape (n_importances, n_probabilities)
        `diagram.label_grid()` transposed: rows are relative importances (y), columns probabilities (x).
    theory : (ndarray, ndarray, ndarray)
        A fine log-spaced grid of feature probabilities (x) and relative importances (y) spanning the
        diagram's, and `theoretical_phases` on it, shape (len(y), len(x)).
    """

    diagram: PhaseDiagram
    cell_labels: np.ndarray
    theory: tuple[np.ndarray, np.ndarray, np.ndarray]

    @property
    def feature_probabilities(self) -> np.ndarray:
        return self.diagram.feature_probabilities

    @property
    def relative_importances(self) -> np.ndarray:
        return self.diagram.relative_importances


def theory_grid(probabilities: np.ndarray, importances: np.ndarray,
                resolution: int = THEORY_RESOLUTION) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`theoretical_phases` on `resolution` log-spaced points across each axis's range."""
    fine_p = np.geomspace(probabilities.min(), probabilities.max(), resolution)
    fine_r = np.geomspace(importances.min(), importances.max(), resolution)
    return fine_p, fine_r, theoretical_phases(fine_p, fine_r)


def phase_panel(size: int, *, seed: int = 0, progress: ProgressFn | None = None) -> PhasePanel:
    """Train the size x size phase diagram (`phase_diagram`: 4 restarts per cell, best kept) and add the theory."""
    diagram = toy.phase_diagram(int(size), int(size), seed=int(seed), progress=progress)
    return PhasePanel(diagram=diagram, cell_labels=diagram.label_grid().T,
                      theory=theory_grid(diagram.feature_probabilities, diagram.relative_importances))


@dataclass(frozen=True, eq=False)
class WeightsPanel:
    """The Weights tab for one uploaded matrix: `superposition_geometry` with its features on rows or columns."""

    tensor: str
    features: str
    geometry: SuperpositionGeometry


def weights_panel(W: Any, *, tensor: str, features: str) -> WeightsPanel:
    """Overlaps, D_i and dimensions per feature of one weight matrix (`superposition_geometry`)."""
    return WeightsPanel(tensor=tensor, features=features, geometry=superposition_geometry(W, features=features))
