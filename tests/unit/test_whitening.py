"""Whitening and isotropy remedies (issue 19 section 3): PCA/ZCA whitening, all-but-the-top, Zipfian whitening."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import sqrtm
from scipy.stats import ortho_group

from analysis.metrics import all_but_the_top, pca_whitening, zca_whitening, zipfian_whitening
from analysis.metrics.whitening import compare_whitening, whiten


def _correlated(n: int = 200, d: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) * np.linspace(3.0, 0.2, d)[:, None]
    return rng.normal(size=(n, d)) @ mixing + rng.normal(size=d) * 5.0


def _cov(Z: np.ndarray, p: np.ndarray | None = None) -> np.ndarray:
    if p is None:
        return np.cov(Z, rowvar=False, bias=True)
    centred = Z - p @ Z
    return (centred * p[:, None]).T @ centred


@pytest.mark.parametrize("fit", [pca_whitening, zca_whitening])
def test_whitened_covariance_is_the_identity_and_mean_zero(fit) -> None:
    X = _correlated()
    Z = fit(X).transformed
    np.testing.assert_allclose(_cov(Z), np.eye(5), atol=1e-10)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-10)


def test_zca_is_the_symmetric_inverse_square_root_of_the_covariance() -> None:
    X = _correlated()
    t = zca_whitening(X)
    np.testing.assert_allclose(t.matrix, t.matrix.T, atol=1e-12)
    # An independent square root (scipy's Schur method), not the eigendecomposition used inside.
    np.testing.assert_allclose(t.matrix, np.linalg.inv(sqrtm(_cov(X)).real), rtol=1e-8, atol=1e-10)


def test_zca_stays_closest_to_x_among_whitenings() -> None:
    """Kessy et al. 2018: ZCA maximises tr Cov(Z, X) and minimises E||x - mu - z||^2; PCA whitening does not."""
    X = _correlated(d=4, seed=3)
    centred = X - X.mean(axis=0)

    def cross(Z: np.ndarray) -> float:
        return float(np.trace(Z.T @ centred / len(X)))

    zca, pca = zca_whitening(X).transformed, pca_whitening(X).transformed
    assert cross(zca) > cross(pca)
    assert np.mean(np.sum((centred - zca) ** 2, axis=1)) < np.mean(np.sum((centred - pca) ** 2, axis=1))
    # Any other whitening Q Z_zca (Q orthogonal) has a smaller cross-covariance trace.
    for seed in range(5):
        Q = ortho_group.rvs(4, random_state=seed)
        assert cross(zca @ Q) <= cross(zca) + 1e-12


def test_pca_and_zca_differ_by_a_rotation() -> None:
    X = _correlated()
    pca, zca = pca_whitening(X), zca_whitening(X)
    rotation = np.linalg.lstsq(pca.transformed, zca.transformed, rcond=None)[0]
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(5), atol=1e-10)
    np.testing.assert_allclose(pca.transformed @ rotation, zca.transformed, atol=1e-10)


def test_rotation_equivariance_and_translation_invariance() -> None:
    X = _correlated()
    R = ortho_group.rvs(5, random_state=1)
    shift = np.arange(5.0) * 100
    np.testing.assert_allclose(zca_whitening(X @ R).transformed, zca_whitening(X).transformed @ R, atol=1e-9)
    np.testing.assert_allclose(all_but_the_top(X @ R, n_components=2).transformed,
                               all_but_the_top(X, n_components=2).transformed @ R, atol=1e-9)
    # PCA whitening forgets the rotation (up to each column's sign).
    a, b = pca_whitening(X @ R).transformed, pca_whitening(X).transformed
    np.testing.assert_allclose(np.abs(a), np.abs(b), atol=1e-9)
    for fit in (pca_whitening, zca_whitening, all_but_the_top):
        np.testing.assert_allclose(fit(X + shift).transformed, fit(X).transformed, atol=1e-9)


@pytest.mark.parametrize("scale", [1e-150, 1e150])
def test_zca_is_scale_free_at_any_magnitude(scale: float) -> None:
    X = _correlated(n=50, d=3)
    np.testing.assert_allclose(zca_whitening(X * scale).transformed, zca_whitening(X).transformed, atol=1e-9)


def test_all_but_the_top_by_hand() -> None:
    """A long axis and a short one: removing D = 1 direction leaves only the short axis, mean zero."""
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.1], [0.0, -0.1]]) + [3.0, -2.0]
    t = all_but_the_top(X, n_components=1)
    np.testing.assert_allclose(t.mean, [3.0, -2.0], atol=1e-15)
    np.testing.assert_allclose(t.transformed, [[0, 0], [0, 0], [0, 0.1], [0, -0.1]], atol=1e-12)
    np.testing.assert_allclose(t.matrix, [[0, 0], [0, 1]], atol=1e-12)  # I - e1 e1^T
    assert t.n_removed == 1


def test_all_but_the_top_output_is_orthogonal_to_the_removed_directions() -> None:
    X = _correlated(n=300, d=8)
    t = all_but_the_top(X, n_components=3)
    centred = X - X.mean(axis=0)
    top = np.linalg.svd(centred, full_matrices=False)[2][:3]  # the top 3 principal directions, independently
    np.testing.assert_allclose(t.transformed @ top.T, 0.0, atol=1e-9)
    np.testing.assert_allclose(t.transformed.mean(axis=0), 0.0, atol=1e-10)
    # The other directions are untouched: projecting the centred X off the top 3 gives the same.
    np.testing.assert_allclose(t.transformed, centred - centred @ top.T @ top, atol=1e-9)


@pytest.mark.parametrize(("d", "expected"), [(32, 1), (160, 2), (260, 3)])
def test_all_but_the_top_removes_d_over_100_directions_by_default(d: int, expected: int) -> None:
    X = np.random.default_rng(0).normal(size=(20, d))
    assert all_but_the_top(X).n_removed == expected


def test_weighted_mean_and_covariance_by_hand() -> None:
    """Three points, p = (1/2, 1/4, 1/4): mu_p = (0.5, 1), Sigma_p = [[0.75, -0.5], [-0.5, 3]] (worked by hand)."""
    X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    hand = np.array([[0.75, -0.5], [-0.5, 3.0]])
    for frequencies in ([0.5, 0.25, 0.25], [2, 1, 1]):  # probabilities or counts: the same
        t = zipfian_whitening(X, frequencies)
        np.testing.assert_allclose(t.mean, [0.5, 1.0], atol=1e-15)
        np.testing.assert_allclose(t.matrix.T @ hand @ t.matrix, np.eye(2), atol=1e-12)
        p = np.array([0.5, 0.25, 0.25])
        np.testing.assert_allclose(p @ t.transformed, 0.0, atol=1e-12)
        np.testing.assert_allclose(_cov(t.transformed, p), np.eye(2), atol=1e-12)
        # Eigenvalues of Sigma_p: trace 3.75, determinant 2.0, so shares (3.75 +- sqrt(6.0625)) / 7.5.
        np.testing.assert_allclose(t.variance_ratio, [(3.75 + 6.0625**0.5) / 7.5, (3.75 - 6.0625**0.5) / 7.5])


def test_zipfian_with_uniform_weights_is_plain_whitening() -> None:
    X = _correlated()
    uniform = np.full(len(X), 3.0)
    np.testing.assert_allclose(zipfian_whitening(X, uniform, form="zca").transformed,
                               zca_whitening(X).transformed, atol=1e-9)
    np.testing.assert_allclose(zipfian_whitening(X, uniform).transformed, pca_whitening(X).transformed, atol=1e-9)
    unweighted = zipfian_whitening(X)
    np.testing.assert_allclose(unweighted.transformed, pca_whitening(X).transformed, atol=1e-12)
    assert any("uniform weights" in note for note in unweighted.notes)


def test_zipfian_weighting_moves_the_mean_towards_frequent_items() -> None:
    X = _correlated(n=100, d=3)
    counts = np.ones(100)
    counts[0] = 1000.0
    t = zipfian_whitening(X, counts)
    assert np.linalg.norm(t.mean - X[0]) < np.linalg.norm(X.mean(axis=0) - X[0])


def test_fit_on_some_rows_apply_to_others() -> None:
    X = _correlated(n=300)
    train, test = X[:200], X[200:]
    t = zca_whitening(train)
    np.testing.assert_allclose(t.apply(train), t.transformed, atol=1e-12)
    np.testing.assert_allclose(t.apply(test), (test - train.mean(axis=0)) @ t.matrix, atol=1e-12)
    transform, Z = whiten(X, method="zca", fit_rows=np.arange(200))
    np.testing.assert_allclose(Z[200:], t.apply(test), atol=1e-12)
    np.testing.assert_allclose(_cov(Z[:200]), np.eye(5), atol=1e-10)  # identity on the fit rows only
    with pytest.raises(ValueError, match="features"):
        t.apply(test[:, :3])


def test_rank_deficient_x_drops_or_zeroes_the_null_directions() -> None:
    base = _correlated(n=100, d=3)
    X = np.c_[base, base[:, 0] + base[:, 1]]  # 4 columns, rank 3
    pca, zca = pca_whitening(X), zca_whitening(X)
    assert pca.rank == zca.rank == 3 and pca.n_features_out == 3 and zca.n_features_out == 4
    np.testing.assert_allclose(_cov(pca.transformed), np.eye(3), atol=1e-9)
    projector = _cov(zca.transformed)
    np.testing.assert_allclose(projector @ projector, projector, atol=1e-9)  # identity on the span, 0 off it
    assert np.trace(projector) == pytest.approx(3.0)
    assert any("1 of 4 directions have zero variance" in note for note in pca.notes)


def test_eps_shrinks_each_variance_by_lambda_over_lambda_plus_eps() -> None:
    X = _correlated()
    lam = np.linalg.eigvalsh(_cov(X))[::-1]
    t = pca_whitening(X, eps=0.1)
    np.testing.assert_allclose(np.diag(_cov(t.transformed)), lam / (lam + 0.1 * lam.mean()), rtol=1e-9)
    assert any("eps = 0.1" in note for note in t.notes)


@pytest.mark.parametrize(("call", "message"), [
    (lambda X: pca_whitening(np.where(np.arange(5) == 2, np.nan, X)), "NaN"),
    (lambda X: zca_whitening(X[:1]), "at least 2 samples"),
    (lambda X: zca_whitening(np.ones_like(X)), "identical rows"),
    (lambda X: zca_whitening(X, eps=-1.0), "eps must be"),
    (lambda X: zipfian_whitening(X, -np.ones(len(X))), "non-negative"),
    (lambda X: zipfian_whitening(X, np.ones(len(X) - 1)), "one weight per row"),
    (lambda X: zipfian_whitening(X, np.eye(len(X))[0]), "fewer than 2 rows"),
    (lambda X: zipfian_whitening(X, np.ones(len(X)), form="cholesky"), "form must be"),
    (lambda X: all_but_the_top(X, n_components=5), "n_components"),
    (lambda X: whiten(X, method="spectral"), "method must be"),
])
def test_bad_input_says_what_and_how_to_fix(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(_correlated(n=20))


def _clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes far apart along stretched axes, sitting far from the origin (a narrow cone)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), 30)
    X = 5.0 * np.eye(3, 6)[labels] + rng.normal(size=(90, 6)) * [1, 1, 1, 0.2, 0.2, 0.2] + 20.0
    return X, labels


def test_compare_whitening_before_and_after() -> None:
    X, labels = _clusters()
    result = compare_whitening(X, labels, methods=("none", "pca", "zca", "abtt"), k=5)
    none, pca, zca = result.row("none"), result.row("pca"), result.row("zca")
    assert none["mean_cosine"] > 0.9  # every row near (20, ..., 20): a narrow cone
    assert abs(pca["mean_cosine"]) < 0.05  # centred: directions spread around the origin
    assert pca["iso_score"] == pytest.approx(1.0) and pca["effective_rank"] == pytest.approx(6.0)
    assert none["knn_accuracy"] == 1.0 and pca["knn_accuracy"] > 0.9  # well separated classes
    # PCA and ZCA differ by a rotation, so the table measures once for both: a ZCA measured alone agrees.
    alone = compare_whitening(X, labels, methods=("zca",), k=5).row("zca")
    for column in ("iso_score", "mean_cosine", "uniformity", "alignment", "knn_accuracy", "effective_rank"):
        assert zca[column] == pca[column] == pytest.approx(alone[column], abs=1e-9), column
    assert result.table["n_features_out"].to_list() == [6, 6, 6, 6]
    # A baseline measured elsewhere is taken as given for the "none" row.
    given = compare_whitening(X, labels, methods=("none",), k=5, baseline={"iso_score": 0.5, "uniformity": -1.0})
    assert given.row("none")["iso_score"] == 0.5 and given.row("none")["knn_accuracy"] == 1.0


def test_compare_whitening_alignment_of_paired_views_uses_the_same_map() -> None:
    X, _ = _clusters()
    views = X + np.random.default_rng(1).normal(scale=0.01, size=X.shape)
    result = compare_whitening(X, methods=("none", "zca"), y=views)
    assert result.row("none")["knn_accuracy"] is None  # no labels, no kNN accuracy
    transform, Z = whiten(X, method="zca")
    U = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    V = transform.apply(views)
    V = V / np.linalg.norm(V, axis=1, keepdims=True)
    assert result.row("zca")["alignment"] == pytest.approx(np.mean(np.sum((U - V) ** 2, axis=1)))


def test_compare_whitening_fits_on_the_given_rows() -> None:
    X, labels = _clusters()
    result = compare_whitening(X, labels, methods=("pca",), fit_rows=np.arange(0, 90, 2), k=3)
    assert result.n_fit == 45
    assert 0.0 < result.row("pca")["iso_score"] < 1.0  # whitened on half the rows: all rows are not exactly white


def test_rank_deficient_pca_and_zca_are_measured_apart() -> None:
    """With a dropped direction PCA has fewer columns than ZCA, so IsoScore (which counts d) differs: no sharing."""
    X, labels = _clusters()
    X = np.c_[X, X[:, 0]]
    result = compare_whitening(X, labels, methods=("pca", "zca"), k=5)
    assert result.table["n_features_out"].to_list() == [6, 7]
    assert result.row("pca")["iso_score"] == pytest.approx(1.0)
    assert result.row("zca")["iso_score"] == pytest.approx(5 / 6)  # 6 of 7 directions equally: (6 - 1) / (7 - 1)
    assert result.row("zca")["knn_accuracy"] == result.row("pca")["knn_accuracy"]  # the same distances
