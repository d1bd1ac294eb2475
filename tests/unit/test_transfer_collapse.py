"""Unit tests for analysis.metrics.transfer_collapse (Galanti, Gyorgy & Hutter 2022).

Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.metrics import transfer_collapse


def _two_point_sets() -> tuple[np.ndarray, np.ndarray]:
    # Class 0: (0, +-1) -> mean (0, 0), Var_0 = E||x - mu||^2 = 1.
    # Class 1: (4, +-3) -> mean (4, 0), Var_1 = 9.  ||mu_0 - mu_1||^2 = 16.
    X = np.array([[0.0, 1.0], [0.0, -1.0], [4.0, 3.0], [4.0, -3.0]])
    return X, np.array([0, 0, 1, 1])


def test_cdnv_of_two_point_sets_by_hand() -> None:
    X, y = _two_point_sets()
    result = transfer_collapse(X, y, shots=(1,))
    # (1 + 9) / (2 * 16) = 10 / 32.
    assert result.cdnv == pytest.approx(10.0 / 32.0)
    assert result.n_classes == 2 and result.chance == 0.5


def test_cdnv_of_three_classes_averages_the_pairs() -> None:
    # Means (0,0), (2,0), (0,4); every class has points mean +- (1, 0): Var = 1 each.
    # Pairs: d^2 = 4, 16, 20 -> V = 2/8, 2/32, 2/40; mean = (0.25 + 0.0625 + 0.05) / 3.
    centres = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    X = np.concatenate([centres + [1.0, 0.0], centres - [1.0, 0.0]])
    y = np.array([0, 1, 2, 0, 1, 2])
    assert transfer_collapse(X, y, shots=(1,)).cdnv == pytest.approx((0.25 + 0.0625 + 0.05) / 3)


def test_cdnv_and_nc1_are_invariant_to_scale_rotation_and_shift() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 5)) + np.repeat(rng.standard_normal((3, 5)) * 3, 20, axis=0)
    y = np.repeat([0, 1, 2], 20)
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    base = transfer_collapse(X, y)
    moved = transfer_collapse(7.5 * X @ Q + 100.0, y)
    assert moved.cdnv == pytest.approx(base.cdnv, rel=1e-9)
    assert moved.nc1 == pytest.approx(base.nc1, rel=1e-9)
    # Nearest-mean decisions are Euclidean, so the accuracies are identical too (same draws).
    assert moved.few_shot_accuracy == pytest.approx(base.few_shot_accuracy)


def test_well_separated_clusters_give_few_shot_accuracy_one() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(4) * 100.0
    y = np.repeat(np.arange(4), 15)
    X = centres[y] + rng.standard_normal((60, 4))
    result = transfer_collapse(X, y, shots=(1, 5, 10), n_draws=5)
    assert result.shots == (1, 5, 10)
    assert result.few_shot_accuracy == (1.0, 1.0, 1.0)
    assert result.few_shot_std == (0.0, 0.0, 0.0)
    assert result.accuracy(5) == 1.0 and result.chance == 0.25


def test_few_shot_accuracy_by_hand_and_missing_when_a_class_is_too_small() -> None:
    # Class 0 at x = 0, 1; class 1 at x = 10, 11. One shot per class leaves one query per class,
    # always nearer its own class's single shot: accuracy 1. Two shots leave no query: None.
    X = np.array([[0.0], [1.0], [10.0], [11.0]])
    result = transfer_collapse(X, np.array([0, 0, 1, 1]), shots=(1, 2), n_draws=3)
    assert result.few_shot_accuracy == (1.0, None)
    assert result.accuracy(2) is None


def test_overlapping_classes_score_near_chance_and_draws_are_seeded() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 3))  # two classes from the same distribution
    y = np.repeat([0, 1], 100)
    a = transfer_collapse(X, y, seed=4)
    assert a.few_shot_accuracy == transfer_collapse(X, y, seed=4).few_shot_accuracy
    assert all(abs(acc - 0.5) < 0.1 for acc in a.few_shot_accuracy)
    json.dumps(a.to_dict(), allow_nan=False)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"shots": (0, 5)}, "shots must be positive integers"),
    ({"shots": ()}, "shots must be positive integers"),
    ({"n_draws": 0}, "n_draws must be a positive integer"),
    ({"seed": 1.5}, "seed must be an integer"),
])
def test_bad_options_are_refused(kwargs, match) -> None:
    X, y = _two_point_sets()
    with pytest.raises(ValueError, match=match):
        transfer_collapse(X, y, **kwargs)


def test_one_class_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        transfer_collapse(np.ones((4, 2)), np.zeros(4, dtype=int))
