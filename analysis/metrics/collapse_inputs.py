"""Inputs of neural collapse: class codes, features and a classifier, checked at the boundary.

Labels are names, not sizes: without a classifier the codes present are
re-encoded to 0..C-1 (codes {0, 1e9} are two classes, not a billion), and C
is checked against the memory budget before any C x d or C x C allocation.
With a classifier, codes index its rows, so they must lie in [0, C).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.data.limits import format_bytes, memory_budget_bytes

__all__ = ["check_class_labels", "check_classifier"]


def check_class_labels(labels: Any, n_samples: int, *, n_classes: int | None = None) -> tuple[np.ndarray, int]:
    """Validate class codes; return (int64 codes, C) or raise ValueError.

    Codes must be integers in ``[0, C)`` where C is `n_classes` (e.g. the
    classifier's rows) or ``max + 1``; every class needs at least one sample
    and there must be at least two classes. Memory is O(n) whatever the
    codes: a largest code beyond the number of samples means empty classes
    and is refused before any per-class array is allocated.
    """
    y = _integer_codes(labels, n_samples)
    C = int(y.max()) + 1
    if n_classes is not None:
        if C > n_classes:
            raise ValueError(
                f"labels uses class code {C - 1}, but the classifier has only {n_classes} "
                "classes (rows). Pass the classifier that was trained on these labels."
            )
        C = int(n_classes)
    elif C > n_samples:
        # More codes than samples: some class is empty. Say so without a C-long count array
        # (codes {0, 1e9} would need 7.45 GiB).
        present = np.unique(y)
        missing = np.setdiff1d(np.arange(min(C, present.size + 5)), present)[:5]
        raise ValueError(
            f"class {', '.join(str(int(c)) for c in missing)}, ... has no samples (codes run 0..{C - 1} "
            f"but only {present.size} distinct codes occur). Every class needs samples: re-encode the "
            "labels, e.g. np.unique(labels, return_inverse=True)[1]."
        )
    counts = np.bincount(y, minlength=C)
    if np.count_nonzero(counts) < 2:
        raise ValueError(
            f"labels holds {np.count_nonzero(counts)} class; neural collapse needs at least 2 "
            "classes (it is undefined, not 0, for one)."
        )
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(
            f"class {', '.join(str(c) for c in empty[:5])}{', ...' if empty.size > 5 else ''} has "
            f"no samples (codes run 0..{C - 1}). Every class needs samples: re-encode the labels "
            "to drop empty classes, or pass the rows of the missing classes."
        )
    return y, C


def _integer_codes(labels: Any, n_samples: int) -> np.ndarray:
    """Labels as int64 codes >= 0 of shape (n_samples,) (integral floats accepted), or ValueError."""
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise ValueError(
            f"labels must have shape ({n_samples},), one class code per row of features; "
            f"got shape {y.shape}."
        )
    if y.dtype.kind == "f" and np.isfinite(y).all() and np.array_equal(y, np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"labels must hold integer class codes 0..C-1; got dtype {y.dtype}. Encode "
            "names first with analysis.data.encode_labels."
        )
    y = y.astype(np.int64, copy=False)
    if y.min() < 0:
        raise ValueError(f"labels contains negative codes (min {int(y.min())}); class codes start at 0.")
    return y


def _encode_present_classes(labels: Any, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes 0..C-1, the original code of each class) for the classes that occur, O(n) memory."""
    class_labels, y = np.unique(_integer_codes(labels, n_samples), return_inverse=True)
    if class_labels.size < 2:
        raise ValueError(
            f"labels holds {class_labels.size} class; neural collapse needs at least 2 "
            "classes (it is undefined, not 0, for one)."
        )
    return y.astype(np.int64).ravel(), class_labels


def _check_class_budget(n_classes: int, n_features: int) -> None:
    """ValueError when the per-class arrays would exceed the memory budget.

    About a dozen C x C float64 matrices (distances, cosines, Gram matrices),
    a few C x d (sums, means, projections) and d x d (Sigma_W, scatter).
    """
    C, d = int(n_classes), int(n_features)
    needed = 8 * (12 * C * C + 4 * C * d + 3 * d * d)
    budget = memory_budget_bytes()
    if needed > budget:
        raise ValueError(
            f"neural collapse of {C:,} classes in {d:,} features needs about {format_bytes(needed)} "
            f"for its per-class matrices, over the memory budget of {format_bytes(budget)} "
            "(REPLENS_MEMORY_BUDGET). Group the labels into fewer classes, reduce the features "
            "(e.g. PCA), or raise the budget."
        )


def _check_features(features: Any) -> np.ndarray:
    # Not check_matrix: its finiteness check would read a memory map once more;
    # the accumulator checks each chunk as it goes.
    X = features if isinstance(features, np.ndarray) else np.asarray(features)
    if X.ndim != 2:
        raise ValueError(
            f"features must be a 2-D array of shape (n_samples, n_features); got shape {X.shape}."
        )
    if X.dtype == bool or X.dtype.kind not in "iuf":
        raise ValueError(
            f"features must hold real numbers; got dtype {X.dtype}. Convert it first, e.g. "
            "features.astype(np.float32)."
        )
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(
            f"features has shape {X.shape}; neural collapse needs at least 2 samples and 1 feature."
        )
    return X


def check_classifier(
    classifier: Any, bias: Any, predictions: Any, *, n_samples: int, n_features: int
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Validate a classifier weight (C, d), its bias (C,) and predictions (n,) for `neural_collapse`.

    Returns them as (float64, float64, int64) arrays (None where not given);
    raises ValueError naming the argument, the expected shape and the fix.
    """
    W = b = preds = None
    if classifier is not None:
        W = np.asarray(classifier, dtype=np.float64)
        if W.ndim != 2 or W.shape[1] != n_features or W.shape[0] < 2:
            raise ValueError(
                f"classifier must have shape (n_classes, {n_features}) (one row per class, as "
                f"torch's nn.Linear.weight) to match features with {n_features} columns; got "
                f"shape {W.shape}. Pass the last layer's weight, or the features that feed it."
            )
        if not np.isfinite(W).all():
            raise ValueError("classifier contains NaN or Inf; pass finite weights.")
        if not np.any(W):
            raise ValueError(
                "classifier is all zero, so NC3 (which normalises W by ||W||_F) is undefined (0/0). "
                "Pass the trained last-layer weight."
            )
    if bias is not None:
        if W is None:
            raise ValueError("bias was given without classifier; pass the classifier weight too.")
        b = np.asarray(bias, dtype=np.float64)
        if b.shape != (W.shape[0],):
            raise ValueError(
                f"bias must have shape ({W.shape[0]},), one value per classifier row; got shape {b.shape}."
            )
    if predictions is not None:
        preds = np.asarray(predictions)
        if preds.shape != (n_samples,) or preds.dtype.kind not in "iu":
            raise ValueError(
                f"predictions must be integer class codes of shape ({n_samples},); got "
                f"dtype {preds.dtype}, shape {preds.shape}. Pass logits.argmax(axis=1)."
            )
        preds = preds.astype(np.int64)
    return W, b, preds
