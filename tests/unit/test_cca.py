"""CCA, SVCCA, PWCCA and neuron matching against hand-computed values, a textbook reference, and invariances.

The hand examples use columns of an 8 x 8 Hadamard matrix: centred (each
column but the first sums to 0), mutually orthogonal, norm sqrt(8). Units
built from them have correlations and canonical correlations one can write
down.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import hadamard
from scipy.stats import ortho_group

from analysis.metrics import cca_correlations, linear_cka, neuron_matching, pwcca, svcca

H = hadamard(8).astype(np.float64)
A, B, C = H[:, 1], H[:, 2], H[:, 3]  # centred, orthogonal, each of norm sqrt(8)
THETA = math.pi / 3  # cos = 0.5


def _hand_pair() -> tuple[np.ndarray, np.ndarray]:
    """X = [3a, b], Y = [a, cos(theta) b + sin(theta) c]: canonical correlations 1 and cos(theta) = 0.5."""
    X = np.column_stack([3 * A, B])
    Y = np.column_stack([A, math.cos(THETA) * B + math.sin(THETA) * C])
    return X, Y


def _reference_cca(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Textbook CCA: singular values of Sxx^-1/2 Sxy Syy^-1/2 (full-rank covariances, inverse square roots)."""
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)

    def inv_sqrt(S: np.ndarray) -> np.ndarray:
        w, v = np.linalg.eigh(S)
        return v @ np.diag(w**-0.5) @ v.T

    M = inv_sqrt(Xc.T @ Xc) @ (Xc.T @ Yc) @ inv_sqrt(Yc.T @ Yc)
    return np.linalg.svd(M, compute_uv=False)


def _invertible(rng: np.random.Generator, d: int) -> np.ndarray:
    """A random invertible, far-from-orthogonal map: anisotropic scaling between two rotations."""
    return ortho_group.rvs(d, random_state=rng) @ np.diag(np.geomspace(0.1, 10, d)) @ ortho_group.rvs(
        d, random_state=rng)


def _related(rng: np.random.Generator, n: int = 400, dx: int = 5, dy: int = 4) -> tuple[np.ndarray, np.ndarray]:
    X = rng.standard_normal((n, dx))
    Y = X @ rng.standard_normal((dx, dy)) + 0.8 * rng.standard_normal((n, dy))
    return X, Y


# --------------------------------------------------------------------------- hand examples


def test_hand_example_gives_one_and_cos_theta() -> None:
    X, Y = _hand_pair()
    result = cca_correlations(X, Y)
    np.testing.assert_allclose(result.correlations, [1.0, 0.5], atol=1e-12)
    assert result.mean == pytest.approx(0.75)
    assert (result.rank_x, result.rank_y, result.n_samples) == (2, 2, 8)


def test_hand_example_pwcca_weights_by_the_share_of_x() -> None:
    # Canonical variates of X are a/|a| and b/|b|; sum_j |<h_i, x_j>| is 3|a| and |b|: weights 3/4 and 1/4.
    X, Y = _hand_pair()
    result = pwcca(X, Y)
    np.testing.assert_allclose(result.weights, [0.75, 0.25], atol=1e-12)
    assert result.similarity == pytest.approx(0.75 * 1.0 + 0.25 * 0.5)
    assert result.distance == pytest.approx(0.125)
    # With the units swapped in size, the uncorrelated direction weighs more.
    swapped = pwcca(np.column_stack([A, 3 * B]), Y)
    assert swapped.similarity == pytest.approx(0.25 * 1.0 + 0.75 * 0.5)


def test_hand_example_svcca_keeps_the_directions_of_the_variance() -> None:
    # X's variances are 9:1 (shares 0.9, 1.0); Y's 1:1 (0.5, 1.0).
    X, Y = _hand_pair()
    strict = svcca(X, Y, keep=0.9)
    assert (strict.kept_x, strict.kept_y) == (1, 2)
    assert strict.variance_x == pytest.approx(0.9) and strict.variance_y == pytest.approx(1.0)
    np.testing.assert_allclose(strict.correlations, [1.0], atol=1e-12)  # only a is kept in X, and a is in Y
    loose = svcca(X, Y)  # keep=0.99 keeps both
    np.testing.assert_allclose(loose.correlations, [1.0, 0.5], atol=1e-12)
    assert loose.mean == pytest.approx(0.75)
    assert svcca(X, Y, n_components=1).kept_y == 1


