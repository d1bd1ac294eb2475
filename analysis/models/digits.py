"""The scikit-learn digits, standardised and split, and the shipped ``digits_mlp`` sample's recipe.

The trainers (`collapse_lab`, `contrastive`, `vq`) and `analysis.samples`
read the data and the recipe from here, so no model module imports
`analysis.samples` (which builds the shipped runs from `analysis.models`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.models.mlp_config import MLPConfig

__all__ = ["DIGITS_MLP_SETTINGS", "QUICK_DIGITS_MLP_SETTINGS", "digits_dataset", "digits_mlp_config"]

# tanh rather than ReLU: with the same budget its last hidden layer collapses
# much further (NC1 about 0.03 against 0.2 with ReLU), which is what the sample
# is for; the bounded outputs also sit comfortably in float16.
DIGITS_MLP_SETTINGS: dict[str, Any] = dict(
    hidden_sizes=(64, 64, 32),
    activation="tanh",
    optimizer="adamw",
    lr=2e-3,
    weight_decay=0.1,
    lr_schedule="cosine",
    epochs=500,
    batch_size=128,
    seed=0,
    n_checkpoints=10,
)
# `quick=True` (tests): a few epochs on a slice of the data, same code path.
QUICK_DIGITS_MLP_SETTINGS: dict[str, Any] = dict(
    hidden_sizes=(32, 32, 16),
    activation="tanh",
    epochs=4,
    batch_size=64,
    seed=0,
    n_checkpoints=5,
)


def digits_mlp_config(*, quick: bool = False) -> MLPConfig:
    """The `MLPConfig` of the shipped ``digits_mlp`` run (or of its quick variant for tests)."""
    return MLPConfig(**(QUICK_DIGITS_MLP_SETTINGS if quick else DIGITS_MLP_SETTINGS))


def digits_dataset(
    *,
    test_size: float = 0.25,
    seed: int = 0,
    return_index: bool = False,
) -> tuple[np.ndarray, ...]:
    """The scikit-learn digits (8x8 images, 10 classes), standardised and split.

    Uses the copy bundled with scikit-learn (`sklearn.datasets.load_digits`,
    1,797 samples, 64 pixel features): nothing is downloaded. The split is
    stratified by digit; the standardisation (zero mean, unit variance per
    pixel, constant pixels left at 0) is fitted on the training rows only, so
    no test statistics leak into training.

    Parameters
    ----------
    test_size : float, default=0.25
        Share of samples in the test split, in (0, 1).
    seed : int, default=0
        Seeds the split.
    return_index : bool, default=False
        Also return each split's row indices into ``load_digits()``.

    Returns
    -------
    X_train : ndarray of shape (n_train, 64), float32
    y_train : ndarray of shape (n_train,), int64
    X_test : ndarray of shape (n_test, 64), float32
    y_test : ndarray of shape (n_test,), int64
    index_train, index_test : ndarray of int64
        Only with ``return_index=True``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"test_size must be a fraction in (0, 1); got {test_size!r}.")
    X, y = load_digits(return_X_y=True)
    index = np.arange(X.shape[0], dtype=np.int64)
    index_train, index_test = train_test_split(
        index, test_size=float(test_size), random_state=int(seed), stratify=y
    )
    mean = X[index_train].mean(axis=0)
    std = X[index_train].std(axis=0)
    # Border pixels are always 0 in the training rows: divide by 1, not by 0.
    std[std == 0] = 1.0
    X_std = ((X - mean) / std).astype(np.float32)
    y = y.astype(np.int64)
    out = (X_std[index_train], y[index_train], X_std[index_test], y[index_test])
    if return_index:
        return (*out, index_train, index_test)
    return out
