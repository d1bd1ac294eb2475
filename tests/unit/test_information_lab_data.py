"""analysis.models.information_lab: 12-bit inputs, the icosahedral label rule, split, config."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from analysis.models.information_lab import (
    INFORMATION_PRESETS,
    LABEL_THRESHOLD,
    POSITIVE_SHARE,
    InformationLabConfig,
    icosahedron_vertices,
    twelve_bit_inputs,
    twelve_bit_labels,
    twelve_bit_score,
    twelve_bit_split,
)

SQRT5 = math.sqrt(5.0)


# --- inputs -----------------------------------------------------------------------------


def test_inputs_are_every_12_bit_vector_in_order() -> None:
    X = twelve_bit_inputs()
    assert X.shape == (4096, 12) and X.dtype == np.float32
    assert set(np.unique(X).tolist()) == {0.0, 1.0}
    assert np.unique(X, axis=0).shape[0] == 4096
    # Most significant bit first: the row is its own index in binary.
    powers = 2 ** np.arange(11, -1, -1)
    np.testing.assert_array_equal(X.astype(np.int64) @ powers, np.arange(4096))
    assert X[1].tolist() == [0.0] * 11 + [1.0]
    assert X[2048].tolist() == [1.0] + [0.0] * 11
    assert "".join(str(int(b)) for b in X[0b010011000101]) == "010011000101"


# --- the icosahedron ----------------------------------------------------------------------


def test_icosahedron_has_12_unit_vertices_with_5_equidistant_neighbours() -> None:
    V = icosahedron_vertices()
    assert V.shape == (12, 3)
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0, atol=1e-12)
    G = V @ V.T
    off = G[~np.eye(12, dtype=bool)].reshape(12, 11)
    for row in off:
        # 5 neighbours at cos = 1/sqrt(5), 5 at -1/sqrt(5), one antipode.
        assert np.sum(np.isclose(row, 1 / SQRT5)) == 5
        assert np.sum(np.isclose(row, -1 / SQRT5)) == 5
        assert np.sum(np.isclose(row, -1.0)) == 1
    # The nearest other vertex is a neighbour: no two vertices closer than that.
    assert off.max() == pytest.approx(1 / SQRT5)
    np.testing.assert_allclose(V.sum(axis=0), 0.0, atol=1e-12)


def _symmetries() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every orthogonal map of the icosahedron onto itself, with its vertex permutation.

    A symmetry is fixed by where it sends vertex 0 (12 choices), one neighbour
    of it (5 choices: the neighbours of the image) and the orientation (2):
    120 maps, the full icosahedral group I_h.
    """
    V = icosahedron_vertices()
    G = V @ V.T
    neighbours = [np.flatnonzero(np.isclose(G[i], 1 / SQRT5)) for i in range(12)]
    n1 = neighbours[0][0]
    src = np.stack([V[0], V[n1], np.cross(V[0], V[n1])])
    for a in range(12):
        for b in neighbours[a]:
            for sign in (1.0, -1.0):
                dst = np.stack([V[a], V[b], sign * np.cross(V[a], V[b])])
                R = np.linalg.solve(src, dst).T  # R @ src[k] == dst[k]
                images = V @ R.T
                match = np.isclose(images @ V.T, 1.0, atol=1e-9)
                assert match.sum(axis=1).tolist() == [1] * 12, "not a symmetry"
                yield R, match.argmax(axis=1)  # R v_i = v_perm[i]


def test_the_symmetry_group_has_120_orthogonal_maps() -> None:
    maps = list(_symmetries())
    assert len(maps) == 120
    perms = {tuple(p) for _, p in maps}
    assert len(perms) == 120
    dets = [round(float(np.linalg.det(R))) for R, _ in maps]
    assert dets.count(1) == 60 and dets.count(-1) == 60
    for R, _ in maps:
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)


def test_labels_are_invariant_under_every_icosahedral_symmetry() -> None:
    X = twelve_bit_inputs()
    y = twelve_bit_labels(X)
    f = twelve_bit_score(X)
    moved_some = False
    for _, perm in _symmetries():
        # Bit i moves to vertex perm[i]: x'[perm[i]] = x[i].
        X_moved = np.empty_like(X)
        X_moved[:, perm] = X
        moved_some |= not np.array_equal(X_moved, X)
        np.testing.assert_allclose(twelve_bit_score(X_moved), f, atol=1e-9)
        np.testing.assert_array_equal(twelve_bit_labels(X_moved), y)
    assert moved_some
    # Flipping every bit (s -> -s) keeps f too.
    np.testing.assert_array_equal(twelve_bit_labels(1 - X), y)


def test_a_permutation_that_is_no_symmetry_changes_labels() -> None:
    # No symmetry swaps two vertices and fixes the other ten: the check above can fail.
    X = twelve_bit_inputs()
    y = twelve_bit_labels(X)
    swapped = X[:, [1, 0, *range(2, 12)]]
    assert np.count_nonzero(twelve_bit_labels(swapped) != y) > 0


# --- the label rule -----------------------------------------------------------------------


def test_score_is_the_squared_resultant_of_the_spins() -> None:
    X = twelve_bit_inputs()
    f = twelve_bit_score(X)
    assert f.mean() == pytest.approx(12.0)  # distinct spins are uncorrelated
    assert f[0] == pytest.approx(0.0)  # all spins equal: the vertices sum to zero
    values = np.unique(np.round(f, 9))
    assert values.size == 20
    assert values.max() == pytest.approx(float(f.max()))
    # f = 12 + 2 sum_{i<j} s_i s_j v_i.v_j, hand-checked on one row.
    V = icosahedron_vertices()
    s = 2 * X[0b101100111000].astype(np.float64) - 1
    assert f[0b101100111000] == pytest.approx(float(np.sum(np.outer(s, s) * (V @ V.T))))


