"""Unit tests for analysis.metrics.neural_collapse (Papyan, Han & Donoho 2020).

Expected values come from hand calculations (written out in the comments) or
from `reference`, a deliberately plain numpy implementation of the formulas
of DESIGN.md section 3: class means by a loop over classes, Sigma_W as an
explicit sum of outer products, the pseudo-inverse of Sigma_B from `eigh`
keeping its top min(C-1, rank) eigenpairs, the CDNV by a loop over pairs.

`test_does_not_modify_float64_features` pins a bug these tests found: the
accumulator once shifted float64 input in place (a view of the caller's
array). Tests about the first-pass quantities pass ``X.copy()`` so that they
test only what they name.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group, rankdata

from analysis.metrics import neural_collapse
from analysis.metrics.neural_collapse import (
    NeuralCollapse,
    check_class_labels,
    simplex_etf_gram,
)

# The scalars that are invariant to rotation, translation and uniform scaling.
GEOMETRIC = (
    "nc1", "nc1_trace_quotient", "cdnv", "nc2_equinorm", "nc2_equiangular",
    "nc2_max_angle", "etf_distance",
)  # fmt: skip


# --------------------------------------------------------------------------- helpers


def etf_gram(C: int) -> np.ndarray:
    """(I - 11^T/C) / sqrt(C-1), written out independently of simplex_etf_gram."""
    return (np.eye(C) - np.ones((C, C)) / C) / np.sqrt(C - 1)


def reference(X, y, W=None, b=None) -> dict:
    """Straightforward float64 implementation of every scalar, for comparison."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n, d = X.shape
    C = int(y.max()) + 1 if W is None else W.shape[0]
    counts = np.array([np.sum(y == c) for c in range(C)])
    means = np.zeros((C, d))
    for c in range(C):
        total = np.zeros(d)
        for i in np.flatnonzero(y == c):
            total += X[i]
        means[c] = total / counts[c]
    mu_G = means.mean(axis=0)
    M = (means - mu_G).T  # d x C

    per_class_scatter = np.zeros((C, d, d))
    for i in range(n):
        r = X[i] - means[y[i]]
        per_class_scatter[y[i]] += np.outer(r, r)
    sigma_w = per_class_scatter.sum(axis=0) / n
    sigma_b = M @ M.T / C

    eigenvalues, vectors = np.linalg.eigh(sigma_b)
    order = np.argsort(eigenvalues)[::-1]
    rank = min(C - 1, int(np.linalg.matrix_rank(sigma_b, hermitian=True)))
    lam, V = eigenvalues[order][:rank], vectors[:, order][:, :rank]
    pinv_b = V @ np.diag(1.0 / lam) @ V.T

    nc1 = np.trace(sigma_w @ pinv_b) / C
    class_terms = np.array([np.trace(per_class_scatter[c] / n @ pinv_b) for c in range(C)])

    variances = np.array(
        [np.mean([np.sum((X[i] - means[c]) ** 2) for i in np.flatnonzero(y == c)]) for c in range(C)]
    )
    cdnv_terms = []
    for c in range(C):
        for c2 in range(C):
            if c != c2:
                cdnv_terms.append(
                    (variances[c] + variances[c2]) / (2 * np.sum((means[c] - means[c2]) ** 2))
                )

    norms = np.array([np.linalg.norm(M[:, c]) for c in range(C)])
    cosines = [
        M[:, c] @ M[:, c2] / (norms[c] * norms[c2])
        for c in range(C)
        for c2 in range(C)
        if c != c2
    ]
    G = M.T @ M
    U = means @ means.T
    D = np.diag(np.diag(U))
    uncentred_norms = np.linalg.norm(means, axis=1)
    spearman = None
    if len(set(counts.tolist())) > 1:
        spearman = float(np.corrcoef(rankdata(counts), rankdata(uncentred_norms))[0, 1])

    nearest = np.array([np.argmin([np.sum((x - m) ** 2) for m in means]) for x in X])
    out = {
        "nc1": nc1,
        "nc1_trace_quotient": np.trace(sigma_w) / np.trace(sigma_b),
        "cdnv": np.mean(cdnv_terms),
        "nc2_equinorm": np.std(norms, ddof=1) / np.mean(norms),
        "nc2_equiangular": np.std(cosines),
        "nc2_max_angle": np.mean(np.abs(np.array(cosines) + 1.0 / (C - 1))),
        "etf_distance": np.linalg.norm(G / np.linalg.norm(G) - etf_gram(C)),
        "orthogonal_frame_distance": np.linalg.norm(U / np.linalg.norm(U) - D / np.linalg.norm(D)),
        "size_norm_spearman": spearman,
        "ncc_accuracy": np.mean(nearest == y),
        "nc1_class_share": class_terms / class_terms.sum(),
        "class_means": means,
        "class_variances": variances,
        "class_counts": counts,
        "sigma_b_rank": rank,
        "nc3": None,
        "nc4": None,
    }
    if W is not None:
        out["nc3"] = np.linalg.norm(W.T / np.linalg.norm(W) - M / np.linalg.norm(M)) ** 2
        scores = X @ W.T + (0.0 if b is None else b)
        out["nc4"] = np.mean(nearest != np.argmax(scores, axis=1))
    return out


