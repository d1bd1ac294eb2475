"""neural_collapse_pair equals two neural_collapse calls (the shuffled labels share the scatter)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from analysis.metrics import neural_collapse
from analysis.metrics.class_statistics import ClassStatisticsAccumulator
from analysis.metrics.collapse_pair import neural_collapse_pair
from analysis.metrics.spectrum import (
    covariance_spectrum,
    effective_rank,
    spectrum_and_effective_rank,
)

FIELDS = ("nc1", "nc1_trace_quotient", "cdnv", "nc2_equinorm", "nc2_equiangular", "nc2_max_angle", "etf_distance",
          "ncc_accuracy")


def _classes(n=3_000, d=6, C=4, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, n)
    X = rng.normal(size=(C, d))[y] * 3 + rng.normal(size=(n, d)) + offset
    return X.astype(np.float32), y


@pytest.mark.parametrize("offset", [0.0, 1e4])  # far from the origin too: the shift matters
def test_pair_equals_two_calls(offset):
    X, y = _classes(offset=offset)
    shuffled = np.random.default_rng(1).permutation(y)
    pair = neural_collapse_pair(X, y, shuffled)
    got, got_shuffled = pair.result, pair.shuffled
    want, want_shuffled = neural_collapse(X, y), neural_collapse(X, shuffled)
    for field in FIELDS:
        assert getattr(got, field) == pytest.approx(getattr(want, field), rel=1e-8, abs=1e-12), field
        assert getattr(got_shuffled, field) == pytest.approx(getattr(want_shuffled, field), rel=1e-6,
                                                              abs=1e-12), field
    np.testing.assert_array_equal(got.class_counts, want.class_counts)
    np.testing.assert_allclose(got_shuffled.nc1_class_share, want_shuffled.nc1_class_share, rtol=1e-6, atol=1e-12)


def test_both_labellings_share_one_per_sample_pass(monkeypatch):
    """The nearest-class-mean pass reads X once for the labels and the shuffle together."""
    second = importlib.import_module("analysis.metrics.collapse_second_pass")
    passes = []
    original = second.iter_row_chunks
    monkeypatch.setattr(second, "iter_row_chunks", lambda *a, **k: passes.append(a) or original(*a, **k))
    X, y = _classes()
    pair = neural_collapse_pair(X, y, np.random.default_rng(2).permutation(y))
    assert len(passes) == 1 and pair.shuffled is not None
    neural_collapse(X, y)
    assert len(passes) == 2  # a single labelling makes its own pass


def test_second_labelling_that_neural_collapse_refuses_gives_none():
    X, y = _classes()
    pair = neural_collapse_pair(X, y, np.zeros_like(y))  # one class: undefined
    got, other = pair.result, pair.shuffled
    assert other is None
    assert got.nc1 == pytest.approx(neural_collapse(X, y).nc1, rel=1e-10)


def test_first_labelling_errors_are_raised():
    X, y = _classes()
    with pytest.raises(ValueError, match="at least 2"):
        neural_collapse_pair(X, np.zeros_like(y), y)


def test_accumulator_other_labelling_shares_the_scatter():
    # By hand: 4 points, two labellings; Sigma_W of each from its own class means.
    X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    a, b = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    acc = ClassStatisticsAccumulator(2, 2, other_classes=2)
    acc.update(X[:3], a[:3], b[:3])
    acc.update(X[3:], a[3:], b[3:])
    first, second = acc.finalize(), acc.finalize_other()
    np.testing.assert_allclose(first.means, [[1, 0], [1, 2]])
    np.testing.assert_allclose(first.sigma_w, [[1, 0], [0, 0]], atol=1e-15)  # rows vary along x within a class
    np.testing.assert_allclose(second.means, [[0, 1], [2, 1]])
    np.testing.assert_allclose(second.sigma_w, [[0, 0], [0, 1]], atol=1e-15)
    with pytest.raises(ValueError, match="other_labels"):
        acc.update(X[:1], a[:1])
    with pytest.raises(ValueError, match="other_classes"):
        _finalize_other_without()


def _finalize_other_without():
    acc = ClassStatisticsAccumulator(2, 2)
    acc.update(np.eye(2), np.array([0, 1]))
    acc.finalize_other()


@pytest.mark.parametrize("svd_limit", [None, 100])  # 100: effective_rank's Gram path
def test_the_pass_sums_give_the_spectrum_and_effective_rank(monkeypatch, svd_limit):
    spectrum_module = importlib.import_module("analysis.metrics.spectrum")
    if svd_limit is not None:
        monkeypatch.setattr(spectrum_module, "_SVD_MAX_ELEMENTS", svd_limit)
    X, y = _classes(offset=50.0)
    sums = neural_collapse_pair(X, y, np.random.default_rng(2).permutation(y)).covariance
    assert sums.n == X.shape[0]
    assert sums.square == pytest.approx(float((X.astype(np.float64) ** 2).sum()), rel=1e-10)
    spec, rank = spectrum_and_effective_rank(X, sums=sums)
    np.testing.assert_allclose(spec.eigenvalues, covariance_spectrum(X).eigenvalues, rtol=1e-8)
    assert rank.effective_rank == pytest.approx(effective_rank(X).effective_rank, rel=1e-9)
    with pytest.raises(ValueError, match="do not describe X"):
        spectrum_and_effective_rank(X[:10], sums=sums)
