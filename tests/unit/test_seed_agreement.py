"""seed_agreement: a rotated, rescaled copy has unrelated coordinates but identical relative representations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

from analysis.metrics.seed_agreement import seed_agreement


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(4, 16))
    labels = np.repeat(np.arange(4), 60)
    return centres[labels] + rng.normal(size=(labels.size, 16)), labels


def test_rotated_copy_agrees_only_relatively() -> None:
    X, y = _blobs()
    Q = ortho_group.rvs(16, random_state=1)
    Y = 3.0 * X @ Q
    rows = np.arange(y.size)
    train, test = rows[rows % 3 != 0], rows[rows % 3 == 0]
    result = seed_agreement(X, Y, y, anchors=train[:20], train_rows=train, test_rows=test)
    assert result.relative_cosine == pytest.approx(1.0, abs=1e-12)  # cosines survive rotation and scale
    assert result.linear_cka == pytest.approx(1.0, abs=1e-9)
    assert abs(result.absolute_cosine) < 0.5  # the same input points elsewhere
    assert result.accuracy_same == 1.0 and result.accuracy_stitched_relative == 1.0
    assert result.n_anchors == 20
    assert set(result.to_dict()) >= {"absolute_cosine", "relative_cosine", "accuracy_stitched_absolute"}


def test_identical_representations_agree_everywhere() -> None:
    X, y = _blobs(2)
    rows = np.arange(y.size)
    result = seed_agreement(X, X, y, anchors=rows[:10], train_rows=rows[::2], test_rows=rows[1::2])
    assert result.absolute_cosine == pytest.approx(1.0) and result.relative_cosine == pytest.approx(1.0)
    assert result.accuracy_stitched_absolute == result.accuracy_same


def test_shapes_must_match() -> None:
    X, y = _blobs()
    with pytest.raises(ValueError, match="same 2-D shape"):
        seed_agreement(X, X[:, :8], y, anchors=[0, 1], train_rows=[0, 1, 2], test_rows=[3, 4])
