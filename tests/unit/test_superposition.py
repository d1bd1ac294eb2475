"""Superposition geometry: hand-computed polytopes, invariances, blocked path, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

import analysis.metrics.superposition as sp
from analysis.metrics import superposition_geometry
from analysis.metrics.superposition import SuperpositionGeometry


def _polygon(k: int) -> np.ndarray:
    t = 2 * np.pi * np.arange(k) / k
    return np.c_[np.cos(t), np.sin(t)]


def _tetrahedron() -> np.ndarray:
    V = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    return V / np.sqrt(3)


# --- hand-computed geometry -----------------------------------------------------------------


def test_unit_pentagon() -> None:
    r = superposition_geometry(_polygon(5))
    assert isinstance(r, SuperpositionGeometry)
    assert (r.n_features, r.n_hidden, r.n_zero_features) == (5, 2, 0)
    np.testing.assert_allclose(r.feature_norms, 1.0)
    # 2 cos^2(72 deg) + 2 cos^2(144 deg) = 1.5
    np.testing.assert_allclose(r.superposition, 1.5)
    np.testing.assert_allclose(r.feature_dimensionality, 0.4)
    assert r.dimensions_per_feature == pytest.approx(0.4)
    assert r.random_overlap_expectation == 0.5
    # 10 pairs: 5 at 72 deg and 5 at 144 deg
    assert r.squared_overlaps.shape == (10,)
    c72, c144 = np.cos(np.deg2rad(72)) ** 2, np.cos(np.deg2rad(144)) ** 2
    np.testing.assert_allclose(np.sort(r.squared_overlaps), [c72] * 5 + [c144] * 5)
    assert r.mean_squared_overlap == pytest.approx(0.375)
    assert not r.overlaps_sampled


@pytest.mark.parametrize("W", [np.array([[1.0], [-1.0]]), np.array([[0.6, 0.8], [-0.6, -0.8]])])
def test_antipodal_pair(W: np.ndarray) -> None:
    r = superposition_geometry(W)
    np.testing.assert_allclose(r.feature_dimensionality, 0.5)
    np.testing.assert_allclose(r.superposition, 1.0)
    np.testing.assert_allclose(r.squared_overlaps, [1.0])
    assert r.dimensions_per_feature == pytest.approx(W.shape[1] / 2)


def test_triangle_is_two_thirds() -> None:
    r = superposition_geometry(_polygon(3))
    np.testing.assert_allclose(r.feature_dimensionality, 2 / 3)
    np.testing.assert_allclose(r.superposition, 0.5)
    np.testing.assert_allclose(r.squared_overlaps, 0.25)


def test_tetrahedron_is_three_quarters() -> None:
    r = superposition_geometry(_tetrahedron())
    np.testing.assert_allclose(r.feature_dimensionality, 0.75)
    np.testing.assert_allclose(r.superposition, 1 / 3)
    np.testing.assert_allclose(r.squared_overlaps, 1 / 9)
    assert r.dimensions_per_feature == pytest.approx(0.75)


def test_orthogonal_basis() -> None:
    W = np.diag([1.0, 2.0, 3.0, 0.5])
    r = superposition_geometry(W)
    np.testing.assert_allclose(r.feature_dimensionality, 1.0)
    np.testing.assert_array_equal(r.superposition, 0.0)
    np.testing.assert_allclose(r.feature_norms, [1, 2, 3, 0.5])
    assert r.dimensions_per_feature == pytest.approx(4 / (1 + 4 + 9 + 0.25))
    np.testing.assert_array_equal(r.squared_overlaps, 0.0)
    assert r.mean_squared_overlap == 0.0


def test_unequal_norms_use_unnormalised_other_rows() -> None:
    # superposition_1 = (e1 . (2 e1))^2 = 4; D_1 = 1 / (1 + 4); D_2 = 4 / (4 + 1)
    r = superposition_geometry(np.array([[1.0, 0.0], [2.0, 0.0]]))
    np.testing.assert_allclose(r.superposition, [4.0, 1.0])
    np.testing.assert_allclose(r.feature_dimensionality, [0.2, 0.8])
    np.testing.assert_allclose(r.squared_overlaps, [1.0])


def test_zero_rows_give_zero_not_nan() -> None:
    W = np.vstack([_polygon(3), np.zeros((2, 2))])
    r = superposition_geometry(W)
    assert np.isfinite(r.feature_dimensionality).all()
    np.testing.assert_allclose(r.feature_dimensionality, [2 / 3] * 3 + [0, 0])
    np.testing.assert_allclose(r.superposition, [0.5] * 3 + [0, 0])
    np.testing.assert_array_equal(r.feature_norms[3:], 0.0)
    assert r.n_zero_features == 2
    # overlaps only among the 3 nonzero rows
    assert r.squared_overlaps.shape == (3,)
    np.testing.assert_allclose(r.squared_overlaps, 0.25)
    assert r.dimensions_per_feature == pytest.approx(2 / 3)


def test_one_nonzero_row_has_no_overlaps() -> None:
    r = superposition_geometry(np.array([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_allclose(r.feature_dimensionality, [0.0, 1.0])
    assert r.squared_overlaps.size == 0
    assert r.mean_squared_overlap is None


# --- invariances ----------------------------------------------------------------------------


def _random_W(n: int = 12, d: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * rng.uniform(0.2, 3.0, size=(n, 1))


def test_scale_invariance_of_d_i_but_not_dimensions_per_feature() -> None:
    W = _random_W()
    a, b = superposition_geometry(W), superposition_geometry(3.0 * W)
    np.testing.assert_allclose(b.feature_dimensionality, a.feature_dimensionality, rtol=1e-12)
    np.testing.assert_allclose(b.squared_overlaps, a.squared_overlaps, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b.feature_norms, 3.0 * a.feature_norms)
    np.testing.assert_allclose(b.superposition, 9.0 * a.superposition)
    assert b.dimensions_per_feature == pytest.approx(a.dimensions_per_feature / 9.0)
    assert b.dimensions_per_feature != pytest.approx(a.dimensions_per_feature)


def test_extreme_scales_neither_underflow_nor_overflow() -> None:
    W = _random_W()
    ref = superposition_geometry(W)
    for s in (1e-150, 1e150):  # squared entries would under/overflow without rescaling
        r = superposition_geometry(W * s)
        np.testing.assert_allclose(r.feature_dimensionality, ref.feature_dimensionality, rtol=1e-10)
        np.testing.assert_allclose(r.feature_norms, ref.feature_norms * s, rtol=1e-10)
        assert r.dimensions_per_feature == pytest.approx(ref.dimensions_per_feature / s**2)
    for s in (1e-200, 1e200):  # ||W||_F^2 itself leaves float64: refused, not inf or 0
        with pytest.raises(ValueError, match="float64 range"):
            superposition_geometry(W * s)


def test_rows_vs_columns() -> None:
    W = _random_W(7, 4)
    a = superposition_geometry(W)
    b = superposition_geometry(W.T, features="columns")
    assert (b.n_features, b.n_hidden, b.features) == (7, 4, "columns")
    for name in ("feature_norms", "superposition", "feature_dimensionality", "squared_overlaps"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name))
    c = superposition_geometry(W.T)  # the other reading: 4 features in 7 dims
    assert (c.n_features, c.n_hidden) == (4, 7)


def test_permuting_features_permutes_outputs() -> None:
    W = _random_W()
    perm = np.random.default_rng(1).permutation(W.shape[0])
    a, b = superposition_geometry(W), superposition_geometry(W[perm])
    for name in ("feature_norms", "superposition", "feature_dimensionality"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name)[perm], rtol=1e-12)
    np.testing.assert_allclose(np.sort(b.squared_overlaps), np.sort(a.squared_overlaps), atol=1e-15)
    assert b.dimensions_per_feature == pytest.approx(a.dimensions_per_feature)


def test_rotating_hidden_space_changes_nothing() -> None:
    W = _random_W()
    Q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(5, 5)))
    a, b = superposition_geometry(W), superposition_geometry(W @ Q)
    for name in ("feature_norms", "superposition", "feature_dimensionality", "squared_overlaps"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-10, atol=1e-12)
    assert b.dimensions_per_feature == pytest.approx(a.dimensions_per_feature)
    assert b.mean_squared_overlap == pytest.approx(a.mean_squared_overlap)


def test_random_directions_overlap_about_one_over_d() -> None:
    d = 64
    W = np.random.default_rng(3).normal(size=(400, d))
    r = superposition_geometry(W)
    assert r.random_overlap_expectation == pytest.approx(1 / d)
    assert r.mean_squared_overlap == pytest.approx(1 / d, rel=0.1)
    assert r.squared_overlaps.mean() == pytest.approx(r.mean_squared_overlap, rel=1e-9)
    # A structured W (two tight clusters) is far above the random baseline.
    base = np.random.default_rng(4).normal(size=(2, d))
    clustered = np.repeat(base, 50, axis=0) + 0.01 * np.random.default_rng(5).normal(size=(100, d))
    assert superposition_geometry(clustered).mean_squared_overlap > 10 / d


def test_mean_squared_overlap_is_exact() -> None:
    W = _random_W(30, 6)
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    G = (U @ U.T) ** 2
    iu = np.triu_indices(30, k=1)
    r = superposition_geometry(W)
    np.testing.assert_allclose(r.squared_overlaps, G[iu], rtol=1e-12)
    assert r.mean_squared_overlap == pytest.approx(G[iu].mean(), rel=1e-12)


def test_brute_force_definitions() -> None:
    W = _random_W(9, 3, seed=7)
    W[4] = 0.0
    norms = np.linalg.norm(W, axis=1)
    sup, dim = np.zeros(9), np.zeros(9)
    for i in range(9):
        if norms[i] == 0:
            continue
        u = W[i] / norms[i]
        terms = np.array([(u @ W[j]) ** 2 for j in range(9)])
        sup[i] = terms.sum() - terms[i]
        dim[i] = norms[i] ** 2 / terms.sum()  # the sum over j includes j = i
    r = superposition_geometry(W)
    np.testing.assert_allclose(r.superposition, sup, rtol=1e-12)
    np.testing.assert_allclose(r.feature_dimensionality, dim, rtol=1e-12)
    assert r.dimensions_per_feature == pytest.approx(3 / (norms**2).sum())


# --- large-matrix paths ---------------------------------------------------------------------


@pytest.mark.parametrize("d", [4, 30])  # d < n: (d, d) Gram path; d >= n: row blocks
def test_large_n_paths_equal_direct_path(monkeypatch: pytest.MonkeyPatch, d: int) -> None:
    W = _random_W(23, d, seed=8)
    W[[3, 17]] = 0.0
    W[5] = 1e-3 * W[6]  # a feature nearly parallel to another, at a very different norm
    direct = superposition_geometry(W)
    monkeypatch.setattr(sp, "_DIRECT_MAX_FEATURES", 5)
    monkeypatch.setattr(sp, "_BLOCK_ELEMENTS", 23 * 4)  # row blocks of 4, the last one short
    assert sp._rows_per_block(23) == 4
    large = superposition_geometry(W)
    for name in ("feature_norms", "feature_dimensionality", "squared_overlaps"):
        np.testing.assert_allclose(getattr(large, name), getattr(direct, name), rtol=1e-10)
    np.testing.assert_allclose(large.superposition, direct.superposition, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(large.superposition[[3, 17]], 0.0)
    np.testing.assert_array_equal(large.feature_dimensionality[[3, 17]], 0.0)
    assert large.squared_overlaps.shape == (21 * 20 // 2,)
    assert large.mean_squared_overlap == pytest.approx(direct.mean_squared_overlap)


def test_large_n_gram_path_keeps_hand_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sp, "_DIRECT_MAX_FEATURES", 2)
    r = superposition_geometry(_polygon(5))
    np.testing.assert_allclose(r.feature_dimensionality, 0.4)
    np.testing.assert_allclose(r.superposition, 1.5)
    r = superposition_geometry(np.diag([1.0, 2.0, 3.0, 4.0, 5.0])[:, :4][[0, 1, 2, 3, 3]])
    np.testing.assert_allclose(r.feature_dimensionality, [1, 1, 1, 0.5, 0.5])
    np.testing.assert_allclose(r.superposition, [0, 0, 0, 16, 16], atol=1e-12)


def test_sampled_overlaps_when_pairs_exceed_max_pairs() -> None:
    W = np.random.default_rng(9).normal(size=(200, 16))
    exact = superposition_geometry(W)
    a = superposition_geometry(W, max_pairs=5000, seed=1)
    b = superposition_geometry(W, max_pairs=5000, seed=1)
    c = superposition_geometry(W, max_pairs=5000, seed=2)
    assert a.overlaps_sampled and not exact.overlaps_sampled
    assert a.squared_overlaps.shape == (5000,)
    np.testing.assert_array_equal(a.squared_overlaps, b.squared_overlaps)  # seeded
    assert not np.array_equal(a.squared_overlaps, c.squared_overlaps)
    assert a.mean_squared_overlap == exact.mean_squared_overlap  # always exact
    assert a.squared_overlaps.mean() == pytest.approx(exact.mean_squared_overlap, rel=0.1)
    # every sampled value is one of the true pair values (no i == j pairs, which would give 1)
    assert set(np.round(a.squared_overlaps, 10)) <= set(np.round(exact.squared_overlaps, 10))
    np.testing.assert_array_equal(a.feature_dimensionality, exact.feature_dimensionality)


def test_to_dict_and_scalars() -> None:
    r = superposition_geometry(_polygon(5))
    d = r.to_dict()
    json.dumps(d)
    assert d["feature_dimensionality"] == pytest.approx([0.4] * 5)
    assert set(r.scalars()) == {
        "dimensions_per_feature",
        "mean_squared_overlap",
        "random_overlap_expectation",
    }
    assert isinstance(r.dimensions_per_feature, float)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("W", "match"),
    [
        (np.ones(4), "2-D"),
        (np.ones((2, 3, 4)), "2-D"),
        (np.ones((0, 3)), "at least 1 feature"),
        (np.ones((3, 0)), "at least 1 feature"),
        (np.zeros((3, 2)), "all zero"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), "NaN or infinity"),
        (np.ones((2, 2), dtype=bool), "real numbers"),
        (np.ones((2, 2), dtype=complex), "real numbers"),
        (np.array([["a", "b"]]), "real numbers"),
    ],
)
def test_bad_input(W: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        superposition_geometry(W)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="features must be 'rows'"):
        superposition_geometry(np.eye(2), features="cols")  # type: ignore[arg-type]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_pairs"):
            superposition_geometry(np.eye(2), max_pairs=bad)  # type: ignore[arg-type]


def test_integer_input_and_lists_are_accepted() -> None:
    r = superposition_geometry([[1, 0], [0, 2]])
    np.testing.assert_allclose(r.feature_dimensionality, [1.0, 1.0])
    assert r.dimensions_per_feature == pytest.approx(2 / 5)
