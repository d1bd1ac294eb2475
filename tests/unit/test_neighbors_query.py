"""kneighbors_of (a few query rows) agrees with the all-points search."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.neighbors import kneighbors, kneighbors_of


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_query_rows_match_the_full_search(metric: str) -> None:
    X = np.random.default_rng(3).normal(size=(200, 12)).astype(np.float32)
    rows = np.array([0, 17, 199])
    d_all, i_all = kneighbors(X, 7, metric=metric)
    d_q, i_q = kneighbors_of(X, rows, 7, metric=metric)
    assert np.array_equal(i_q, i_all[rows])
    np.testing.assert_allclose(d_q, d_all[rows], rtol=1e-5, atol=1e-6)


def test_self_is_excluded_even_with_duplicates() -> None:
    X = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    d, i = kneighbors_of(X, np.array([0]), 2)
    assert i.tolist() == [[1, 2]] and d.tolist() == [[0.0, 5.0]]


def test_bad_rows_and_zero_rows_are_refused() -> None:
    X = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="rows must be in"):
        kneighbors_of(X, np.array([3]), 1)
    with pytest.raises(ValueError, match="all-zero rows"):
        kneighbors_of(np.vstack([X, np.zeros((1, 3), np.float32)]), np.array([0]), 1, metric="cosine")


def test_large_common_offset_does_not_cancel() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 8))
    shifted = (X + 1e4).astype(np.float32)  # float32 resolution near 1e4 is ~1e-3
    d_q, i_q = kneighbors_of(shifted, np.array([0, 5]), 5)
    # Reference: the same float32 rows, exact differences in float64.
    ref = np.sqrt(((shifted.astype(np.float64)[[0, 5], None, :] - shifted.astype(np.float64)[None]) ** 2).sum(-1))
    ref[[0, 1], [0, 5]] = np.inf
    assert np.array_equal(i_q, np.argsort(ref, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(d_q, np.sort(ref, axis=1)[:, :5], rtol=1e-6)