def test_hand_example_neuron_matching_one_to_one_and_many_to_one() -> None:
    # X = [a, a + b], Y = [a, c]: corr(a + b, a) = 1/sqrt(2). One to one, X unit 1 must take Y's c (corr 0);
    # many to one, it may also take a.
    X = np.column_stack([A, A + B])
    Y = np.column_stack([A, C])
    result = neuron_matching(X, Y)
    np.testing.assert_allclose(result.correlation, [[1.0, 0.0], [1 / math.sqrt(2), 0.0]], atol=1e-12)
    np.testing.assert_array_equal(result.assignment, [0, 1])
    np.testing.assert_allclose(result.matched, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(result.max_correlation, [1.0, 1 / math.sqrt(2)], atol=1e-12)
    assert result.mean_matched == pytest.approx(0.5)
    assert result.mean_max == pytest.approx((1 + 1 / math.sqrt(2)) / 2)


# --------------------------------------------------------------------------- against the textbook


def test_equals_the_covariance_inverse_reference_on_random_data() -> None:
    X, Y = _related(np.random.default_rng(0))
    np.testing.assert_allclose(cca_correlations(X, Y).correlations, _reference_cca(X, Y), atol=1e-10)
    np.testing.assert_allclose(svcca(X, Y, keep=1.0).correlations, _reference_cca(X, Y), atol=1e-10)


def test_an_invertible_linear_map_of_x_has_all_correlations_one() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 6))
    result = cca_correlations(X, X @ _invertible(rng, 6) + 5.0)
    np.testing.assert_allclose(result.correlations, np.ones(6), atol=1e-10)
    assert pwcca(X, X @ _invertible(rng, 6)).similarity == pytest.approx(1.0)


# --------------------------------------------------------------------------- invariances


def test_cca_is_invariant_to_invertible_maps_where_cka_is_only_to_rotations() -> None:
    rng = np.random.default_rng(2)
    X, Y = _related(rng)
    MX, MY = _invertible(rng, X.shape[1]), _invertible(rng, Y.shape[1])
    base = cca_correlations(X, Y).correlations
    np.testing.assert_allclose(cca_correlations(X @ MX, Y @ MY).correlations, base, atol=1e-10)
    np.testing.assert_allclose(svcca(X @ MX, Y @ MY, keep=1.0).correlations, base, atol=1e-10)
    # PWCCA's weights come from X's units: invariant to any invertible map of Y, and to permuting,
    # sign-flipping and commonly scaling X's units.
    reference = pwcca(X, Y).similarity
    assert pwcca(X, Y @ MY).similarity == pytest.approx(reference, abs=1e-10)
    flips = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    assert pwcca(3.0 * X[:, ::-1] * flips, Y).similarity == pytest.approx(reference, abs=1e-10)
    # CKA: unchanged by a rotation, changed by a general invertible map.
    Q = ortho_group.rvs(X.shape[1], random_state=rng)
    assert linear_cka(X @ Q, Y) == pytest.approx(linear_cka(X, Y), abs=1e-10)
    assert abs(linear_cka(X @ MX, Y) - linear_cka(X, Y)) > 0.05


def test_svcca_with_its_default_keep_is_invariant_to_rotations_and_scale() -> None:
    rng = np.random.default_rng(3)
    X, Y = _related(rng)
    X = X * np.array([5.0, 3.0, 1.0, 0.3, 0.01])  # variances 25, 9, 1, 0.09, 1e-4: 35 of 35.09 > 99% in 3
    base = svcca(X, Y)
    assert base.kept_x == 3
    moved = svcca(7.0 * X @ ortho_group.rvs(5, random_state=rng) + 1.0, Y)
    assert moved.kept_x == 3
    np.testing.assert_allclose(moved.correlations, base.correlations, atol=1e-10)


def test_symmetry_of_cca_and_svcca_not_pwcca() -> None:
    X, Y = _related(np.random.default_rng(4), dx=5, dy=5)
    np.testing.assert_allclose(cca_correlations(X, Y).correlations, cca_correlations(Y, X).correlations,
                               atol=1e-12)
    assert svcca(X, Y).mean == pytest.approx(svcca(Y, X).mean, abs=1e-12)
    X2 = X * np.array([10.0, 1.0, 1.0, 1.0, 0.1])
    assert abs(pwcca(X2, Y).similarity - pwcca(Y, X2).similarity) > 1e-3


def test_permuted_units_are_matched_back_with_correlation_one() -> None:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 12)) @ rng.standard_normal((12, 12))  # correlated units: matching is not trivial
    perm = rng.permutation(12)
    result = neuron_matching(X, 2.0 * X[:, perm] + 1.0)
    np.testing.assert_array_equal(result.assignment, np.argsort(perm))  # Y unit j is X unit perm[j]
    np.testing.assert_allclose(result.matched, np.ones(12), atol=1e-12)
    assert result.mean_matched == pytest.approx(1.0) and result.mean_max == pytest.approx(1.0)


def test_more_units_in_x_than_in_y_leaves_some_unmatched() -> None:
    rng = np.random.default_rng(6)
    X = rng.standard_normal((100, 5))
    result = neuron_matching(X, X[:, [3, 0]])
    np.testing.assert_array_equal(result.assignment, [1, -1, -1, 0, -1])
    assert result.matched.shape == (2,) and result.max_correlation.shape == (5,)


