"""Unit tests for analysis.metrics.minority_collapse (Fang, He, Long & Su 2021).

Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.metrics import minority_collapse
from analysis.metrics.minority_collapse import class_groups, minority_collapse_over_steps


def _simplex_etf(C: int) -> np.ndarray:
    # Rows of I - 11^T/C: C vectors with pairwise cosine exactly -1/(C-1).
    return np.eye(C) - 1.0 / C


COUNTS6 = np.array([100, 80, 60, 20, 10, 5])  # median 40: minority {3, 4, 5}, majority {0, 1, 2}


def test_simplex_etf_gives_the_etf_cosine_in_both_groups() -> None:
    result = minority_collapse(_simplex_etf(6), COUNTS6)
    # Every pair of an ETF of 6 has cosine -1/5.
    assert result.etf_cosine == pytest.approx(-0.2)
    assert result.minority_cosine == pytest.approx(-0.2)
    assert result.majority_cosine == pytest.approx(-0.2)
    assert result.between_cosine == pytest.approx(-0.2)
    assert result.minority_classes == (3, 4, 5) and result.majority_classes == (0, 1, 2)
    assert "median (40)" in result.rule


def test_two_identical_minority_rows_have_cosine_one_and_orthogonal_rows_zero() -> None:
    # Rows 0, 1 orthogonal unit vectors (majority); rows 2, 3 the same vector (minority).
    W = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 5.0]])
    result = minority_collapse(W, [50, 40, 3, 2])
    assert result.minority_cosine == pytest.approx(1.0)
    assert result.majority_cosine == pytest.approx(0.0)
    assert result.between_cosine == pytest.approx(0.0)
    assert result.etf_cosine == pytest.approx(-1.0 / 3.0)


def test_hand_computed_mean_of_three_pairs() -> None:
    # Minority rows at 0, 90 and 180 degrees in a plane: cosines 0, -1, 0 -> mean -1/3.
    W = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    result = minority_collapse(W, [9, 9, 1, 1, 1], n_minority=3)
    assert result.minority_classes == (2, 3, 4)
    assert result.minority_cosine == pytest.approx(-1.0 / 3.0)
    # Majority rows 0 and 1 are orthogonal.
    assert result.majority_cosine == pytest.approx(0.0)


def test_invariant_to_class_permutation_and_row_scaling() -> None:
    rng = np.random.default_rng(0)
    W = rng.standard_normal((6, 4))
    base = minority_collapse(W, COUNTS6)
    perm = np.array([4, 0, 5, 2, 1, 3])
    scales = np.array([0.5, 3.0, 1.0, 7.0, 0.1, 2.0])[:, None]
    moved = minority_collapse(W[perm] * scales, COUNTS6[perm])
    for name in ("minority_cosine", "majority_cosine", "between_cosine"):
        assert getattr(moved, name) == pytest.approx(getattr(base, name))
    # The same classes, under their new codes.
    assert sorted(perm[list(moved.minority_classes)].tolist()) == list(base.minority_classes)


def test_n_minority_picks_the_smallest_classes() -> None:
    minority, majority, rule = class_groups(COUNTS6, n_minority=2)
    assert minority.tolist() == [4, 5] and majority.tolist() == [0, 1, 2, 3]
    assert "2 classes with the fewest" in rule


def test_balanced_counts_name_the_fix() -> None:
    with pytest.raises(ValueError, match="Pass n_minority"):
        minority_collapse(_simplex_etf(6), [10] * 6)


@pytest.mark.parametrize("n_minority", [1, 5, True, 2.5])
def test_bad_n_minority_is_refused(n_minority) -> None:
    with pytest.raises(ValueError, match="n_minority must be an integer from 2 to C-2 = 4"):
        minority_collapse(_simplex_etf(6), COUNTS6, n_minority=n_minority)


def test_malformed_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="n_classes >= 4"):
        minority_collapse(np.eye(3), [3, 2, 1])
    with pytest.raises(ValueError, match="np.bincount"):
        minority_collapse(_simplex_etf(6), [1, 2, 3])
    W = _simplex_etf(6)
    W[2] = 0.0
    with pytest.raises(ValueError, match=r"row\(s\) \[2\] are all zero"):
        minority_collapse(W, COUNTS6)


def test_over_steps_and_json() -> None:
    etf = _simplex_etf(6)
    out = minority_collapse_over_steps({5: (etf, None), 0: etf}, COUNTS6)
    assert list(out) == [0, 5]
    assert out[5].minority_cosine == pytest.approx(-0.2)
    json.dumps(out[0].to_dict(), allow_nan=False)
