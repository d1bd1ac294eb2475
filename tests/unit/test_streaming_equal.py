"""Streamed metrics equal plain in-memory numpy on data spanning several row blocks."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.special import logsumexp

from analysis.metrics.isotropy import iso_score, isotropy
from analysis.metrics.spectrum import (
    covariance_spectrum,
    effective_rank,
    spectrum_and_effective_rank,
)
from analysis.metrics.sphere import uniformity

# The modules (analysis.metrics re-exports functions of the same names).
isotropy_module = importlib.import_module("analysis.metrics.isotropy")
spectrum_module = importlib.import_module("analysis.metrics.spectrum")
sphere_module = importlib.import_module("analysis.metrics.sphere")


def _data(n=5_000, d=12, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * np.linspace(0.5, 3.0, d) + 2.0).astype(np.float32)


def _memmap(tmp_path, X):
    path = tmp_path / "X.npy"
    np.save(path, X)
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("svd_limit", [None, 100])  # 100: effective_rank's Gram path on this small X
def test_spectrum_and_effective_rank_equal_the_two_calls(tmp_path, monkeypatch, svd_limit):
    if svd_limit is not None:
        monkeypatch.setattr(spectrum_module, "_SVD_MAX_ELEMENTS", svd_limit)
    monkeypatch.setattr(spectrum_module, "_GRAM_BLOCK_ROWS", 999)  # six blocks
    X = _data()
    seen = []
    spec, rank = spectrum_and_effective_rank(_memmap(tmp_path, X), progress=lambda f, m: seen.append(f))
    want_spec, want_rank = covariance_spectrum(X), effective_rank(X)
    np.testing.assert_allclose(spec.eigenvalues, want_spec.eigenvalues, rtol=1e-10)
    assert rank.effective_rank == pytest.approx(want_rank.effective_rank, rel=1e-10)
    assert len(seen) == 6 and seen[-1] == 1.0
    # ... and plain numpy: eigenvalues of the population covariance, exp entropy of the singular values.
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(spec.eigenvalues, np.linalg.eigvalsh(np.cov(X64.T, bias=True))[::-1], rtol=1e-9)
    s = np.linalg.svd(X64 - X64.mean(axis=0), compute_uv=False)
    p = s / s.sum()
    assert rank.effective_rank == pytest.approx(float(np.exp(-(p * np.log(p)).sum())), rel=1e-9)


def test_isotropy_equals_plain_numpy_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(isotropy_module, "_BLOCK_ROWS", 1_000)
    X = _data(n=4_321, d=6, seed=1)
    got = isotropy(_memmap(tmp_path, X))
    X64 = X.astype(np.float64)
    U = X64 / np.linalg.norm(X64, axis=1, keepdims=True)
    cos = U @ U.T
    n = X.shape[0]
    assert got.mean_cosine == pytest.approx((cos.sum() - n) / (n * (n - 1)), rel=1e-10)
    assert got.iso_score == pytest.approx(iso_score(np.linalg.eigvalsh(np.cov(X64.T, bias=True))), abs=1e-12)
    _, V = np.linalg.eigh(X64.T @ X64)
    log_z = logsumexp(X64 @ np.hstack([V, -V]), axis=0)
    assert got.partition_isotropy == pytest.approx(float(np.exp(log_z.min() - log_z.max())), rel=1e-9)


def test_sampled_uniformity_does_not_depend_on_the_gather_size(tmp_path, monkeypatch):
    X = _data(n=3_000, d=5, seed=2)
    kwargs = dict(max_exact=100, seed=4)
    whole = uniformity(X, **kwargs)
    monkeypatch.setattr(sphere_module, "_GATHER_ROWS", 777)
    pieces = uniformity(_memmap(tmp_path, X), **kwargs)
    assert not whole.exact and pieces.n_pairs == whole.n_pairs
    assert pieces.value == pytest.approx(whole.value, rel=1e-13)
    assert pieces.standard_error == pytest.approx(whole.standard_error, rel=1e-10)
