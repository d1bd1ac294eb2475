"""Neural collapse with its first pass (the class statistics) on a dask cluster.

:func:`analysis.metrics.neural_collapse` makes two passes over the rows: the
class statistics (counts, means, Sigma_W, class variances) and then the
nearest-class-mean / classifier agreement and the whitened residuals. Here the
first, the expensive ``O(n d^2)`` one, runs on the workers
(:func:`analysis.distributed.moments.distributed_class_statistics`); the
second, ``O(n d C)``, is the library's own `_from_statistics`, streamed in this
process over ``X``'s row chunks (a dask array's chunks are computed as it goes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.distributed._blocks import is_dask_array
from analysis.distributed.client import get_client
from analysis.distributed.moments import distributed_class_statistics
from analysis.metrics.class_statistics import default_chunk_rows
from analysis.metrics.collapse_inputs import (
    _check_class_budget,
    _check_features,
    _encode_present_classes,
    check_class_labels,
    check_classifier,
)
from analysis.metrics.neural_collapse import (
    NeuralCollapse,
    _from_statistics,
    _outside_safe_range,
    neural_collapse,
)

__all__ = ["neural_collapse_distributed"]


def neural_collapse_distributed(X: Any, labels: Any, *, scheduler: Any, classifier: Any = None,
                                bias: Any = None, mu_g: str = "class_means") -> NeuralCollapse:
    """NC1-NC4 of features with class labels; equals :func:`analysis.metrics.neural_collapse`.

    Parameters
    ----------
    X : numpy array, numpy memmap or dask.array.Array of shape (n_samples, n_features)
    labels : array-like of shape (n_samples,)
        Integer class codes (numpy or dask). Without ``classifier`` only the
        classes that occur are kept, as in ``neural_collapse``.
    scheduler : None, str or distributed.Client
        None: ``neural_collapse`` in memory.
    classifier, bias : array-like, optional
        Last-layer weight (C, d) and bias (C,), for NC3 and NC4.
    mu_g : {"class_means", "samples"}, default="class_means"
        The centring of the class means, as in ``neural_collapse``.

    Returns
    -------
    NeuralCollapse

    Notes
    -----
    Features at extreme scales (E||x||^2 outside ``2**+-400``), which the
    library rescales and accumulates a second time, are handed to
    ``neural_collapse`` in memory.
    """
    client = get_client(scheduler)
    if is_dask_array(labels):
        labels = labels.compute()
    if client is None:
        return neural_collapse(X.compute() if is_dask_array(X) else X, labels, classifier=classifier, bias=bias,
                               mu_g=mu_g)
    if not is_dask_array(X):
        X = _check_features(X)
    n, d = int(X.shape[0]), int(X.shape[1])
    W, b, _ = check_classifier(classifier, bias, None, n_samples=n, n_features=d)
    if W is None:
        y, class_labels = _encode_present_classes(labels, n)
        C = int(class_labels.size)
    else:
        y, C = check_class_labels(labels, n, n_classes=W.shape[0])
        class_labels = np.arange(C, dtype=np.int64)
    _check_class_budget(C, d)
    stats = distributed_class_statistics(X, y, scheduler=client, n_classes=C)
    if _outside_safe_range(stats):
        return neural_collapse(X.compute() if is_dask_array(X) else X, labels, classifier=classifier, bias=bias,
                               mu_g=mu_g)
    return _from_statistics(stats, X, y, W=W, b=b, preds=None, rows=default_chunk_rows(d),
                            class_labels=class_labels, exponent=0, mu_g=mu_g)