def test_threshold_gives_the_share_closest_to_one_half() -> None:
    X = twelve_bit_inputs()
    y = twelve_bit_labels(X)
    assert y.dtype == np.int64 and y.shape == (4096,)
    assert int(y.sum()) == 2036
    assert y.mean() == POSITIVE_SHARE
    f = twelve_bit_score(X)
    values = np.unique(np.round(f, 9))
    shares = np.array([(f > v + 1e-6).mean() for v in values])
    best = int(np.argmin(np.abs(shares - 0.5)))
    np.testing.assert_array_equal((f > values[best] + 1e-6).astype(np.int64), y)
    # The cut sits between 16 - 16/sqrt5 and 8 + 8/sqrt5; the neighbouring cuts are worse.
    assert values[best] == pytest.approx(16 - 16 / SQRT5)
    assert values[best + 1] == pytest.approx(8 + 8 / SQRT5)
    assert values[best] < LABEL_THRESHOLD < values[best + 1]
    assert abs(shares[best - 1] - 0.5) > 0.05 and abs(shares[best + 1] - 0.5) > 0.1


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((3, 11)), r"shape \(n, 12\)"),
        (np.zeros(12), r"shape \(n, 12\)"),
        (np.full((2, 12), 2.0), "only 0s and 1s"),
        (np.full((2, 12), "1"), "only 0s and 1s"),
    ],
)
def test_labels_reject_non_bit_inputs(X: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        twelve_bit_labels(X)


# --- split ------------------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_seeded() -> None:
    y = twelve_bit_labels(twelve_bit_inputs())
    train, test = twelve_bit_split(y, train_fraction=0.85, seed=0)
    assert train.dtype == np.int64 and test.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert np.intersect1d(train, test).size == 0
    assert train.size + test.size == 4096
    assert np.bincount(y[train]).tolist() == [round(0.85 * 2060), round(0.85 * 2036)]
    assert (train.size, test.size) == (3482, 614)
    again, _ = twelve_bit_split(y, train_fraction=0.85, seed=0)
    np.testing.assert_array_equal(again, train)
    other, _ = twelve_bit_split(y, train_fraction=0.85, seed=1)
    assert not np.array_equal(other, train)
    with pytest.raises(ValueError, match="each split needs at least one row"):
        twelve_bit_split(np.array([0, 0, 1, 1]), train_fraction=0.9)
    with pytest.raises(ValueError, match=r"fraction in \(0, 1\)"):
        twelve_bit_split(y, train_fraction=1.0)


# --- config -----------------------------------------------------------------------------


def test_default_config_and_presets() -> None:
    config = InformationLabConfig()
    assert config.activation == "tanh"
    assert config.widths == (12, 10, 7, 5, 4, 3, 2)
    assert config.train_fraction == 0.85 and config.n_checkpoints == 30
    assert set(INFORMATION_PRESETS) == {"tanh", "relu"}
    tanh, relu = INFORMATION_PRESETS["tanh"], INFORMATION_PRESETS["relu"]
    assert tanh == config
    assert relu.activation == "relu"
    assert {**relu.to_dict(), "activation": "tanh"} == tanh.to_dict()
    text = config.describe()
    assert "\n" not in text
    assert "12-10-7-5-4-3-2 (tanh)" in text and "Adam lr=0.0004" in text
    mlp = config.mlp_config()
    assert (mlp.optimizer, mlp.weight_decay, mlp.lr_schedule, mlp.loss) == (
        "adamw",
        0.0,
        "constant",
        "cross_entropy",
    )
    assert mlp.hidden_sizes == (10, 7, 5, 4, 3) and mlp.epochs == config.epochs


def test_config_round_trips_through_a_dict() -> None:
    config = InformationLabConfig(activation="relu", hidden_sizes=[8, 4], lr=1e-3, seed=3)
    assert config.hidden_sizes == (8, 4)
    assert InformationLabConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match=r"no field\(s\) \['colour'\]"):
        InformationLabConfig.from_dict({**config.to_dict(), "colour": "red"})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"activation": "gelu"}, "activation must be one of"),
        ({"hidden_sizes": ()}, "hidden_sizes must be a non-empty sequence"),
        ({"hidden_sizes": (10, 0)}, "hidden_sizes must be a non-empty sequence"),
        ({"hidden_sizes": "10,7"}, "hidden_sizes must be a non-empty sequence"),
        ({"hidden_sizes": (10, 2.5)}, "hidden_sizes must be a non-empty sequence"),
        ({"lr": 0.0}, "lr must be a positive number"),
        ({"lr": float("nan")}, "lr must be a positive number"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"epochs": 1.5}, "epochs must be a positive integer"),
        ({"epochs": True}, "epochs must be a positive integer"),
        ({"train_fraction": 1.0}, r"train_fraction must be a fraction in \(0, 1\)"),
        ({"train_fraction": 1e-4}, "each split needs at least one"),
        ({"n_checkpoints": 1}, "n_checkpoints must be an integer >= 2"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"data_seed": "0"}, "data_seed must be an integer"),
    ],
)
def test_config_rejects(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        InformationLabConfig(**kwargs)
