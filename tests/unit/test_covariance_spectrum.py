"""Unit tests for analysis.metrics.spectrum: covariance_spectrum and effective_rank's streamed path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ortho_group

from analysis.metrics import covariance_spectrum, effective_rank
from analysis.metrics import spectrum as spectrum_module

# The four sign patterns (+-2, +-1): mean 0, Var x = 4, Var y = 1, Cov = 0 (each product
# xy = +-2 appears twice with each sign), so the population covariance is diag(4, 1).
DIAG_4_1 = np.array([[2.0, 1.0], [2.0, -1.0], [-2.0, 1.0], [-2.0, -1.0]])


# --------------------------------------------------------------------------- covariance spectrum by hand


def test_diag_4_1_hand_case():
    result = covariance_spectrum(DIAG_4_1)
    np.testing.assert_allclose(result.eigenvalues, [4.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(result.explained_variance_ratio, [0.8, 0.2], rtol=1e-12)
    np.testing.assert_allclose(result.cumulative, [0.8, 1.0], rtol=1e-12)
    assert result.components_for(0.8) == 1  # exactly 0.8 counts as reached
    assert result.components_for(0.5) == 1
    assert result.components_for(0.81) == 2
    assert result.components_for(1.0) == 2
    assert (result.n_samples, result.n_features) == (4, 2)


def test_diag_hand_case_translated_and_rotated():
    # Shifting every row and rotating the plane keep the eigenvalues (4, 1).
    angle = math.radians(30)
    R = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = DIAG_4_1 @ R + np.array([100.0, -7.0])
    result = covariance_spectrum(moved)
    np.testing.assert_allclose(result.eigenvalues, [4.0, 1.0], rtol=1e-10)
    np.testing.assert_allclose(result.explained_variance_ratio, [0.8, 0.2], rtol=1e-10)


def test_population_not_sample_covariance():
    # Two points at +-1 on one axis: population variance 1 (divided by n = 2), not 2.
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    np.testing.assert_allclose(covariance_spectrum(X).eigenvalues, [1.0, 0.0], atol=1e-15)


def test_matches_numpy_eigvalsh_of_np_cov():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 12)) @ rng.standard_normal((12, 12)) + 3.0
    result = covariance_spectrum(X)
    expected = np.linalg.eigvalsh(np.cov(X, rowvar=False, bias=True))[::-1]
    np.testing.assert_allclose(result.eigenvalues, np.clip(expected, 0, None), rtol=1e-9, atol=1e-12)
    assert np.all(np.diff(result.eigenvalues) <= 0)  # descending
    assert result.cumulative[-1] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(result.cumulative) >= 0)
    assert result.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-12)
    # components_for agrees with a direct count.
    for share in (0.3, 0.5, 0.9, 0.99):
        assert result.components_for(share) == int(np.argmax(result.cumulative >= share - 1e-12)) + 1


def test_rank_deficient_data_has_zero_eigenvalues_and_reaches_one():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 3)) @ rng.standard_normal((3, 8))  # rank 3 in R^8
    result = covariance_spectrum(X)
    assert np.all(result.eigenvalues >= 0)  # clipped, never negative rounding
    assert result.eigenvalues[3:].max() < 1e-10 * result.eigenvalues[0]
    assert result.components_for(0.999999) <= 3
    assert result.cumulative[-1] == pytest.approx(1.0, abs=1e-12)
    assert result.cumulative.max() <= 1.0


def test_streams_over_blocks(monkeypatch):
    # Several row blocks give the same spectrum as one.
    rng = np.random.default_rng(2)
    X = rng.standard_normal((1000, 5)) * np.arange(1, 6) + 2.0
    whole = covariance_spectrum(X).eigenvalues
    monkeypatch.setattr(spectrum_module, "_GRAM_BLOCK_ROWS", 64)
    np.testing.assert_allclose(covariance_spectrum(X).eigenvalues, whole, rtol=1e-10)


def test_covariance_spectrum_to_dict_and_float32():
    result = covariance_spectrum(DIAG_4_1.astype(np.float32))
    data = result.to_dict()
    assert data["eigenvalues"] == pytest.approx([4.0, 1.0])
    assert data["cumulative"] == pytest.approx([0.8, 1.0])
    assert data["n_samples"] == 4


def test_covariance_spectrum_bad_input():
    with pytest.raises(ValueError, match="identical rows"):
        covariance_spectrum(np.tile([[1.0, 2.0]], (5, 1)))
    with pytest.raises(ValueError, match="NaN"):
        covariance_spectrum(np.array([[1.0, 2.0], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        covariance_spectrum(np.arange(4.0))


# --------------------------------------------------------------------------- effective rank


def test_effective_rank_diag_2_1_uncentred():
    # Singular values (2, 1): p = (2/3, 1/3), erank = exp(H) = exp(-(2/3 ln 2/3 + 1/3 ln 1/3)).
    p = np.array([2 / 3, 1 / 3])
    expected = math.exp(-float(np.sum(p * np.log(p))))
    assert expected == pytest.approx(1.8899, abs=1e-4)
    result = effective_rank(np.diag([2.0, 1.0]), center=False)
    assert result.effective_rank == pytest.approx(expected, rel=1e-12)


def test_effective_rank_of_diag_4_1_data_centred():
    # DIAG_4_1 is centred with X^T X = diag(16, 4): singular values (4, 2), p = (2/3, 1/3).
    p = np.array([2 / 3, 1 / 3])
    expected = math.exp(-float(np.sum(p * np.log(p))))
    result = effective_rank(DIAG_4_1)
    np.testing.assert_allclose(result.singular_values, [4.0, 2.0], rtol=1e-12)
    assert result.effective_rank == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("center", [True, False])
def test_streamed_path_agrees_with_svd(monkeypatch, center):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3000, 40)) @ rng.standard_normal((40, 40)) * 0.1 + 0.5
    svd = effective_rank(X, center=center)
    monkeypatch.setattr(spectrum_module, "_SVD_MAX_ELEMENTS", 1000)
    monkeypatch.setattr(spectrum_module, "_GRAM_BLOCK_ROWS", 512)  # several blocks
    streamed = effective_rank(X, center=center)
    assert streamed.effective_rank == pytest.approx(svd.effective_rank, rel=1e-6)
    np.testing.assert_allclose(streamed.singular_values, svd.singular_values, rtol=1e-6)
    assert streamed.centered is center
    assert (streamed.n_samples, streamed.n_features) == (3000, 40)


def test_streamed_path_on_float32(monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((2000, 30)).astype(np.float32)
    svd = effective_rank(X)
    monkeypatch.setattr(spectrum_module, "_SVD_MAX_ELEMENTS", 1000)
    assert effective_rank(X).effective_rank == pytest.approx(svd.effective_rank, rel=1e-6)


def test_streamed_path_equal_singular_values_give_the_rank(monkeypatch):
    # 200 x 10 with 4 orthonormal columns (singular values all 1) and 6 zero columns: the
    # Gram eigenvalues of the zero directions are rounding noise (~1e-16, sqrt ~1e-8),
    # below the streamed tolerance sqrt(n eps) sigma_max ~ 2e-7, so the rank is 4.
    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.standard_normal((200, 4)))
    X = np.hstack([Q @ ortho_group.rvs(4, random_state=6), np.zeros((200, 6))])
    monkeypatch.setattr(spectrum_module, "_SVD_MAX_ELEMENTS", 100)
    result = effective_rank(X, center=False)
    assert result.effective_rank == pytest.approx(4.0, rel=1e-9)
    assert int(np.count_nonzero(result.singular_values)) == 4
    # Also rotated into all 10 columns (no exact zeros to help).
    R = ortho_group.rvs(10, random_state=7)
    assert effective_rank(X @ R, center=False).effective_rank == pytest.approx(4.0, rel=1e-9)
    # Centred: 4 equal singular values around the mean remain (Q's columns are not
    # mean-zero, so compare with the SVD path rather than 4).
    monkeypatch.setattr(spectrum_module, "_SVD_MAX_ELEMENTS", 20_000_000)
    svd_centred = effective_rank(X).effective_rank
    monkeypatch.setattr(spectrum_module, "_SVD_MAX_ELEMENTS", 100)
    assert effective_rank(X).effective_rank == pytest.approx(svd_centred, rel=1e-6)


def test_streamed_path_bad_input(monkeypatch):
    monkeypatch.setattr(spectrum_module, "_SVD_MAX_ELEMENTS", 4)
    with pytest.raises(ValueError, match="all zero after centring"):
        effective_rank(np.tile([[1.0, 2.0, 3.0]], (5, 1)))
    with pytest.raises(ValueError, match="all zero"):
        effective_rank(np.zeros((5, 3)), center=False)


def test_effective_rank_invariances_on_streamed_path(monkeypatch):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((500, 8)) * np.arange(1, 9)
    monkeypatch.setattr(spectrum_module, "_SVD_MAX_ELEMENTS", 100)
    base = effective_rank(X).effective_rank
    Q = ortho_group.rvs(8, random_state=9)
    assert effective_rank(X @ Q).effective_rank == pytest.approx(base, rel=1e-8)
    assert effective_rank(-3.0 * X + 50.0).effective_rank == pytest.approx(base, rel=1e-8)
    assert 1.0 < base < 8.0


def test_identical_rows_up_to_rounding_and_overflowing_squares_are_refused():
    # Centring identical rows left a covariance of ~4e-32 and ratios [1, 0, ...].
    row = np.random.default_rng(3).standard_normal((1, 5))
    with pytest.raises(ValueError, match="identical rows"):
        covariance_spectrum(np.repeat(row, 24, axis=0))
    # Squares of 1e160 overflow: LinAlgError before, a ValueError saying to rescale now.
    with pytest.raises(ValueError, match="overflow float64"):
        covariance_spectrum(np.random.default_rng(4).standard_normal((24, 5)) * 1e160)
