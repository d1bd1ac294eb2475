"""Do two trainings of one model agree? Absolute coordinates against relative representations.

Two seeds of the same network learn latent spaces that differ by (roughly) an
angle-preserving transformation: the same input gets unrelated coordinates,
but its cosines to a fixed set of anchor inputs are nearly the same in both
(Moschella et al. 2023). `seed_agreement` measures both sides and the
practical consequence, zero-shot stitching: a classifier fitted on one seed's
representation and applied unchanged to the other's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.linear_model import LogisticRegression

from analysis.metrics._result import MetricResult
from analysis.metrics.similarity import linear_cka, relative_representation

__all__ = ["SeedAgreement", "row_cosines", "seed_agreement"]


@dataclass(frozen=True, eq=False)
class SeedAgreement(MetricResult):
    """How far two representations of the same rows agree.

    Attributes
    ----------
    absolute_cosine : float
        Mean over rows of cos(a_i, b_i): the same input's two coordinate vectors.
    relative_cosine : float
        The same for the relative representations (cosines to the anchors).
    linear_cka : float
        Linear CKA of the two absolute representations (already invariant to rotations).
    accuracy_same : float
        Classifier fitted on A's training rows, tested on A's test rows.
    accuracy_stitched_absolute, accuracy_stitched_relative : float
        Fitted on A's training rows, tested on B's test rows, with absolute or relative features.
    n_anchors : int
    """

    absolute_cosine: float
    relative_cosine: float
    linear_cka: float
    accuracy_same: float
    accuracy_stitched_absolute: float
    accuracy_stitched_relative: float
    n_anchors: int

    SCALARS: ClassVar[tuple[str, ...]] = (
        "absolute_cosine", "relative_cosine", "linear_cka", "accuracy_same",
        "accuracy_stitched_absolute", "accuracy_stitched_relative",
    )  # fmt: skip


def row_cosines(A: Any, B: Any) -> np.ndarray:
    """cos(a_i, b_i) for each row i (0 where either row is zero), in float64."""
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    norms = np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1)
    return np.einsum("ij,ij->i", A, B) / np.where(norms > 0, norms, 1.0)


def _stitched_accuracy(train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray,
                       test_labels: np.ndarray) -> float:
    model = LogisticRegression(max_iter=2000).fit(train_features, train_labels)
    return float((model.predict(test_features) == test_labels).mean())


def seed_agreement(X_a: Any, X_b: Any, labels: Any, *, anchors: Any, train_rows: Any, test_rows: Any) -> SeedAgreement:
    """Absolute vs relative agreement of two representations of the same rows, and zero-shot stitching.

    Parameters
    ----------
    X_a, X_b : array-like of shape (n_samples, d)
        The same inputs seen by two trainings (same width, so that absolute
        coordinates can be compared at all).
    labels : array-like of shape (n_samples,)
    anchors : array-like of int
        Row indices of the anchor inputs, the same rows in both spaces.
    train_rows, test_rows : array-like of int
        Rows to fit the logistic-regression probe on (in A), and to test it on.

    Returns
    -------
    SeedAgreement

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello and
       E. Rodolà, "Relative representations enable zero-shot latent space
       communication", ICLR 2023.
    .. [2] S. Kornblith, M. Norouzi, H. Lee and G. Hinton, "Similarity of
       neural network representations revisited", ICML 2019.
    """
    A = np.asarray(X_a, dtype=np.float64)
    B = np.asarray(X_b, dtype=np.float64)
    if A.shape != B.shape or A.ndim != 2:
        raise ValueError(f"X_a and X_b must have the same 2-D shape (same rows, same width); got {A.shape} and "
                         f"{B.shape}.")
    y = np.asarray(labels)
    anchor_rows = np.asarray(anchors, dtype=np.int64)
    train, test = np.asarray(train_rows, dtype=np.int64), np.asarray(test_rows, dtype=np.int64)
    rel_a = relative_representation(A, A[anchor_rows])
    rel_b = relative_representation(B, B[anchor_rows])
    return SeedAgreement(
        absolute_cosine=float(row_cosines(A, B).mean()),
        relative_cosine=float(row_cosines(rel_a, rel_b).mean()),
        linear_cka=float(linear_cka(A, B)),
        accuracy_same=_stitched_accuracy(A[train], y[train], A[test], y[test]),
        accuracy_stitched_absolute=_stitched_accuracy(A[train], y[train], B[test], y[test]),
        accuracy_stitched_relative=_stitched_accuracy(rel_a[train], y[train], rel_b[test], y[test]),
        n_anchors=int(anchor_rows.size),
    )
