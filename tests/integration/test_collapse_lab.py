"""analysis.models.collapse_lab: data, imbalance, label noise and tiny lab runs."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from analysis.data import Run
from analysis.models import (
    DEFAULT_LAB_MLP,
    PRESETS,
    CollapseLabConfig,
    MLPConfig,
    digits_dataset,
    gaussian_mixture_dataset,
    long_tail_counts,
    train_collapse_lab,
)
from analysis.samples import digits_mlp_config

TINY_MLP = MLPConfig(
    hidden_sizes=(32, 16), lr=1e-2, epochs=4, batch_size=64, n_checkpoints=4, seed=3
)
TINY_LAB = CollapseLabConfig(imbalance_ratio=4.0, label_noise=0.2, mlp=TINY_MLP)
TINY_MIXTURE = CollapseLabConfig(
    dataset="gaussian_mixture",
    n_classes=4,
    n_features=12,
    n_per_class=80,
    separation=4.0,
    # 240 train rows are 4 steps an epoch: 20 epochs to fit them.
    mlp=replace(TINY_MLP, epochs=20),
)




@pytest.fixture(scope="module")
def lab_run() -> Run:
    return train_collapse_lab(TINY_LAB, name="lab")


@pytest.fixture(scope="module")
def mixture_run() -> Run:
    return train_collapse_lab(TINY_MIXTURE)


def _rows(run: Run, split: str) -> np.ndarray:
    return (run.metadata["split"] == split).to_numpy()


# --- the Gaussian mixture --------------------------------------------------------------


def test_gaussian_mixture_shapes_and_split() -> None:
    X_tr, y_tr, X_te, y_te = gaussian_mixture_dataset(
        n_classes=3, n_features=7, n_per_class=40, test_size=0.25, seed=2
    )
    assert X_tr.shape == (90, 7) and X_te.shape == (30, 7)
    assert X_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert np.bincount(y_tr).tolist() == [30, 30, 30]
    assert np.bincount(y_te).tolist() == [10, 10, 10]
    # Rows are shuffled, not grouped by class.
    assert not np.all(np.diff(y_tr) >= 0)
    again = gaussian_mixture_dataset(n_classes=3, n_features=7, n_per_class=40, seed=2)
    np.testing.assert_array_equal(again[0], X_tr)
    other = gaussian_mixture_dataset(n_classes=3, n_features=7, n_per_class=40, seed=3)
    assert not np.array_equal(other[0], X_tr)


@pytest.mark.parametrize("separation", [1.5, 3.0, 6.0])
def test_gaussian_mixture_separation_and_noise(separation: float) -> None:
    X_tr, y_tr, X_te, y_te = gaussian_mixture_dataset(
        n_classes=5, n_features=8, n_per_class=4000, separation=separation, seed=0
    )
    X = np.concatenate([X_tr, X_te]).astype(np.float64)
    y = np.concatenate([y_tr, y_te])
    means = np.stack([X[y == c].mean(axis=0) for c in range(5)])
    distances = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(5, 1)]
    # Sample means are within ~1/sqrt(4000) per coordinate of the centres.
    assert distances.mean() == pytest.approx(separation, abs=0.05)
    residual = X - means[y]
    np.testing.assert_allclose(residual.std(axis=0), 1.0, atol=0.02)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_classes": 1}, "n_classes must be an integer >= 2"),
        ({"separation": 0.0}, "separation must be a positive number"),
        ({"n_per_class": 3, "test_size": 0.1}, "each split needs at least one per class"),
        ({"test_size": 1.0}, r"test_size must be a fraction in \(0, 1\)"),
    ],
)
def test_gaussian_mixture_rejects(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gaussian_mixture_dataset(**kwargs)


# --- a lab run on the digits: imbalance, then label noise ------------------------------


def test_imbalanced_train_split_follows_the_profile(lab_run: Run) -> None:
    _, y_tr_full, _, y_te_full = digits_dataset(test_size=0.25, seed=0)
    train, test = _rows(lab_run, "train"), _rows(lab_run, "test")
    clean = np.array([int(c) for c in lab_run.metadata["clean_label"]])
    expected = long_tail_counts(np.bincount(y_tr_full, minlength=10), 4.0)
    assert np.bincount(clean[train], minlength=10).tolist() == expected.tolist()
    assert expected[0] > expected[-1]
    # The test split is the full, balanced one, untouched.
    np.testing.assert_array_equal(lab_run.labels[test], y_te_full)


def test_label_noise_flips_exactly_and_is_recorded(lab_run: Run) -> None:
    meta = lab_run.metadata
    train, test = _rows(lab_run, "train"), _rows(lab_run, "test")
    n_train = int(train.sum())
    clean = np.array([int(c) for c in meta["clean_label"]])
    flipped = meta["label_flipped"].to_numpy()
    assert meta.columns == ["id", "split", "digit", "clean_label", "label_flipped", "source_index"]
    assert int(flipped[train].sum()) == round(0.2 * n_train)
    assert not flipped[test].any()
    # Run labels are the labels trained on: noisy where flipped, clean elsewhere.
    assert np.all(lab_run.labels[flipped] != clean[flipped])
    np.testing.assert_array_equal(lab_run.labels[~flipped], clean[~flipped])
    assert meta["digit"].to_list() == [str(c) for c in lab_run.labels]
    assert f"{round(0.2 * n_train)} train labels" in lab_run.task


def test_source_index_points_into_load_digits(lab_run: Run) -> None:
    from sklearn.datasets import load_digits

    _, raw_y = load_digits(return_X_y=True)
    source = lab_run.metadata["source_index"].to_numpy()
    clean = np.array([int(c) for c in lab_run.metadata["clean_label"]])
    np.testing.assert_array_equal(raw_y[source], clean)
    assert np.unique(source).size == source.size


def test_lab_run_structure(lab_run: Run) -> None:
    assert lab_run.layers == ("hidden1", "hidden2")
    assert lab_run.name == "lab"
    assert lab_run.steps[0] == 0 and len(lab_run.steps) == TINY_MLP.n_checkpoints
    n = lab_run.labels.size
    for step in lab_run.steps:
        assert lab_run.activations[("hidden2", step)].shape == (n, 16)
        assert lab_run.classifier[step][0].shape == (10, 16)
    assert "imbalance ratio 4" in lab_run.task and "20% label noise" in lab_run.task
    # Trains on the noisy labels: test accuracy on clean labels rises above chance.
    test = _rows(lab_run, "test")
    accuracy = (lab_run.predictions(lab_run.steps[-1])[test] == lab_run.labels[test]).mean()
    assert accuracy > 0.6


# --- a lab run on the mixture -----------------------------------------------------------


def test_mixture_run(mixture_run: Run) -> None:
    assert mixture_run.metadata.columns == ["id", "split", "class", "clean_label", "label_flipped"]
    assert mixture_run.label_names == ("0", "1", "2", "3")
    assert np.bincount(mixture_run.labels[_rows(mixture_run, "train")]).tolist() == [60] * 4
    assert mixture_run.activations[("hidden1", 0)].shape == (320, 32)
    assert not mixture_run.metadata["label_flipped"].any()
    assert "Gaussian mixture (12 features" in mixture_run.task
    train = _rows(mixture_run, "train")
    final = mixture_run.predictions(mixture_run.steps[-1])
    assert (final[train] == mixture_run.labels[train]).mean() > 0.9


# --- determinism, cancelling, threads ---------------------------------------------------


def test_same_config_gives_the_same_run(lab_run: Run) -> None:
    again = train_collapse_lab(TINY_LAB)
    assert again.steps == lab_run.steps
    for key, arr in lab_run.activations.items():
        np.testing.assert_array_equal(again.activations[key], arr)
    np.testing.assert_array_equal(again.labels, lab_run.labels)
    assert again.metadata.equals(lab_run.metadata)
    other = train_collapse_lab(replace(TINY_LAB, data_seed=1, mlp=replace(TINY_MLP, epochs=1)))
    assert not np.array_equal(
        other.metadata["label_flipped"].to_numpy(), lab_run.metadata["label_flipped"].to_numpy()
    )


def test_should_stop_cancels() -> None:
    polls = 0

    def stop_after_5() -> bool:
        nonlocal polls
        polls += 1
        return polls > 5

    run = train_collapse_lab(TINY_MIXTURE, should_stop=stop_after_5)
    assert run.steps[-1] == 5
    assert "stopped early at step 5" in run.task


def test_trains_on_one_thread_and_restores_the_count() -> None:
    seen: list[int] = []
    torch.set_num_threads(2)
    try:
        train_collapse_lab(
            replace(TINY_MIXTURE, mlp=replace(TINY_MLP, epochs=1)),
            progress=lambda fraction, message: seen.append(torch.get_num_threads()),
        )
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_progress_reaches_one() -> None:
    fractions: list[float] = []
    train_collapse_lab(
        replace(TINY_MIXTURE, mlp=replace(TINY_MLP, epochs=2)),
        progress=lambda fraction, message: fractions.append(fraction),
    )
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)


# --- configuration and presets ----------------------------------------------------------


def test_default_is_the_shipped_sample_config() -> None:
    config = CollapseLabConfig()
    assert config.mlp == DEFAULT_LAB_MLP == digits_mlp_config()
    assert config.dataset == "digits" and config.imbalance_ratio == 1.0
    assert config.label_noise == 0.0 and config.n_dataset_classes == 10
    assert config.describe().startswith("digits, balanced; MLP 64-64-32 (tanh)")
    as_dict = config.to_dict()
    assert as_dict["mlp"]["hidden_sizes"] == [64, 64, 32] and as_dict["dataset"] == "digits"


def test_presets() -> None:
    assert list(PRESETS) == [
        "balanced",
        "imbalanced",
        "weight decay",
        "no weight decay",
        "MSE loss",
        "fixed ETF head",
        "label noise 20%",
    ]
    base = PRESETS["balanced"]
    assert base == CollapseLabConfig()
    assert PRESETS["imbalanced"] == replace(base, imbalance_ratio=10.0)
    assert PRESETS["no weight decay"].mlp.weight_decay == 0.0
    assert PRESETS["MSE loss"].mlp.loss == "mse"
    assert PRESETS["fixed ETF head"].mlp == replace(base.mlp, fixed_etf_head=True)
    assert PRESETS["label noise 20%"] == replace(base, label_noise=0.2)
    for config in PRESETS.values():
        # Each stays within the demo budget: at most 500 epochs of the digits.
        assert config.dataset == "digits" and config.mlp.epochs <= 500


def test_weight_decay_pair_differs_only_in_weight_decay() -> None:
    with_wd, without_wd = PRESETS["weight decay"], PRESETS["no weight decay"]
    assert with_wd.mlp.weight_decay > 0 and without_wd.mlp.weight_decay == 0.0
    # Same data, model, optimiser, schedule, epochs and seed: only the decay differs.
    assert without_wd == replace(with_wd, mlp=replace(with_wd.mlp, weight_decay=0.0))
    diffs = {
        key
        for key, value in with_wd.to_dict()["mlp"].items()
        if without_wd.to_dict()["mlp"][key] != value
    }
    assert diffs == {"weight_decay"}
    # The measured pair (ReLU, MSE, 64-wide last layer, AdamW 1.0 vs 0) on the balanced digits.
    assert with_wd.mlp == replace(
        DEFAULT_LAB_MLP,
        activation="relu",
        loss="mse",
        hidden_sizes=(64, 64, 64),
        weight_decay=1.0,
    )
    assert with_wd == replace(PRESETS["balanced"], mlp=with_wd.mlp)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("dataset", "cifar10", "dataset must be one of"),
        ("imbalance_ratio", 0.5, "imbalance_ratio must be a finite number >= 1"),
        ("label_noise", 1.0, r"label_noise must be a fraction in \[0, 1\)"),
        ("label_noise", -0.1, "label_noise"),
        ("n_classes", 1, "n_classes must be an integer >= 2"),
        ("separation", -1.0, "separation must be a positive number"),
        ("test_size", 0.0, "test_size"),
        ("data_seed", 1.5, "data_seed must be an integer"),
        ("mlp", {"epochs": 3}, "mlp must be an MLPConfig"),
    ],
)
def test_bad_config_raises(field: str, value: object, match: str) -> None:
    with pytest.raises(ValueError, match=f"CollapseLabConfig.{field}") as info:
        CollapseLabConfig(**{field: value})
    assert info.match(match)


def test_etf_head_too_narrow_fails_before_training() -> None:
    config = CollapseLabConfig(
        mlp=MLPConfig(hidden_sizes=(32, 8), epochs=1, n_checkpoints=2, fixed_etf_head=True)
    )
    with pytest.raises(ValueError, match=r"fixed_etf_head.*Widen the last layer"):
        train_collapse_lab(config)


def test_rejects_a_non_config() -> None:
    with pytest.raises(ValueError, match="config must be a CollapseLabConfig"):
        train_collapse_lab(TINY_MLP)  # type: ignore[arg-type]


def test_task_describes_a_balanced_clean_run(mixture_run: Run) -> None:
    assert "label noise" not in mixture_run.task and "long-tailed" not in mixture_run.task
    assert math.isclose(mixture_run.curves["step"][0], 0.0)