# --------------------------------------------------------------------------- independent data and degeneracy


def test_independent_data_gives_small_correlations() -> None:
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((5000, 4)), rng.standard_normal((5000, 3))
    # Top canonical correlation of independent data ~ (sqrt(dx) + sqrt(dy)) / sqrt(n) = 0.053 here.
    assert cca_correlations(X, Y).correlations.max() < 0.1
    assert svcca(X, Y).mean < 0.1
    assert pwcca(X, Y).similarity < 0.1
    matching = neuron_matching(X, Y)
    assert np.abs(matching.correlation).max() < 0.1 and matching.mean_max < 0.1


def test_dead_and_duplicated_units_drop_out_of_the_rank() -> None:
    X, Y = _hand_pair()
    padded = np.column_stack([X, X[:, 0], np.full(8, 2.5), X[:, 1] - X[:, 0]])  # duplicate, dead, dependent
    result = cca_correlations(padded, Y)
    assert result.rank_x == 2
    np.testing.assert_allclose(result.correlations, [1.0, 0.5], atol=1e-12)
    matching = neuron_matching(padded, Y)
    assert matching.constant_x == 1 and matching.constant_y == 0
    np.testing.assert_array_equal(matching.correlation[3], [0.0, 0.0])  # the dead unit correlates with nothing


# --------------------------------------------------------------------------- validation


def test_validation_errors_name_the_problem_and_the_fix() -> None:
    X, Y = _hand_pair()
    for fn in (cca_correlations, svcca, pwcca, neuron_matching):
        with pytest.raises(ValueError, match="same inputs"):
            fn(X, Y[:6])
        with pytest.raises(ValueError, match="constant"):
            fn(np.ones((8, 2)), Y)
        with pytest.raises(ValueError, match="NaN"):
            fn(np.where(np.eye(8, 2) > 0, np.nan, X), Y)
    rng = np.random.default_rng(8)
    wide_x, wide_y = rng.standard_normal((20, 15)), rng.standard_normal((20, 10))
    for fn in (cca_correlations, pwcca):
        with pytest.raises(ValueError, match="dimension count alone"):
            fn(wide_x, wide_y)
    with pytest.raises(ValueError, match="Keep fewer directions"):
        svcca(wide_x, wide_y, keep=1.0)
    assert svcca(wide_x, wide_y, n_components=3).kept_x == 3  # reducing first makes it well posed
    for keep in (0.0, 1.5, True, "all"):
        with pytest.raises(ValueError, match="keep must be"):
            svcca(X, Y, keep=keep)
    with pytest.raises(ValueError, match="n_components must be"):
        svcca(X, Y, n_components=0)
    with pytest.raises(ValueError, match="only 2 non-degenerate"):
        svcca(X, Y, n_components=3)


def test_results_export_to_json() -> None:
    import json

    X, Y = _hand_pair()
    for result in (cca_correlations(X, Y), svcca(X, Y), pwcca(X, Y), neuron_matching(X, Y)):
        json.dumps(result.to_dict(), allow_nan=False)
        assert all(math.isfinite(v) for v in result.scalars().values())


def test_cca_matrices_equal_the_pairwise_metrics_and_name_a_bad_layer() -> None:
    from analysis.metrics.cca import cca_matrices

    rng = np.random.default_rng(9)
    X, Y = _related(rng, n=150)
    Z = np.tanh(X @ rng.standard_normal((5, 7)))
    reps = [X, Y, Z]
    calls: list[float] = []
    sv, pw = cca_matrices(reps, progress=lambda fraction, message: calls.append(fraction))
    for i, a in enumerate(reps):
        for j, b in enumerate(reps):
            assert sv[i, j] == pytest.approx(svcca(a, b).mean, abs=1e-12)
            assert pw[i, j] == pytest.approx(pwcca(a, b).similarity, abs=1e-12)
    np.testing.assert_allclose(np.diag(sv), 1.0, atol=1e-10)
    np.testing.assert_allclose(sv, sv.T, atol=1e-12)  # SVCCA is symmetric, PWCCA need not be
    assert len(calls) == 9 and calls[-1] == 1.0  # 3 SVDs and 6 unordered pairs
    sv2, pw2 = cca_matrices([X], [Y, Z], keep=1.0)
    assert sv2.shape == (1, 2) and sv2[0, 0] == pytest.approx(cca_correlations(X, Y).mean, abs=1e-12)
    with pytest.raises(ValueError, match="dead is constant"):
        cca_matrices([X, np.ones((150, 3))], names_a=["h1", "dead"])
    with pytest.raises(ValueError, match="same inputs"):
        cca_matrices([X], [Y[:100]], names_a=["a"], names_b=["b"])
