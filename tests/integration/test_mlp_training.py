"""analysis.models.mlp: a tiny MLP on the bundled digits, recorded as a Run."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import torch

from analysis.data import Run, load_run, save_run
from analysis.models import (
    MLPClassifier,
    MLPConfig,
    checkpoint_steps,
    digits_dataset,
    simplex_etf,
    train_mlp,
)

TINY = MLPConfig(
    hidden_sizes=(32, 32, 16), lr=1e-2, epochs=6, batch_size=64, n_checkpoints=6, seed=3
)




@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, ...]:
    return digits_dataset(test_size=0.25, seed=0)


@pytest.fixture(scope="module")
def tiny_run(digits: tuple[np.ndarray, ...]) -> Run:
    return train_mlp(*digits, TINY)


def _accuracy(run: Run, step: int, split: str) -> float:
    rows = (run.metadata["split"] == split).to_numpy()
    return float((run.predictions(step)[rows] == run.labels[rows]).mean())


# --- the data set -------------------------------------------------------------


def test_digits_dataset_split_and_standardisation() -> None:
    from sklearn.datasets import load_digits

    X_tr, y_tr, X_te, y_te, i_tr, i_te = digits_dataset(test_size=0.25, seed=0, return_index=True)
    raw_X, raw_y = load_digits(return_X_y=True)
    assert X_tr.shape[0] + X_te.shape[0] == raw_X.shape[0] == 1797
    assert X_tr.shape[1] == X_te.shape[1] == 64
    assert X_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert abs(X_te.shape[0] - 0.25 * 1797) <= 1
    assert np.intersect1d(i_tr, i_te).size == 0
    np.testing.assert_array_equal(y_tr, raw_y[i_tr])
    np.testing.assert_array_equal(y_te, raw_y[i_te])
    # Stratified: every class's share agrees between the splits.
    share_tr = np.bincount(y_tr, minlength=10) / len(y_tr)
    share_te = np.bincount(y_te, minlength=10) / len(y_te)
    assert np.abs(share_tr - share_te).max() < 0.01
    # Standardised on the training rows (constant pixels stay at 0).
    np.testing.assert_allclose(X_tr.mean(axis=0), 0, atol=1e-5)
    std = X_tr.std(axis=0)
    varying = raw_X[i_tr].std(axis=0) > 0
    np.testing.assert_allclose(std[varying], 1, atol=1e-4)
    assert np.all(std[~varying] == 0)
    # Same seed, same split; another seed, another split.
    again = digits_dataset(test_size=0.25, seed=0)
    np.testing.assert_array_equal(again[0], X_tr)
    other = digits_dataset(test_size=0.25, seed=1)
    assert not np.array_equal(other[1], y_tr)


# --- checkpoints -------------------------------------------------------------------


@pytest.mark.parametrize("total", [0, 1, 5, 9, 10, 11, 100, 3300, 10**6])
@pytest.mark.parametrize("n", [2, 5, 10])
def test_checkpoint_steps(total: int, n: int) -> None:
    steps = checkpoint_steps(total, n)
    assert len(steps) == min(n, total + 1)
    assert steps[0] == 0 and steps[-1] == total
    assert steps == sorted(set(steps))


def test_checkpoint_steps_are_log_spaced() -> None:
    steps = checkpoint_steps(10_000, 5)
    assert steps == [0, 10, 100, 1000, 10_000]


# --- training ----------------------------------------------------------------------


def test_tiny_config_learns_digits(tiny_run: Run) -> None:
    last = tiny_run.steps[-1]
    assert _accuracy(tiny_run, last, "train") > 0.9
    assert _accuracy(tiny_run, last, "test") > 0.85
    assert tiny_run.curves["train_acc"][-1] == pytest.approx(_accuracy(tiny_run, last, "train"))


def test_run_structure(tiny_run: Run, digits: tuple[np.ndarray, ...]) -> None:
    X_tr, y_tr, X_te, y_te = digits
    n_train, n_test = len(y_tr), len(y_te)
    n = n_train + n_test
    steps_per_epoch = math.ceil(n_train / TINY.batch_size)
    assert tiny_run.layers == ("hidden1", "hidden2", "hidden3")
    assert list(tiny_run.steps) == checkpoint_steps(
        TINY.epochs * steps_per_epoch, TINY.n_checkpoints
    )
    assert tiny_run.steps[0] == 0
    for (layer, _step), arr in tiny_run.activations.items():
        width = TINY.hidden_sizes[int(layer.removeprefix("hidden")) - 1]
        assert arr.shape == (n, width) and arr.dtype == np.float32
    assert set(tiny_run.classifier) == set(tiny_run.steps) == set(tiny_run.logits)
    for step in tiny_run.steps:
        weight, bias = tiny_run.classifier[step]
        assert weight.shape == (10, TINY.hidden_sizes[-1]) and bias.shape == (10,)
        assert tiny_run.logits[step].shape == (n, 10)
        # The stored classifier and last hidden layer reproduce the stored logits.
        hidden = tiny_run.activations[("hidden3", step)]
        np.testing.assert_allclose(
            hidden @ weight.T + bias, tiny_run.logits[step], rtol=1e-4, atol=1e-4
        )
    np.testing.assert_array_equal(tiny_run.labels, np.concatenate([y_tr, y_te]))
    assert tiny_run.label_names == tuple(str(d) for d in range(10))
    meta = tiny_run.metadata
    assert meta.columns[:3] == ["id", "split", "digit"]
    assert meta["id"].to_list() == list(range(n))
    assert meta["split"].to_list() == ["train"] * n_train + ["test"] * n_test
    assert meta["digit"].to_list() == [str(c) for c in tiny_run.labels]
    assert tiny_run.splits() == ["test", "train"]
    assert "MLP 32-32-16" in tiny_run.task
    # Train rows first: the test block's activations belong to X_test.
    emb = tiny_run.embedding("hidden1", tiny_run.steps[-1])
    assert emb.X.shape == (n, 32) and emb.labels is not None


def test_step_zero_is_the_initialisation(tiny_run: Run, digits: tuple[np.ndarray, ...]) -> None:
    X_tr, _, X_te, _ = digits
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY.seed)
        fresh = MLPClassifier(64, 10, hidden_sizes=TINY.hidden_sizes, activation=TINY.activation)
    X_all = torch.from_numpy(np.concatenate([X_tr, X_te]))
    with torch.no_grad():
        expected = fresh.hidden1(X_all).numpy()
    np.testing.assert_allclose(tiny_run.activations[("hidden1", 0)], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        tiny_run.classifier[0][0], fresh.classifier.weight.detach().numpy()
    )
    # Untrained: chance-level loss and accuracy.
    assert tiny_run.curves["step"][0] == 0
    assert tiny_run.curves["train_loss"][0] == pytest.approx(math.log(10), rel=0.15)
    assert _accuracy(tiny_run, 0, "train") < 0.4


def test_curves(tiny_run: Run) -> None:
    curves = tiny_run.curves
    assert set(curves) == {"step", "train_loss", "train_acc", "test_loss", "test_acc"}
    steps = curves["step"]
    assert len({len(v) for v in curves.values()}) == 1
    assert steps == sorted(set(steps))
    # Every epoch end and every checkpoint is a point of the curve.
    assert len(steps) >= TINY.epochs + 1
    assert set(tiny_run.steps) <= set(steps)
    assert curves["train_loss"][-1] < 0.25 * curves["train_loss"][0]
    assert curves["test_loss"][-1] < curves["test_loss"][0]
    assert curves["train_acc"][-1] > curves["train_acc"][0]
    assert all(0.0 <= a <= 1.0 for a in curves["train_acc"] + curves["test_acc"])


def test_deterministic_and_leaves_global_rng_alone(digits: tuple[np.ndarray, ...]) -> None:
    config = MLPConfig(hidden_sizes=(16,), epochs=2, batch_size=128, n_checkpoints=3, seed=7)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = train_mlp(*digits, config)
    assert torch.equal(torch.get_rng_state(), state)
    second = train_mlp(*digits, config)
    assert first.steps == second.steps
    for key in first.activations:
        np.testing.assert_array_equal(first.activations[key], second.activations[key])
    assert first.curves == second.curves
    other = train_mlp(*digits, MLPConfig(hidden_sizes=(16,), epochs=2, n_checkpoints=3, seed=8))
    assert not np.array_equal(other.activations[("hidden1", 0)], first.activations[("hidden1", 0)])


def test_should_stop_stops_early(digits: tuple[np.ndarray, ...]) -> None:
    polls = 0

    def stop_after_40() -> bool:
        nonlocal polls
        polls += 1
        return polls > 40  # polled before each step: 40 steps run

    run = train_mlp(*digits, TINY, should_stop=stop_after_40)
    planned = checkpoint_steps(
        TINY.epochs * math.ceil(len(digits[1]) / TINY.batch_size), TINY.n_checkpoints
    )
    assert run.steps[-1] == 40
    assert [s for s in run.steps if s != 40] == [s for s in planned if s < 40]
    assert set(run.classifier) == set(run.steps) == set(run.logits)
    assert run.curves["step"][-1] == 40
    assert "stopped early" in run.task


def test_should_stop_immediately_keeps_step_zero(digits: tuple[np.ndarray, ...]) -> None:
    run = train_mlp(*digits, TINY, should_stop=lambda: True)
    assert run.steps == (0,)
    assert ("hidden3", 0) in run.activations and 0 in run.classifier


def test_progress_fractions(digits: tuple[np.ndarray, ...]) -> None:
    calls: list[tuple[float, str]] = []
    train_mlp(*digits, TINY, progress=lambda f, m: calls.append((f, m)))
    fractions = [f for f, _ in calls]
    assert len(calls) >= TINY.epochs
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in calls)


def test_progress_ends_at_one_when_stopped(digits: tuple[np.ndarray, ...]) -> None:
    calls: list[float] = []
    train_mlp(*digits, TINY, progress=lambda f, m: calls.append(f), should_stop=lambda: True)
    assert calls[-1] == 1.0 and calls == sorted(calls)


def test_save_load_round_trip_is_exact(tiny_run: Run, tmp_path) -> None:
    path = save_run(tiny_run, tmp_path / "tiny.safetensors")
    loaded = load_run(path)
    assert loaded.layers == tiny_run.layers and loaded.steps == tiny_run.steps
    assert set(loaded.activations) == set(tiny_run.activations)
    for key, arr in tiny_run.activations.items():
        assert loaded.activations[key].dtype == arr.dtype
        np.testing.assert_array_equal(loaded.activations[key], arr)
    for step in tiny_run.steps:
        np.testing.assert_array_equal(loaded.logits[step], tiny_run.logits[step])
        for got, want in zip(loaded.classifier[step], tiny_run.classifier[step], strict=True):
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(loaded.labels, tiny_run.labels)
    assert loaded.label_names == tiny_run.label_names
    assert loaded.metadata.equals(tiny_run.metadata)
    assert loaded.curves == tiny_run.curves
    assert loaded.task == tiny_run.task


def test_extra_metadata_and_label_names(digits: tuple[np.ndarray, ...]) -> None:
    X_tr, y_tr, X_te, y_te = digits
    n = len(y_tr) + len(y_te)
    names = [f"class {d}" for d in range(10)]
    extra = pl.DataFrame({"source": np.arange(n) * 2})
    config = MLPConfig(hidden_sizes=(8,), epochs=1, n_checkpoints=2)
    run = train_mlp(
        *digits, config, label_names=names, label_column="label", extra_metadata=extra, name="x"
    )
    assert run.metadata.columns == ["id", "split", "label", "source"]
    assert run.metadata["label"][0] == names[y_tr[0]]
    assert run.name == "x" and run.label_names == tuple(names)


# --- validation -----------------------------------------------------------------------


def test_bad_inputs_raise(digits: tuple[np.ndarray, ...]) -> None:
    X_tr, y_tr, X_te, y_te = digits
    config = MLPConfig(hidden_sizes=(4,), epochs=1, n_checkpoints=2)
    with pytest.raises(ValueError, match="X_test has 63 features"):
        train_mlp(X_tr, y_tr, X_te[:, :63], y_te, config)
    bad = X_tr.copy()
    bad[[3, 5], 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf in 2 rows"):
        train_mlp(bad, y_tr, X_te, y_te, config)
    with pytest.raises(ValueError, match="y_train must have shape"):
        train_mlp(X_tr, y_tr[:-1], X_te, y_te, config)
    with pytest.raises(ValueError, match="integer class codes"):
        train_mlp(X_tr, y_tr.astype(str), X_te, y_te, config)
    with pytest.raises(ValueError, match="fewer than 2 classes"):
        train_mlp(X_tr, np.zeros_like(y_tr), X_te, y_te, config)
    with pytest.raises(ValueError, match="no rows"):
        train_mlp(X_tr, y_tr, X_te[:0], y_te[:0], config)
    with pytest.raises(ValueError, match="label_names"):
        train_mlp(*digits, config, label_names=["a", "b"])
    with pytest.raises(ValueError, match="extra_metadata has 3 rows"):
        train_mlp(*digits, config, extra_metadata=pl.DataFrame({"a": [1, 2, 3]}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("activation", "sigmoid"),
        ("optimizer", "lbfgs"),
        ("lr_schedule", "linear"),
        ("loss", "hinge"),
        ("bias", 1),
        ("fixed_etf_head", "yes"),
        ("lr", 0.0),
        ("weight_decay", -1.0),
        ("epochs", 0),
        ("batch_size", 1.5),
        ("n_checkpoints", 1),
        ("hidden_sizes", ()),
        ("hidden_sizes", (8, 0)),
    ],
)
def test_bad_config_raises(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"MLPConfig.{field}"):
        MLPConfig(**{field: value})


def test_config_normalises_and_describes() -> None:
    config = MLPConfig(hidden_sizes=[10, 5], optimizer="sgd", lr=0.05, weight_decay=5e-4)
    assert config.hidden_sizes == (10, 5)
    assert hash(config) == hash(
        MLPConfig(hidden_sizes=(10, 5), optimizer="sgd", lr=0.05, weight_decay=5e-4)
    )
    assert config.to_dict()["hidden_sizes"] == [10, 5]
    assert "MLP 10-5 (relu), sgd lr=0.05" in config.describe()


def test_sgd_trains_too(digits: tuple[np.ndarray, ...]) -> None:
    config = MLPConfig(
        hidden_sizes=(32,),
        optimizer="sgd",
        lr=0.05,
        weight_decay=5e-4,
        epochs=6,
        batch_size=64,
        n_checkpoints=3,
    )
    run = train_mlp(*digits, config)
    assert _accuracy(run, run.steps[-1], "train") > 0.9


# --- loss, bias, fixed ETF head, step schedule -----------------------------------------


def _train_rows(run: Run) -> np.ndarray:
    return (run.metadata["split"] == "train").to_numpy()


def test_mse_loss_trains_and_curves_use_it(digits: tuple[np.ndarray, ...]) -> None:
    config = MLPConfig(
        hidden_sizes=(32, 16), lr=1e-2, epochs=6, batch_size=64, n_checkpoints=4, loss="mse"
    )
    run = train_mlp(*digits, config)
    assert _accuracy(run, 0, "train") < 0.4
    assert _accuracy(run, run.steps[-1], "train") > 0.9
    # The curves' loss is the summed-over-classes, averaged-over-samples squared error.
    rows = _train_rows(run)
    for index, step in ((0, 0), (-1, run.steps[-1])):
        logits = run.logits[step][rows].astype(np.float64)
        one_hot = np.eye(10)[run.labels[rows]]
        expected = ((logits - one_hot) ** 2).sum(axis=1).mean()
        assert run.curves["step"][index] == step
        assert run.curves["train_loss"][index] == pytest.approx(expected, rel=1e-5)
    assert run.curves["train_loss"][-1] < 0.5 * run.curves["train_loss"][0]
    assert "MSE loss" in run.task


def test_without_bias(digits: tuple[np.ndarray, ...]) -> None:
    model = MLPClassifier(64, 10, hidden_sizes=(8, 4), bias=False)
    names = [name for name, _ in model.named_parameters()]
    assert names == ["hidden1.linear.weight", "hidden2.linear.weight", "classifier.weight"]
    config = MLPConfig(hidden_sizes=(16,), epochs=2, n_checkpoints=3, bias=False)
    run = train_mlp(*digits, config)
    for step in run.steps:
        weight, bias = run.classifier[step]
        assert bias is None and weight.shape == (10, 16)
        np.testing.assert_allclose(
            run.activations[("hidden1", step)] @ weight.T, run.logits[step], rtol=1e-4, atol=1e-4
        )
    assert "no bias" in run.task


def test_without_bias_round_trips(digits: tuple[np.ndarray, ...], tmp_path) -> None:
    config = MLPConfig(hidden_sizes=(8,), epochs=1, n_checkpoints=2, bias=False)
    loaded = load_run(save_run(train_mlp(*digits, config), tmp_path / "nobias.safetensors"))
    assert all(bias is None for _, bias in loaded.classifier.values())


def test_fixed_etf_head_stays_a_simplex_etf(digits: tuple[np.ndarray, ...]) -> None:
    config = replace_config(TINY, fixed_etf_head=True)
    run = train_mlp(*digits, config)
    expected = simplex_etf(10, TINY.hidden_sizes[-1], seed=TINY.seed).astype(np.float32)
    for step in run.steps:
        weight, bias = run.classifier[step]
        np.testing.assert_array_equal(weight, expected)
        np.testing.assert_array_equal(bias, np.zeros(10, dtype=np.float32))
    cosines = expected @ expected.T
    np.testing.assert_allclose(np.diag(cosines), 1.0, atol=1e-6)
    off_diagonal = cosines[~np.eye(10, dtype=bool)]
    np.testing.assert_allclose(off_diagonal, -1 / 9, atol=1e-6)
    # The hidden layers still learn to fit the fixed head (more slowly than a
    # learned one: unit-norm rows bound the logits; 0.81 after these 6 epochs).
    assert _accuracy(run, 0, "train") < 0.3
    assert _accuracy(run, run.steps[-1], "train") > 0.7
    assert "fixed simplex-ETF head" in run.task
    # Only the head differs from a learned-head run at initialisation.
    learned = train_mlp(*digits, TINY, should_stop=lambda: True)
    np.testing.assert_array_equal(
        run.activations[("hidden3", 0)], learned.activations[("hidden3", 0)]
    )


def test_fixed_etf_head_without_bias(digits: tuple[np.ndarray, ...]) -> None:
    # Width 9 = C - 1: the smallest a 10-class simplex fits in.
    config = MLPConfig(hidden_sizes=(9,), epochs=1, n_checkpoints=2, bias=False, fixed_etf_head=True)
    run = train_mlp(*digits, config)
    weight, bias = run.classifier[run.steps[-1]]
    assert bias is None
    np.testing.assert_array_equal(weight, simplex_etf(10, 9, seed=0).astype(np.float32))


def test_fixed_etf_head_needs_a_wide_enough_last_layer(digits: tuple[np.ndarray, ...]) -> None:
    config = MLPConfig(hidden_sizes=(32, 8), epochs=1, n_checkpoints=2, fixed_etf_head=True)
    with pytest.raises(ValueError, match=r"fixed_etf_head.*n_classes - 1 = 9.*Widen"):
        train_mlp(*digits, config)


def test_step_schedule_is_wired_into_training(digits: tuple[np.ndarray, ...]) -> None:
    # TINY plans 6 epochs x 22 steps = 132 steps: the step schedule keeps the
    # peak rate until step 132 // 3 = 44, so it matches "constant" up to there
    # exactly and departs from it afterwards.
    constant = train_mlp(*digits, replace_config(TINY, lr_schedule="constant"))
    stepped = train_mlp(*digits, replace_config(TINY, lr_schedule="step"))
    assert list(stepped.steps) == [0, 3, 7, 19, 50, 132]
    np.testing.assert_array_equal(
        stepped.activations[("hidden3", 19)], constant.activations[("hidden3", 19)]
    )
    assert not np.array_equal(
        stepped.activations[("hidden3", 50)], constant.activations[("hidden3", 50)]
    )
    assert _accuracy(stepped, stepped.steps[-1], "train") > 0.9


def test_describe_mentions_non_default_options() -> None:
    default = MLPConfig().describe()
    assert default == (
        "MLP 64-64-32 (relu), adamw lr=0.002 wd=0.1 cosine, 100 epochs, batch 128, seed 0"
    )
    described = MLPConfig(
        loss="mse", bias=False, fixed_etf_head=True, lr_schedule="step"
    ).describe()
    for phrase in ("MSE loss", "no bias", "fixed simplex-ETF head", " step,"):
        assert phrase in described
    assert MLPConfig(loss="mse").to_dict()["loss"] == "mse"


def replace_config(config: MLPConfig, **changes: object) -> MLPConfig:
    from dataclasses import replace

    return replace(config, **changes)
