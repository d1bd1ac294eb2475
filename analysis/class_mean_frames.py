"""Class means and their samples in 3-D, checkpoint by checkpoint, for watching collapse.

At each checkpoint the features are centred on the mean of the class means
and projected onto the top principal directions *of the class means* (the
subspace neural collapse is about), scaled so the class means have unit RMS
norm (collapse then shows as samples closing in on fixed-size means, not as
the whole cloud growing), and rotated onto the previous checkpoint's frame
(orthogonal Procrustes on the class means) so the picture does not spin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import orthogonal_procrustes

from analysis.metrics.neural_collapse import check_class_labels

__all__ = ["ClassMeanFrames", "class_mean_frames", "sample_per_class"]


@dataclass(frozen=True, eq=False)
class ClassMeanFrames:
    """Per-checkpoint coordinates of sampled rows and of the class means.

    Attributes
    ----------
    rows : ndarray of shape (m,)
        Indices (into the rows given) of the drawn samples, the same at every checkpoint.
    sample_coords : ndarray of shape (n_frames, m, n_components), float32
    mean_coords : ndarray of shape (n_frames, n_classes, n_components), float32
    labels : ndarray of shape (m,)
        Class code of each drawn sample.
    """

    rows: np.ndarray
    sample_coords: np.ndarray
    mean_coords: np.ndarray
    labels: np.ndarray


def sample_per_class(labels: np.ndarray, max_per_class: int, *, seed: int = 0) -> np.ndarray:
    """Sorted row indices with at most `max_per_class` rows of each class (seeded)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for code in np.unique(labels):
        members = np.flatnonzero(labels == code)
        if members.size > max_per_class:
            members = rng.choice(members, size=max_per_class, replace=False)
        chosen.append(members)
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def class_mean_frames(
    load_features: Callable[[int], np.ndarray] | Sequence[np.ndarray],
    labels: np.ndarray,
    *,
    n_frames: int | None = None,
    n_components: int = 3,
    max_per_class: int = 60,
    seed: int = 0,
) -> ClassMeanFrames:
    """Project every checkpoint's features onto its class-mean subspace, aligned over time.

    Parameters
    ----------
    load_features : sequence of ndarray of shape (n_samples, d), or callable i -> ndarray
        The features at each checkpoint (same rows, same order). A callable
        loads one checkpoint at a time (memory-mapped runs), with `n_frames`.
    labels : ndarray of shape (n_samples,)
        Integer class codes, at least two classes, none empty.
    n_frames : int, optional
        Number of checkpoints when `load_features` is a callable.
    n_components : int, default=3
    max_per_class : int, default=60
        Samples drawn per class (the means use every row).
    seed : int, default=0

    Returns
    -------
    ClassMeanFrames
    """
    if callable(load_features):
        if n_frames is None:
            raise ValueError("n_frames is required when load_features is a callable.")
        count, load = int(n_frames), load_features
    else:
        count, load = len(load_features), load_features.__getitem__
    if count < 1:
        raise ValueError("class_mean_frames needs at least one checkpoint.")
    first = np.asarray(load(0))
    y, C = check_class_labels(labels, first.shape[0])
    rows = sample_per_class(y, max_per_class, seed=seed)
    sample_frames, mean_frames = [], []
    previous = None
    for i in range(count):
        X = np.asarray(first if i == 0 else load(i), dtype=np.float64)
        if X.shape[0] != y.size:
            raise ValueError(f"checkpoint {i} has {X.shape[0]} rows; the labels describe {y.size}.")
        counts = np.bincount(y, minlength=C)
        means = np.zeros((C, X.shape[1]))
        np.add.at(means, y, X)  # C x d: small, and clearer than a one-hot product here
        means /= counts[:, None]
        centre = means.mean(axis=0)
        centred_means = means - centre
        singular_values, vt = np.linalg.svd(centred_means, full_matrices=False)[1:]
        # Only directions the means really span (at most C-1): the rest of vt is an
        # arbitrary completion, and projecting samples on it would invent a coordinate.
        tolerance = max(centred_means.shape) * np.finfo(np.float64).eps * (singular_values[0] if singular_values.size else 0.0)
        rank = int(np.count_nonzero(singular_values > tolerance))
        basis = np.zeros((X.shape[1], n_components))
        width = min(n_components, rank)
        basis[:, :width] = vt[:width].T
        mean_coords = centred_means @ basis
        sample_coords = (X[rows] - centre) @ basis
        scale = np.sqrt(np.mean(np.sum(mean_coords**2, axis=1)))
        if scale > 0:
            mean_coords, sample_coords = mean_coords / scale, sample_coords / scale
        if previous is not None:
            rotation, _ = orthogonal_procrustes(mean_coords, previous)
            mean_coords, sample_coords = mean_coords @ rotation, sample_coords @ rotation
        previous = mean_coords
        sample_frames.append(sample_coords.astype(np.float32))
        mean_frames.append(mean_coords.astype(np.float32))
    return ClassMeanFrames(
        rows=rows,
        sample_coords=np.stack(sample_frames),
        mean_coords=np.stack(mean_frames),
        labels=y[rows],
    )
