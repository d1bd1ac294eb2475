"""A training whose loss becomes NaN or infinite stops, says so, and keeps only its finite checkpoints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from analysis.data import Run, load_run, save_run
from analysis.models import (
    VQ_PRESETS,
    InformationLabConfig,
    MLPConfig,
    ToyModelConfig,
    TrainingDiverged,
    checkpoint_steps,
    digits_dataset,
    train_information_lab,
    train_mlp,
    train_toy_models,
    train_vq,
)
from analysis.models._loop import LoopEnd, finish_run, run_epochs

STEPS_PER_EPOCH = 22  # 1347 digits training rows in batches of 64
EVERY_STEP = MLPConfig(hidden_sizes=(16, 8), lr=1e-2, epochs=4, batch_size=64,
                       n_checkpoints=4 * STEPS_PER_EPOCH + 1, seed=0)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, ...]:
    return digits_dataset(test_size=0.25, seed=0)


def _assert_all_finite(run: Run) -> None:
    for key, arr in run.activations.items():
        assert np.isfinite(arr).all(), key
    for step, arr in run.logits.items():
        assert np.isfinite(arr).all(), step
    for step, (weight, bias) in run.classifier.items():
        assert np.isfinite(weight).all() and (bias is None or np.isfinite(bias).all()), step
    for key, arr in run.codebooks.items():
        assert np.isfinite(arr).all(), key
    for name, values in run.curves.items():
        assert np.isfinite(values).all(), name


def _poisoned_cross_entropy(bad_value: float, at_call: int) -> type:
    """nn.CrossEntropyLoss whose `at_call`-th training call (one with gradients) returns `bad_value`."""
    real = torch.nn.CrossEntropyLoss
    calls = [0]

    class Poisoned(real):
        def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            loss = super().forward(logits, target)
            if logits.requires_grad:
                calls[0] += 1
                if calls[0] >= at_call:
                    return loss * bad_value if np.isnan(bad_value) else loss + bad_value
            return loss

    return Poisoned


@pytest.mark.parametrize(("bad", "word"), [(float("nan"), "NaN"), (float("inf"), "+inf")])
def test_mlp_stops_at_the_bad_epoch_and_keeps_the_checkpoint_before(
    digits, monkeypatch: pytest.MonkeyPatch, bad: float, word: str
) -> None:
    bad_step = 2 * STEPS_PER_EPOCH + 1  # the first step of epoch 3
    monkeypatch.setattr(torch.nn, "CrossEntropyLoss", _poisoned_cross_entropy(bad, bad_step))
    progress: list[tuple[float, str]] = []
    with pytest.raises(TrainingDiverged) as caught:
        train_mlp(*digits, EVERY_STEP, progress=lambda f, m: progress.append((f, m)))
    exc = caught.value
    assert str(exc) == (
        f"Training stopped: the loss became {word} at epoch 3 (step {bad_step}); kept the checkpoint "
        f"from epoch 2 (step {bad_step - 1}); lower the learning rate (it was 0.01)."
    )
    assert (exc.epoch, exc.step, exc.kept_epoch, exc.kept_step) == (3, bad_step, 2, bad_step - 1)
    assert isinstance(exc, ValueError)  # the app shows it like any bad option
    run = exc.result
    assert run.steps == tuple(range(bad_step))  # every step was a checkpoint; the bad one is not
    assert run.curves["step"][-1] == bad_step - 1
    assert run.task.endswith(". " + str(exc))  # the run itself says what happened
    _assert_all_finite(run)
    assert progress[-1] == (1.0, f"Diverged at step {bad_step}.")


def test_a_huge_learning_rate_diverges_and_the_kept_run_round_trips(digits, tmp_path) -> None:
    config = dataclasses.replace(EVERY_STEP, optimizer="sgd", lr=1e3, n_checkpoints=10)
    with pytest.raises(TrainingDiverged, match=r"the loss became (NaN|\+inf|-inf) at epoch 1 .*"
                                               r"lower the learning rate \(it was 1000\)") as caught:
        train_mlp(*digits, config)
    run = caught.value.result
    assert run.steps[-1] == caught.value.kept_step < caught.value.step
    _assert_all_finite(run)
    again = load_run(save_run(run, tmp_path / "kept.safetensors"))
    assert again.steps == run.steps
    _assert_all_finite(again)


def test_vq_with_a_huge_learning_rate_keeps_finite_codebooks() -> None:
    config = dataclasses.replace(VQ_PRESETS["plain"], lr=1e6, epochs=2)
    with pytest.raises(TrainingDiverged, match="lower the learning rate") as caught:
        train_vq(config)
    run = caught.value.result
    assert run.steps[-1] == caught.value.kept_step
    assert {s for (_, s) in run.codes} == set(run.steps)
    _assert_all_finite(run)


def test_information_lab_kept_run_has_its_epoch_curve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.nn, "CrossEntropyLoss", _poisoned_cross_entropy(float("nan"), 20))
    with pytest.raises(TrainingDiverged, match="at epoch 2 ") as caught:
        train_information_lab(InformationLabConfig(epochs=6, n_checkpoints=6))
    run = caught.value.result
    assert run.steps[-1] == caught.value.kept_step < 20
    assert len(run.curves["epoch"]) == len(run.curves["step"])
    _assert_all_finite(run)


def test_toy_models_stop_before_a_nan_loss_reaches_the_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    import analysis.models.toy_superposition.train as toy_train

    real = toy_train._batched_loss
    calls = [0]

    def poisoned(W, b, x, imp):
        loss = real(W, b, x, imp)
        if torch.is_grad_enabled():
            calls[0] += 1
            if calls[0] >= 30:
                return loss * float("nan")
        return loss

    monkeypatch.setattr(toy_train, "_batched_loss", poisoned)
    kept = max(s for s in checkpoint_steps(100, 20) if s < 30)
    with pytest.raises(TrainingDiverged, match=rf"the loss became NaN at step 30; kept the checkpoint "
                                               rf"from step {kept}; lower the learning rate") as caught:
        train_toy_models(ToyModelConfig(steps=100, n_checkpoints=20))
    sweep = caught.value.result
    assert sweep.steps[-1] == kept and not sweep.stopped
    assert np.isfinite(sweep.W_features).all() and np.isfinite(sweep.losses).all()


# --- the shared loop and the cut -----------------------------------------------------


def test_run_epochs_ends_at_the_first_non_finite_loss_without_checkpointing_it() -> None:
    checkpoints: list[int] = []
    end = run_epochs(
        epochs=3, n_train=10, batch_size=5, epoch_order=lambda e: torch.arange(10),
        train_step=lambda rows, step: torch.tensor(float("nan") if step == 4 else 1.0),
        planned={1, 2, 3, 4, 5, 6}, checkpoint=checkpoints.append, end_epoch=lambda s: "",
        report=lambda f, m: None, total_steps=6,
    )
    assert end.step == 4 and not end.stopped and end.diverged_epoch == 2 and np.isnan(end.bad_loss)
    assert checkpoints == [1, 2, 3]


def _run(values_at: dict[int, float]) -> Run:
    steps = sorted(values_at)
    return Run(activations={("h", s): np.full((3, 2), v, dtype=np.float32) for s, v in values_at.items()},
               layers=("h",), steps=tuple(steps),
               curves={"step": [float(s) for s in steps], "loss": [1.0] * len(steps)})


def test_a_non_finite_checkpoint_is_cut_even_when_the_loss_stayed_finite() -> None:
    with pytest.raises(TrainingDiverged, match=r"activations became NaN or infinite at epoch 2 \(step 4\); "
                                               r"kept the checkpoint from epoch 1 \(step 2\)") as caught:
        finish_run(_run({0: 0.0, 2: 1.0, 4: np.inf, 6: 2.0}), LoopEnd(6, False), steps_per_epoch=2, lr=0.1)
    kept = caught.value.result
    assert kept.steps == (0, 2) and kept.curves["step"] == [0.0, 2.0] and kept.curves["loss"] == [1.0, 1.0]


def test_a_finite_run_is_returned_as_it_is() -> None:
    run = _run({0: 0.0, 2: 1.0})
    assert finish_run(run, LoopEnd(2, False), steps_per_epoch=2, lr=0.1) is run
