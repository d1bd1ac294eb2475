"""AppTest: the training lab waits for a server-wide slot, frees it however it ends, and reports a NaN loss."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

import ui.training_slots as slots_module
from tests.app.pages import open_page

PAGE = "app_pages/collapse.py"


@pytest.fixture
def slots(monkeypatch: pytest.MonkeyPatch) -> slots_module.TrainingSlots:
    """A fresh server-wide slot set of limit 1 (polled often), in place of the shared one."""
    fresh = slots_module.TrainingSlots(1, poll_seconds=0.05)
    monkeypatch.setattr(slots_module, "_shared", fresh)
    return fresh


def _submit_small_training(at: AppTest) -> AppTest:
    at.number_input(key="lab_epochs").set_value(3)
    at.text_input(key="lab_hidden").set_value("16-12")
    return at.button(key="FormSubmitter:lab_form-Train").click().run()


def test_a_training_beyond_the_limit_waits_shows_its_position_then_runs(slots, monkeypatch) -> None:
    shown: list[str] = []
    real = slots_module.queue_message
    monkeypatch.setattr(slots_module, "queue_message", lambda p, r: shown.append(real(p, r)) or shown[-1])
    holding, release = threading.Event(), threading.Event()

    def other_session() -> None:
        with slots.slot():
            holding.set()
            while not shown:  # hold the only slot until the page has shown its queue message
                release.wait(0.05)

    other = threading.Thread(target=other_session)
    other.start()
    assert holding.wait(10)
    at = _submit_small_training(open_page(PAGE))
    other.join(10)
    assert not at.exception, at.exception
    assert shown[0] == ("1 training is running on this server; yours starts when one finishes — position 1")
    assert at.session_state["view"].source.origin == "trained"  # it ran once the slot was free
    assert not any("position" in i.value for i in at.info)  # the queue message is gone
    assert slots.running == 0 and slots.waiting == 0


def test_a_training_that_fails_frees_its_slot(slots, monkeypatch) -> None:
    import ui.train_lab

    def broken(*args, **kwargs):
        assert slots.running == 1  # the trainer runs inside the slot
        raise RuntimeError("out of memory")

    # train_and_add's default trainer was bound at import: swap the default the form relies on.
    monkeypatch.setattr(ui.train_lab.train_and_add, "__defaults__", (broken,))
    at = open_page(PAGE)
    at.number_input(key="lab_epochs").set_value(3)
    at.button(key="FormSubmitter:lab_form-Train").click().run()
    assert at.exception  # the app shows the error (its text is redacted by the app's config)
    assert slots.running == 0 and slots.waiting == 0


def test_a_nan_loss_keeps_the_finite_run_and_says_what_happened(slots, monkeypatch) -> None:
    real = torch.nn.CrossEntropyLoss
    calls = [0]

    class Poisoned(real):
        def forward(self, logits, target):
            loss = super().forward(logits, target)
            if logits.requires_grad:
                calls[0] += 1
                if calls[0] >= 30:
                    return loss * float("nan")
            return loss

    monkeypatch.setattr(torch.nn, "CrossEntropyLoss", Poisoned)
    at = _submit_small_training(open_page(PAGE))
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    assert any("the loss became NaN at epoch " in w and "lower the learning rate" in w for w in warnings), warnings
    run = at.session_state["view"].source.run
    assert at.session_state["view"].source.origin == "trained"
    assert run.steps[-1] < 30
    assert at.session_state["view"].source.label.endswith(f"(trained, diverged: ends at step {run.steps[-1]})")
    assert all(np.isfinite(a).all() for a in run.activations.values())
    assert not any("Trained and selected" in s.value for s in at.success)
    assert slots.running == 0


def test_the_toy_model_sweep_and_the_two_seed_demo_train_inside_a_slot(slots, monkeypatch) -> None:
    # Trainings outside the lab count against the same server-wide limit.
    import analysis.models.collapse_lab as collapse_lab
    import analysis.models.toy_superposition as toy
    import ui.compare
    import ui.superposition

    running_during: dict[str, int] = {}

    def recording(name, real):
        def trainer(*args, **kwargs):
            running_during[name] = slots.running
            return real(*args, **kwargs)
        return trainer

    monkeypatch.setattr(toy, "train_toy_models", recording("sweep", toy.train_toy_models))
    monkeypatch.setattr(collapse_lab, "train_collapse_lab", recording("seed", collapse_lab.train_collapse_lab))
    ui.superposition.sweep.clear()
    ui.compare._seed_run.clear()
    at = open_page("app_pages/superposition.py")
    assert not at.exception, at.exception
    ui.compare._seed_run(0)
    assert running_during == {"sweep": 1, "seed": 1}
    assert slots.running == 0 and slots.waiting == 0
