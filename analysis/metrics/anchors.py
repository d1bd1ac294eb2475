"""Relative representations (cosines of every sample to a set of anchors) and the choice of anchors."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.metrics._similarity_inputs import _CHUNK_ELEMENTS
from analysis.validation import check_matrix, check_option, first_rows, row_norms

__all__ = ["choose_anchors", "relative_representation"]

_ANCHOR_METHODS = ("random", "per_class", "ids")


def relative_representation(X: Any, anchors: Any) -> np.ndarray:
    """Cosine similarity of every sample to every anchor (Moschella et al. 2023).

    .. math::  r(x_i)_j = \\cos(x_i, a_j) = \\frac{x_i \\cdot a_j}{\\|x_i\\| \\, \\|a_j\\|}

    Two spaces that differ by a rotation and a scale (e.g. two training seeds)
    give the same relative representation when their anchors are the same
    inputs: pick the anchor rows once (:func:`choose_anchors`) and pass
    ``X1[ids]`` and ``X2[ids]``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    anchors : array-like of shape (n_anchors, n_features)
        Anchor vectors in the space of X (usually rows of X).

    Returns
    -------
    ndarray of shape (n_samples, n_anchors), float64
        Values in [-1, 1].

    Raises
    ------
    ValueError
        A 1-D or empty input, different numbers of features, NaN/Inf, or an
        all-zero row of X or anchor (a zero vector has no direction).

    Notes
    -----
    Invariant to an orthogonal transform applied to both X and the anchors,
    and to scaling any row of X or any anchor; *not* to translation (the cosine is
    taken about the origin, as in [1]_; centre both first if that is wanted).

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello and
       E. Rodola, "Relative representations enable zero-shot latent space
       communication", ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> relative_representation(np.array([[3.0, 4.0, 0.0]]), np.eye(3)).round(12).tolist()
    [[0.6, 0.8, 0.0]]
    """
    x = check_matrix(X, name="X", action="computing relative representations")
    a = check_matrix(anchors, name="anchors", action="computing relative representations")
    if a.shape[1] != x.shape[1]:
        raise ValueError(
            f"anchors must live in the space of X: X has {x.shape[1]} features but anchors has "
            f"{a.shape[1]}. Take the anchors from the same representation, e.g. anchors = X[ids]."
        )
    anchor_norms = row_norms(a)
    zero = np.flatnonzero(anchor_norms == 0)
    if zero.size:
        raise ValueError(f"anchors has {zero.size} all-zero rows (first: {first_rows(zero)}), which have no "
                         "direction to compare with. Choose other anchors.")
    norms = row_norms(x)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(f"X has {zero.size} all-zero rows (first: {first_rows(zero)}), whose cosine to any "
                         "anchor is undefined. Drop them first.")
    unit_anchors = a.astype(np.float64) / anchor_norms[:, None]
    out = np.empty((x.shape[0], a.shape[0]))
    step = max(1, _CHUNK_ELEMENTS // x.shape[1])
    for start in range(0, x.shape[0], step):
        stop = min(start + step, x.shape[0])
        out[start:stop] = np.asarray(x[start:stop], dtype=np.float64) @ unit_anchors.T
        out[start:stop] /= norms[start:stop, None]
    np.clip(out, -1.0, 1.0, out=out)
    return out


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def choose_anchors(
    n_samples: int,
    *,
    method: str = "random",
    n_anchors: int | None = None,
    labels: Any = None,
    ids: Any = None,
    seed: int = 0,
) -> np.ndarray:
    """Row indices to use as anchors for :func:`relative_representation`.

    The same indices serve every space being compared (two seeds, two
    layers): anchors are the same *inputs*, seen in each space.

    Parameters
    ----------
    n_samples : int
        Number of rows to choose from.
    method : {"random", "per_class", "ids"}, default="random"
        ``"random"``: `n_anchors` distinct rows drawn uniformly (returned in
        ascending order). ``"per_class"``: rows spread over the classes of
        `labels`, round-robin in sorted class order, each class's rows taken
        in a seeded random order; without `n_anchors`, one row per class.
        ``"ids"``: the rows given in `ids`, checked (integers, distinct, in
        range) and returned in the given order.
    n_anchors : int, optional
        Number of anchors (required for "random"; with "per_class" at least the
        number of classes; with "ids", if given, must equal ``len(ids)``).
    labels : array-like of shape (n_samples,), optional
        Class of each row (required for "per_class"; ignored otherwise).
    ids : array-like of int, optional
        The user's anchor rows (only with "ids").
    seed : int, default=0
        Seeds the draws; the same seed gives the same anchors.

    Returns
    -------
    ndarray of shape (n_anchors,), int64
        Row indices.

    Raises
    ------
    ValueError
        An unknown method, a missing or inconsistent argument, more anchors
        than rows (or than a class can supply), ids out of range or repeated.

    References
    ----------
    .. [1] L. Moschella et al., "Relative representations enable zero-shot
       latent space communication", ICLR 2023 (random and per-class anchors).
    """
    n_samples = _positive_int(n_samples, "n_samples")
    check_option(method, _ANCHOR_METHODS, what="method")
    if ids is not None and method != "ids":
        raise ValueError(f"ids are only used with method='ids'; got method={method!r}. "
                         "Pass method='ids' or drop ids.")
    rng = np.random.default_rng(seed)
    if method == "ids":
        if ids is None:
            raise ValueError("method='ids' needs ids: the row numbers to use as anchors.")
        chosen = np.asarray(ids)
        if chosen.ndim != 1 or chosen.size == 0:
            raise ValueError(f"ids must be a non-empty 1-D list of row numbers; got shape {chosen.shape}.")
        if chosen.dtype == bool or chosen.dtype.kind not in "iu":
            raise ValueError(f"ids must be integers (row numbers); got dtype {chosen.dtype}.")
        bad = np.flatnonzero((chosen < 0) | (chosen >= n_samples))
        if bad.size:
            raise ValueError(
                f"ids must lie in [0, {n_samples}); {bad.size} do not (first: "
                f"{', '.join(str(int(v)) for v in chosen[bad[:5]])}). Negative indices are not accepted."
            )
        unique, counts = np.unique(chosen, return_counts=True)
        if unique.size != chosen.size:
            repeated = unique[counts > 1]
            raise ValueError(f"ids must be distinct; {first_rows(repeated)} appear more than once. "
                             "Remove the repeats.")
        if n_anchors is not None and _positive_int(n_anchors, "n_anchors") != chosen.size:
            raise ValueError(f"n_anchors={n_anchors} disagrees with the {chosen.size} ids given; "
                             "leave n_anchors out with method='ids'.")
        return chosen.astype(np.int64)
    if method == "random":
        if n_anchors is None:
            raise ValueError("method='random' needs n_anchors (how many rows to draw).")
        count = _positive_int(n_anchors, "n_anchors")
        if count > n_samples:
            raise ValueError(f"n_anchors={count} exceeds the {n_samples} rows; use at most {n_samples}.")
        return np.sort(rng.choice(n_samples, size=count, replace=False)).astype(np.int64)
    # per_class
    if labels is None:
        raise ValueError("method='per_class' needs labels (the class of each row).")
    codes = np.asarray(labels)
    if codes.shape != (n_samples,):
        raise ValueError(f"labels must have shape ({n_samples},), one per row; got {codes.shape}.")
    if codes.dtype.kind == "f" and not np.all(np.isfinite(codes)):
        raise ValueError("labels contain NaN or Inf; drop or fill those rows first.")
    classes, inverse = np.unique(codes, return_inverse=True)
    order = rng.permutation(n_samples)
    queues = [order[inverse[order] == c] for c in range(classes.size)]  # each class's rows, shuffled
    count = classes.size if n_anchors is None else _positive_int(n_anchors, "n_anchors")
    if count < classes.size:
        raise ValueError(f"per_class anchors cover every class: n_anchors={count} is below the "
                         f"{classes.size} classes. Use n_anchors >= {classes.size}, or method='random'.")
    if count > n_samples:
        raise ValueError(f"n_anchors={count} exceeds the {n_samples} rows; use at most {n_samples}.")
    chosen_list: list[int] = []
    depth = 0
    while len(chosen_list) < count:
        for queue in queues:  # round-robin: the depth-th row of every class that still has one
            if depth < queue.size and len(chosen_list) < count:
                chosen_list.append(int(queue[depth]))
        depth += 1
    return np.asarray(chosen_list, dtype=np.int64)
