"""Minority collapse (Fang, He, Long & Su 2021): do the smallest classes' classifier rows merge?

With balanced classes the classifier rows of a network trained into the
terminal phase form a simplex ETF: every pair has cosine -1/(C-1). With
imbalanced classes Fang et al. show, in the layer-peeled model, that the
rows of the minority classes are pulled together as the imbalance grows,
until (past a finite ratio) they coincide: their pairwise cosine rises from
-1/(C-1) towards 1, and the network can no longer tell those classes apart.
`minority_collapse` measures exactly that on one classifier; a run's
checkpoints give it over training (`minority_collapse_over_steps`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from analysis.metrics._result import MetricResult

__all__ = ["MinorityCollapse", "class_groups", "mean_pairwise_cosine", "minority_collapse",
           "minority_collapse_over_steps"]


@dataclass(frozen=True, eq=False)
class MinorityCollapse(MetricResult):
    """Result of :func:`minority_collapse` (floats are Python floats).

    Attributes
    ----------
    minority_cosine : float
        Mean cosine over the pairs of classifier rows of the minority classes.
    majority_cosine : float
        The same over the majority classes.
    between_cosine : float
        Mean cosine between a minority row and a majority row.
    etf_cosine : float
        ``-1/(C-1)``, the cosine of every pair in a simplex ETF (balanced collapse).
    n_classes : int
        C, the classifier's rows.
    minority_classes, majority_classes : tuple of int
        Class codes (row indices) counted in each group, ascending.
    class_counts : ndarray of shape (C,), int64
    rule : str
        How the groups were chosen, in words.
    """

    minority_cosine: float
    majority_cosine: float
    between_cosine: float
    etf_cosine: float
    n_classes: int
    minority_classes: tuple[int, ...]
    majority_classes: tuple[int, ...]
    class_counts: np.ndarray
    rule: str

    SCALARS: ClassVar[tuple[str, ...]] = ("minority_cosine", "majority_cosine", "between_cosine", "etf_cosine")


def _check_counts(class_counts: Any, n_classes: int) -> np.ndarray:
    counts = np.asarray(class_counts)
    if counts.ndim != 1 or counts.size != n_classes or counts.dtype.kind not in "iu":
        raise ValueError(
            f"class_counts must be {n_classes} integer training-sample counts, one per classifier row; got "
            f"dtype {counts.dtype} and shape {counts.shape}. Pass np.bincount(train_labels, minlength={n_classes})."
        )
    if counts.min() < 0:
        raise ValueError("class_counts holds a negative count; pass the number of training samples per class.")
    return counts.astype(np.int64)


def class_groups(class_counts: Any, *, n_minority: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(minority codes, majority codes, rule in words) for per-class training counts.

    Without `n_minority` the minority classes are those with fewer samples
    than the median count and the majority those with at least the median
    (a partition; classes of equal size always fall in the same group). With
    `n_minority` = k the minority are the k smallest classes and the majority
    the rest; equal counts are ordered by class code (the higher code counts
    as smaller). Both groups need at least 2 classes.
    """
    counts = np.asarray(class_counts, dtype=np.int64)
    C = counts.size
    if n_minority is None:
        median = float(np.median(counts))
        minority = np.flatnonzero(counts < median)
        majority = np.flatnonzero(counts >= median)
        rule = f"minority = classes with fewer training samples than the median ({median:g}); majority = the rest"
    else:
        if isinstance(n_minority, bool) or not isinstance(n_minority, (int, np.integer)) \
                or not 2 <= n_minority <= C - 2:
            raise ValueError(
                f"n_minority must be an integer from 2 to C-2 = {C - 2} (both groups need two classes to have a "
                f"pair); got {n_minority!r}."
            )
        # Ascending count; among equal counts the higher code first (lexsort's last key is the primary one).
        order = np.lexsort((-np.arange(C), counts))
        minority = np.sort(order[: int(n_minority)])
        majority = np.sort(order[int(n_minority):])
        rule = f"minority = the {int(n_minority)} classes with the fewest training samples; majority = the rest"
    if minority.size < 2 or majority.size < 2:
        raise ValueError(
            f"The median rule gives {minority.size} minority and {majority.size} majority classes (counts "
            f"{counts.tolist()}); each group needs at least 2 classes to have a pair. Pass n_minority "
            "(2 to C-2) to choose the minority size, or use imbalanced classes."
        )
    return minority, majority, rule


