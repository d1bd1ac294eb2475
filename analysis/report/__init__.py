"""All diagnostics of one embedding in one call: `diagnose` -> `Report` (HTML / JSON).

`diagnose` runs every metric that applies to an embedding (hubness, sphere
uniformity, isotropy, effective rank and covariance spectrum, TwoNN intrinsic
dimension, neural collapse when there are labels, codebook usage when there
are codes, and data-quality checks), compares each with a baseline computed
for the same number of samples n and features d, and gives it a plain
verdict -- "good", "warning", "problem" or "info" -- with the reason in one or
two sentences that quote the numbers.

The package holds one responsibility per module:

- `analysis.report.result`: `Finding` and `Report` (JSON and HTML export).
- `analysis.report.rules`: the verdict thresholds and the rules that turn numbers into findings.
- `analysis.report.baseline`: the baseline of i.i.d. Gaussian data of the same n and d.
- `analysis.report.diagnosis`: `diagnose`, the input checks and the stages that run the metrics.

A metric that cannot run on the data (too few distinct points, one class,
...) becomes an "info" finding that says why, rather than an error.

Cost
----
Two exact kNN searches of n points (the data and the Gaussian baseline;
``analysis.neighbors.kneighbors``, O(n^2 d)) dominate; everything else is
O(n d^2) or less. Each is one `NeighborGraph` with ``max(k, 2)``
neighbours, shared: hubness reads its first k columns and TwoNN
(`intrinsic_dimension`) its first two distances to distinct points. With the
cosine metric TwoNN is measured on the unit rows, from the same graph's
chords sqrt(2 (1 - cos)). Only when duplicate rows fill a point's whole
neighbour list does TwoNN search again (without them).
"""

# The baseline cache is re-exported so that callers (tests, benchmarks) can clear it.
from analysis.report.baseline import _BASELINE_CACHE as _BASELINE_CACHE
from analysis.report.diagnosis import diagnose
from analysis.report.result import PAGES, VERDICTS, Finding, Report

__all__ = [
    "PAGES",
    "VERDICTS",
    "Finding",
    "Report",
    "diagnose",
]
