"""RepLens on a dask.distributed cluster: exact kNN and streaming moments across workers.

Every function takes ``scheduler=`` (None, an address such as
``"tcp://127.0.0.1:8786"``, or a ``distributed.Client``; see
:func:`get_client`) and returns what the single-machine function returns on
the same data:

* :func:`distributed_kneighbors` equals :func:`analysis.neighbors.kneighbors`;
* :func:`distributed_class_statistics` equals
  :class:`analysis.metrics.class_statistics.ClassStatisticsAccumulator` over the whole array;
* :func:`distributed_covariance_spectrum` equals :func:`analysis.metrics.covariance_spectrum`;
* :func:`neural_collapse_distributed` equals :func:`analysis.metrics.neural_collapse`
  (its class-statistics pass on the workers).

Inputs may be numpy arrays (shipped to the workers), numpy memmaps (read by
the workers from the same path) or dask arrays (their chunks are the blocks).
dask and distributed are the ``[scale]`` extra and are imported only when a
cluster is used.
"""

from __future__ import annotations

from analysis.distributed.client import get_client
from analysis.distributed.collapse import neural_collapse_distributed
from analysis.distributed.knn import distributed_kneighbors
from analysis.distributed.moments import (
    distributed_class_statistics,
    distributed_covariance_spectrum,
)

__all__ = [
    "get_client",
    "distributed_kneighbors",
    "distributed_class_statistics",
    "distributed_covariance_spectrum",
    "neural_collapse_distributed",
]
