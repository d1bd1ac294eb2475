"""Neural collapse on new classes (Galanti, Gyorgy & Hutter 2022): CDNV, NC1 and few-shot accuracy.

A feature map trained on some classes is applied to classes it never saw.
Galanti et al. show that neural collapse carries over: the class-distance
normalised variance (CDNV) of the new classes falls with training too, and a
small CDNV bounds the error of a nearest-class-mean classifier built from a
few examples per new class. `transfer_collapse` measures the three on the
held-out classes' features: CDNV and NC1 from one pass of
`analysis.metrics.neural_collapse` (the same definitions as the rest of the
page), and the few-shot nearest-class-mean accuracy by seeded random draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from analysis.metrics._result import MetricResult
from analysis.metrics.neural_collapse import neural_collapse

__all__ = ["DEFAULT_SHOTS", "TransferCollapse", "few_shot_ncc_accuracy", "transfer_collapse"]

DEFAULT_SHOTS = (1, 5, 10)


@dataclass(frozen=True, eq=False)
class TransferCollapse(MetricResult):
    """Result of :func:`transfer_collapse` (floats are Python floats).

    Attributes
    ----------
    cdnv : float
        Mean over pairs of (new) classes of ``(Var_i + Var_j) / (2 ||mu_i - mu_j||^2)``.
    nc1 : float
        ``Tr(Sigma_W pinv(Sigma_B)) / C`` of the same features (as `neural_collapse`).
    shots : tuple of int
        Examples per class used for the class means.
    few_shot_accuracy : tuple of float or None
        Mean nearest-class-mean accuracy on the remaining samples, over the
        draws, per entry of `shots`; None where a class has no sample left
        to classify after taking that many.
    few_shot_std : tuple of float or None
        Standard deviation (ddof=0) of the accuracy over the draws.
    chance : float
        ``1/C``, the accuracy of a guess.
    n_classes, n_samples, n_draws, seed : int
    class_counts : ndarray of shape (C,), int64
    """

    cdnv: float
    nc1: float
    shots: tuple[int, ...]
    few_shot_accuracy: tuple[float | None, ...]
    few_shot_std: tuple[float | None, ...]
    chance: float
    n_classes: int
    n_samples: int
    n_draws: int
    seed: int
    class_counts: np.ndarray

    SCALARS: ClassVar[tuple[str, ...]] = ("cdnv", "nc1")

    def accuracy(self, shots: int) -> float | None:
        """The few-shot accuracy with `shots` examples per class (None if not measured)."""
        return dict(zip(self.shots, self.few_shot_accuracy, strict=True)).get(int(shots))


def _check_shots(shots: Any) -> tuple[int, ...]:
    try:
        values = tuple(shots)
    except TypeError:
        values = (shots,)
    if not values or any(isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1 for m in values):
        raise ValueError(f"shots must be positive integers (examples per class), e.g. (1, 5, 10); got {shots!r}.")
    return tuple(sorted({int(m) for m in values}))


def few_shot_ncc_accuracy(
    X: np.ndarray, y: np.ndarray, *, shots: int, n_draws: int, rng: np.random.Generator
) -> np.ndarray | None:
    """Accuracy of each of `n_draws` draws: class means from `shots` random samples per class,
    nearest mean (Euclidean) for every other sample. None when a class has at most `shots` samples.

    `y` holds codes 0..C-1, every class present.
    """
    C = int(y.max()) + 1
    members = [np.flatnonzero(y == c) for c in range(C)]
    if min(m.size for m in members) <= shots:
        return None
    out = np.empty(n_draws)
    for d in range(n_draws):
        support = np.concatenate([rng.choice(m, size=shots, replace=False) for m in members])
        means = X[support].reshape(C, shots, -1).mean(axis=1)
        query = np.ones(y.size, dtype=bool)
        query[support] = False
        # ||x - mu||^2 up to the per-row ||x||^2, which does not change the argmin.
        scores = (means**2).sum(axis=1)[None, :] - 2.0 * X[query] @ means.T
        out[d] = float((scores.argmin(axis=1) == y[query]).mean())
    return out


def transfer_collapse(
    features: Any, labels: Any, *, shots: Any = DEFAULT_SHOTS, n_draws: int = 20, seed: int = 0
) -> TransferCollapse:
    """Collapse of classes the network was not trained on: CDNV, NC1 and few-shot NCC accuracy.

    With class means :math:`\\mu_c` and variances
    :math:`\\operatorname{Var}_c = \\mathbb{E}_{x \\in c}\\|x - \\mu_c\\|^2`,
    the class-distance normalised variance of Galanti et al. [1]_ is

    .. math:: V(c, c') = \\frac{\\operatorname{Var}_c + \\operatorname{Var}_{c'}}{2\\,\\|\\mu_c - \\mu_{c'}\\|^2},

    averaged over the pairs :math:`c \\neq c'`; it is invariant to scaling,
    rotating and translating the features. NC1 is Papyan et al.'s
    :math:`\\operatorname{Tr}(\\Sigma_W \\Sigma_B^{+})/C` [2]_ (both from
    `neural_collapse`). Few-shot accuracy: for each of `n_draws` draws, take
    ``m`` random samples of every class, use their mean as the class centre,
    and classify every other sample by its nearest centre (Euclidean); the
    accuracy is averaged over the draws. Galanti et al. bound this error by
    a multiple of the CDNV, so a small CDNV on new classes means a few
    examples suffice.

    Parameters
    ----------
    features : array-like of shape (n_samples, d)
        Features of the new (held-out) classes' samples.
    labels : array-like of int, shape (n_samples,)
        Their classes; the codes present are the classes (at least 2).
    shots : sequence of int, default=(1, 5, 10)
        Examples per class for the few-shot class means.
    n_draws : int, default=20
        Random draws averaged per entry of `shots` (>= 1).
    seed : int, default=0
        Seeds the draws (one generator for all of them: deterministic).

    Returns
    -------
    TransferCollapse

    References
    ----------
    .. [1] T. Galanti, A. Gyorgy and M. Hutter, "On the role of neural
       collapse in transfer learning", ICLR 2022.
    .. [2] V. Papyan, X. Y. Han and D. L. Donoho, "Prevalence of neural
       collapse during the terminal phase of deep learning training", PNAS
       117(40), 2020.
    """
    shots_ = _check_shots(shots)
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer (random few-shot draws); got {n_draws!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer; got {seed!r}.")
    collapse = neural_collapse(features, labels)  # validates features and labels
    X = np.asarray(features, dtype=np.float64)
    _, y = np.unique(np.asarray(labels), return_inverse=True)
    y = y.reshape(-1)
    rng = np.random.default_rng(int(seed))
    means: list[float | None] = []
    stds: list[float | None] = []
    for m in shots_:
        acc = few_shot_ncc_accuracy(X, y, shots=m, n_draws=int(n_draws), rng=rng)
        means.append(None if acc is None else float(acc.mean()))
        stds.append(None if acc is None else float(acc.std()))
    return TransferCollapse(
        cdnv=collapse.cdnv,
        nc1=collapse.nc1,
        shots=shots_,
        few_shot_accuracy=tuple(means),
        few_shot_std=tuple(stds),
        chance=1.0 / collapse.n_classes,
        n_classes=collapse.n_classes,
        n_samples=collapse.n_samples,
        n_draws=int(n_draws),
        seed=int(seed),
        class_counts=collapse.class_counts,
    )
