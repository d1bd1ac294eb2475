"""Neural collapse of two labellings of the same features (the labels and a shuffle of them) from one pass.

The within-class covariance of either labelling is

.. math::  \\Sigma_W = \\frac{1}{n}\\Big(G - \\sum_c n_c (\\mu_c - s)(\\mu_c - s)^\\top\\Big), \\qquad
           G = \\sum_i (x_i - s)(x_i - s)^\\top ,

and the total scatter ``G`` does not depend on the labels: only the class
counts, sums and squared norms do. So the report's shuffled-label baseline
(`analysis.report`) shares the d x d scatter, the costliest sum of the pass,
with the real labels (`ClassStatisticsAccumulator(..., other_classes=)`),
instead of reading X and forming it a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.metrics.class_statistics import (
    ClassStatisticsAccumulator,
    default_chunk_rows,
    iter_row_chunks,
)
from analysis.metrics.collapse_inputs import (
    _check_class_budget,
    _check_features,
    _encode_present_classes,
)
from analysis.metrics.collapse_second_pass import second_pass
from analysis.metrics.neural_collapse import (
    NeuralCollapse,
    _outside_safe_range,
    _plan,
    neural_collapse,
)
from analysis.metrics.streaming import CovarianceSums

__all__ = ["CollapsePair", "neural_collapse_pair"]


@dataclass(frozen=True)
class CollapsePair:
    """Result of :func:`neural_collapse_pair`."""

    result: NeuralCollapse
    shuffled: NeuralCollapse | None
    #: The pass's label-free sums (the covariance of all rows), None when it was rescaled.
    covariance: CovarianceSums | None


def neural_collapse_pair(features: Any, labels: Any, other_labels: Any) -> CollapsePair:
    """``neural_collapse(features, labels)`` and ``neural_collapse(features, other_labels)`` from one pass.

    Equal to the two calls up to float64 summation order (the same shift and
    chunks; the scatter is shared, see the module docstring). ``shuffled`` is
    None where ``neural_collapse(features, other_labels)`` raises ValueError
    (e.g. fewer than 2 classes, coinciding class means). ``covariance`` holds
    the same pass's sums of every row (`CovarianceSums`, exponent 0), from
    which `analysis.metrics.spectrum.spectrum_and_effective_rank` needs no pass.

    Raises
    ------
    ValueError
        As ``neural_collapse(features, labels)``.
    """
    X = _check_features(features)
    n, d = X.shape
    y, class_labels = _encode_present_classes(labels, n)
    C = int(class_labels.size)
    _check_class_budget(C, d)
    try:
        y_other, other_class_labels = _encode_present_classes(other_labels, n)
        _check_class_budget(int(other_class_labels.size), d)
    except ValueError:
        return CollapsePair(neural_collapse(X, labels), None, None)
    rows = default_chunk_rows(d)
    accumulator = ClassStatisticsAccumulator(C, d, other_classes=int(other_class_labels.size))
    with np.errstate(over="ignore", invalid="ignore"):  # as neural_collapse: extreme scales are detected below
        for part in iter_row_chunks(n, rows):
            accumulator.update(X[part], y[part], y_other[part])
        stats = accumulator.finalize()  # NaN/Inf rows: neural_collapse's own error
        other = accumulator.finalize_other()
    if _outside_safe_range(stats) or _outside_safe_range(other):
        # Features at 1e160 or 1e-200: neural_collapse rescales and passes again (rare).
        return CollapsePair(neural_collapse(X, labels), _or_none(X, other_labels), None)
    plans = [_plan(stats, y, W=None, b=None, preds=None, class_labels=class_labels)]
    try:
        plans.append(_plan(other, y_other, W=None, b=None, preds=None, class_labels=other_class_labels))
    except ValueError:  # NC of the other labelling is undefined (e.g. coinciding class means)
        pass
    # One per-sample pass over X serves both labellings (nearest class mean, per-class NC1 shares).
    results = second_pass(X, plans, rows=rows)
    return CollapsePair(results[0], results[1] if len(results) > 1 else None, accumulator.covariance_sums())


def _or_none(X: Any, labels: Any) -> NeuralCollapse | None:
    try:
        return neural_collapse(X, labels)
    except ValueError:
        return None
