"""The collapse lab's data: a Gaussian mixture, long-tailed subsampling and label noise, and their checks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from analysis.models._checks import is_int

__all__ = [
    "check_codes",
    "check_fraction",
    "check_ratio",
    "flip_labels",
    "gaussian_mixture_dataset",
    "long_tail_counts",
    "long_tail_subsample",
]


def check_fraction(value: Any, *, name: str, low_inclusive: bool) -> float:
    """`value` as a fraction in [0, 1) (or (0, 1) without `low_inclusive`), or a ValueError naming `name`."""
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = math.nan
    ok = math.isfinite(fraction) and fraction < 1.0
    ok = ok and (fraction >= 0.0 if low_inclusive else fraction > 0.0)
    if not ok or isinstance(value, bool):
        interval = "[0, 1)" if low_inclusive else "(0, 1)"
        raise ValueError(f"{name} must be a fraction in {interval}; got {value!r}.")
    return fraction


def check_ratio(value: Any, *, name: str) -> float:
    """`value` as an imbalance ratio (see `long_tail_counts`), or a ValueError naming `name`."""
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        ratio = math.nan
    if isinstance(value, bool) or not (math.isfinite(ratio) and ratio >= 1.0):
        raise ValueError(
            f"{name} must be a finite number >= 1 (largest class size over smallest; "
            f"1 keeps the classes as they are); got {value!r}."
        )
    return ratio


def check_codes(y: Any, *, name: str) -> np.ndarray:
    """`y` as a 1-D array of integer class codes, or a ValueError naming `name`."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be a 1-D array of integer class codes; got dtype {arr.dtype} and "
            f"shape {arr.shape}."
        )
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} contains negative codes; class codes must be >= 0.")
    return arr.astype(np.int64, copy=False)


