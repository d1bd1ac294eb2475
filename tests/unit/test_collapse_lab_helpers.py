"""Pure helpers of the neural-collapse lab: simplex_etf, lr_factor, long_tail_*, flip_labels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.models import (
    flip_labels,
    long_tail_counts,
    long_tail_subsample,
    lr_factor,
    simplex_etf,
)

# --- simplex_etf ------------------------------------------------------------------------


@pytest.mark.parametrize(("n_classes", "dim"), [(2, 1), (3, 2), (4, 3), (10, 9), (10, 32), (5, 64)])
def test_simplex_etf_geometry(n_classes: int, dim: int) -> None:
    W = simplex_etf(n_classes, dim, seed=4)
    assert W.shape == (n_classes, dim) and W.dtype == np.float64
    gram = W @ W.T
    np.testing.assert_allclose(np.diag(gram), 1.0, rtol=0, atol=1e-12)
    off_diagonal = gram[~np.eye(n_classes, dtype=bool)]
    np.testing.assert_allclose(off_diagonal, -1.0 / (n_classes - 1), rtol=0, atol=1e-12)
    # The rows of a simplex ETF sum to zero (they are centred).
    np.testing.assert_allclose(W.sum(axis=0), 0.0, atol=1e-12)
    # Rank C-1: the simplex spans exactly C-1 dimensions.
    assert np.linalg.matrix_rank(W) == n_classes - 1


def test_simplex_etf_is_seeded() -> None:
    np.testing.assert_array_equal(simplex_etf(5, 8, seed=1), simplex_etf(5, 8, seed=1))
    a, b = simplex_etf(5, 8, seed=1), simplex_etf(5, 8, seed=2)
    assert not np.allclose(a, b)
    # Another seed is another rotation of the same frame: equal Gram matrices.
    np.testing.assert_allclose(a @ a.T, b @ b.T, atol=1e-12)


def test_simplex_etf_hand_example() -> None:
    # C = 2: two opposite unit vectors.
    W = simplex_etf(2, 1)
    assert sorted(W.ravel().round(12).tolist()) == [-1.0, 1.0]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((10, 8), r"dim=8 is too small.*n_classes - 1 = 9"),
        ((1, 4), "n_classes must be >= 2"),
        ((3.0, 4), "n_classes must be an integer"),
    ],
)
def test_simplex_etf_rejects(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        simplex_etf(*args)


# --- lr_factor --------------------------------------------------------------------------


def test_step_schedule_boundaries() -> None:
    # 30 planned steps: x0.1 from update 10 (= 30 // 3), x0.01 from update 20.
    got = {s: lr_factor("step", s, total_steps=30) for s in (0, 9, 10, 19, 20, 29, 30)}
    assert got == {0: 1.0, 9: 1.0, 10: 0.1, 19: 0.1, 20: 0.01, 29: 0.01, 30: 0.01}
    # Not a multiple of 3: boundaries 100 // 3 = 33 and 200 // 3 = 66.
    assert lr_factor("step", 32, total_steps=100) == 1.0
    assert lr_factor("step", 33, total_steps=100) == 0.1
    assert lr_factor("step", 65, total_steps=100) == 0.1
    assert lr_factor("step", 66, total_steps=100) == 0.01


def test_other_schedules() -> None:
    assert lr_factor("constant", 17, total_steps=20) == 1.0
    assert lr_factor("cosine", 0, total_steps=20) == 1.0
    assert lr_factor("cosine", 10, total_steps=20) == pytest.approx(0.5)
    assert lr_factor("cosine", 20, total_steps=20) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError, match="schedule must be one of"):
        lr_factor("linear", 1, total_steps=10)


# --- long_tail_counts / long_tail_subsample ---------------------------------------------


def test_long_tail_counts_hand_computed() -> None:
    # n_c = 100 * 4 ** (-c / 2): 100, 50, 25.
    assert long_tail_counts([100, 100, 100], 4).tolist() == [100, 50, 25]
    assert long_tail_counts([1000, 1000], 10).tolist() == [1000, 100]
    # 5 classes, ratio 16: 200 * 16 ** (-c / 4) = 200, 100, 50, 25, 12.5 -> 12 (ties to even).
    assert long_tail_counts([200] * 5, 16).tolist() == [200, 100, 50, 25, 12]


def test_long_tail_counts_profile_is_exponential() -> None:
    counts = long_tail_counts(np.full(10, 5000), 100.0)
    expected = [round(5000 * 100 ** (-c / 9)) for c in range(10)]
    assert counts.tolist() == expected
    assert counts[0] == 5000 and counts[-1] == 50
    assert np.all(np.diff(counts) < 0)
    assert counts.dtype == np.int64


def test_long_tail_counts_ratio_one_and_clipping() -> None:
    assert long_tail_counts([133, 137, 135], 1.0).tolist() == [133, 137, 135]
    # Never more than is available; never fewer than one.
    assert long_tail_counts([10, 100, 100], 4).tolist() == [10, 50, 25]
    assert long_tail_counts([100, 100], 1000).tolist() == [100, 1]


@pytest.mark.parametrize(
    ("counts", "ratio", "match"),
    [
        ([100, 100], 0.5, "imbalance_ratio must be a finite number >= 1"),
        ([100, 100], math.nan, "imbalance_ratio"),
        ([100], 2, "at least 2 classes"),
        ([100.0, 50.0], 2, "integer class sizes"),
        ([100, -1], 2, "negative"),
    ],
)
def test_long_tail_counts_rejects(counts: list, ratio: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        long_tail_counts(counts, ratio)


def test_long_tail_subsample() -> None:
    y = np.repeat(np.arange(3), 100)[np.random.default_rng(0).permutation(300)]
    keep = long_tail_subsample(y, imbalance_ratio=4, seed=1)
    assert np.bincount(y[keep]).tolist() == [100, 50, 25]
    assert np.all(np.diff(keep) > 0)  # ascending, no repeats
    np.testing.assert_array_equal(keep, long_tail_subsample(y, imbalance_ratio=4, seed=1))
    assert not np.array_equal(keep, long_tail_subsample(y, imbalance_ratio=4, seed=2))
    np.testing.assert_array_equal(long_tail_subsample(y, imbalance_ratio=1), np.arange(300))
    with pytest.raises(ValueError, match="n_classes=2"):
        long_tail_subsample(y, imbalance_ratio=2, n_classes=2)


# --- flip_labels --------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.2, 0.333, 0.9])
def test_flip_labels_flips_exactly(fraction: float) -> None:
    y = np.arange(1347) % 10
    noisy, flipped = flip_labels(y, fraction=fraction, seed=5)
    assert noisy.dtype == np.int64 and flipped.dtype == bool
    assert int(flipped.sum()) == round(fraction * 1347)
    assert np.all(noisy[flipped] != y[flipped])
    np.testing.assert_array_equal(noisy[~flipped], y[~flipped])
    assert noisy.min() >= 0 and noisy.max() <= 9
    np.testing.assert_array_equal(y, np.arange(1347) % 10)  # input untouched


def test_flip_labels_targets_are_uniform_over_other_classes() -> None:
    y = np.zeros(30_000, dtype=np.int64)
    noisy, flipped = flip_labels(y, fraction=0.9, n_classes=4, seed=0)
    shares = np.bincount(noisy[flipped], minlength=4) / flipped.sum()
    assert shares[0] == 0.0
    np.testing.assert_allclose(shares[1:], 1 / 3, atol=0.015)


def test_flip_labels_is_seeded_and_validates() -> None:
    y = np.arange(100) % 5
    a = flip_labels(y, fraction=0.3, seed=1)
    np.testing.assert_array_equal(a[0], flip_labels(y, fraction=0.3, seed=1)[0])
    assert not np.array_equal(a[1], flip_labels(y, fraction=0.3, seed=2)[1])
    with pytest.raises(ValueError, match=r"fraction must be a fraction in \[0, 1\)"):
        flip_labels(y, fraction=1.0)
    with pytest.raises(ValueError, match="fraction"):
        flip_labels(y, fraction=-0.1)
    with pytest.raises(ValueError, match="n_classes >= 2"):
        flip_labels(np.zeros(5, dtype=np.int64), fraction=0.2)
    with pytest.raises(ValueError, match="integer class codes"):
        flip_labels(y.astype(float), fraction=0.2)
