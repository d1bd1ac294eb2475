"""The phase diagram of the n = 2, m = 1 toy model: trained (`phase_diagram`) and in closed form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.models._checks import is_int
from analysis.models._progress import StopFn
from analysis.models.toy_superposition.config import ToyModelConfig, positive_float
from analysis.models.toy_superposition.train import train_toy_models
from analysis.validation import ProgressFn

__all__ = ["PHASE_LABELS", "PhaseDiagram", "classify_two_feature_model", "phase_diagram", "theoretical_phases"]

# Labels of `phase_diagram` cells and of `classify_two_feature_model`.
PHASE_LABELS: tuple[str, ...] = ("ignore second", "dedicated to second", "antipodal", "other")

def classify_two_feature_model(W_features: Any, *, threshold: float = 0.5) -> np.ndarray:
    """What a two-feature toy model does with its features, as a code into `PHASE_LABELS`.

    A feature counts as represented when its norm ||W_i|| exceeds `threshold`
    (a trained model puts represented features near norm 1 and drops the others
    to near 0, so 0.5 sits between the two). Then:

    - 0, "ignore second": feature 1 represented, feature 2 not;
    - 1, "dedicated to second": feature 2 represented, feature 1 not (with
      m = 1 the single dimension goes to the second feature);
    - 2, "antipodal": both represented, in opposite directions (cosine
      < -0.5; with m = 1, opposite signs), i.e. in superposition;
    - 3, "other": neither represented, or both in the same direction (not a
      solution the paper's optimum takes; usually an unconverged model).

    Parameters
    ----------
    W_features : array-like of shape (..., 2, n_hidden)
        One row per feature (the paper's W^T), any leading batch shape.
    threshold : float, default=0.5

    Returns
    -------
    ndarray of int64, shape ``W_features.shape[:-2]``
    """
    W = np.asarray(W_features, dtype=np.float64)
    if W.ndim < 2 or W.shape[-2] != 2:
        raise ValueError(
            "classify_two_feature_model: W_features must have shape (..., 2, n_hidden), one "
            f"row per feature; got shape {W.shape}."
        )
    thr = positive_float(threshold, name="classify_two_feature_model: threshold")
    norms = np.linalg.norm(W, axis=-1)
    rep1, rep2 = norms[..., 0] > thr, norms[..., 1] > thr
    dot = (W[..., 0, :] * W[..., 1, :]).sum(-1)
    cos = dot / np.maximum(norms[..., 0] * norms[..., 1], 1e-12)
    labels = np.full(W.shape[:-2], 3, dtype=np.int64)
    labels[rep1 & ~rep2] = 0
    labels[rep2 & ~rep1] = 1
    labels[rep1 & rep2 & (cos < -0.5)] = 2
    return labels


@dataclass(frozen=True)
class PhaseDiagram:
    """The outcome of `phase_diagram` on its (feature probability x relative importance) grid.

    Attributes
    ----------
    feature_probabilities : ndarray of shape (n_rows,), float64
        1 - S of each row, descending (dense first).
    relative_importances : ndarray of shape (n_cols,), float64
        I_2 / I_1 of each column, ascending (I_1 = 1).
    labels : ndarray of shape (n_rows, n_cols), int64
        Codes into `label_names` (`classify_two_feature_model` of the kept model).
    W_features : ndarray of shape (n_rows, n_cols, 2, 1), float32
        The kept model of each cell (lowest evaluation loss among its restarts).
    b : ndarray of shape (n_rows, n_cols, 2), float32
    losses : ndarray of shape (n_rows, n_cols), float64
        The kept model's loss on the cell's evaluation sample.
    label_names : tuple of str
        `PHASE_LABELS`.
    threshold : float
        The norm threshold used by the classification.
    restarts : int
    seconds : float
    stopped : bool
    """

    feature_probabilities: np.ndarray
    relative_importances: np.ndarray
    labels: np.ndarray
    W_features: np.ndarray
    b: np.ndarray
    losses: np.ndarray
    label_names: tuple[str, ...] = PHASE_LABELS
    threshold: float = 0.5
    restarts: int = 1
    seconds: float = 0.0
    stopped: bool = False

    @property
    def sparsities(self) -> np.ndarray:
        """S = 1 - feature probability of each row."""
        return 1.0 - self.feature_probabilities

    def label_grid(self) -> np.ndarray:
        """The labels as strings, shape (n_rows, n_cols)."""
        return np.asarray(self.label_names, dtype=object)[self.labels]

    def to_text(self) -> str:
        """A text rendering: one row per feature probability, one character per cell.

        ``.`` ignore second, ``D`` dedicated to second, ``A`` antipodal, ``?`` other.
        """
        chars = np.array([".", "D", "A", "?"])
        lines = ["1-S \\ I2/I1  " + " ".join(f"{r:.2g}" for r in self.relative_importances)]
        for p, row in zip(self.feature_probabilities, self.labels, strict=True):
            lines.append(f"{p:10.3g}  " + "".join(chars[row]))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "feature_probabilities": self.feature_probabilities.tolist(),
            "relative_importances": self.relative_importances.tolist(),
            "labels": self.labels.tolist(),
            "label_names": list(self.label_names),
            "W_features": self.W_features.tolist(),
            "b": self.b.tolist(),
            "losses": self.losses.tolist(),
            "threshold": self.threshold,
            "restarts": self.restarts,
            "seconds": self.seconds,
            "stopped": self.stopped,
        }


def _eval_losses(
    W_features: np.ndarray, b: np.ndarray, p: np.ndarray, importance: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Loss of each instance on inputs mapped from the shared uniform draws `u` (E, n).

    W_features (N, n, m), b (N, n), p (N,), importance (N, n). Using the same
    draws for every instance (common random numbers) makes the comparison of
    restarts of one cell nearly free of sampling noise.
    """
    Wf = W_features.astype(np.float64)
    x = np.where(u[None] < p[:, None, None], u[None] / p[:, None, None], 0.0)  # (N, E, n)
    h = x @ Wf  # (N, E, m)
    out = np.maximum(h @ Wf.transpose(0, 2, 1) + b.astype(np.float64)[:, None, :], 0.0)
    return (importance[:, None, :] * (x - out) ** 2).sum(-1).mean(-1)


def theoretical_phases(feature_probability: Any, relative_importance: Any) -> np.ndarray:
    """Closed-form phase of the n = 2, m = 1 toy model: the candidate with the lowest expected loss.

    With I_1 = 1, I_2 = r, p = 1 - S and x_i = 0 with probability S, else
    uniform on [0, 1] (so E x = p/2, E x^2 = p/3), the three candidate
    solutions have expected importance-weighted loss:

    - ignore second, W = (1, 0), feature 2 predicted by its best constant
      (the bias, E x_2 = p/2): ``r (p/3 - p^2/4)`` (its variance);
    - dedicated to second: ``p/3 - p^2/4`` by symmetry;
    - antipodal, W = (1, -1), b = 0: exact whenever one feature is active;
      when both are (probability p^2) each output loses the smaller input,
      ``E min(u, v)^2 = 1/6``, so ``(1 + r) p^2 / 6``.

    The antipodal loss uses b = 0, an upper bound (a small negative bias can
    do slightly better), so the boundary is conservative. This is the
    analysis of Elhage et al. (2022, "Phase change") for these candidates.

    Parameters
    ----------
    feature_probability : array-like of shape (n_p,)
    relative_importance : array-like of shape (n_r,)

    Returns
    -------
    ndarray of shape (n_r, n_p), int
        Codes into `PHASE_LABELS` (0 ignore second, 1 dedicated to second, 2 antipodal).
    """
    p = np.asarray(feature_probability, dtype=np.float64)[None, :]
    r = np.asarray(relative_importance, dtype=np.float64)[:, None]
    variance = p / 3.0 - p**2 / 4.0
    losses = np.stack(np.broadcast_arrays(r * variance, variance, (1.0 + r) * p**2 / 6.0))
    return np.argmin(losses, axis=0).astype(np.int64)


def phase_diagram(
    n_sparsities: int = 12,
    n_importances: int = 12,
    *,
    probability_range: tuple[float, float] = (1.0, 0.01),
    importance_range: tuple[float, float] = (0.1, 10.0),
    restarts: int = 4,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 3e-3,
    lr_schedule: str = "cosine",
    seed: int = 0,
    threshold: float = 0.5,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> PhaseDiagram:
    """The paper's phase diagram for n = 2 features in m = 1 dimension.

    A grid over feature probability 1 - S (rows, log-spaced from
    ``probability_range[0]`` down to ``probability_range[1]``) and the
    relative importance I_2 / I_1 of the second feature (columns, log-spaced
    over `importance_range`, I_1 = 1). Every cell trains `restarts` models
    from different seeds, all cells and restarts together as one
    `train_toy_models` batch; each cell keeps the restart with the lowest
    loss on a shared evaluation sample of 16,384 inputs (the same uniform
    draws for every cell, mapped through the cell's sparsity), which avoids
    most local minima (with m = 1, two features that start on the same side
    must cross 0 to become antipodal). The kept model is classified by
    `classify_two_feature_model`: "ignore second", "dedicated to second"
    (the one dimension goes to feature 2, feature 1 is dropped) or
    "antipodal" (both stored, opposite signs: superposition).

    Expected picture (Elhage et al. 2022, "Superposition as a phase change"):
    dense features give the dimension to the more important feature (the
    boundary at I_2 / I_1 = 1); as features get sparser an antipodal region
    opens around equal importance and widens.

    Parameters
    ----------
    n_sparsities, n_importances : int, default=12
        Grid rows and columns (>= 1 each; a single row or column uses the
        first end of its range).
    probability_range : (float, float), default=(1.0, 0.01)
        Feature probabilities of the first and last row, in (0, 1] and >= 1e-4.
    importance_range : (float, float), default=(0.1, 10.0)
        I_2 / I_1 of the first and last column, > 0.
    restarts : int, default=4
        Seeds per cell (>= 1).
    steps, batch_size, lr, lr_schedule, seed
        As in `ToyModelConfig`. The defaults (2,000 steps of batch 256, AdamW
        lr 3e-3 with cosine decay) train the default 12 x 12 grid with 4 restarts
        (576 models) in about 18 s on one CPU thread.
    threshold : float, default=0.5
        Norm above which a feature counts as represented.
    progress, should_stop
        As in `train_toy_models`; after a stop the cells are classified from
        the weights at the step training stopped.

    Returns
    -------
    PhaseDiagram
    """
    for name, value in (
        ("n_sparsities", n_sparsities),
        ("n_importances", n_importances),
        ("restarts", restarts),
    ):
        if not is_int(value) or value < 1:
            raise ValueError(f"phase_diagram: {name} must be an integer >= 1; got {value!r}.")
    if not is_int(seed):
        raise ValueError(f"phase_diagram: seed must be an integer; got {seed!r}.")
    ranges = {}
    for name, pair in (
        ("probability_range", probability_range),
        ("importance_range", importance_range),
    ):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"phase_diagram: {name} must be a pair (first, last); got {pair!r}.")
        ranges[name] = tuple(positive_float(v, name=f"phase_diagram: {name}") for v in pair)
    p_first, p_last = ranges["probability_range"]
    for v in (p_first, p_last):
        if not 1e-4 <= v <= 1.0:
            raise ValueError(
                "phase_diagram: probability_range values are feature probabilities 1 - S and "
                f"must lie in [1e-4, 1]; got {probability_range!r}."
            )
    thr = positive_float(threshold, name="phase_diagram: threshold")
    r_first, r_last = ranges["importance_range"]
    probs = np.geomspace(p_first, p_last, int(n_sparsities))
    rel = np.geomspace(r_first, r_last, int(n_importances))
    R = int(restarts)
    settings = [(float(1.0 - p), (1.0, float(r))) for p in probs for r in rel for _ in range(R)]
    config = ToyModelConfig(
        n_features=2,
        n_hidden=1,
        sparsities=(0.0,),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        lr_schedule=lr_schedule,
        seed=seed,
        n_checkpoints=2,
    )
    sweep = train_toy_models(config, settings=settings, progress=progress, should_stop=should_stop)

    rows, cols = probs.size, rel.size
    u = np.random.default_rng(int(seed)).random((16_384, 2))
    p_inst = np.repeat(probs, cols * R)
    losses = _eval_losses(sweep.final_W_features, sweep.b[-1], p_inst, sweep.importances, u)
    losses = losses.reshape(rows * cols, R)
    best = losses.argmin(axis=1)
    pick = np.arange(rows * cols) * R + best
    W_kept = sweep.final_W_features[pick]
    b_kept = sweep.b[-1][pick]
    labels = classify_two_feature_model(W_kept, threshold=thr)
    return PhaseDiagram(
        feature_probabilities=probs,
        relative_importances=rel,
        labels=labels.reshape(rows, cols),
        W_features=W_kept.reshape(rows, cols, 2, 1),
        b=b_kept.reshape(rows, cols, 2),
        losses=losses[np.arange(rows * cols), best].reshape(rows, cols),
        threshold=thr,
        restarts=R,
        seconds=sweep.seconds,
        stopped=sweep.stopped,
    )
