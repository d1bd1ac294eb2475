"""Unit tests for analysis.metrics.effective_rank (Roy & Vetterli 2007 / RankMe)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

from analysis.metrics import effective_rank


@pytest.mark.parametrize("d", [1, 2, 5, 16])
def test_identity_uncentred_is_d(d):
    result = effective_rank(np.eye(d), center=False)
    assert result.effective_rank == pytest.approx(d, rel=1e-12)
    np.testing.assert_allclose(result.singular_values, np.ones(d))
    assert result.n_features == d and result.n_samples == d and result.centered is False


def test_identity_centred_loses_one_direction():
    # I - 11^T/d has singular values 1 (d-1 times) and 0.
    assert effective_rank(np.eye(6)).effective_rank == pytest.approx(5.0, rel=1e-12)


def test_rank_one_matrix_is_one():
    u = np.array([1.0, -2.0, 3.0, 0.5])
    v = np.array([2.0, 1.0, -1.0])
    assert effective_rank(np.outer(u, v), center=False).effective_rank == pytest.approx(1.0)
    # Centred: points on a line through an offset are rank 1 around their mean.
    line = np.outer(np.arange(10.0), v) + np.array([5.0, -3.0, 8.0])
    assert effective_rank(line).effective_rank == pytest.approx(1.0)


def test_hand_computed_two_singular_values():
    # diag(3, 1): p = (3/4, 1/4), H = -(3/4 ln 3/4 + 1/4 ln 1/4).
    entropy = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    result = effective_rank(np.diag([3.0, 1.0]), center=False)
    assert result.effective_rank == pytest.approx(np.exp(entropy), rel=1e-12)
    np.testing.assert_allclose(result.singular_values, [3.0, 1.0])


def test_equal_singular_values_give_the_rank():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    X = Q[:, :4] @ ortho_group.rvs(4, random_state=1)  # 20 x 4, singular values all 1
    X = np.hstack([X, np.zeros((20, 3))])
    assert effective_rank(X, center=False).effective_rank == pytest.approx(4.0)


def test_center_is_the_default_and_removes_offsets():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 6))
    default = effective_rank(X)
    assert default.centered is True
    assert effective_rank(X + 100.0).effective_rank == pytest.approx(default.effective_rank)
    # Uncentred, a large common offset dominates: one big direction.
    assert effective_rank(X + 1000.0, center=False).effective_rank < 1.05


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 40),
    d=st.integers(1, 12),
    scale=st.floats(1e-3, 1e3),
    center=st.booleans(),
)
def test_invariant_to_scale_rotation_and_row_order(seed, n, d, scale, center):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    base = effective_rank(X, center=center).effective_rank
    Q = ortho_group.rvs(d, random_state=seed) if d > 1 else np.array([[-1.0]])
    assert 1.0 - 1e-9 <= base <= min(n, d) + 1e-9
    for transformed in (scale * X, X @ Q, X[rng.permutation(n)]):
        assert effective_rank(transformed, center=center).effective_rank == pytest.approx(
            base, rel=1e-9
        )


def test_singular_values_descending_and_to_dict_is_json():
    X = np.random.default_rng(3).standard_normal((7, 4))
    result = effective_rank(X)
    assert result.singular_values.shape == (4,)
    assert np.all(np.diff(result.singular_values) <= 0)
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["effective_rank"] == pytest.approx(result.effective_rank)
    assert payload["centered"] is True and payload["n_features"] == 4


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (np.zeros((5, 3)), {"center": False}, r"all zero; the effective rank is undefined"),
        (np.ones((5, 3)), {}, r"all zero after centring .*center=False"),
        (np.ones((1, 3)), {}, r"all zero after centring"),
        (np.ones(4), {}, r"2-D array .* shape \(4,\)"),
        (np.zeros((0, 3)), {}, r"empty"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), {}, r"NaN or Inf in 1 rows"),
        (np.array([[True, False], [False, True]]), {}, r"real numbers; got dtype bool"),
    ],
)
def test_validation_errors(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        effective_rank(X, **kwargs)


def test_identical_rows_up_to_rounding_have_no_effective_rank():
    # Centring identical rows leaves rounding (singular values ~1e-15), which scored 1.0.
    rng = np.random.default_rng(3)
    same = np.repeat(rng.standard_normal((1, 5)), 24, axis=0)
    for X in (same, same * (1.0 + 4e-16 * rng.standard_normal(same.shape))):
        with pytest.raises(ValueError, match="all zero after centring"):
            effective_rank(X)
    # Far from the origin with a real spread it still works, at any scale.
    X = np.random.default_rng(4).standard_normal((24, 5))
    assert effective_rank(X + 1e10).effective_rank == pytest.approx(effective_rank(X).effective_rank, rel=1e-6)
    assert effective_rank(X * 1e160).effective_rank == pytest.approx(effective_rank(X).effective_rank, rel=1e-12)
