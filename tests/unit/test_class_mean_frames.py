"""Class means and samples in 3-D per checkpoint: sampling, scale, ETF geometry, alignment, errors."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.class_mean_frames import ClassMeanFrames, class_mean_frames, sample_per_class


def _orthogonal(d: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))  # a Haar-random orthogonal matrix


def _clustered(n_per_class: int = 40, n_classes: int = 5, d: int = 8, *, seed: int = 0,
               spread: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Features with distinct class means (generic, so their top 3 directions are well defined)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(n_classes, d))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    X = centres[labels] + rng.normal(scale=spread, size=(labels.size, d))
    return X, labels


def _simplex_etf(n_classes: int, d: int, *, seed: int) -> np.ndarray:
    """C class means forming a simplex ETF in R^d, randomly rotated, scaled and translated."""
    etf = np.sqrt(n_classes / (n_classes - 1)) * (np.eye(n_classes) - 1.0 / n_classes)
    padded = np.zeros((n_classes, d))
    padded[:, :n_classes] = etf
    rng = np.random.default_rng(seed)
    return 2.5 * padded @ _orthogonal(d, seed) + rng.normal(size=d)


# --- sample_per_class ---------------------------------------------------------------------


def test_sample_per_class_caps_each_class_and_keeps_every_class() -> None:
    labels = np.array([0] * 100 + [1] * 30 + [2] * 5 + [3] * 20)
    np.random.default_rng(1).shuffle(labels)
    rows = sample_per_class(labels, 20, seed=3)
    assert rows.dtype == np.int64
    assert np.all(np.diff(rows) > 0)  # sorted and no row twice
    assert np.bincount(labels[rows]).tolist() == [20, 20, 5, 20]


def test_sample_per_class_is_deterministic_per_seed() -> None:
    labels = np.repeat(np.arange(3), 50)
    a = sample_per_class(labels, 10, seed=7)
    b = sample_per_class(labels, 10, seed=7)
    c = sample_per_class(labels, 10, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)  # the seed matters


def test_sample_per_class_keeps_small_classes_whole() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    assert sample_per_class(labels, 10).tolist() == [0, 1, 2, 3, 4]


# --- class_mean_frames: shapes and scale ---------------------------------------------------


def test_shapes_dtypes_and_drawn_rows() -> None:
    X, labels = _clustered(n_per_class=30, n_classes=5)
    frames = [X, X * 2.0 + 1.0, X + np.random.default_rng(2).normal(size=X.shape)]
    result = class_mean_frames(frames, labels, max_per_class=12, seed=4)
    assert isinstance(result, ClassMeanFrames)
    m = 5 * 12
    assert result.sample_coords.shape == (3, m, 3)
    assert result.mean_coords.shape == (3, 5, 3)
    assert result.sample_coords.dtype == np.float32 and result.mean_coords.dtype == np.float32
    assert np.array_equal(result.rows, sample_per_class(labels, 12, seed=4))
    assert np.array_equal(result.labels, labels[result.rows])


def test_class_means_have_unit_rms_norm_in_every_frame() -> None:
    X, labels = _clustered()
    rng = np.random.default_rng(5)
    frames = [X * scale + rng.normal(size=X.shape[1]) for scale in (0.01, 1.0, 300.0)]
    result = class_mean_frames(frames, labels)
    rms = np.sqrt(np.mean(np.sum(result.mean_coords.astype(np.float64) ** 2, axis=2), axis=1))
    np.testing.assert_allclose(rms, 1.0, atol=1e-5)


def test_perfect_simplex_etf_collapses_samples_onto_means_with_cosine_minus_one_third() -> None:
    C, d = 4, 6
    means = _simplex_etf(C, d, seed=11)
    labels = np.repeat(np.arange(C), 25)
    X = means[labels]  # zero within-class spread
    result = class_mean_frames([X], labels, max_per_class=10)
    sample, mean = result.sample_coords[0], result.mean_coords[0]
    np.testing.assert_allclose(sample, mean[result.labels], atol=1e-5)
    unit = mean / np.linalg.norm(mean, axis=1, keepdims=True)
    cosines = unit @ unit.T
    off_diagonal = cosines[~np.eye(C, dtype=bool)]
    np.testing.assert_allclose(off_diagonal, -1.0 / 3.0, atol=1e-5)
    # equinorm, and unit RMS norm therefore means unit norm
    np.testing.assert_allclose(np.linalg.norm(mean, axis=1), 1.0, atol=1e-5)


# --- class_mean_frames: alignment over time ------------------------------------------------


def test_rotated_checkpoint_is_aligned_back_onto_the_previous_frame() -> None:
    X, labels = _clustered(n_classes=5, d=8, seed=3)
    rotated = X @ _orthogonal(8, seed=21)
    result = class_mean_frames([X, rotated], labels)
    np.testing.assert_allclose(result.mean_coords[1], result.mean_coords[0], atol=1e-5)
    np.testing.assert_allclose(result.sample_coords[1], result.sample_coords[0], atol=1e-4)


def test_each_frame_is_optimally_rotated_onto_the_previous_one() -> None:
    # A pure rotation of the features leaves the SVD's own coordinates (U S)
    # unchanged, so the test above would pass even without alignment. Here the
    # class means change shape between checkpoints, the raw coordinates differ
    # by sign flips and rotations, and only Procrustes makes the best further
    # rotation onto the previous frame the identity.
    from scipy.linalg import orthogonal_procrustes

    labels = np.repeat(np.arange(4), 30)
    frames = [_clustered(n_per_class=30, n_classes=4, d=7, seed=seed)[0] for seed in (31, 32, 33, 34)]
    result = class_mean_frames(frames, labels)
    means = result.mean_coords.astype(np.float64)
    for i in range(1, len(frames)):
        best, _ = orthogonal_procrustes(means[i], means[i - 1])
        np.testing.assert_allclose(best, np.eye(3), atol=1e-5)
        # Alignment is a rotation: the means' own geometry (their Gram matrix,
        # normalised to unit mean squared norm) is that of the centred class means.
        X = frames[i]
        centred = np.stack([X[labels == c].mean(axis=0) for c in range(4)])
        centred -= centred.mean(axis=0)
        gram = centred @ centred.T
        np.testing.assert_allclose(means[i] @ means[i].T, gram / np.trace(gram) * 4, atol=1e-5)


def test_alignment_chains_over_several_checkpoints() -> None:
    X, labels = _clustered(n_classes=4, d=6, seed=9)
    frames = [X]
    for seed in (1, 2, 3):
        frames.append(frames[-1] @ _orthogonal(6, seed=seed))
    result = class_mean_frames(frames, labels)
    for i in range(1, 4):
        np.testing.assert_allclose(result.mean_coords[i], result.mean_coords[0], atol=1e-5)


def test_callable_loader_gives_the_same_result_as_a_list() -> None:
    X, labels = _clustered(seed=4)
    frames = [X, X @ _orthogonal(X.shape[1], seed=1) * 2.0, X + 0.3]
    calls: list[int] = []

    def load(i: int) -> np.ndarray:
        calls.append(i)
        return frames[i]

    from_list = class_mean_frames(frames, labels, max_per_class=15, seed=2)
    from_callable = class_mean_frames(load, labels, n_frames=3, max_per_class=15, seed=2)
    assert sorted(set(calls)) == [0, 1, 2]
    assert np.array_equal(from_list.rows, from_callable.rows)
    assert np.array_equal(from_list.labels, from_callable.labels)
    np.testing.assert_array_equal(from_list.sample_coords, from_callable.sample_coords)
    np.testing.assert_array_equal(from_list.mean_coords, from_callable.mean_coords)


# --- class_mean_frames: two classes ---------------------------------------------------------


def test_two_classes_still_give_three_components_with_the_extra_mean_components_zero() -> None:
    X, labels = _clustered(n_per_class=30, n_classes=2, d=6, seed=12)
    result = class_mean_frames([X], labels, max_per_class=10)
    assert result.sample_coords.shape == (1, 20, 3)
    assert result.mean_coords.shape == (1, 2, 3)
    np.testing.assert_allclose(result.mean_coords[..., 1:], 0.0, atol=1e-6)
    # The two means are opposite on the one axis, at unit RMS norm.
    np.testing.assert_allclose(np.abs(result.mean_coords[0, :, 0]), 1.0, atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sample_components_beyond_the_class_mean_span_are_zero(n_classes: int) -> None:
    # C class means span C - 1 directions; components beyond them are undefined
    # and must be zero for the samples too, not projections onto an arbitrary
    # direction of the means' null space.
    # Regression: the basis once took min(3, C) rows of vt, and for C <= 3 the
    # last belongs to the zero singular value (an arbitrary direction), which
    # gave samples a meaningless coordinate.
    X, labels = _clustered(n_per_class=30, n_classes=n_classes, d=6, seed=12)
    result = class_mean_frames([X], labels, max_per_class=10)
    assert result.sample_coords.shape == (1, 10 * n_classes, 3)
    np.testing.assert_allclose(result.sample_coords[..., n_classes - 1:], 0.0, atol=1e-6)


def test_two_classes_over_several_checkpoints_keep_the_extra_mean_components_zero() -> None:
    X, labels = _clustered(n_per_class=30, n_classes=2, d=6, seed=13)
    frames = [X, X @ _orthogonal(6, seed=4), X * 3.0]
    result = class_mean_frames(frames, labels)
    assert result.mean_coords.shape == (3, 2, 3)
    np.testing.assert_allclose(result.mean_coords[..., 1:], 0.0, atol=1e-5)
    np.testing.assert_allclose(result.mean_coords[1], result.mean_coords[0], atol=1e-5)


# --- class_mean_frames: errors -------------------------------------------------------------


def test_callable_without_n_frames_is_refused() -> None:
    X, labels = _clustered()
    with pytest.raises(ValueError, match="n_frames"):
        class_mean_frames(lambda i: X, labels)


def test_zero_frames_is_refused() -> None:
    _, labels = _clustered()
    with pytest.raises(ValueError, match="at least one"):
        class_mean_frames([], labels)
    with pytest.raises(ValueError, match="at least one"):
        class_mean_frames(lambda i: np.zeros((labels.size, 3)), labels, n_frames=0)


def test_row_count_mismatch_is_refused() -> None:
    X, labels = _clustered()
    with pytest.raises(ValueError, match="labels"):
        class_mean_frames([X[:-1]], labels)  # first frame disagrees with the labels
    with pytest.raises(ValueError, match="checkpoint 1"):
        class_mean_frames([X, X[:-3]], labels)  # a later frame disagrees


def test_one_class_is_refused() -> None:
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(ValueError, match="at least 2"):
        class_mean_frames([X], np.zeros(20, dtype=int))
