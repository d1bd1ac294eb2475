"""Class means and within-class scatter, accumulated in one pass over row chunks.

Neural-collapse metrics need only the class counts, the class means and the
within-class covariance. Accumulating them chunk by chunk in float64 means a
memory-mapped (1,000,000 x 512) float32 array is read once, never copied
whole, and never held in float64 (the pattern of rhubarbwu/neural-collapse's
streaming accumulators; this is an independent implementation).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from analysis.metrics.streaming import CovarianceSums
from analysis.validation import first_rows

__all__ = ["ClassStatistics", "ClassStatisticsAccumulator", "class_sums", "default_chunk_rows", "iter_row_chunks",
           "statistics_from_sums"]

# About 64 MiB of float64 per chunk: large enough for BLAS to run at full
# speed, small enough that a 1M-row memory map never needs a second copy.
_CHUNK_BYTES = 64 * 2**20


def default_chunk_rows(n_features: int) -> int:
    """Rows per chunk so that one float64 chunk takes about 64 MiB."""
    return max(256, _CHUNK_BYTES // (8 * max(int(n_features), 1)))


def iter_row_chunks(n_rows: int, chunk_rows: int) -> Iterator[slice]:
    for start in range(0, n_rows, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_rows))


@dataclass(frozen=True, eq=False)
class ClassStatistics:
    """First and second moments of each class, in float64.

    Attributes
    ----------
    counts : ndarray of shape (n_classes,), int64
    means : ndarray of shape (n_classes, n_features)
        Class means mu_c (uncentred).
    sigma_w : ndarray of shape (n_features, n_features)
        Within-class covariance averaged over all n samples,
        ``(1/n) sum_i (x_i - mu_{y_i})(x_i - mu_{y_i})^T``.
    class_variances : ndarray of shape (n_classes,)
        ``E_{x in c} ||x - mu_c||^2``, the trace of each class's covariance.
    """

    counts: np.ndarray
    means: np.ndarray
    sigma_w: np.ndarray
    class_variances: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.counts.sum())

    @property
    def n_classes(self) -> int:
        return int(self.counts.size)

    @property
    def n_features(self) -> int:
        return int(self.means.shape[1])


class ClassStatisticsAccumulator:
    """Streaming accumulator of `ClassStatistics` (feed chunks with `update`).

    Sums are taken about a shift ``s`` (the mean of the first chunk) so that
    ``scatter - sum_c n_c (m_c - s)(m_c - s)^T`` does not cancel
    catastrophically when the features sit far from the origin; everything is
    float64. Chunk rows need not be grouped by class.

    Parameters
    ----------
    n_classes : int
    n_features : int
    """

    def __init__(self, n_classes: int, n_features: int, *, other_classes: int | None = None) -> None:
        self.n_classes = int(n_classes)
        self.n_features = int(n_features)
        # A second labelling of the same rows (e.g. shuffled labels): only its class sums
        # differ, the scatter about the shift is shared (`finalize_other`).
        self._other_classes = 0 if other_classes is None else int(other_classes)
        self._other = None if other_classes is None else {
            "counts": np.zeros(self._other_classes, dtype=np.int64),
            "sums": np.zeros((self._other_classes, self.n_features)),
            "square_norms": np.zeros(self._other_classes)}
        self._shift: np.ndarray | None = None
        self._counts = np.zeros(self.n_classes, dtype=np.int64)
        self._sums = np.zeros((self.n_classes, self.n_features))
        self._square_norms = np.zeros(self.n_classes)
        self._scatter = np.zeros((self.n_features, self.n_features))
        self._rows_seen = 0
        self._bad_rows: list[np.ndarray] = []

    def update(self, X_chunk: np.ndarray, labels_chunk: np.ndarray, other_labels: np.ndarray | None = None) -> None:
        """Add a chunk: rows of features and their class codes in [0, n_classes) (and in the other labelling)."""
        # Always a copy: the shift below is subtracted in place, and a float64
        # input chunk would otherwise be a view of the caller's (or a read-only) array.
        chunk = np.array(X_chunk, dtype=np.float64)
        codes = np.asarray(labels_chunk, dtype=np.int64)
        if chunk.shape[0] == 0:
            return
        row_totals = chunk.sum(axis=1)
        bad = ~np.isfinite(row_totals)
        if bad.any():
            # NaN/Inf rows would poison every sum: remember them, report after the pass.
            bad = ~np.isfinite(chunk).all(axis=1)
            if bad.any():
                self._bad_rows.append(np.flatnonzero(bad) + self._rows_seen)
        self._rows_seen += chunk.shape[0]
        if self._bad_rows:
            return
        if self._shift is None:
            self._shift = chunk.mean(axis=0)
        chunk -= self._shift
        part = class_sums(chunk, codes, self.n_classes)
        self._counts += part["counts"]
        self._sums += part["sums"]
        self._square_norms += part["square_norms"]
        self._scatter += part["scatter"]
        if self._other is not None:
            if other_labels is None:
                raise ValueError("this accumulator also sums a second labelling: pass other_labels for every chunk.")
            other = class_sums(chunk, np.asarray(other_labels, dtype=np.int64), self._other_classes, scatter=False)
            for key, value in other.items():
                self._other[key] += value

    def finalize(self) -> ClassStatistics:
        """The statistics of everything fed so far.

        Raises
        ------
        ValueError
            If a row held NaN or Inf, or nothing was fed.
        """
        if self._bad_rows:
            bad = np.concatenate(self._bad_rows)
            raise ValueError(
                f"features contains NaN or Inf in {bad.size} rows (first: {first_rows(bad)}). "
                "Drop or impute these rows before measuring neural collapse."
            )
        if self._shift is None:
            raise ValueError("features has no rows; pass at least one sample per class.")
        return statistics_from_sums(self._counts.copy(), self._sums, self._square_norms, self._scatter,
                                    self._shift)

    def covariance_sums(self) -> CovarianceSums:
        """The label-free part of the sums as `CovarianceSums` (exponent 0): the covariance of every row.

        ``sum_i (x_i - s) = sum_c S_c`` and ``sum_i ||x_i||^2 = sum_c Q_c + 2 s . t + n ||s||^2``, so the
        covariance spectrum and the effective rank need no pass of their own (`analysis.report`).
        """
        self.finalize()  # the same checks (NaN/Inf rows, no rows)
        sums = CovarianceSums(self.n_features)
        total = self._sums.sum(axis=0)
        n = int(self._counts.sum())
        shift = self._shift
        sums.shift = shift.copy()
        sums.add({"sum": total, "gram": self._scatter, "n": n,
                  "square": float(self._square_norms.sum()) + 2.0 * float(shift @ total) + n * float(shift @ shift)})
        return sums

    def finalize_other(self) -> ClassStatistics:
        """The statistics of the second labelling (``other_classes``): its class sums, the shared scatter.

        Raises
        ------
        ValueError
            As `finalize`, or if no second labelling was summed.
        """
        self.finalize()  # the same checks (NaN/Inf rows, no rows)
        if self._other is None:
            raise ValueError("no second labelling: create the accumulator with other_classes=.")
        return statistics_from_sums(self._other["counts"].copy(), self._other["sums"], self._other["square_norms"],
                                    self._scatter, self._shift)


def class_sums(chunk: np.ndarray, codes: np.ndarray, n_classes: int, *, scatter: bool = True,
               ) -> dict[str, np.ndarray]:
    """Per-class counts, sums and squared norms, and the scatter, of one float64 chunk already shifted by ``s``.

    The kernel of `ClassStatisticsAccumulator.update` and of
    `analysis.distributed.distributed_class_statistics` (one task per block).
    """
    # One-hot (C x rows) sparse matrix: per-class sums as one sparse-dense
    # product instead of a Python loop over classes or slow np.add.at.
    one_hot = sp.csr_matrix((np.ones(codes.size), (codes, np.arange(codes.size))), shape=(n_classes, codes.size))
    sums = {
        "counts": np.bincount(codes, minlength=n_classes).astype(np.int64),
        "sums": one_hot @ chunk,
        "square_norms": np.bincount(codes, weights=np.einsum("ij,ij->i", chunk, chunk), minlength=n_classes),
    }
    if scatter:  # label-free: a second labelling of the same rows shares it
        # NumPy hands ``A.T @ A`` to BLAS syrk (half the flops of a general GEMM).
        sums["scatter"] = chunk.T @ chunk
    return sums


def statistics_from_sums(counts: np.ndarray, sums: np.ndarray, square_norms: np.ndarray, scatter: np.ndarray,
                         shift: np.ndarray) -> ClassStatistics:
    """`ClassStatistics` from the `class_sums` of every row, taken about the shift ``s``.

    ``m_c - s = S_c / n_c``, and
    ``sum_i (x_i - m_{y_i})(...)^T = sum_i (x_i - s)(...)^T - sum_c n_c (m_c - s)(m_c - s)^T``.
    """
    safe = np.maximum(counts, 1)[:, None]
    centred_means = sums / safe  # m_c - s
    n = counts.sum()
    between = (centred_means * counts[:, None]).T @ centred_means
    sigma_w = (scatter - between) / n
    sigma_w = 0.5 * (sigma_w + sigma_w.T)
    class_variances = square_norms / safe[:, 0] - np.einsum("ij,ij->i", centred_means, centred_means)
    return ClassStatistics(
        counts=counts,
        means=centred_means + shift,
        sigma_w=sigma_w,
        # Rounding can leave -1e-17 for a class of identical points.
        class_variances=np.maximum(class_variances, 0.0),
    )
