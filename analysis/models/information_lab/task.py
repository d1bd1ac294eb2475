"""The 12-bit task: all 4,096 binary inputs, the icosahedral label rule and the stratified split.

See the `analysis.models.information_lab` docstring for the rule and why it was chosen.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "LABEL_COLUMN",
    "LABEL_NAMES",
    "LABEL_THRESHOLD",
    "N_BITS",
    "N_INPUTS",
    "POSITIVE_SHARE",
    "check_train_fraction",
    "icosahedron_vertices",
    "twelve_bit_inputs",
    "twelve_bit_labels",
    "twelve_bit_score",
    "twelve_bit_split",
]

N_BITS = 12
N_INPUTS = 2**N_BITS
# Midway between f's distinct values 16 - 16/sqrt(5) and 8 + 8/sqrt(5) (see the module docstring).
LABEL_THRESHOLD = 12.0 - 4.0 / math.sqrt(5.0)
# 2,036 of the 4,096 inputs have f(x) > LABEL_THRESHOLD (checked by the unit tests).
POSITIVE_SHARE = 2036 / 4096
LABEL_NAMES = ("y=0", "y=1")
LABEL_COLUMN = "label"


def twelve_bit_inputs() -> np.ndarray:
    """All 4,096 binary inputs, in order: row r is r written in 12 bits.

    Returns
    -------
    ndarray of shape (4096, 12), float32
        0/1 entries; bit i of row r is ``(r >> (11 - i)) & 1`` (most
        significant bit first), so ``X @ 2 ** arange(11, -1, -1) == arange(4096)``.
    """
    r = np.arange(N_INPUTS, dtype=np.int64)
    shifts = N_BITS - 1 - np.arange(N_BITS, dtype=np.int64)
    return ((r[:, None] >> shifts[None, :]) & 1).astype(np.float32)


def icosahedron_vertices() -> np.ndarray:
    """The 12 vertices of a regular icosahedron, as unit vectors.

    The cyclic permutations of ``(0, ±1, ±φ)`` with φ the golden ratio,
    normalised: for a, b in (1, -1), vertices ``(0, a, bφ)``, ``(a, bφ, 0)``,
    ``(bφ, 0, a)``. Each vertex has 5 neighbours at angle arccos(1/sqrt(5))
    (~63.4 degrees), 5 at arccos(-1/sqrt(5)) and one antipode.

    Returns
    -------
    ndarray of shape (12, 3), float64
        Row i is the position of bit i.
    """
    phi = (1.0 + math.sqrt(5.0)) / 2.0
    rows = []
    for a in (1.0, -1.0):
        for b in (1.0, -1.0):
            rows += [(0.0, a, b * phi), (a, b * phi, 0.0), (b * phi, 0.0, a)]
    V = np.asarray(rows, dtype=np.float64)
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def _check_bits(X: Any) -> np.ndarray:
    arr = np.asarray(X)
    if arr.ndim != 2 or arr.shape[1] != N_BITS:
        raise ValueError(
            f"X must be a 2-D array of {N_BITS}-bit rows, shape (n, {N_BITS}); "
            f"got shape {arr.shape}."
        )
    if arr.dtype.kind not in "biuf" or not np.all((arr == 0) | (arr == 1)):
        raise ValueError("X must hold only 0s and 1s (one bit per column).")
    return arr.astype(np.float64)


def twelve_bit_score(X: Any) -> np.ndarray:
    """The symmetric function ``f(x) = ||sum_i (2 x_i - 1) v_i||^2`` of each row.

    Parameters
    ----------
    X : array-like of shape (n, 12)
        0/1 bits; bit i sits on vertex v_i of `icosahedron_vertices`.

    Returns
    -------
    ndarray of shape (n,), float64
        From 0 to ~41.89; 20 distinct values over all 4,096 inputs, mean 12.
    """
    spins = 2.0 * _check_bits(X) - 1.0
    resultant = spins @ icosahedron_vertices()
    return (resultant**2).sum(axis=1)


def twelve_bit_labels(X: Any) -> np.ndarray:
    """The lab's labels: ``y = 1`` iff ``twelve_bit_score(x) > LABEL_THRESHOLD``.

    Invariant under every symmetry of the icosahedron acting on the bits, and
    under flipping all bits; `POSITIVE_SHARE` of all 4,096 inputs are positive.

    Parameters
    ----------
    X : array-like of shape (n, 12)
        0/1 bits.

    Returns
    -------
    ndarray of shape (n,), int64
    """
    return (twelve_bit_score(X) > LABEL_THRESHOLD).astype(np.int64)


def twelve_bit_split(
    labels: Any, *, train_fraction: float = 0.85, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A stratified train/test split of the rows of `labels`.

    Each class c gives ``round(train_fraction * n_c)`` rows, drawn uniformly
    without replacement (``numpy.random.default_rng(seed)``, classes in
    ascending order), to the training split; the rest go to the test split.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
    train_fraction : float, default=0.85
        In (0, 1); every class must keep at least one row in each split.
    seed : int, default=0

    Returns
    -------
    train_rows, test_rows : ndarray of int64
        Row indices, each ascending.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be a 1-D array of integer codes; got shape {y.shape}, dtype {y.dtype}."
        )
    fraction = check_train_fraction(train_fraction, name="train_fraction")
    rng = np.random.default_rng(int(seed))
    train_parts = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        k = round(fraction * rows.size)
        if not 1 <= k <= rows.size - 1:
            raise ValueError(
                f"train_fraction={train_fraction!r} leaves class {int(c)} ({rows.size} rows) "
                f"with {k} training rows; each split needs at least one row of every class."
            )
        train_parts.append(rng.permutation(rows)[:k])
    train = np.sort(np.concatenate(train_parts)).astype(np.int64)
    is_train = np.zeros(y.size, dtype=bool)
    is_train[train] = True
    return train, np.flatnonzero(~is_train).astype(np.int64)


def check_train_fraction(value: Any, *, name: str) -> float:
    """`value` as a float in (0, 1), or a ValueError naming `name`."""
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = math.nan
    if isinstance(value, bool) or not (math.isfinite(fraction) and 0.0 < fraction < 1.0):
        raise ValueError(f"{name} must be a fraction in (0, 1); got {value!r}.")
    return fraction
