"""Superposition geometry of a weight matrix (Elhage et al. 2022, "Toy Models of Superposition").

One row of ``W`` per feature, one column per hidden dimension. The per-feature
quantities need every inner product ``W_i_hat . W_j``; up to
``_DIRECT_MAX_FEATURES`` features that is one ``(n, n)`` product of unit
directions; above it no ``(n, n)`` matrix is held (the ``(d, d)`` Gram matrix
``W^T W`` when ``d < n``, row blocks otherwise). The
distribution of squared overlaps between feature directions is exact up to
`max_pairs` pairs and estimated from `max_pairs` seeded random pairs above it;
its mean is always exact (through the smaller of the two Gram matrices).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from analysis.metrics._result import MetricResult

__all__ = ["SuperpositionGeometry", "superposition_geometry"]

# Above this many features no (n, n) matrix is formed: (d, d) Gram matrix or row blocks.
_DIRECT_MAX_FEATURES = 5_000
# Entries of one (block_rows, n) block in the blocked path (16M float64 = 128 MiB).
_BLOCK_ELEMENTS = 1 << 24


@dataclass(frozen=True, eq=False)
class SuperpositionGeometry(MetricResult):
    """Result of :func:`superposition_geometry` (all floats are Python floats).

    Attributes
    ----------
    feature_norms : ndarray of shape (n_features,)
        ``||W_i||``.
    superposition : ndarray of shape (n_features,)
        ``sum_{j != i} (W_i_hat . W_j)^2``: how much of the other features'
        weight lies along feature i's direction (0 for a zero row).
    feature_dimensionality : ndarray of shape (n_features,)
        ``D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2``, the sum running over
        *all* j, j = i included (its term is ``||W_i||^2``), so
        ``D_i = ||W_i||^2 / (||W_i||^2 + superposition_i)`` lies in [0, 1];
        0 for a zero row.
    dimensions_per_feature : float
        ``n_hidden / ||W||_F^2``.
    squared_overlaps : ndarray of shape (n_pairs,)
        ``(W_i_hat . W_j_hat)^2`` over pairs ``i < j`` of nonzero rows, in
        row-major order of the upper triangle; or, when `overlaps_sampled`,
        `max_pairs` values for random pairs: all pairs of
        ``ceil(max_pairs / (m - 1))`` random rows with every other nonzero row
        (``m`` of them), randomly subsampled to `max_pairs` (every pair equally
        likely to appear; a pair may appear twice, once from each end).
    overlaps_sampled : bool
        Whether `squared_overlaps` is a random sample rather than every pair.
    mean_squared_overlap : float or None
        Exact mean of ``(W_i_hat . W_j_hat)^2`` over all pairs ``i < j`` of
        nonzero rows (also when the distribution is sampled); None with fewer
        than two nonzero rows.
    random_overlap_expectation : float
        ``1 / n_hidden``, the expected squared cosine between two independent
        uniformly random directions in ``R^n_hidden``: the baseline for
        `squared_overlaps`.
    n_zero_features : int
        Rows of ``W`` that are exactly zero (excluded from the overlaps).
    n_features, n_hidden : int
        Shape of ``W`` after orienting it (features as rows).
    features : str
        ``"rows"`` or ``"columns"``: which axis of the input held the features.
    """

    feature_norms: np.ndarray
    superposition: np.ndarray
    feature_dimensionality: np.ndarray
    dimensions_per_feature: float
    squared_overlaps: np.ndarray
    overlaps_sampled: bool
    mean_squared_overlap: float | None
    random_overlap_expectation: float
    n_zero_features: int
    n_features: int
    n_hidden: int
    features: str

    SCALARS: ClassVar[tuple[str, ...]] = (
        "dimensions_per_feature", "mean_squared_overlap", "random_overlap_expectation",
    )  # fmt: skip


def _check_weight(W: Any, features: str) -> np.ndarray:
    if features not in ("rows", "columns"):
        raise ValueError(
            f"features must be 'rows' (one row of W per feature) or 'columns' (one column per "
            f"feature, e.g. the input features of a torch Linear weight); got {features!r}."
        )
    arr = W if isinstance(W, np.ndarray) else np.asarray(W)
    if arr.ndim != 2:
        raise ValueError(
            f"W must be a 2-D weight matrix of shape (n_features, n_hidden); got shape {arr.shape}. "
            "Pick one weight matrix (reshape stacked heads first)."
        )
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise ValueError(
            f"W must hold real numbers; got dtype {arr.dtype}. Convert it first, e.g. "
            "W.astype(np.float32)."
        )
    if features == "columns":
        arr = arr.T
    n, d = arr.shape
    if n < 1 or d < 1:
        raise ValueError(
            f"W (features as {features}) has shape ({n}, {d}); it needs at least 1 feature and "
            "1 hidden dimension."
        )
    arr = np.asarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = int(bad.any(axis=1).sum())
        raise ValueError(
            f"W contains NaN or infinity ({int(bad.sum())} entries in {rows} feature rows). "
            "Fix or drop those features first."
        )
    return arr


def _rows_per_block(n: int) -> int:
    if n <= _DIRECT_MAX_FEATURES:
        return n
    return max(1, _BLOCK_ELEMENTS // n)


def _n_pairs(m: int) -> int:
    return m * (m - 1) // 2


def _sample_overlaps(U: np.ndarray, n_samples: int, seed: int) -> np.ndarray:
    """Squared cosines of `n_samples` random pairs i != j of the unit rows `U`.

    Takes ``r = ceil(n_samples / (m - 1))`` distinct random rows against every
    other row (matrix products, fast), then keeps `n_samples` of those values
    at random: every pair i != j is equally likely to be kept.
    """
    m = U.shape[0]
    rng = np.random.default_rng(seed)
    r = min(m, -(-n_samples // (m - 1)))
    rows = np.sort(rng.choice(m, size=r, replace=False))
    values = np.empty((r, m - 1))
    step = max(1, _BLOCK_ELEMENTS // m)
    for a in range(0, r, step):
        b = min(a + step, r)
        G = U[rows[a:b]] @ U.T
        keep = np.ones(G.shape, dtype=bool)
        keep[np.arange(b - a), rows[a:b]] = False  # drop i == j
        values[a:b] = G[keep].reshape(b - a, m - 1)
    values = values.ravel()
    return values[rng.choice(values.size, size=n_samples, replace=False)] ** 2


def superposition_geometry(
    W: Any,
    *,
    features: Literal["rows", "columns"] = "rows",
    max_pairs: int = 2_000_000,
    seed: int = 0,
) -> SuperpositionGeometry:
    """Feature norms, superposition, feature dimensionality and overlap statistics of `W`.

    With ``W_i`` the i-th feature's weight vector (row of `W`),
    ``W_i_hat = W_i / ||W_i||`` (0 for a zero row), ``n`` features and ``d``
    hidden dimensions (Elhage et al. 2022):

    - feature norm ``||W_i||``: how strongly feature i is represented;
    - superposition ``sum_{j != i} (W_i_hat . W_j)^2``: interference from the
      other features along feature i's direction;
    - feature dimensionality ``D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2`` where
      the sum includes ``j = i`` (whose term is ``||W_i||^2``), i.e. ``D_i =
      ||W_i||^2 / (||W_i||^2 + superposition_i)``, the fraction of a dimension
      feature i gets: 1 for a feature orthogonal to all others, 1/2 for an
      antipodal pair, 2/3 for a triangle, 3/4 for a tetrahedron, 2/5 for a
      pentagon in 2-D; 0 for a zero row (not NaN);
    - dimensions per feature ``d / ||W||_F^2``;
    - squared overlaps ``(W_i_hat . W_j_hat)^2`` for pairs ``i < j`` of nonzero
      rows, to compare with ``1/d``, their expectation for independent random
      directions in ``R^d``.

    `D_i` and the overlaps are invariant to scaling `W`; norms, superposition
    and dimensions per feature are not. Everything is invariant to an
    orthogonal change of basis of the hidden space, and permuting the
    features permutes the per-feature outputs.

    Parameters
    ----------
    W : array_like of shape (n_features, n_hidden)
        Real, finite weights, one row per feature (see `features`). Zero rows
        are allowed; an all-zero `W` is refused (dimensions per feature would
        be infinite).
    features : {"rows", "columns"}, default "rows"
        ``"columns"`` transposes `W` first: for a torch ``nn.Linear`` weight of
        shape (out, in) this treats the input features as the features.
    max_pairs : int, default 2_000_000
        Largest number of pairs whose squared overlaps are returned exactly;
        above it `max_pairs` pairs are sampled (seeded by `seed`; every pair
        ``i != j`` equally likely) and `overlaps_sampled` is True. The mean
        squared overlap stays exact.
    seed : int, default 0
        Seed of the pair sampling.

    Returns
    -------
    SuperpositionGeometry

    Raises
    ------
    ValueError
        If `W` is not a 2-D finite real array with at least one feature and one
        hidden dimension, if it is all zero, or if `features`/`max_pairs` are
        invalid.

    Notes
    -----
    Up to 5,000 features one ``(m, m)`` product of the unit directions of the
    ``m`` nonzero rows gives everything: ``(W_i_hat . W_j)^2 = (W_i_hat .
    W_j_hat)^2 ||W_j||^2``, with ``j = i`` left out of superposition. Above
    5,000 features no ``(n, n)`` matrix is formed: when ``d < n``,
    ``sum_j (W_i_hat . W_j)^2 = W_i_hat^T (W^T W) W_i_hat`` uses the ``(d, d)``
    Gram matrix (``O(n d^2)`` time; superposition is that sum minus
    ``||W_i||^2``, exact up to rounding of order ``1e-16 ||W^T W||``),
    otherwise the products are computed in row blocks
    of about 16M entries. Memory stays ``O(n d + d^2 + 16M)``. Internally `W` is
    divided by its largest absolute entry (and each direction is computed
    from its row divided by the row's largest entry), so tiny or huge weights
    neither underflow nor overflow before the results are scaled back.

    References
    ----------
    Elhage, N., Hume, T., Olsson, C., et al. (2022). Toy Models of
    Superposition. Transformer Circuits Thread.
    https://transformer-circuits.pub/2022/toy_model/index.html
    """
    Wf = _check_weight(W, features)
    if isinstance(max_pairs, bool) or not isinstance(max_pairs, int | np.integer) or max_pairs < 1:
        raise ValueError(f"max_pairs must be a positive integer; got {max_pairs!r}.")
    max_pairs = int(max_pairs)
    n, d = Wf.shape

    row_max = np.abs(Wf).max(axis=1)
    scale = np.float64(row_max.max())  # numpy scalar: over/underflow obeys errstate below
    if scale == 0.0:
        raise ValueError(
            f"W (shape {Wf.shape}) is all zero: no feature is represented and dimensions per "
            "feature (n_hidden / ||W||_F^2) is undefined. Pass a trained weight matrix."
        )
    nonzero = row_max > 0
    Ws = Wf / scale  # largest |entry| is 1: squares cannot overflow
    # Directions from each row divided by its own largest entry: exact for tiny rows too.
    U = np.zeros_like(Wf)
    Rn = Wf[nonzero] / row_max[nonzero, None]
    U[nonzero] = Rn / np.linalg.norm(Rn, axis=1, keepdims=True)
    norms_s = np.linalg.norm(Ws, axis=1)

    norm2_s = norms_s**2
    Un = U[nonzero]
    m = Un.shape[0]
    n_pairs = _n_pairs(m)
    sampled = m >= 2 and n_pairs > max_pairs
    overlaps = np.empty(0)
    mean_overlap: float | None = None
    if n <= _DIRECT_MAX_FEATURES:
        # One (m, m) product: S[i, j] = (u_i . u_j)^2 and (u_i . W_j)^2 = S[i, j] ||W_j||^2.
        S = Un @ Un.T
        S **= 2
        np.fill_diagonal(S, 0.0)
        superposition_s = np.zeros(n)
        superposition_s[nonzero] = S @ norm2_s[nonzero]
        denom = norm2_s + superposition_s
        if m >= 2:
            mean_overlap = float(S.sum() / (m * (m - 1)))
            if not sampled:
                overlaps = S[np.triu_indices(m, k=1)]
        del S
    else:
        if d < n:
            # sum_j (u_i . W_j)^2 = u_i^T (W^T W) u_i: a (d, d) Gram matrix instead of (n, n).
            M = Ws.T @ Ws
            total = np.empty(n)
            step = max(1, _BLOCK_ELEMENTS // d)
            for a in range(0, n, step):
                b = min(a + step, n)
                total[a:b] = np.einsum("ij,ij->i", U[a:b] @ M, U[a:b])
            denom = np.maximum(total, norm2_s)  # the j = i term alone is norm2
            superposition_s = denom - norm2_s
        else:
            superposition_s = np.empty(n)
            step = _rows_per_block(n)
            for a in range(0, n, step):
                b = min(a + step, n)
                G = U[a:b] @ Ws.T  # G[k, j] = W_hat_{a+k} . W_j (scaled)
                G[np.arange(b - a), np.arange(a, b)] = 0.0
                superposition_s[a:b] = np.einsum("ij,ij->i", G, G)
            denom = norm2_s + superposition_s
        if m >= 2:
            # sum_{i,j} (u_i . u_j)^2 = ||U^T U||_F^2 (d < m) or ||U U^T||_F^2; i = j gives m.
            C = Un.T @ Un if d < m else Un @ Un.T
            mean_overlap = float(max((np.einsum("ij,ij->", C, C) - m) / (m * (m - 1)), 0.0))
            if not sampled:
                overlaps = np.empty(n_pairs)
                pos = 0
                step = _rows_per_block(m)
                for a in range(0, m - 1, step):
                    b = min(a + step, m - 1)
                    G = Un[a:b] @ Un[a:].T  # rows a..b-1 against columns a..m-1
                    for k in range(b - a):
                        row = G[k, k + 1 :]
                        overlaps[pos : pos + row.size] = row**2
                        pos += row.size
    if sampled:
        overlaps = _sample_overlaps(Un, max_pairs, seed)
    np.clip(overlaps, 0.0, 1.0, out=overlaps)
    dim = np.zeros(n)
    ok = denom > 0
    dim[ok] = norm2_s[ok] / denom[ok]
    # A nonzero row whose scaled square underflowed and that overlaps nothing: alone in its direction.
    dim[nonzero & ~ok] = 1.0

    fro2_s = norm2_s.sum()
    with np.errstate(over="ignore", divide="ignore", under="ignore"):
        feature_norms = norms_s * scale
        superposition = superposition_s * scale**2
        dims_per_feature = d / (fro2_s * scale**2)
    if not (
        np.isfinite(superposition).all() and np.isfinite(dims_per_feature) and dims_per_feature > 0
    ):
        raise ValueError(
            f"W has entries of magnitude up to {scale:.3g}: its squared norms leave the float64 "
            "range. Rescale W (e.g. W / np.abs(W).max()); feature dimensionality is scale-invariant."
        )

    return SuperpositionGeometry(
        feature_norms=feature_norms,
        superposition=superposition,
        feature_dimensionality=dim,
        dimensions_per_feature=float(dims_per_feature),
        squared_overlaps=overlaps,
        overlaps_sampled=sampled,
        mean_squared_overlap=mean_overlap,
        random_overlap_expectation=1.0 / d,
        n_zero_features=int(n - m),
        n_features=int(n),
        n_hidden=int(d),
        features=features,
    )