def gaussian_mixture_dataset(
    *,
    n_classes: int = 5,
    n_features: int = 32,
    n_per_class: int = 200,
    separation: float = 3.0,
    test_size: float = 0.25,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic mixture of isotropic Gaussians, one per class, split into train and test.

    The class centres are drawn from a standard normal in R^n_features, then
    scaled together so that the mean distance between two centres (over all
    pairs) equals `separation`; each sample is its class centre plus standard
    normal noise (std 1 per coordinate). So `separation` is in units of the
    noise std: along the line joining two centres at distance s, the two
    classes overlap like two unit Gaussians s apart (Bayes error Phi(-s/2)
    for that pair). The split is stratified: every class gives
    ``round(test_size * n_per_class)`` samples to the test split; rows within
    each split are shuffled.

    Parameters
    ----------
    n_classes : int, default=5
        C >= 2.
    n_features : int, default=32
    n_per_class : int, default=200
        Samples per class before the split.
    separation : float, default=3.0
        Mean pairwise distance between the class centres (> 0).
    test_size : float, default=0.25
        Share of each class in the test split, in (0, 1); each split must get
        at least one sample of every class.
    seed : int, default=0
        Seeds the centres, the noise and the split.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features), float32
    y_train : ndarray of shape (n_train,), int64
    X_test : ndarray of shape (n_test, n_features), float32
    y_test : ndarray of shape (n_test,), int64
    """
    for name, value, low in (
        ("n_classes", n_classes, 2),
        ("n_features", n_features, 1),
        ("n_per_class", n_per_class, 2),
    ):
        if not is_int(value) or value < low:
            raise ValueError(
                f"gaussian_mixture_dataset: {name} must be an integer >= {low}; got {value!r}."
            )
    if not is_int(seed):
        raise ValueError(f"gaussian_mixture_dataset: seed must be an integer; got {seed!r}.")
    try:
        sep = float(separation)
    except (TypeError, ValueError):
        sep = math.nan
    if not (math.isfinite(sep) and sep > 0):
        raise ValueError(
            f"gaussian_mixture_dataset: separation must be a positive number (mean distance "
            f"between class centres, in noise std units); got {separation!r}."
        )
    share = check_fraction(test_size, name="gaussian_mixture_dataset: test_size", low_inclusive=False)
    C, F, n = int(n_classes), int(n_features), int(n_per_class)
    n_test_per_class = round(share * n)
    if not 1 <= n_test_per_class <= n - 1:
        raise ValueError(
            f"gaussian_mixture_dataset: test_size={test_size!r} with n_per_class={n} gives "
            f"{n_test_per_class} test samples per class; each split needs at least one per "
            "class. Change test_size or raise n_per_class."
        )

    rng = np.random.default_rng(int(seed))
    centres = rng.standard_normal((C, F))
    diffs = centres[:, None, :] - centres[None, :, :]
    upper = np.triu_indices(C, k=1)
    mean_distance = float(np.sqrt((diffs**2).sum(axis=-1))[upper].mean())
    centres *= sep / mean_distance
    y = np.repeat(np.arange(C, dtype=np.int64), n)
    X = centres[y] + rng.standard_normal((C * n, F))

    test_rows = np.concatenate(
        [c * n + rng.permutation(n)[:n_test_per_class] for c in range(C)]
    )
    is_test = np.zeros(C * n, dtype=bool)
    is_test[test_rows] = True
    train_rows = rng.permutation(np.flatnonzero(~is_test))
    test_rows = rng.permutation(test_rows)
    X = X.astype(np.float32)
    return X[train_rows], y[train_rows], X[test_rows], y[test_rows]


def long_tail_counts(counts: Any, imbalance_ratio: float) -> np.ndarray:
    """Per-class sizes following an exponential (long-tailed) profile.

    ``n_c = min(counts[c], max(1, round(n_max * ratio ** (-c / (C - 1)))))``
    with ``n_max = max(counts)``: class 0 keeps the most samples and each
    later class geometrically fewer, down to ``n_max / ratio`` for class C-1
    (the profile of Cui et al. 2019, also used by Fang et al. 2021 for
    minority collapse). The min keeps every size feasible for subsampling, so
    when the classes start unequal the achieved largest-to-smallest ratio can
    differ slightly from `imbalance_ratio`. A ratio of 1 returns `counts`
    unchanged. Rounding is Python's (to nearest, ties to even).

    Parameters
    ----------
    counts : array-like of int, shape (n_classes,)
        Available samples per class, C >= 2 entries, all >= 0.
    imbalance_ratio : float
        Largest over smallest class size, >= 1.

    Returns
    -------
    ndarray of shape (n_classes,), int64

    Examples
    --------
    >>> long_tail_counts([100, 100, 100], 4).tolist()
    [100, 50, 25]

    References
    ----------
    .. [1] Cui et al., "Class-balanced loss based on effective number of
       samples", CVPR 2019.
    """
    arr = np.asarray(counts)
    if arr.ndim != 1 or arr.size < 2 or arr.dtype.kind not in "iu":
        raise ValueError(
            "long_tail_counts: counts must be a 1-D array of integer class sizes with at "
            f"least 2 classes; got dtype {arr.dtype} and shape {arr.shape}."
        )
    if arr.min() < 0:
        raise ValueError("long_tail_counts: counts contains negative sizes; sizes must be >= 0.")
    ratio = check_ratio(imbalance_ratio, name="long_tail_counts: imbalance_ratio")
    sizes = arr.astype(np.int64)
    if ratio == 1.0:
        return sizes.copy()
    C = sizes.size
    n_max = int(sizes.max())
    target = [max(1, round(n_max * ratio ** (-c / (C - 1)))) for c in range(C)]
    return np.minimum(sizes, np.asarray(target, dtype=np.int64))


def long_tail_subsample(
    y: Any, *, imbalance_ratio: float, n_classes: int | None = None, seed: int = 0
) -> np.ndarray:
    """Rows to keep so that the class sizes follow `long_tail_counts`.

    Within each class the kept rows are drawn uniformly without replacement.

    Parameters
    ----------
    y : array-like of int, shape (n_samples,)
        Class codes 0..C-1.
    imbalance_ratio : float
        >= 1; 1 keeps every row.
    n_classes : int, optional
        C; default ``max(y) + 1``.
    seed : int, default=0

    Returns
    -------
    ndarray of int64
        Indices into `y`, ascending (the original order is kept).
    """
    codes = check_codes(y, name="long_tail_subsample: y")
    C = int(codes.max()) + 1 if n_classes is None else int(n_classes)
    if codes.size and codes.max() >= C:
        raise ValueError(
            f"long_tail_subsample: y uses code {int(codes.max())} but n_classes={C}; "
            "pass n_classes > max(y)."
        )
    sizes = long_tail_counts(np.bincount(codes, minlength=C), imbalance_ratio)
    rng = np.random.default_rng(int(seed))
    kept = [
        rng.choice(np.flatnonzero(codes == c), size=int(sizes[c]), replace=False)
        for c in range(C)
    ]
    return np.sort(np.concatenate(kept)).astype(np.int64)


def flip_labels(
    y: Any, *, fraction: float, n_classes: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric label noise: move ``round(fraction * n)`` labels to another class.

    The rows to flip are drawn uniformly without replacement; each flipped
    label moves to a class drawn uniformly among the C-1 *other* classes, so
    exactly that many labels end up wrong (the "symmetric" noise of the
    label-noise literature, without the flips that land on the true class).

    Parameters
    ----------
    y : array-like of int, shape (n_samples,)
        Clean class codes 0..C-1.
    fraction : float
        Share of labels to flip, in [0, 1); the count is rounded to nearest
        (Python's round, ties to even).
    n_classes : int, optional
        C >= 2; default ``max(y) + 1``.
    seed : int, default=0

    Returns
    -------
    noisy : ndarray of shape (n_samples,), int64
    flipped : ndarray of shape (n_samples,), bool
        True where ``noisy != y``.
    """
    codes = check_codes(y, name="flip_labels: y")
    p = check_fraction(fraction, name="flip_labels: fraction", low_inclusive=True)
    C = int(codes.max()) + 1 if n_classes is None else int(n_classes)
    if C < 2:
        raise ValueError(f"flip_labels: needs n_classes >= 2 to flip a label; got {C}.")
    if codes.size and codes.max() >= C:
        raise ValueError(
            f"flip_labels: y uses code {int(codes.max())} but n_classes={C}; pass n_classes > max(y)."
        )
    n = codes.size
    rng = np.random.default_rng(int(seed))
    rows = rng.choice(n, size=round(p * n), replace=False)
    noisy = codes.copy()
    # An offset in 1..C-1 modulo C reaches each other class exactly once.
    noisy[rows] = (codes[rows] + rng.integers(1, C, size=rows.size)) % C
    flipped = np.zeros(n, dtype=bool)
    flipped[rows] = True
    return noisy, flipped
