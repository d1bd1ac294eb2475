"""Neural collapse's per-sample pass: nearest class mean, classifier agreement, each class's share of NC1.

Papyan, Han & Donoho (2020) measure NC4 as the rate at which the classifier's
decision differs from the nearest-class-centre (NCC) rule
``argmin_c ||x - mu_c||``; the NCC accuracy and the per-class share of
``Tr(Sigma_W Sigma_B^+)`` need each row once more. `analysis.metrics.neural_collapse`
plans this pass from the class statistics (`CollapsePlan`); `second_pass` then
reads the rows once for any number of plans over the same rows, so the
report's real and shuffled labellings (`analysis.metrics.collapse_pair`)
share one float64 pass instead of two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.metrics.class_statistics import iter_row_chunks

__all__ = ["CollapsePlan", "PassTally", "second_pass"]


@dataclass
class PassTally:
    """What one plan counted over the rows."""

    ncc_correct: int = 0
    disagreements: int = 0
    per_class_whitened: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True, eq=False)
class CollapsePlan:
    """Everything the per-sample pass needs for one labelling, and how to finish the result.

    ``means`` and ``whitener`` are in units of ``X / 2**exponent``; ``finish``
    turns the tally and the rows' total squared norm into the metric's result.
    """

    codes: np.ndarray  # class code of every row
    means: np.ndarray  # (C, d) class means
    whitener: np.ndarray  # (d, r): U diag(lambda)^-1/2 of Sigma_B
    preds: np.ndarray | None
    W: np.ndarray | None
    b: np.ndarray | None
    exponent: int
    finish: Callable[[PassTally, float], Any]

    def count(self, chunk: np.ndarray, part: slice, tally: PassTally, half_square_norms: np.ndarray,
              projected_means: np.ndarray) -> None:
        """Add one scaled float64 chunk of rows (`part` of X) to `tally`."""
        codes = self.codes[part]
        # argmin_c ||x - mu_c||^2 = argmax_c (x . mu_c - ||mu_c||^2 / 2)
        nearest = np.argmax(chunk @ self.means.T - half_square_norms, axis=1)
        tally.ncc_correct += int(np.count_nonzero(nearest == codes))
        if self.preds is not None:
            tally.disagreements += int(np.count_nonzero(nearest != self.preds[part]))
        elif self.W is not None:
            scores = chunk @ self.W.T
            if self.b is not None:
                scores += np.ldexp(self.b, -self.exponent)  # W (x / s) + b / s ranks classes as W x + b
            tally.disagreements += int(np.count_nonzero(nearest != np.argmax(scores, axis=1)))
        residual = chunk @ self.whitener - projected_means[codes]
        tally.per_class_whitened += np.bincount(codes, weights=np.einsum("ij,ij->i", residual, residual),
                                                minlength=self.means.shape[0])


def second_pass(X: Any, plans: Sequence[CollapsePlan], *, rows: int) -> list[Any]:
    """Read X once in chunks of `rows` rows and finish every plan (all with the same `exponent`)."""
    exponents = {plan.exponent for plan in plans}
    if len(exponents) != 1:
        raise ValueError("plans of one pass must share the scaling exponent of X.")
    exponent = exponents.pop()
    n = X.shape[0]
    tallies = [PassTally(per_class_whitened=np.zeros(plan.means.shape[0])) for plan in plans]
    half_square_norms = [0.5 * np.einsum("ij,ij->i", plan.means, plan.means) for plan in plans]
    projected_means = [plan.means @ plan.whitener for plan in plans]
    square_norm_total = 0.0  # sum_i ||x_i||^2, the scale of the residuals' rounding error
    for part in iter_row_chunks(n, rows):
        chunk = np.asarray(X[part], dtype=np.float64)
        if exponent:
            chunk = np.ldexp(chunk, -exponent)
        square_norm_total += float(np.einsum("ij,ij->", chunk, chunk))
        for plan, tally, half, projected in zip(plans, tallies, half_square_norms, projected_means, strict=True):
            plan.count(chunk, part, tally, half, projected)
    return [plan.finish(tally, square_norm_total) for plan, tally in zip(plans, tallies, strict=True)]