def mixture(seed: int, C: int, d: int, *, n_per_class=(3, 40), spread=1.0):
    """Gaussian mixture with unequal class sizes and class-dependent spread, rows shuffled."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(n_per_class[0], n_per_class[1], size=C)
    y = np.repeat(np.arange(C), counts)
    centres = rng.normal(scale=3.0, size=(C, d))
    scales = rng.uniform(0.3, 1.5, size=C) * spread
    X = centres[y] + rng.normal(size=(y.size, d)) * scales[y, None]
    perm = rng.permutation(y.size)
    return X[perm], y[perm]


def simplex_vertices(C: int) -> np.ndarray:
    """C unit vectors in R^(C-1) with pairwise cosine -1/(C-1), centred at 0."""
    E = np.sqrt(C / (C - 1)) * (np.eye(C) - np.ones((C, C)) / C)  # rows in R^C
    _, _, Vt = np.linalg.svd(E)
    return E @ Vt[: C - 1].T


def assert_scalars_close(result: NeuralCollapse, expected: dict, names, *, rel=1e-9, abs=1e-12):
    for name in names:
        assert getattr(result, name) == pytest.approx(expected[name], rel=rel, abs=abs), name


# --------------------------------------------------------------------------- hand-computed values


def _etf_case(means: np.ndarray, counts, *, scale=1.0, with_bias=True):
    C = means.shape[0]
    y = np.repeat(np.arange(C), counts)
    X = means[y]
    mu_G = means.mean(axis=0)
    W = scale * (means - mu_G)  # rows = centred class means
    bias = -W @ mu_G if with_bias else None
    return X, y, W, bias


def _assert_perfect_collapse(result: NeuralCollapse):
    for name in GEOMETRIC + ("nc3", "nc4"):
        assert getattr(result, name) == pytest.approx(0.0, abs=1e-10), name
    assert result.ncc_accuracy == 1.0
    np.testing.assert_allclose(result.nc1_class_share, 0.0)


def test_triangle_etf_in_the_plane_without_bias():
    # C=3 in 2-D, centred at the origin, so mu_G = 0 and no bias is needed.
    angles = np.deg2rad([90.0, 210.0, 330.0])
    means = 2.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    X, y, W, _ = _etf_case(means, [4, 4, 4], scale=0.7, with_bias=False)
    result = neural_collapse(X, y, classifier=W)
    _assert_perfect_collapse(result)
    np.testing.assert_allclose(result.gram, etf_gram(3), atol=1e-12)
    np.testing.assert_allclose(result.class_mean_norms, [2.0, 2.0, 2.0])
    assert result.sigma_b_rank == 2 and result.n_classes == 3 and result.n_features == 2


def test_tetrahedron_etf_with_unbalanced_counts_and_bias():
    # C=4 in 3-D, translated. Unbalanced counts make the sample mean differ
    # from mu_G (the mean of the class means): only the latter gives an ETF.
    means = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float) + [5.0, -2.0, 3.0]
    X, y, W, bias = _etf_case(means, [2, 7, 3, 11], scale=4.0)
    assert not np.allclose(X.mean(axis=0), means.mean(axis=0))
    result = neural_collapse(X, y, classifier=W, bias=bias)
    _assert_perfect_collapse(result)
    np.testing.assert_array_equal(result.class_counts, [2, 7, 3, 11])
    assert result.sigma_b_rank == 3


def test_rotated_translated_five_class_etf_in_eight_dims():
    C, d = 5, 8
    base = np.hstack([simplex_vertices(C), np.zeros((C, d - (C - 1)))])
    Q = ortho_group.rvs(d, random_state=7)
    means = 3.0 * base @ Q + np.random.default_rng(7).normal(scale=10.0, size=d)
    X, y, W, bias = _etf_case(means, [3, 1, 4, 1, 5], scale=0.01)
    result = neural_collapse(X, y, classifier=W, bias=bias)
    _assert_perfect_collapse(result)
    assert result.sigma_b_rank == C - 1
    np.testing.assert_allclose(result.gram, simplex_etf_gram(C), atol=1e-12)


def test_paper_example_balanced_one_dimensional():
    # Class 0 = {0, 2}, class 1 = {10, 12}: mu = 1, 11; mu_G = 6; M = [-5, 5].
    # Sigma_W = (1+1+1+1)/4 = 1; Sigma_B = (25+25)/2 = 25.
    # nc1 = (1/25)/2 = 0.02; trace quotient = 1/25; Var_c = 1, ||mu_0 - mu_1||^2 = 100,
    # cdnv = (1+1)/(2*100) = 0.01.
    X = np.array([[0.0], [2.0], [10.0], [12.0]])
    y = np.array([0, 0, 1, 1])
    result = neural_collapse(X, y)
    assert result.nc1 == pytest.approx(0.02, rel=1e-12)
    assert result.nc1_trace_quotient == pytest.approx(0.04, rel=1e-12)
    assert result.cdnv == pytest.approx(0.01, rel=1e-12)
    for name in ("nc2_equinorm", "nc2_equiangular", "nc2_max_angle", "etf_distance"):
        assert getattr(result, name) == pytest.approx(0.0, abs=1e-12), name
    np.testing.assert_allclose(result.class_means, [[1.0], [11.0]])
    np.testing.assert_allclose(result.class_variances, [1.0, 1.0])
    np.testing.assert_allclose(result.nc1_class_share, [0.5, 0.5])
    assert result.ncc_accuracy == 1.0
    assert result.nc3 is None and result.nc4 is None
    assert result.size_norm_spearman is None  # equal class sizes
    # Uncentred Gram [[1, 11], [11, 121]], ||.||_F = 122; its diagonal has norm sqrt(14642).
    G, D = np.array([[1.0, 11.0], [11.0, 121.0]]), np.diag([1.0, 121.0])
    assert result.orthogonal_frame_distance == pytest.approx(
        np.linalg.norm(G / 122.0 - D / np.sqrt(14642.0)), rel=1e-12
    )


def test_unbalanced_one_dimensional_sigma_w_averages_over_samples():
    # Class 0 = {0, 2} (mean 1, Var 1), class 1 = {8, 14, 8, 14} (mean 11, Var 9).
    # Sigma_W = (2*1 + 4*9)/6 = 19/3 (per-class averaging would give 5);
    # mu_G = 6 (the sample mean would be 23/3); Sigma_B = 25.
    # nc1 = (19/3)/25/2 = 19/150; trace quotient 19/75; cdnv = (1+9)/200 = 0.05.
    # Shares: class 0 contributes (1/6)(1+1)/25 = 1/75 of C nc1 = 19/75 -> 1/19.
    X = np.array([[0.0], [2.0], [8.0], [14.0], [8.0], [14.0]])
    y = np.array([0, 0, 1, 1, 1, 1])
    result = neural_collapse(X, y)
    assert result.nc1 == pytest.approx(19 / 150, rel=1e-12)
    assert result.nc1_trace_quotient == pytest.approx(19 / 75, rel=1e-12)
    assert result.cdnv == pytest.approx(0.05, rel=1e-12)
    np.testing.assert_allclose(result.nc1_class_share, [1 / 19, 18 / 19], rtol=1e-12)
    np.testing.assert_allclose(result.class_mean_norms, [5.0, 5.0])
    assert result.ncc_accuracy == 1.0
    assert result.size_norm_spearman == pytest.approx(1.0)  # bigger class, longer mean


def test_square_closed_forms():
    # Four classes at +-e1, +-e2 (a square: centred means span 2 < C-1 = 3 directions).
    # Each class: its mean +-0.1 e1 and +-0.1 e2 -> Var_c = 0.01, Sigma_W = 0.005 I,
    # Sigma_B = I/2, so nc1 = Tr(0.005 I * 2 I)/4 = 0.005 and trace quotient 0.01/1.
    # cdnv: 8 ordered adjacent pairs 0.02/(2*2), 4 opposite 0.02/(2*4) -> 1/240.
    # Cosines: 8 zeros and 4 of -1: equiangular std sqrt(2)/3, max-angle
    # (8 * 1/3 + 4 * 2/3)/12 = 4/9, and etf_distance^2 = 2 - 2 <G/|G|, E> = 2 - 4/sqrt(6).
    means = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    offsets = 0.1 * np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    X = (means[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    y = np.repeat(np.arange(4), 4)
    result = neural_collapse(X, y)
    assert result.sigma_b_rank == 2
    assert result.nc1 == pytest.approx(0.005, rel=1e-10)
    assert result.nc1_trace_quotient == pytest.approx(0.01, rel=1e-10)
    assert result.cdnv == pytest.approx(1 / 240, rel=1e-10)
    assert result.nc2_equinorm == pytest.approx(0.0, abs=1e-12)
    assert result.nc2_equiangular == pytest.approx(np.sqrt(2) / 3, rel=1e-12)
    assert result.nc2_max_angle == pytest.approx(4 / 9, rel=1e-12)
    assert result.etf_distance == pytest.approx(np.sqrt(2 - 4 / np.sqrt(6)), rel=1e-12)


def test_nc4_and_ncc_accuracy_known_counts():
    # 1-D. Class 0 = {0, 0, 0, 8} (mean 2), class 1 = {10, 10, 10, 2} (mean 8).
    # The nearest mean is class 1 above 5: rows 3 (x=8, class 0) and 7 (x=2,
    # class 1) sit nearer the other class -> ncc_accuracy = 6/8.
    X = np.array([[0.0], [0.0], [0.0], [8.0], [10.0], [10.0], [10.0], [2.0]])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    nearest = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    assert neural_collapse(X, y).ncc_accuracy == 0.75
    assert neural_collapse(X, y, predictions=y).nc4 == pytest.approx(2 / 8)
    assert neural_collapse(X, y, predictions=nearest).nc4 == 0.0
    # W x + b with W = [-1, 1], b = [9, -9] predicts class 1 only above 9: it
    # disagrees with the nearest mean on x = 8 alone.
    W, b = np.array([[-1.0], [1.0]]), np.array([9.0, -9.0])
    assert neural_collapse(X, y, classifier=W, bias=b).nc4 == pytest.approx(1 / 8)
    # Predictions, when given, win over the classifier's own argmax.
    assert neural_collapse(X, y, classifier=W, bias=b, predictions=nearest).nc4 == 0.0


@pytest.mark.parametrize("k", [0, 1, 5, 17])
def test_nc4_counts_flipped_predictions(k):
    X, y, W, bias = _etf_case(simplex_vertices(4), [10, 10, 10, 10])
    rng = np.random.default_rng(k)
    X = X + rng.normal(scale=0.01, size=X.shape)
    predictions = y.copy()
    flipped = rng.choice(y.size, size=k, replace=False)
    predictions[flipped] = (predictions[flipped] + 1) % 4
    result = neural_collapse(X, y, classifier=W, bias=bias, predictions=predictions)
    assert result.nc4 == pytest.approx(k / 40)
    assert result.ncc_accuracy == 1.0


def test_orthogonal_frame_unit_lengths_is_an_etf():
    # Centred standard basis: (e_c - 1/C)^T (e_c' - 1/C) = delta - 1/C, so
    # M^T M = I - 11^T/C exactly: etf_distance 0, and the uncentred means are orthogonal.
    C = 5
    X = np.repeat(np.eye(C), 3, axis=0)
    result = neural_collapse(X, np.repeat(np.arange(C), 3))
    assert result.etf_distance == pytest.approx(0.0, abs=1e-12)
    assert result.orthogonal_frame_distance == pytest.approx(0.0, abs=1e-12)


def test_orthogonal_frame_with_unequal_lengths_closed_form():
    # Means a_c e_c (C=3, in 4-D). With S = sum a^2, the centred Gram is
    # G_cc' = a_c^2 delta_cc' - (a_c^2 + a_c'^2)/C + S/C^2.
    a = np.array([1.0, 2.0, 3.0])
    C, counts = 3, [2, 3, 5]
    means = np.hstack([np.diag(a), np.zeros((C, 1))])
    y = np.repeat(np.arange(C), counts)
    result = neural_collapse(means[y], y)
    S = np.sum(a**2)
    G = np.diag(a**2) - (a[:, None] ** 2 + a[None, :] ** 2) / C + S / C**2
    assert result.etf_distance == pytest.approx(
        np.linalg.norm(G / np.linalg.norm(G) - etf_gram(C)), rel=1e-10
    )
    assert result.etf_distance > 0.05
    assert result.orthogonal_frame_distance == pytest.approx(0.0, abs=1e-12)
    assert result.size_norm_spearman == pytest.approx(1.0)
    np.testing.assert_allclose(result.class_mean_norms_uncentred, a)
    # Reverse the sizes: the norms now fall as the classes grow.
    y_rev = np.repeat(np.arange(C), counts[::-1])
    assert neural_collapse(means[y_rev], y_rev).size_norm_spearman == pytest.approx(-1.0)
    # Equal sizes: undefined.
    y_eq = np.repeat(np.arange(C), 4)
    assert neural_collapse(means[y_eq], y_eq).size_norm_spearman is None


def test_non_orthogonal_uncentred_means_are_far_from_the_frame():
    X, y, *_ = _etf_case(simplex_vertices(3) + [4.0, 0.0], [2, 2, 2])
    assert neural_collapse(X, y).orthogonal_frame_distance > 0.1


def test_simplex_etf_gram_properties():
    for C in (2, 3, 7):
        G = simplex_etf_gram(C)
        np.testing.assert_allclose(G, etf_gram(C))
        assert np.linalg.norm(G) == pytest.approx(1.0)
        cos = G / np.sqrt(np.outer(np.diag(G), np.diag(G)))
        np.testing.assert_allclose(cos[~np.eye(C, dtype=bool)], -1.0 / (C - 1))
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        simplex_etf_gram(1)


def test_check_class_labels():
    codes, C = check_class_labels(np.array([1.0, 0.0, 2.0, 1.0]), 4)
    assert codes.dtype == np.int64 and C == 3
    np.testing.assert_array_equal(codes, [1, 0, 2, 1])
    assert check_class_labels(np.array([0, 1, 1], dtype=np.uint8), 3, n_classes=2)[1] == 2
    with pytest.raises(ValueError, match="class 2 has no samples"):
        check_class_labels(np.array([0, 1, 1]), 3, n_classes=3)
    with pytest.raises(ValueError, match="negative codes"):
        check_class_labels(np.array([0, -1, 1]), 3)


# --------------------------------------------------------------------------- reference agreement

CASES = [(2, 1), (2, 5), (3, 1), (3, 6), (10, 3), (10, 15)]  # d < C-1 and d > C included


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("C", "d"), CASES)
def test_matches_reference_first_pass(C, d, seed):
    X, y = mixture(seed, C, d)
    W = np.random.default_rng(seed + 100).normal(size=(C, d))
    expected = reference(X, y, W)
    result = neural_collapse(X.copy(), y, classifier=W)
    assert_scalars_close(
        result, expected, GEOMETRIC + ("nc3", "orthogonal_frame_distance", "size_norm_spearman")
    )
    assert result.sigma_b_rank == expected["sigma_b_rank"] == min(C - 1, d)
    np.testing.assert_allclose(result.class_means, expected["class_means"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.class_variances, expected["class_variances"], rtol=1e-10)
    np.testing.assert_array_equal(result.class_counts, expected["class_counts"])
    assert (result.n_samples, result.n_features, result.n_classes) == (y.size, d, C)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("C", "d"), CASES)
def test_matches_reference_second_pass(C, d, seed):
    # Nearest class mean, classifier agreement and each class's share of NC1.
    X, y = mixture(seed, C, d, spread=2.0)
    rng = np.random.default_rng(seed + 200)
    W, b = rng.normal(size=(C, d)), rng.normal(size=C)
    expected = reference(X, y, W, b)
    result = neural_collapse(X, y, classifier=W, bias=b)
    assert result.ncc_accuracy == pytest.approx(expected["ncc_accuracy"])
    assert result.nc4 == pytest.approx(expected["nc4"])
    np.testing.assert_allclose(result.nc1_class_share, expected["nc1_class_share"], rtol=1e-9)
    assert result.nc1_class_share.sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- numerics


def test_far_from_origin_matches_centred():
    X, y = mixture(3, 6, 5)
    X = X - X.mean(axis=0)
    centred = neural_collapse(X.copy(), y)
    far = neural_collapse(X + 1e4, y)
    for name in ("nc1", "nc1_trace_quotient", "cdnv"):
        assert getattr(far, name) == pytest.approx(getattr(centred, name), rel=1e-8), name
    for name in ("nc2_equinorm", "nc2_equiangular", "nc2_max_angle", "etf_distance"):
        assert getattr(far, name) == pytest.approx(getattr(centred, name), rel=1e-8, abs=1e-12)


def test_float32_rank_deficient_sigma_b_uses_top_eigenpairs():
    # C=10 classes in 64-D: Sigma_B has rank 9. In float32 its 55 null
    # eigenvalues come out around 1e-7 * top, and a plain pinv inverts them,
    # so Tr(Sigma_W pinv(Sigma_B)) explodes. The metric must agree with the
    # float64 top-(C-1) reference instead.
    C, d = 10, 64
    X, y = mixture(4, C, d, n_per_class=(30, 60))
    X32 = X.astype(np.float32)
    expected = reference(X32, y)

    means32 = np.stack([X32[y == c].mean(axis=0) for c in range(C)])
    M32 = means32 - means32.mean(axis=0)
    residual32 = X32 - means32[y]
    sigma_w32 = residual32.T @ residual32 / y.size
    naive = np.trace(sigma_w32 @ np.linalg.pinv(M32.T @ M32 / C)) / C
    assert not np.isfinite(naive) or abs(naive - expected["nc1"]) > 100 * expected["nc1"]

    result = neural_collapse(X32, y)
    assert result.sigma_b_rank == C - 1
    assert result.nc1 == pytest.approx(expected["nc1"], rel=1e-8)


def test_class_means_spanning_fewer_than_c_minus_1_directions():
    # The square of test_square_closed_forms embedded in 10-D with isotropic
    # noise in +-z pairs (so each class mean stays exactly on its vertex):
    # rank(Sigma_B) = 2 < C-1 = 3, and only the plane of the means counts.
    rng = np.random.default_rng(5)
    Q = ortho_group.rvs(10, random_state=5)
    means = np.hstack([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], np.zeros((4, 8))]) @ Q
    y = np.repeat(np.arange(4), 50)
    z = 0.2 * rng.normal(size=(4, 25, 10))
    X = means[y] + np.concatenate([z, -z], axis=1).reshape(-1, 10)
    expected = reference(X, y)
    result = neural_collapse(X.copy(), y)
    assert result.sigma_b_rank == expected["sigma_b_rank"] == 2
    assert result.nc1 == pytest.approx(expected["nc1"], rel=1e-9)


@pytest.mark.parametrize(("dtype", "rel"), [(np.float16, 2e-2), (np.float32, 1e-5)])
def test_low_precision_inputs_accumulate_in_float64(dtype, rel):
    X, y = mixture(6, 4, 8)
    W = np.random.default_rng(6).normal(size=(4, 8))
    low = X.astype(dtype)
    result = neural_collapse(low, y, classifier=W)
    # Exactly the float64 result of the rounded values ...
    exact = reference(low.astype(np.float64), y, W)
    assert_scalars_close(result, exact, GEOMETRIC + ("nc3",), rel=1e-9)
    # ... and close to the unrounded float64 data.
    original = reference(X, y, W)
    assert_scalars_close(result, original, ("nc1", "nc1_trace_quotient", "cdnv", "etf_distance"), rel=rel)


def test_integer_features_are_accepted():
    X = np.array([[0, 0], [2, 0], [10, 0], [12, 0]], dtype=np.int16)
    result = neural_collapse(X, np.array([0, 0, 1, 1]))
    assert result.nc1 == pytest.approx(0.02, rel=1e-12)


# --------------------------------------------------------------------------- invariances


def _scalars(result: NeuralCollapse, names) -> dict:
    return {name: getattr(result, name) for name in names}


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    C=st.integers(2, 6),
    d=st.integers(1, 8),
    scale=st.floats(1e-3, 1e3),
    shift=st.floats(-100.0, 100.0),
)
def test_invariant_to_rotation_translation_scale_and_row_order(seed, C, d, scale, shift):
    X, y = mixture(seed, C, d)
    rng = np.random.default_rng(seed)
    Q = ortho_group.rvs(d, random_state=seed) if d > 1 else np.array([[-1.0]])
    t = shift * rng.normal(size=d)
    perm = rng.permutation(y.size)
    # Build every transformed copy before the first call, so each call gets its own array.
    variants = {
        "rotation": (X @ Q, y),
        "translation": (X + t, y),
        "scale": (scale * X, y),
        "row order": (X[perm], y[perm]),
    }
    base = neural_collapse(X.copy(), y)
    for what, (Xt, yt) in variants.items():
        result = neural_collapse(Xt, yt)
        for name in GEOMETRIC:
            assert getattr(result, name) == pytest.approx(
                getattr(base, name), rel=1e-7, abs=1e-9
            ), (what, name)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), C=st.integers(2, 7), d=st.integers(1, 9))
@example(seed=200, C=6, d=5)
def test_invariant_to_relabelling_classes(seed, C, d):
    X, y = mixture(seed, C, d)
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(C, d)), rng.normal(size=C)
    relabel = rng.permutation(C)  # class c becomes relabel[c]
    W_perm, b_perm = np.empty_like(W), np.empty_like(b)
    W_perm[relabel], b_perm[relabel] = W, b
    base = neural_collapse(X.copy(), y, classifier=W, bias=b)
    result = neural_collapse(X.copy(), relabel[y], classifier=W_perm, bias=b_perm)
    names = GEOMETRIC + ("nc3", "nc4", "ncc_accuracy", "orthogonal_frame_distance", "size_norm_spearman")
    expected = _scalars(base, names)
    # Relabelling reorders the sums, so results agree to rounding amplified by the conditioning of
    # Sigma_B (pinv): about eps * cond(centred class means)^2. Hypothesis found seed 200, C = 6, d = 5,
    # where the means span 5 dimensions with singular values 12 ... 7.7e-4 (cond^2 = 2.4e8) and NC1
    # = 1.8e6 moves by 3.8e-8 relative: within this bound, beyond a fixed 1e-9.
    means = np.stack([X[y == c].mean(axis=0) for c in range(C)])
    sv = np.linalg.svd(means - means.mean(axis=0), compute_uv=False)
    sv = sv[sv > sv[0] * 1e-12]
    rel = max(1e-9, 100 * np.finfo(float).eps * (sv[0] / sv[-1]) ** 2)
    for name in names:
        if expected[name] is None:
            assert getattr(result, name) is None, name
        else:
            assert getattr(result, name) == pytest.approx(expected[name], rel=rel, abs=1e-12), name
    np.testing.assert_array_equal(result.class_counts[relabel], base.class_counts)
    np.testing.assert_allclose(result.class_means[relabel], base.class_means, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.nc1_class_share[relabel], base.nc1_class_share, rtol=1e-9, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), C=st.integers(2, 6), d=st.integers(2, 9))
def test_nc3_invariant_to_rotating_features_and_classifier_together(seed, C, d):
    X, y = mixture(seed, C, d)
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(C, d)), rng.normal(size=C)
    Q = ortho_group.rvs(d, random_state=seed)
    rotated = X @ Q  # x -> Q^T x, so W -> W Q keeps every score W x + b
    base = neural_collapse(X.copy(), y, classifier=W, bias=b)
    result = neural_collapse(rotated, y, classifier=W @ Q, bias=b)
    assert result.nc3 == pytest.approx(base.nc3, rel=1e-9, abs=1e-12)
    assert result.nc4 == pytest.approx(base.nc4)
    # Rotating the features alone does change NC3 (it is not a tautology).
    if base.nc3 > 1e-3:
        assert neural_collapse(X @ Q, y, classifier=W, bias=b).nc3 != pytest.approx(base.nc3)


# --------------------------------------------------------------------------- streaming


def test_chunked_equals_one_chunk():
    X, y = mixture(8, 5, 6)
    W, b = np.random.default_rng(8).normal(size=(5, 6)), np.zeros(5)
    one = neural_collapse(X.copy(), y, classifier=W, bias=b, chunk_rows=y.size)
    chunked = neural_collapse(X.copy(), y, classifier=W, bias=b, chunk_rows=7)
    for name in NeuralCollapse.SCALARS:
        if getattr(one, name) is None:
            assert getattr(chunked, name) is None
        else:
            assert getattr(chunked, name) == pytest.approx(getattr(one, name), rel=1e-10, abs=1e-12), name
    for name in ("class_means", "gram", "nc1_class_share", "class_variances", "class_mean_norms"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(one, name), rtol=1e-10, atol=1e-12)


def test_memory_mapped_float32_matches_in_memory(tmp_path):
    n, d, C = 200_000, 64, 10
    rng = np.random.default_rng(9)
    y = rng.integers(0, C, size=n)
    centres = rng.normal(scale=2.0, size=(C, d)).astype(np.float32)
    path = tmp_path / "features.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for start in range(0, n, 50_000):
        part = slice(start, start + 50_000)
        mm[part] = centres[y[part]] + rng.standard_normal((y[part].size, d), dtype=np.float32)
    mm.flush()
    del mm
    mapped = np.load(path, mmap_mode="r")
    in_memory = np.array(mapped)
    W = rng.normal(size=(C, d))
    from_map = neural_collapse(mapped, y, classifier=W)
    from_memory = neural_collapse(in_memory, y, classifier=W)
    for name in NeuralCollapse.SCALARS:
        assert getattr(from_map, name) == pytest.approx(getattr(from_memory, name), rel=1e-12), name
    np.testing.assert_allclose(from_map.class_means, from_memory.class_means, rtol=1e-12)
    assert from_map.n_samples == n


def test_nan_in_a_late_chunk_names_the_row():
    X, y = mixture(10, 3, 4, n_per_class=(30, 40))
    X[93, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 rows \(first: 93\)"):
        neural_collapse(X, y, chunk_rows=7)
    X[93, 2] = np.inf
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 rows \(first: 93\)"):
        neural_collapse(X, y, chunk_rows=7)


@pytest.mark.parametrize("bad", [0, -3])
def test_chunk_rows_must_be_positive(bad):
    X, y = mixture(10, 3, 4)
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
        neural_collapse(X, y, chunk_rows=bad)


def test_does_not_modify_float64_features():
    # Regression: the accumulator subtracts its shift in place; for float64 input
    # a chunk must be a copy, or the caller's features (and the second pass,
    # which reads them again) are shifted.
    X, y = mixture(11, 3, 4)
    X = X + 5.0
    original = X.copy()
    result = neural_collapse(X, y)
    np.testing.assert_array_equal(X, original)
    assert result.ncc_accuracy == pytest.approx(reference(original, y)["ncc_accuracy"])


def test_read_only_float64_memory_map(tmp_path):
    # Regression: an in-place shift of a view raised "assignment destination is
    # read-only" on a read-only float64 map.
    X, y = mixture(12, 3, 4)
    path = tmp_path / "features64.npy"
    np.save(path, X)
    result = neural_collapse(np.load(path, mmap_mode="r"), y)
    assert result.nc1 == pytest.approx(reference(X, y)["nc1"], rel=1e-9)


# --------------------------------------------------------------------------- bad input

_X = np.arange(24, dtype=np.float64).reshape(6, 4) ** 1.5
_y = np.array([0, 1, 2, 0, 1, 2])


@pytest.mark.parametrize(
    ("features", "labels", "kwargs", "match"),
    [
        (_X, np.zeros(6, dtype=int), {}, r"at least 2 classes"),
        (_X, _y, {"classifier": np.ones((3, 5))}, r"classifier must have shape \(n_classes, 4\)"),
        (_X, _y, {"classifier": np.ones((2, 4))}, r"classifier has only 2 classes"),
        (_X, _y, {"classifier": np.ones((4, 4))}, r"class 3 has no samples"),
        (_X, _y, {"classifier": np.ones((3, 4)), "bias": np.ones(4)}, r"bias must have shape \(3,\)"),
        (_X, _y, {"bias": np.ones(3)}, r"bias was given without classifier"),
        (_X, _y[:5], {}, r"labels must have shape \(6,\)"),
        (_X, np.array(list("abcabc")), {}, r"integer class codes"),
        (_X, np.array([0, 1, 2, 0, 1, -1]), {}, r"negative codes"),
        (_X, _y, {"predictions": np.array([0, 1, 3, 0, 1, 2])}, r"predictions must be class codes in \[0, 3\)"),
        (_X, _y, {"predictions": np.array([0, 1, 2, 0, 1, -1])}, r"predictions must be class codes"),
        (_X, _y, {"predictions": _y.astype(float)}, r"predictions must be integer class codes"),
        (_X, _y, {"predictions": _y[:4]}, r"predictions must be integer class codes of shape \(6,\)"),
        (np.where(np.eye(6, 4) > 0, np.nan, _X), _y, {}, r"NaN or Inf in 4 rows"),
        (_X[:, 0], _y, {}, r"2-D array .*shape \(6,\)"),
        (_X > 3, _y, {}, r"real numbers; got dtype bool"),
        (_X[:1], _y[:1], {}, r"at least 2 samples"),
        (_X, _y, {"chunk_rows": -3}, r"chunk_rows must be a positive integer"),
        (_X, _y, {"classifier": np.full((3, 4), np.nan)}, r"classifier contains NaN"),
    ],
)
def test_bad_input(features, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        neural_collapse(features, labels, **kwargs)


def test_all_class_means_identical():
    X = np.array([[0.0, 1.0], [2.0, -1.0], [2.0, 1.0], [0.0, -1.0]])
    with pytest.raises(ValueError, match=r"all class means coincide"):
        neural_collapse(X, np.array([0, 0, 1, 1]))


def test_two_classes_with_identical_means():
    X = np.array([[0.0], [2.0], [2.0], [0.0], [10.0], [12.0]])
    with pytest.raises(ValueError, match=r"two classes have identical means"):
        neural_collapse(X, np.array([0, 0, 1, 1, 2, 2]))


def test_class_mean_at_the_global_mean():
    # Means -1, 0, 1: the middle class sits on mu_G, so its angle is undefined.
    X = np.array([[-1.0], [-1.0], [0.0], [0.0], [1.0], [1.0]])
    with pytest.raises(ValueError, match=r"equals the global mean"):
        neural_collapse(X, np.array([0, 0, 1, 1, 2, 2]))


# --------------------------------------------------------------------------- result object


def test_to_dict_is_json_and_scalars_match():
    X, y = mixture(13, 3, 4)
    W = np.random.default_rng(13).normal(size=(3, 4))
    result = neural_collapse(X.copy(), y, classifier=W, bias=np.zeros(3))
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["nc1"] == pytest.approx(result.nc1)
    assert payload["class_means"] == result.class_means.tolist()
    assert payload["n_classes"] == 3 and len(payload["gram"]) == 3
    scalars = result.scalars()
    assert tuple(scalars) == NeuralCollapse.SCALARS
    assert all(value is None or isinstance(value, float) for value in scalars.values())
    assert isinstance(result.nc1, float) and isinstance(result.nc3, float) and isinstance(result.nc4, float)
    bare = neural_collapse(X.copy(), y)
    assert bare.nc3 is None and bare.nc4 is None
    json.dumps(bare.to_dict())
    with pytest.raises(AttributeError):
        result.nc1 = 0.0  # frozen


def test_class_shares_are_zero_when_within_class_spread_is_rounding_noise():
    # A perfect ETF whose rows of two classes moved by one ulp: the whitened
    # within-class total is ~1e-30, at the float64 rounding floor, so the
    # shares must be all zero rather than a 0/0 split such as [0.12, 0, 0, 0, 0.88]
    # (what some BLAS kernels made of the exact ETF before).
    C, d = 5, 8
    base = np.hstack([simplex_vertices(C), np.zeros((C, d - (C - 1)))])
    Q = ortho_group.rvs(d, random_state=7)
    means = 3.0 * base @ Q + np.random.default_rng(7).normal(scale=10.0, size=d)
    X, y, W, bias = _etf_case(means, [3, 1, 4, 1, 5], scale=0.01)
    X = X.copy()
    X[y == 0] = np.nextafter(X[y == 0], np.inf)
    X[y == 4, :2] = np.nextafter(X[y == 4, :2], -np.inf)
    result = neural_collapse(X, y, classifier=W, bias=bias)
    assert result.nc1 == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_array_equal(result.nc1_class_share, np.zeros(C))


def test_class_shares_still_split_a_tiny_but_real_spread():
    # Within-class spread 1e-6 relative to the means is far above rounding:
    # the shares must sum to 1 and follow the per-class spread (class 2 only).
    means = np.array([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) * 1e3
    X, y, _, _ = _etf_case(means, [2, 2, 2, 2])
    X = X.copy()
    X[y == 2] += np.array([[1e-3, 0, 0], [-1e-3, 0, 0]])
    result = neural_collapse(X, y)
    np.testing.assert_allclose(result.nc1_class_share, [0, 0, 1, 0], atol=1e-12)


def test_label_codes_are_re_encoded_without_a_classifier():
    # Codes are names without a classifier: {0, 2} (or {0, 1e9}) are two classes, as {0, 1}.
    y = np.array([0, 1, 0, 1, 0, 1])
    reference = neural_collapse(_X, y)
    for codes in (np.array([0, 2]), np.array([7, 10**9])):
        result = neural_collapse(_X, codes[y])
        assert result.n_classes == 2
        np.testing.assert_array_equal(result.class_labels, codes)
        assert result.nc1 == pytest.approx(reference.nc1, rel=1e-12)
        np.testing.assert_allclose(result.class_means, reference.class_means)
    np.testing.assert_array_equal(reference.class_labels, [0, 1])
    # With a classifier the codes index its rows: an empty class is still an error.
    with pytest.raises(ValueError, match="class 1 has no samples"):
        neural_collapse(_X, np.array([0, 2, 0, 2, 0, 2]), classifier=np.ones((3, 4)))
