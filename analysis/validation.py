"""One validation style for every function that takes a data matrix.

Messages follow scikit-learn's ``check_array``: they name the argument, the
problem and the fix (DESIGN.md section 5).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# The one progress callback type (issue 16): fraction done in [0, 1] and a short message.
# Trainers, table builders, the report and the panels all report through it.
ProgressFn = Callable[[float, str], None]


def check_k(k: Any, *, n: int | None = None, minimum: int = 1, what: str = "k",
            needs: str = "points", hint: str = "") -> int:
    """`k` as an int, or a ValueError that names the valid range, the bad value and the fix (the one k check).

    Parameters
    ----------
    k : int-like
        Rejected when it is a bool, a float (even 2.0) or anything but an integer.
    n : int, optional
        Number of candidate neighbours; `k` must then be at most ``n``.
        Callers pass ``n_samples - 1`` for neighbours within one set
        (a point is not its own neighbour) and the gallery size across sets.
    minimum : int
        Smallest valid k (2 for estimators that need two neighbours).
    what, needs : str
        The argument's name and what `n` counts, for the message
        ("k must be an integer in [1, 9] (9 other points each); got 10. Use k <= 9.").
    hint : str
        Appended to the message (e.g. a paper's suggested range, or another fix).

    Examples
    --------
    >>> check_k(3, n=9)
    3
    >>> check_k(10, n=9, needs="other points each")
    Traceback (most recent call last):
    ...
    ValueError: k must be an integer in [1, 9] (9 other points each); got 10. Use k <= 9.
    """
    ok_type = isinstance(k, int | np.integer) and not isinstance(k, bool)
    upper = None if n is None else int(n)
    if ok_type and int(k) >= minimum and (upper is None or int(k) <= upper):
        return int(k)
    extra = f" {hint}" if hint else ""
    if upper is not None and upper < minimum:
        raise ValueError(f"{what} needs at least {minimum} {needs}; there are {upper}. Pass more rows.{extra}")
    valid = f"an integer >= {minimum}" if upper is None else f"an integer in [{minimum}, {upper}]"
    counted = "" if upper is None else f" ({upper} {needs})"
    if not ok_type:
        example = int(k) if isinstance(k, float) and k.is_integer() and not isinstance(k, bool) else minimum
        fix = f"Pass a Python or NumPy integer, e.g. {what}={example}."
    elif int(k) < minimum:
        fix = f"Use {what} >= {minimum}."
    else:
        fix = f"Use {what} <= {upper}."
    raise ValueError(f"{what} must be {valid}{counted}; got {k!r}. {fix}{extra}")


def check_option(value: Any, options: Sequence[Any], *, what: str, hint: str = "") -> Any:
    """`value` when it is one of `options`, else a ValueError listing them (the one option check).

    Examples
    --------
    >>> check_option("cosine", ("euclidean", "cosine"), what="metric")
    'cosine'
    >>> check_option("l1", ("euclidean", "cosine"), what="metric")
    Traceback (most recent call last):
    ...
    ValueError: metric must be one of ('euclidean', 'cosine'); got 'l1'.
    """
    options = tuple(options)
    # One by one: an array (or any value whose == is not a bool) is refused, not an error of its own,
    # and True is not the option 1 (True == 1 in Python).
    for option in options:
        if isinstance(value, bool) == isinstance(option, bool) and _equal(value, option):
            return value
    raise ValueError(f"{what} must be one of {options}; got {value!r}.{' ' + hint if hint else ''}")


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # an array compared with a scalar
        return False


def first_rows(rows: np.ndarray, limit: int = 5) -> str:
    """'2, 5, 7' or '2, 5, 7, 9, 11, ...': the first offending row numbers."""
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return shown + (", ..." if rows.size > limit else "")


def check_matrix(X: object, *, name: str = "X", min_samples: int = 1, action: str = "using it") -> np.ndarray:
    """Return `X` as a 2-D real ndarray (no copy when it already is one), or raise ValueError.

    Checks, in order: 2-D; integer or floating dtype (bool refused); not empty;
    at least `min_samples` rows and one column; no NaN or Inf (counted per row,
    with the first row numbers). `action` completes "Drop or impute these rows
    before ...".
    """
    arr = np.asarray(X)
    if arr.ndim != 2:
        hint = (
            f" Reshape with {name}.reshape(-1, 1) if it holds a single feature, "
            f"or {name}.reshape(1, -1) if it is a single sample."
            if arr.ndim == 1
            else f" Flatten the trailing dimensions first, e.g. {name}.reshape(len({name}), -1)."
        )
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features); got an "
            f"array with shape {arr.shape}.{hint}"
        )
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must hold real numbers; got dtype {arr.dtype}. "
            f"Convert it first, e.g. {name}.astype(np.float32)."
        )
    n_samples, n_features = arr.shape
    if n_samples == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}). Pass at least one row.")
    if n_samples < min_samples:
        raise ValueError(
            f"{name} needs at least {min_samples} samples; got {n_samples}. Pass more rows."
        )
    if n_features < 1:
        raise ValueError(
            f"{name} has {n_samples} rows but 0 features (shape {arr.shape}). Pass at least one column."
        )
    if arr.dtype.kind == "f":
        # NaN and Inf propagate into row sums: one cheap reduction, and the exact
        # per-row check only when a sum is not finite (a huge finite row can
        # overflow its sum; the exact check clears it).
        finite_rows = np.isfinite(arr.sum(axis=1))
        if not finite_rows.all():
            finite_rows = np.isfinite(arr).all(axis=1)
        if not finite_rows.all():
            bad = np.flatnonzero(~finite_rows)
            raise ValueError(
                f"{name} contains NaN or Inf in {bad.size} rows (first: {first_rows(bad)}). "
                f"Drop or impute these rows before {action}."
            )
    return arr


# Rows per float64 block of `row_norms`: about 32 MiB whatever the width.
_NORM_BLOCK_ELEMENTS = 1 << 22


def scaled_norms(block: np.ndarray) -> np.ndarray:
    """Euclidean norms of the rows of a float64 block, free of overflow and underflow.

    Each row is divided by its largest absolute entry before squaring
    (``||x|| = m ||x / m||`` with ``m = max_j |x_j|``, the scaling of LAPACK's
    ``dnrm2``), so rows at 1e160 or 1e-200 get their true norm instead of
    inf or 0. Only an all-zero row has norm 0.
    """
    peak = np.max(np.abs(block), axis=1) if block.shape[1] else np.zeros(block.shape[0])
    safe = np.where(peak > 0, peak, 1.0)
    scaled = block / safe[:, None]
    return peak * np.sqrt(np.einsum("ij,ij->i", scaled, scaled))


def row_norms(X: np.ndarray) -> np.ndarray:
    """Euclidean norm of every row, in float64, a block of rows at a time (a memory map is never copied whole).

    Scale-free: rows are scaled by their largest absolute entry before
    squaring (`scaled_norms`), so no finite row overflows to inf or
    underflows to 0.
    """
    norms = np.empty(X.shape[0])
    step = max(1, _NORM_BLOCK_ELEMENTS // max(1, X.shape[1]))
    for start in range(0, X.shape[0], step):
        block = np.asarray(X[start : start + step], dtype=np.float64)
        norms[start : start + block.shape[0]] = scaled_norms(block)
    return norms


def power_of_two_exponent(value: float) -> int:
    """The exponent e with ``value = m 2**e``, ``0.5 <= m < 1`` (0 for 0).

    Dividing by ``2**e`` (``np.ldexp(x, -e)``) is exact in binary floating
    point, so it brings data of any magnitude to order 1 without changing a
    single digit of the mantissas.
    """
    value = abs(float(value))
    if not value > 0 or not np.isfinite(value):
        return 0
    return int(np.frexp(value)[1])


def max_abs(X: np.ndarray) -> float:
    """Largest absolute entry of X, from its max and min (no n x d temporary)."""
    return max(abs(float(np.max(X))), abs(float(np.min(X))))


def unit_scaled_if_huge(X: np.ndarray, *, limit: float = 2.0**64) -> np.ndarray:
    """X itself, or ``X / 2**e`` (exact, a float64 copy) when its largest entry exceeds `limit`.

    For scale-free uses of the float32 neighbour search (ranks, distance
    ratios): rows beyond float32's range (float64 at 1e160) would otherwise
    be refused, and distances near it could not be returned.
    """
    peak = max_abs(X)
    if peak <= limit:
        return X
    return np.ldexp(np.asarray(X, dtype=np.float64), -power_of_two_exponent(peak))


def check_squares(X: np.ndarray, *, name: str = "X", action: str = "using it") -> None:
    """Raise ValueError when the squares of `X` would overflow float64 in sums over its rows or columns.

    Second moments and squared distances add up to ``4 n d max|x|^2``; above
    ``sqrt(float64 max / (4 n d))`` (about 1e152 for a small matrix) they are
    Inf and every ratio of them NaN. Read a block of rows at a time, like `row_norms`.
    """
    n, d = X.shape
    limit = math.sqrt(np.finfo(np.float64).max / (4.0 * max(1, n * d)))
    step = max(1, _NORM_BLOCK_ELEMENTS // max(1, d))
    largest = max((float(np.abs(X[start : start + step]).max()) for start in range(0, n, step)), default=0.0)
    if largest > limit:
        raise ValueError(
            f"{name} has values up to {largest:.3g}; their squares overflow float64 (above {limit:.3g} for "
            f"shape {X.shape}) before {action}. Rescale {name} first, e.g. {name} / np.abs({name}).max()."
        )


def check_labels(labels: object, n_samples: int, *, name: str = "labels", rows_of: str = "X") -> np.ndarray:
    """Return `labels` as a 1-D array with one entry per row of `rows_of`, or raise ValueError.

    Any values can be classes, but NaN is a missing label, not a class
    (``np.unique`` would gather every NaN into one class, and ``==`` would
    drop them): NaN is refused with its positions.
    """
    arr = np.asarray(labels)
    if arr.shape != (n_samples,):
        raise ValueError(
            f"{name} must have shape ({n_samples},), one label per row of {rows_of}; got shape {arr.shape}."
        )
    if arr.dtype.kind in "fcO":
        bad = np.flatnonzero(np.asarray(arr != arr, dtype=bool))  # NaN is the one value unequal to itself
        if bad.size:
            raise ValueError(
                f"{name} contains NaN in {bad.size} entries (first: {first_rows(bad)}); a missing label "
                f"is not a class. Drop these rows of {rows_of} and {name}, or give them a label."
            )
    return arr
