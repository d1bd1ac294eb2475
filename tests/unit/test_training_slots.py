"""The server-wide training limit: a bounded semaphore with a first-come queue (ui/training_slots.py)."""

from __future__ import annotations

import threading
import time

import pytest

from ui.training_slots import (
    DEFAULT_MAX_TRAININGS,
    ENV_VAR,
    TrainingSlots,
    limit_from_env,
    queue_message,
)

WAIT = 10.0  # seconds: generous bounds on events that should happen at once, never timed


class Trainer(threading.Thread):
    """A training that takes a slot, records its queue positions, and runs until told to finish."""

    def __init__(self, slots: TrainingSlots, *, fail: bool = False, stop_while_waiting: bool = False) -> None:
        super().__init__(daemon=True)
        self.slots = slots
        self.fail = fail
        self.stop_while_waiting = stop_while_waiting
        self.positions: list[tuple[int, int]] = []
        self.waiting = threading.Event()
        self.started = threading.Event()
        self.finish = threading.Event()
        self.error: BaseException | None = None

    def on_wait(self, position: int, running: int) -> None:
        self.positions.append((position, running))
        self.waiting.set()
        if self.stop_while_waiting:
            raise KeyboardInterrupt("stopped while queued")  # stands in for Streamlit's StopException

    def run(self) -> None:
        try:
            with self.slots.slot(on_wait=self.on_wait):
                self.started.set()
                assert self.finish.wait(WAIT)
                if self.fail:
                    raise RuntimeError("training failed")
        except BaseException as exc:  # noqa: BLE001 - recorded for the test to inspect
            self.error = exc


def _eventually(condition, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def _start(trainer: Trainer) -> Trainer:
    trainer.start()
    return trainer


def _end(*trainers: Trainer) -> None:
    for t in trainers:
        t.finish.set()
    for t in trainers:
        t.join(WAIT)
        assert not t.is_alive()


def test_third_training_waits_at_position_one_and_starts_when_a_slot_frees() -> None:
    slots = TrainingSlots(2, poll_seconds=0.05)
    a, b = _start(Trainer(slots)), _start(Trainer(slots))
    assert a.started.wait(WAIT) and b.started.wait(WAIT)
    assert a.positions == [] and b.positions == []  # a free slot: no queue message at all
    c = _start(Trainer(slots))
    assert c.waiting.wait(WAIT)
    assert not c.started.is_set()
    assert c.positions[0] == (1, 2)
    assert slots.running == 2 and slots.waiting == 1
    a.finish.set()
    assert c.started.wait(WAIT)
    assert slots.running == 2 and slots.waiting == 0
    _end(a, b, c)
    assert slots.running == 0
    assert all(t.error is None for t in (a, b, c))


def test_waiters_keep_first_come_order_and_see_their_position_move_up() -> None:
    slots = TrainingSlots(1, poll_seconds=0.05)
    first = _start(Trainer(slots))
    assert first.started.wait(WAIT)
    second = _start(Trainer(slots))
    assert second.waiting.wait(WAIT)
    third = _start(Trainer(slots))
    assert third.waiting.wait(WAIT)
    assert third.positions[0] == (2, 1)
    first.finish.set()
    assert second.started.wait(WAIT)
    assert not third.started.is_set()
    # The third moved up to the head of the line and was told so.
    _eventually(lambda: third.positions[-1] == (1, 1))
    second.finish.set()
    assert third.started.wait(WAIT)
    _end(first, second, third)


def test_a_failing_training_frees_its_slot() -> None:
    slots = TrainingSlots(1, poll_seconds=0.05)
    failing = _start(Trainer(slots, fail=True))
    assert failing.started.wait(WAIT)
    waiting = _start(Trainer(slots))
    assert waiting.waiting.wait(WAIT)
    failing.finish.set()
    assert waiting.started.wait(WAIT)
    _end(failing, waiting)
    assert isinstance(failing.error, RuntimeError)
    assert slots.running == 0


def test_stopping_while_queued_leaves_the_line_and_lets_the_next_move_up() -> None:
    slots = TrainingSlots(1, poll_seconds=0.05)
    holder = _start(Trainer(slots))
    assert holder.started.wait(WAIT)
    quitter = _start(Trainer(slots, stop_while_waiting=True))
    quitter.join(WAIT)
    assert isinstance(quitter.error, KeyboardInterrupt)
    assert not quitter.started.is_set()
    assert slots.waiting == 0 and slots.running == 1
    after = _start(Trainer(slots))
    assert after.waiting.wait(WAIT)
    assert after.positions[0] == (1, 1)  # the quitter is not ahead of it any more
    holder.finish.set()
    assert after.started.wait(WAIT)
    _end(holder, after)
    assert slots.running == 0


def test_never_more_than_the_limit_at_once() -> None:
    slots = TrainingSlots(2, poll_seconds=0.02)
    lock = threading.Lock()
    inside = [0]
    peak = [0]

    def work() -> None:
        with slots.slot():
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            threading.Event().wait(0.01)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert peak[0] == 2
    assert slots.running == 0 and slots.waiting == 0


def test_the_message_names_the_running_count_and_the_position() -> None:
    assert queue_message(3, 2) == ("2 trainings are running on this server; yours starts when one finishes "
                                   "— position 3")
    assert queue_message(1, 1).startswith("1 training is running on this server")


def test_limit_from_the_environment() -> None:
    assert limit_from_env({}) == DEFAULT_MAX_TRAININGS
    assert limit_from_env({ENV_VAR: " 3 "}) == 3
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ValueError, match=ENV_VAR):
            limit_from_env({ENV_VAR: bad})
    with pytest.raises(ValueError, match="integer >= 1"):
        TrainingSlots(0)


def test_while_anyone_waits_the_running_count_they_read_is_the_limit() -> None:
    slots = TrainingSlots(2, poll_seconds=0.01)
    holders = [_start(Trainer(slots)) for _ in range(2)]
    assert all(t.started.wait(WAIT) for t in holders)
    waiters = []
    for _ in range(4):
        waiters.append(_start(Trainer(slots)))
        assert waiters[-1].waiting.wait(WAIT)
    for t in holders + waiters:  # finish one at a time, in order of arrival
        t.finish.set()
        t.join(WAIT)
    assert all(running == 2 for t in waiters for _, running in t.positions), [t.positions for t in waiters]
    assert slots.running == 0 and slots.waiting == 0


def test_a_slot_handed_to_a_waiter_that_stops_passes_to_the_next() -> None:
    slots = TrainingSlots(1, poll_seconds=0.01)
    holder = _start(Trainer(slots))
    assert holder.started.wait(WAIT)
    inside_wait, may_raise = threading.Event(), threading.Event()

    class StopsLate(Trainer):
        def on_wait(self, position: int, running: int) -> None:
            self.positions.append((position, running))
            inside_wait.set()
            assert may_raise.wait(WAIT)
            raise KeyboardInterrupt("stopped just as its turn came")

    quitter = _start(StopsLate(slots))
    assert inside_wait.wait(WAIT)
    behind = _start(Trainer(slots))
    assert behind.waiting.wait(WAIT)
    holder.finish.set()
    holder.join(WAIT)  # its slot is handed to the quitter, who is still drawing its message
    may_raise.set()
    assert behind.started.wait(WAIT)  # ... and passed on when the quitter stops
    assert isinstance(quitter.error, KeyboardInterrupt)
    _end(behind)
    assert slots.running == 0 and slots.waiting == 0
