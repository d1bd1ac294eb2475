"""Convergent learning: match the units of two networks one to one by the correlation of their activations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import linear_sum_assignment

from analysis.metrics._result import MetricResult
from analysis.metrics._similarity_inputs import (
    _Centred,
    _check_budget,
    _check_pair,
    _refuse_constant,
)
from analysis.metrics.cca import _one_thread

__all__ = ["NeuronMatching", "neuron_matching"]


@dataclass(frozen=True)
class NeuronMatching(MetricResult):
    """Units of X matched to units of Y by correlation: one to one (Hungarian) and many to one (max).

    Attributes
    ----------
    correlation : ndarray of shape (n_features_x, n_features_y)
        Pearson correlation of unit i of X with unit j of Y over the samples
        (0 for a constant unit).
    assignment : ndarray of shape (n_features_x,), int64
        The Y unit matched to each X unit one to one; -1 for X units left
        unmatched when X has more units than Y.
    matched : ndarray of shape (min(n_features_x, n_features_y),)
        The one-to-one matched correlations, sorted from highest to lowest.
    mean_matched : float
        Their mean.
    max_correlation : ndarray of shape (n_features_x,)
        Each X unit's highest correlation with any Y unit (many to one: one Y
        unit may serve several), sorted from highest to lowest.
    mean_max : float
        Their mean; ``>= mean_matched`` when X has no more units than Y.
    constant_x, constant_y : int
        Units that never vary (dead), correlated 0 with everything.
    """

    correlation: np.ndarray
    assignment: np.ndarray
    matched: np.ndarray
    mean_matched: float
    max_correlation: np.ndarray
    mean_max: float
    constant_x: int
    constant_y: int

    SCALARS: ClassVar[tuple[str, ...]] = ("mean_matched", "mean_max")


def _standardised(arr: np.ndarray, name: str) -> tuple[np.ndarray, int]:
    """Centred unit-norm columns (a constant column stays 0) and the number of constant columns."""
    rep = _Centred(arr, name)
    z = rep.rows(0, rep.n)
    norms = np.linalg.norm(z, axis=0)
    constant = norms == 0.0
    z /= np.where(constant, 1.0, norms)
    return z, int(constant.sum())


def neuron_matching(X: Any, Y: Any) -> NeuronMatching:
    """Match each unit of X to a unit of Y by activation correlation (Li et al. 2015, convergent learning).

    With ``z^x_i`` and ``z^y_j`` the standardised activations of unit i of X
    and unit j of Y over the same n inputs, the correlation matrix is

    .. math::

        C_{ij} = \\frac{1}{n} \\sum_{t} z^x_{ti} z^y_{tj} \\;(\\text{Pearson}).

    The one-to-one matching is the assignment ``pi`` maximising
    ``sum_i C_{i, pi(i)}`` over one-to-one maps (bipartite matching, solved
    exactly by the Hungarian algorithm, `scipy.optimize.linear_sum_assignment`);
    the many-to-one ("semi-matching") value of unit i is ``max_j C_ij``. Li
    et al. [1]_ plot both, sorted: where the max correlation is high but the
    matched one low, a feature of X is shared by Y but not carried by a unit
    of its own (several X units map to the same Y unit, or the feature is
    spread over several Y units).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
        One network's activations (units as columns).
    Y : array-like of shape (n_samples, n_features_y)
        The other network's activations on the same inputs, rows in the same order.

    Returns
    -------
    NeuronMatching

    Raises
    ------
    ValueError
        Different row counts, fewer than 3 rows, NaN/Inf, or a constant X or Y
        (every unit dead).

    Notes
    -----
    Correlations are signed and the matching maximises them (as Li et al.):
    a unit that is another's negative is not a match. A constant (dead) unit
    has no correlation; it is given 0 and counted in ``constant_x`` /
    ``constant_y``. Invariant to permuting either side's units (the
    assignment permutes with them), to scaling each unit by a positive factor
    and to translation; not to rotations, which mix units. Cost
    ``O(n d_x d_y)`` for C plus ``O(d^3)`` for the assignment.

    References
    ----------
    .. [1] Y. Li, J. Yosinski, J. Clune, H. Lipson and J. Hopcroft,
       "Convergent learning: do different neural networks learn the same
       representations?", ICLR 2016 (arXiv:1511.07543, 2015).
    """
    x, y = _check_pair(X, Y, min_samples=3, why="neuron matching", action="matching units")
    _refuse_constant(x, "X", "neuron matching (every unit is dead, no correlation exists)")
    _refuse_constant(y, "Y", "neuron matching (every unit is dead, no correlation exists)")
    _check_budget(8.0 * (x.size + y.size + 2 * x.shape[1] * y.shape[1]), "neuron matching")
    zx, dead_x = _standardised(x, "X")
    zy, dead_y = _standardised(y, "Y")
    with _one_thread():
        correlation = np.clip(zx.T @ zy, -1.0, 1.0)
    rows, cols = linear_sum_assignment(correlation, maximize=True)
    assignment = np.full(correlation.shape[0], -1, dtype=np.int64)
    assignment[rows] = cols
    matched = np.sort(correlation[rows, cols])[::-1].copy()
    best = np.sort(correlation.max(axis=1))[::-1].copy()
    return NeuronMatching(correlation=correlation, assignment=assignment, matched=matched,
                          mean_matched=float(matched.mean()), max_correlation=best, mean_max=float(best.mean()),
                          constant_x=dead_x, constant_y=dead_y)
