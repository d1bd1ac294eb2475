"""The report's Gaussian baseline streams its sample: same rows, same numbers, no n x d array."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.metrics.isotropy import iso_score
from analysis.metrics.spectrum import covariance_spectrum, effective_rank
from analysis.metrics.streaming import CovarianceSums
from analysis.report import baseline as B
from analysis.validation import row_norms


@pytest.mark.parametrize(("n", "d", "chunk_rows"), [(1003, 7, 1), (1003, 3, 13), (4096, 5, 1000), (10, 256, 3)])
def test_chunks_concatenate_to_the_sample(n, d, chunk_rows):
    # Odd widths too: float32 normals consume half words of the bit stream.
    whole = B.gaussian_sample(n, d, seed=3)
    chunks = list(B.gaussian_chunks(n, d, seed=3, chunk_rows=chunk_rows))
    assert max(c.shape[0] for c in chunks) <= chunk_rows
    assert np.array_equal(np.concatenate(chunks), whole)


def test_a_prefix_of_the_sample_is_the_smaller_sample():
    # gaussian_graph draws only its first rows: they must be the rows of the full sample.
    assert np.array_equal(B.gaussian_sample(50, 9, seed=1), B.gaussian_sample(400, 9, seed=1)[:50])


def _old_moments(n, d, seed):
    """The baseline as it was computed before streaming: on the whole sample in memory."""
    G = B.gaussian_sample(n, d, seed)
    spectrum = covariance_spectrum(G)
    return effective_rank(G).effective_rank, spectrum, B._norm_cv(row_norms(G))


@pytest.mark.parametrize(("n", "d"), [(3, 5), (7, 64), (500, 16), (34_000, 256)])
def test_streamed_moments_equal_the_in_memory_ones(n, d):
    # (34,000 x 256: two chunks against effective_rank's SVD; 3 x 5: rank 2 of 5 features.)
    erank, spectrum, norm_cv = _old_moments(n, d, seed=2)
    streamed = B._sample_moments(n, d, seed=2)
    assert streamed.effective_rank == pytest.approx(erank, rel=1e-10)
    np.testing.assert_allclose(streamed.spectrum.eigenvalues, spectrum.eigenvalues, rtol=1e-9,
                               atol=1e-12 * spectrum.eigenvalues[0])
    np.testing.assert_allclose(streamed.spectrum.explained_variance_ratio, spectrum.explained_variance_ratio,
                               rtol=1e-9, atol=1e-12)
    assert streamed.norm_cv == pytest.approx(norm_cv, rel=1e-10)
    assert iso_score(streamed.spectrum.eigenvalues) == pytest.approx(iso_score(spectrum.eigenvalues), abs=1e-12)


def test_streamed_moments_report_progress_to_one():
    seen = []
    B._sample_moments(70_000, 256, seed=0, progress=lambda f, m: seen.append(f))  # 3 chunks of 32,768 rows
    assert len(seen) >= 2 and seen == sorted(seen) and seen[-1] == 1.0


def test_baseline_never_draws_the_whole_sample(monkeypatch):
    # No call may ask for more rows than a chunk (32,768 at d = 256) or the kNN rows (made small here).
    monkeypatch.setattr(B, "BASELINE_KNN_ROWS", 2_000)
    asked = []
    real = np.random.default_rng

    class Spy:  # a Generator that records the size of each normal draw
        def __init__(self, seed=None):
            self.rng = real(seed)

        def standard_normal(self, size=None, dtype=np.float64):
            asked.append(size)
            return self.rng.standard_normal(size, dtype=dtype)

        def __getattr__(self, name):
            return getattr(self.rng, name)

    monkeypatch.setattr(np.random, "default_rng", Spy)
    B._BASELINE_CACHE.clear()
    base = B._gaussian_baseline(100_000, 256, 10, 10, "euclidean", 0)
    B._BASELINE_CACHE.clear()
    assert max(rows for rows, _ in asked) <= B.default_chunk_rows(256) == 32_768
    assert sum(rows for rows, _ in asked) == 2_000 + 2_000  # the kNN rows, then the moments' stream of them
    assert base.hubness.k_occurrence.shape == (2_000,)
    # Every baseline number comes from the same 2,000 rows (the moments too, not all 100,000):
    assert base.effective_rank == B._sample_moments(2_000, 256, 0).effective_rank
    assert 0.97 * 256 < base.effective_rank < 256  # i.i.d. Gaussian: every direction used, up to MP spread
    assert base.spectrum.size == 256 and base.spectrum.sum() == pytest.approx(1.0)


def test_covariance_sums_equal_numpy_for_data_far_from_the_origin():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1000, 6)) * [1, 2, 3, 4, 5, 6] + 1e6  # a naive sum of squares cancels here
    sums = CovarianceSums(6)
    for start in range(0, 1000, 77):
        sums.update(X[start : start + 77])
    assert sums.n == 1000
    assert sums.square == pytest.approx(float((X**2).sum()), rel=1e-12)
    np.testing.assert_allclose(sums.scatter() / 1000, np.cov(X.T, bias=True), rtol=1e-8, atol=1e-8)


def test_covariance_sums_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no rows"):
        CovarianceSums(3).scatter()
