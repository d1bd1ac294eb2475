"""The report on a memory map: no full-size copy of X up front, and progress from the streamed stages."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.report import diagnose
from analysis.report.diagnosis import _as_embedding


def _mapped(tmp_path, X):
    np.save(tmp_path / "X.npy", X)
    return np.load(tmp_path / "X.npy", mmap_mode="r")


def test_a_float32_memmap_stays_mapped(tmp_path):
    X = np.random.default_rng(0).normal(size=(500, 6)).astype(np.float32)
    mm = _mapped(tmp_path, X)
    emb = _as_embedding(mm, np.arange(500) % 3, None)
    assert np.shares_memory(emb.X, mm)  # checked and wrapped, never copied


def test_progress_of_the_streamed_stages(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 5)).astype(np.float32)
    calls = []
    report = diagnose(_mapped(tmp_path, X), labels=np.arange(600) % 3, k=5,
                      progress=lambda f, m: calls.append((f, m)))
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    messages = [m for _, m in calls]
    assert "Gaussian baseline: 600 of 600 rows" in messages
    # With labels the spectrum reuses neural collapse's pass; without, it streams its own.
    assert not any(m.startswith("Covariance:") for m in messages)
    unlabelled = []
    alone = diagnose(_mapped(tmp_path, X), k=5, progress=lambda f, m: unlabelled.append(m))
    assert "Covariance: 600 of 600 rows" in unlabelled
    for key in ("top_share", "gaussian_top_share"):
        assert report.metrics["spectrum"][key] == pytest.approx(alone.metrics["spectrum"][key], rel=1e-10)
    assert report.metrics["spectrum"]["components_90"] == alone.metrics["spectrum"]["components_90"]
    assert report.metrics["effective_rank"]["effective_rank"] == pytest.approx(
        alone.metrics["effective_rank"]["effective_rank"], rel=1e-10)
    # The same numbers as the report on the array in memory.
    plain = diagnose(X, labels=np.arange(600) % 3, k=5)
    assert report.metrics["spectrum"] == plain.metrics["spectrum"]
    assert report.metrics["effective_rank"] == plain.metrics["effective_rank"]
    assert report.metrics["isotropy"] == plain.metrics["isotropy"]
