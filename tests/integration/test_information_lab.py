"""analysis.models.information_lab: tiny trainings, replay from weights, the weights file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save as save_safetensors

from analysis.data import Run
from analysis.models import (
    InformationLabConfig,
    load_information_weights,
    replay_information_run,
    save_information_weights,
    train_information_lab,
    train_information_lab_with_weights,
    twelve_bit_inputs,
    twelve_bit_labels,
)

# 3,482 training inputs in batches of 256: 14 steps an epoch, 42 in all.
TINY = InformationLabConfig(epochs=3, n_checkpoints=5, seed=1)
STEPS_PER_EPOCH = 14


@pytest.fixture(scope="module")
def trained() -> tuple[Run, dict]:
    return train_information_lab_with_weights(TINY, name="tiny")


@pytest.fixture(scope="module")
def tiny_run(trained: tuple[Run, dict]) -> Run:
    return trained[0]


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


# --- the trained run --------------------------------------------------------------------


def test_run_layers_rows_and_steps(tiny_run: Run) -> None:
    assert tiny_run.name == "tiny"
    assert tiny_run.layers == ("hidden1", "hidden2", "hidden3", "hidden4", "hidden5")
    assert [tiny_run.layer_dim(layer) for layer in tiny_run.layers] == [10, 7, 5, 4, 3]
    assert tiny_run.n_samples == 4096
    assert tiny_run.steps == (0, 3, 6, 16, 42)
    assert tiny_run.steps[-1] == TINY.epochs * STEPS_PER_EPOCH
    for step in tiny_run.steps:
        assert tiny_run.logits[step].shape == (4096, 2)
        weight, bias = tiny_run.classifier[step]
        assert weight.shape == (2, 3) and bias is not None and bias.shape == (2,)
        # tanh: every hidden unit in (-1, 1).
        assert np.abs(tiny_run.activations[("hidden5", step)]).max() < 1.0


def test_metadata_ties_rows_to_inputs_and_labels(tiny_run: Run) -> None:
    meta = tiny_run.metadata
    assert meta.columns == ["id", "split", "label", "input_index", "bits"]
    assert meta["input_index"].dtype.is_integer()
    index = meta["input_index"].to_numpy()
    assert np.array_equal(np.sort(index), np.arange(4096))
    split = meta["split"].to_numpy()
    # Train rows first, then test rows, each in ascending input order.
    assert (split == "train").sum() == 3482 and (split[3482:] == "test").all()
    assert np.all(np.diff(index[:3482]) > 0) and np.all(np.diff(index[3482:]) > 0)
    assert meta["bits"].to_list() == [format(int(r), "012b") for r in index]
    np.testing.assert_array_equal(tiny_run.labels, twelve_bit_labels(twelve_bit_inputs()[index]))
    assert tiny_run.label_names == ("y=0", "y=1")
    assert meta["label"].to_list() == [f"y={c}" for c in tiny_run.labels]
    # Stratified: both splits hold about half positives.
    assert abs(tiny_run.labels[split == "test"].mean() - 0.497) < 0.01


def test_curves_have_an_epoch_axis(tiny_run: Run) -> None:
    curves = tiny_run.curves
    assert {"step", "epoch", "train_acc", "test_acc", "train_loss", "test_loss"} <= set(curves)
    assert len(curves["epoch"]) == len(curves["step"])
    np.testing.assert_allclose(
        np.array(curves["epoch"]), np.array(curves["step"]) / STEPS_PER_EPOCH
    )
    assert curves["epoch"][-1] == TINY.epochs
    assert "12-10-7-5-4-3-2 tanh network" in tiny_run.task
    assert "3482 train / 614 test" in tiny_run.task
    assert "Adam lr=0.0004" in tiny_run.task


def test_weights_are_captured_at_every_checkpoint(trained: tuple[Run, dict]) -> None:
    run, weights = trained
    assert sorted(weights) == list(run.steps)
    widths = (12, 10, 7, 5, 4, 3, 2)
    for step, pairs in weights.items():
        assert [W.shape for W, _ in pairs] == [(widths[i + 1], widths[i]) for i in range(6)]
        assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in pairs)
        assert sum(W.size + b.size for W, b in pairs) == 294
        np.testing.assert_array_equal(pairs[-1][0], run.classifier[step][0])
        np.testing.assert_array_equal(pairs[-1][1], run.classifier[step][1])
    # Copies, not views of the live parameters: the weights change during training.
    assert not np.array_equal(weights[0][0][0], weights[run.steps[-1]][0][0])


def test_same_config_gives_the_same_run(tiny_run: Run) -> None:
    again = train_information_lab(TINY)
    for key, arr in tiny_run.activations.items():
        np.testing.assert_array_equal(again.activations[key], arr)
    assert again.curves == tiny_run.curves
    other = train_information_lab(replace(TINY, seed=2, n_checkpoints=2))
    assert not np.array_equal(
        other.activations[("hidden1", 42)], tiny_run.activations[("hidden1", 42)]
    )


def test_the_rule_is_learnable() -> None:
    # A fast schedule (~1 s): the 12-10-7-5-4-3-2 net fits the rule and generalises.
    run = train_information_lab(InformationLabConfig(lr=1e-2, epochs=80, n_checkpoints=3))
    assert run.curves["train_acc"][-1] >= 0.95
    assert run.curves["test_acc"][-1] >= 0.9


# --- replay -----------------------------------------------------------------------------


def _assert_same_run(replayed: Run, run: Run) -> None:
    assert replayed.layers == run.layers and replayed.steps == run.steps
    assert replayed.name == run.name and replayed.task == run.task
    assert replayed.label_names == run.label_names
    np.testing.assert_array_equal(replayed.labels, run.labels)
    assert replayed.metadata.equals(run.metadata)
    assert replayed.curves == run.curves
    for key, arr in run.activations.items():
        assert replayed.activations[key].dtype == np.float32
        np.testing.assert_allclose(replayed.activations[key], arr, rtol=0, atol=1e-5)
    for step in run.steps:
        np.testing.assert_allclose(replayed.logits[step], run.logits[step], rtol=0, atol=1e-5)
        np.testing.assert_array_equal(replayed.classifier[step][0], run.classifier[step][0])
        np.testing.assert_array_equal(replayed.classifier[step][1], run.classifier[step][1])


def _assert_accuracies_match_curves(replayed: Run) -> None:
    train = (replayed.metadata["split"] == "train").to_numpy()
    curve_steps = replayed.curves["step"]
    for step in replayed.steps:
        i = curve_steps.index(float(step))
        logits = replayed.logits[step]
        assert _accuracy(logits[train], replayed.labels[train]) == pytest.approx(
            replayed.curves["train_acc"][i], abs=1e-12
        )
        assert _accuracy(logits[~train], replayed.labels[~train]) == pytest.approx(
            replayed.curves["test_acc"][i], abs=1e-12
        )


def test_replay_rebuilds_the_trained_run(trained: tuple[Run, dict]) -> None:
    run, weights = trained
    replayed = replay_information_run(weights, TINY, run.curves, name="tiny")
    _assert_same_run(replayed, run)
    _assert_accuracies_match_curves(replayed)
    # Not a copy of the run: the replay really depends on the weights.
    shifted = {s: [(W, b + 0.5) for W, b in pairs] for s, pairs in weights.items()}
    moved = replay_information_run(shifted, TINY, run.curves, name="tiny")
    assert np.abs(moved.activations[("hidden1", 0)] - run.activations[("hidden1", 0)]).max() > 0.1


def test_replay_of_a_relu_run_stopped_early() -> None:
    config = replace(TINY, activation="relu", n_checkpoints=8)
    calls = iter(range(1000))
    run, weights = train_information_lab_with_weights(
        config, should_stop=lambda: next(calls) >= 25, name="stopped"
    )
    assert run.steps[-1] == 25 and "stopped early at step 25 of 42" in run.task
    assert run.activations[("hidden1", 25)].min() == 0.0  # ReLU, not tanh
    replayed = replay_information_run(weights, config, run.curves, name="stopped")
    _assert_same_run(replayed, run)
    _assert_accuracies_match_curves(replayed)


def test_replay_rejects_weights_that_do_not_fit(trained: tuple[Run, dict]) -> None:
    run, weights = trained
    wider = replace(TINY, hidden_sizes=(10, 7, 5, 4, 4))
    with pytest.raises(ValueError, match=r"step 0 layer 4 has weight \(3, 4\)"):
        replay_information_run(weights, wider, run.curves)
    with pytest.raises(ValueError, match="needs 6 \\(weight, bias\\) pairs"):
        replay_information_run({0: weights[0][:-1]}, TINY, run.curves)
    with pytest.raises(ValueError, match="holding 'step'"):
        replay_information_run(weights, TINY, {"train_acc": [1.0]})


# --- the weights file -------------------------------------------------------------------


def test_weights_file_round_trip(trained: tuple[Run, dict], tmp_path: Path) -> None:
    run, weights = trained
    path = save_information_weights(tmp_path / "ib.safetensors", weights, TINY, run.curves, "tiny")
    assert path.stat().st_size < 100_000
    assert path.stat().st_mode & 0o777 == 0o644
    loaded, config, curves, name = load_information_weights(path)
    assert config == TINY and name == "tiny" and curves == run.curves
    assert sorted(loaded) == sorted(weights)
    for step, pairs in weights.items():
        for (W, b), (W2, b2) in zip(pairs, loaded[step], strict=True):
            assert W2.dtype == np.float32
            np.testing.assert_array_equal(W2, W)
            np.testing.assert_array_equal(b2, b)
    _assert_same_run(replay_information_run(loaded, config, curves, name=name), run)
    assert not list(tmp_path.glob("*.partial"))


def test_weights_file_is_deterministic(trained: tuple[Run, dict], tmp_path: Path) -> None:
    run, weights = trained
    first = save_information_weights(tmp_path / "a.safetensors", weights, TINY, run.curves, "tiny")
    # Same values through fresh objects (another dict order, copied arrays).
    copied = {s: [(W.copy(), b.copy()) for W, b in weights[s]] for s in reversed(list(weights))}
    curves = {k: list(run.curves[k]) for k in reversed(list(run.curves))}
    second = save_information_weights(tmp_path / "b.safetensors", copied, TINY, curves, "tiny")
    assert first.read_bytes() == second.read_bytes()
    renamed = save_information_weights(
        tmp_path / "c.safetensors", weights, TINY, run.curves, "other"
    )
    assert renamed.read_bytes() != first.read_bytes()


def _write(path: Path, tensors: dict[str, np.ndarray], header: object | None) -> Path:
    meta = None if header is None else {"replens_information_weights": json.dumps(header)}
    path.write_bytes(save_safetensors(tensors, metadata=meta))
    return path


def _good_tensors(weights: dict) -> dict[str, np.ndarray]:
    return {
        f"step{s:05d}/layer{i}/{kind}": arr
        for s, pairs in weights.items()
        for i, pair in enumerate(pairs)
        for kind, arr in zip(("weight", "bias"), pair, strict=True)
    }


def test_malformed_weights_files_raise_value_error(
    trained: tuple[Run, dict], tmp_path: Path
) -> None:
    run, weights = trained
    header = {"format": 1, "name": "x", "config": TINY.to_dict(), "curves": run.curves}
    tensors = _good_tensors(weights)
    # The helpers write a valid file: the failures below come from the one change each makes.
    load_information_weights(_write(tmp_path / "ok.safetensors", tensors, header))

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    cases = [
        (garbage, "not a readable safetensors file"),
        (
            _write(tmp_path / "nometa.safetensors", tensors, None),
            "no 'replens_information_weights'",
        ),
        (
            _write(tmp_path / "format.safetensors", tensors, {**header, "format": 99}),
            "unsupported weights format 99",
        ),
        (
            _write(
                tmp_path / "noname.safetensors",
                tensors,
                {k: v for k, v in header.items() if k != "name"},
            ),
            r"lacks \['name'\]",
        ),
        (
            _write(
                tmp_path / "config.safetensors",
                tensors,
                {**header, "config": {**TINY.to_dict(), "lr": -1}},
            ),
            "stored config is invalid",
        ),
        (
            _write(
                tmp_path / "shape.safetensors",
                tensors,
                {**header, "config": replace(TINY, hidden_sizes=(10, 7, 5, 4, 4)).to_dict()},
            ),
            r"has weight \(3, 4\)",
        ),
        (
            _write(
                tmp_path / "missing.safetensors",
                {k: v for k, v in tensors.items() if k != "step00003/layer2/bias"},
                header,
            ),
            "step 3 does not hold a weight and a bias",
        ),
        (
            _write(
                tmp_path / "name.safetensors", {**tensors, "extra": np.zeros(2, np.float32)}, header
            ),
            "unexpected tensor 'extra'",
        ),
        (
            _write(
                tmp_path / "dtype.safetensors",
                {**tensors, "step00000/layer0/bias": np.zeros(10, np.float64)},
                header,
            ),
            "expected float32",
        ),
        (
            _write(
                tmp_path / "curves.safetensors",
                tensors,
                {**header, "curves": {"step": [0, 1], "train_acc": [1]}},
            ),
            "curves have different lengths",
        ),
    ]
    for path, match in cases:
        with pytest.raises(ValueError, match=match):
            load_information_weights(path)
    with pytest.raises(ValueError, match="writes .safetensors files"):
        save_information_weights(tmp_path / "w.npz", weights, TINY, run.curves)
