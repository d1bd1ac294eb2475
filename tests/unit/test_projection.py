"""Unit tests for analysis.projection (project, align_to, project_sequence)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.projection import (
    TRUSTWORTHINESS_SAMPLE_SIZE,
    Projection,
    align_to,
    project,
    project_sequence,
)


def plane_in_10d(n: int = 300, seed: int = 0) -> np.ndarray:
    """A linear 2-D manifold (a plane) embedded in 10-D."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((10, 2)))
    return rng.uniform(-1, 1, (n, 2)) @ basis.T + 5.0


def blobs(n_per_class: int = 40, n_classes: int = 3, d: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, d)) * 6
    labels = np.repeat(np.arange(n_classes), n_per_class)
    X = centres[labels] + rng.standard_normal((labels.size, d))
    return X, labels


# ------------------------------------------------------------------------ PCA


def test_pca_of_a_plane_is_trustworthy_and_explains_everything():
    proj = project(plane_in_10d(), method="pca")
    assert isinstance(proj, Projection)
    assert proj.coords.shape == (300, 2) and proj.coords.dtype == np.float32
    assert proj.trustworthiness > 0.99
    assert proj.trustworthiness_k == 10 and proj.trustworthiness_sample_size == 300
    assert proj.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-6)
    assert proj.method == "pca" and proj.n_components == 2 and proj.n_samples == 300


def test_pca_three_components_and_to_dict_is_json():
    X, _ = blobs()
    proj = project(X, method="pca", n_components=3)
    assert proj.coords.shape == (120, 3)
    payload = json.loads(json.dumps(proj.to_dict()))
    assert payload["method"] == "pca"
    assert len(payload["coords"]) == 120 and len(payload["explained_variance_ratio"]) == 3


def test_trustworthiness_is_subsampled_above_5000_rows():
    X = plane_in_10d(n=5001, seed=1)
    proj = project(X, method="pca", seed=3)
    assert proj.trustworthiness_sample_size == TRUSTWORTHINESS_SAMPLE_SIZE
    assert proj.trustworthiness > 0.99
    assert project(X[:5000], method="pca").trustworthiness_sample_size == 5000


# ------------------------------------------------------------------------ LDA


def test_lda_separates_labelled_classes():
    X, labels = blobs(n_classes=3)
    proj = project(X, method="lda", labels=labels)
    assert proj.coords.shape == (120, 2)
    assert proj.explained_variance_ratio.shape == (2,)
    assert proj.params["n_classes"] == 3
    # Class means in the layout are far apart relative to within-class spread.
    means = np.array([proj.coords[labels == c].mean(axis=0) for c in range(3)])
    spread = max(proj.coords[labels == c].std(axis=0).max() for c in range(3))
    gaps = [np.linalg.norm(means[a] - means[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 3 * spread


@pytest.mark.parametrize(
    ("labels", "n_components", "match"),
    [
        (None, 2, r"needs labels.*method='pca'"),
        (np.zeros(120, dtype=int), 2, r"at least 2 classes; got 1.*method='pca'"),
        ("three", 3, r"3 classes gives at most 2 component\(s\); got n_components=3.*method='pca'"),
        (np.repeat([0, 1], 60), 2, r"2 classes gives at most 1 component"),
        (np.zeros(7, dtype=int), 2, r"labels must have shape \(120,\)"),
    ],
)
def test_lda_errors(labels, n_components, match):
    X, three = blobs(n_classes=3)
    if isinstance(labels, str):
        labels = three
    with pytest.raises(ValueError, match=match):
        project(X, method="lda", labels=labels, n_components=n_components)


# -------------------------------------------------------------- t-SNE and UMAP


def test_tsne_small_clamps_perplexity_and_keeps_clusters():
    X, labels = blobs(n_per_class=15, n_classes=2)
    proj = project(X, method="tsne", seed=0)
    assert proj.params["perplexity"] == pytest.approx((30 - 1) / 3)
    assert proj.explained_variance_ratio is None
    assert proj.trustworthiness > 0.8
    # Same seed, same layout.
    np.testing.assert_array_equal(project(X, method="tsne", seed=0).coords, proj.coords)


def test_umap_is_seeded_and_trustworthy():
    X, _ = blobs(n_per_class=50, n_classes=4, d=8)  # 200 rows
    first = project(X, method="umap", seed=7)
    again = project(X, method="umap", seed=7)
    assert first.coords.shape == (200, 2) and first.coords.dtype == np.float32
    np.testing.assert_array_equal(first.coords, again.coords)
    assert first.trustworthiness > 0.9
    assert first.params["n_neighbors"] == 15 and first.params["seed"] == 7


# --------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("X", "kwargs", "match"),
    [
        (np.zeros((10, 3)), {"method": "isomap"}, r"method must be one of .*'isomap'"),
        (np.zeros((10, 3)), {"n_components": 4}, r"n_components must be 2 or 3 .*; got 4"),
        (np.zeros((10, 2)), {"n_components": 3}, r"2 feature\(s\).*at most 2 component"),
        (np.zeros((10, 3)), {"metric": "l1"}, r"metric must be 'euclidean' or 'cosine'"),
        (np.zeros(10), {}, r"2-D array .* shape \(10,\)"),
        (np.zeros((2, 3)), {}, r"at least 3 samples; got 2"),
        (np.array([[0.0, 1.0], [np.nan, 1.0], [2.0, 3.0]]), {}, r"NaN or Inf in 1 rows \(first: 1\)"),
    ],
)
def test_project_validation_errors(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        project(X, **kwargs)


# ----------------------------------------------------------------- Procrustes


@pytest.mark.parametrize("reflect", [False, True])
def test_align_to_recovers_a_known_rotation_reflection_and_shift(reflect):
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((50, 2))
    theta = 0.7
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    if reflect:
        R = R @ np.diag([1.0, -1.0])
    moved = reference @ R.T + np.array([10.0, -4.0])
    np.testing.assert_allclose(align_to(reference, moved), reference, atol=1e-12)
    # float32 stays float32.
    aligned32 = align_to(reference, moved.astype(np.float32))
    assert aligned32.dtype == np.float32
    np.testing.assert_allclose(aligned32, reference, atol=1e-4)


def test_align_to_keeps_scale_unless_asked():
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((40, 3))
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    moved = 2.5 * reference @ Q
    aligned = align_to(reference, moved)
    np.testing.assert_allclose(aligned, 2.5 * reference - 1.5 * reference.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(align_to(reference, moved, scale=True), reference, atol=1e-10)


def test_align_to_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"same shape .*\(5, 2\) and \(4, 2\)"):
        align_to(np.zeros((5, 2)), np.zeros((4, 2)))


def test_project_sequence_removes_sign_flips_and_reports_progress():
    X = plane_in_10d(n=100)
    calls = []
    seq = project_sequence(
        [X, -X, X @ np.diag([1.0] * 9 + [-1.0])],
        method="pca",
        progress=lambda fraction, message: calls.append((fraction, message)),
    )
    assert [p.params["aligned"] for p in seq] == [False, True, True]
    for step in seq[1:]:
        np.testing.assert_allclose(step.coords, seq[0].coords, atol=1e-4)
    assert [c[0] for c in calls] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    assert all(isinstance(c[1], str) and c[1] for c in calls)


def test_project_sequence_needs_same_rows():
    with pytest.raises(ValueError, match=r"X_seq\[1\] has 9 rows but X_seq\[0\] has 10"):
        project_sequence([np.ones((10, 3)), np.ones((9, 3))])
    with pytest.raises(ValueError, match="empty"):
        project_sequence([])