def mean_pairwise_cosine(W: np.ndarray, rows: np.ndarray, other: np.ndarray | None = None) -> float:
    """Mean cosine over pairs of distinct rows of `W[rows]` (or between `W[rows]` and `W[other]`)."""
    V = W / np.abs(W).max(axis=1, keepdims=True)  # first into [-1, 1]: no overflow for rows near 1e308
    U = V / np.linalg.norm(V, axis=1, keepdims=True)
    if other is not None:
        return float((U[rows] @ U[other].T).mean())
    G = U[rows] @ U[rows].T
    k = rows.size
    return float((G.sum() - np.trace(G)) / (k * (k - 1)))


def minority_collapse(classifier: Any, class_counts: Any, *, n_minority: int | None = None) -> MinorityCollapse:
    """Mean pairwise cosine of the minority classes' classifier rows vs the majority's, against the ETF.

    For classifier rows :math:`w_c` and a group :math:`S` of classes,

    .. math:: \\bar{c}(S) = \\frac{1}{|S|(|S|-1)} \\sum_{c \\neq c' \\in S}
              \\frac{w_c^\\top w_{c'}}{\\|w_c\\|\\,\\|w_{c'}\\|},

    computed for the minority group, the majority group, and between the two
    (mean over minority x majority pairs). A simplex ETF gives
    :math:`-1/(C-1)` for every pair; minority collapse is
    :math:`\\bar{c}(\\text{minority})` rising above it towards 1 while the
    majority stays near it (Fang et al. 2021, Fig. 2 and Theorem 5).

    Parameters
    ----------
    classifier : array-like of shape (C, d)
        The last layer's weight, one row per class (torch's ``nn.Linear.weight``).
    class_counts : array-like of int, shape (C,)
        Training samples per class, e.g. ``np.bincount(train_labels, minlength=C)``;
        it picks the groups (see `class_groups`).
    n_minority : int, optional
        Number of smallest classes counted as minority (2 to C-2). Default:
        the classes with fewer samples than the median count.

    Returns
    -------
    MinorityCollapse

    Raises
    ------
    ValueError
        On a malformed classifier (not 2-D, fewer than 4 rows, non-finite, a
        zero row), counts that do not match its rows, or fewer than 2 classes
        in a group.

    References
    ----------
    .. [1] C. Fang, H. He, Q. Long and W. J. Su, "Exploring deep neural
       networks via layer-peeled model: minority collapse in imbalanced
       training", PNAS 118(43), 2021.
    .. [2] V. Papyan, X. Y. Han and D. L. Donoho, "Prevalence of neural
       collapse during the terminal phase of deep learning training", PNAS
       117(40), 2020.
    """
    W = np.asarray(classifier, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] < 4 or W.shape[1] < 1:
        raise ValueError(
            f"classifier must have shape (n_classes, d) with n_classes >= 4 (two minority and two majority "
            f"classes); got shape {W.shape}. Pass the last layer's weight, one row per class."
        )
    if not np.isfinite(W).all():
        raise ValueError("classifier contains NaN or Inf; pass finite weights.")
    zero = np.flatnonzero(~W.any(axis=1))
    if zero.size:
        raise ValueError(
            f"classifier row(s) {zero[:5].tolist()} are all zero, so their cosine is undefined; pass the trained "
            "last-layer weight."
        )
    C = W.shape[0]
    counts = _check_counts(class_counts, C)
    minority, majority, rule = class_groups(counts, n_minority=n_minority)
    return MinorityCollapse(
        minority_cosine=mean_pairwise_cosine(W, minority),
        majority_cosine=mean_pairwise_cosine(W, majority),
        between_cosine=mean_pairwise_cosine(W, minority, majority),
        etf_cosine=-1.0 / (C - 1),
        n_classes=C,
        minority_classes=tuple(int(c) for c in minority),
        majority_classes=tuple(int(c) for c in majority),
        class_counts=counts,
        rule=rule,
    )


def minority_collapse_over_steps(
    classifiers: Mapping[int, Any], class_counts: Any, *, n_minority: int | None = None
) -> dict[int, MinorityCollapse]:
    """`minority_collapse` of each checkpoint's classifier (``{step: weight}``, or ``{step: (weight, bias)}``)."""
    out = {}
    for step in sorted(classifiers):
        head = classifiers[step]
        weight = head[0] if isinstance(head, tuple) else head
        out[int(step)] = minority_collapse(weight, class_counts, n_minority=n_minority)
    return out
