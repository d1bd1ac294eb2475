"""A server-wide limit on simultaneous trainings, with a first-come queue.

Every session of one Streamlit server shares one `TrainingSlots` (module-level
state: the server is one process). A training takes a slot for as long as it
runs; beyond the limit it waits in line and its page says where it stands
("2 trainings are running on this server; yours starts when one finishes —
position 1"). The slot is given back however the training ends: finished,
stopped with Streamlit's Stop button (a `StopException` raised inside it), a
rerun, a closed tab, or any error.

The limit is the environment variable ``REPLENS_MAX_TRAININGS`` (default
`DEFAULT_MAX_TRAININGS`, read when the first training starts). The models are
tiny and each trains on one torch thread, so on a small machine more trainings
at once only make every one of them slower and the pages sluggish.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator

ENV_VAR = "REPLENS_MAX_TRAININGS"
DEFAULT_MAX_TRAININGS = 2
# How often a waiting training re-draws its queue message: each redraw is also
# where Streamlit raises its Stop / rerun request in the waiting script thread.
POLL_SECONDS = 0.5

WaitFn = Callable[[int, int], None]  # (position in the queue, 1-based; trainings running)


def queue_message(position: int, running: int) -> str:
    """What a waiting user reads."""
    are = "training is" if running == 1 else "trainings are"
    return (f"{running} {are} running on this server; yours starts when one finishes — "
            f"position {position}")


class TrainingSlots:
    """A bounded semaphore whose waiters form a first-come queue with visible positions.

    ``with slots.slot(on_wait=...)`` runs its body once fewer than `limit`
    bodies are running and every training that asked earlier has started.
    While it waits it calls ``on_wait(position, running)`` at once, whenever
    its position changes and at least every `poll_seconds`; an exception
    raised there (e.g. Streamlit's StopException) leaves the queue and
    propagates. Safe to share between threads.
    """

    def __init__(self, limit: int, *, poll_seconds: float = POLL_SECONDS) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"The training limit must be an integer >= 1; got {limit!r}.")
        self.limit = limit
        self._poll = float(poll_seconds)
        self._cond = threading.Condition()
        self._running = 0
        self._queue: deque[object] = deque()
        self._granted: set[object] = set()  # handed a slot by a finishing training, not yet awake

    @property
    def running(self) -> int:
        with self._cond:
            return self._running

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)

    def _try_start(self, ticket: object) -> int:
        """Start `ticket` if it may (0), else return its 1-based place in the queue. Lock held."""
        if ticket in self._granted:
            self._granted.remove(ticket)
            return 0
        if self._queue[0] is ticket and self._running < self.limit:
            self._queue.popleft()
            self._running += 1
            return 0
        return self._queue.index(ticket) + 1

    def _release(self) -> None:
        """Give a finished training's slot to the first in line, or free it. Lock held.

        Handing it over (instead of freeing it for the next to take) keeps the
        count of running trainings at the limit while anyone waits: no one in
        line ever reads "1 training is running" just before the head starts.
        """
        if self._queue:
            self._granted.add(self._queue.popleft())
        else:
            self._running -= 1
        self._cond.notify_all()

    @contextlib.contextmanager
    def slot(self, on_wait: WaitFn | None = None) -> Iterator[None]:
        ticket = object()
        started = False
        try:
            with self._cond:
                self._queue.append(ticket)
                position = self._try_start(ticket)
                running = self._running
            shown = None
            while position:
                if on_wait is not None:
                    on_wait(position, running)  # outside the lock: it may draw, block or raise
                shown = position
                with self._cond:
                    position = self._try_start(ticket)
                    if position and position == shown:
                        self._cond.wait(self._poll)
                        position = self._try_start(ticket)
                    running = self._running
            started = True
        finally:
            if not started:  # stopped, rerun or failed while waiting: leave the line
                with self._cond:
                    if ticket in self._granted:  # handed a slot it will not use: pass it on
                        self._granted.remove(ticket)
                        self._release()
                    else:
                        with contextlib.suppress(ValueError):
                            self._queue.remove(ticket)
                        self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._release()


def limit_from_env(environ: dict[str, str] | None = None) -> int:
    """``REPLENS_MAX_TRAININGS`` as a positive integer (the default when unset or empty)."""
    raw = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    if not raw:
        return DEFAULT_MAX_TRAININGS
    value = int(raw) if raw.isascii() and raw.isdigit() else 0
    if value < 1:
        raise ValueError(f"{ENV_VAR}={raw!r}: give the number of trainings that may run at once, "
                         f"an integer >= 1 (default {DEFAULT_MAX_TRAININGS}).")
    return value


_shared: TrainingSlots | None = None
_shared_lock = threading.Lock()


def shared_slots() -> TrainingSlots:
    """The server's one `TrainingSlots`, created on first use with the limit from the environment."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TrainingSlots(limit_from_env())
        return _shared


@contextlib.contextmanager
def training_slot(*, rerun: bool = True) -> Iterator[None]:
    """Hold one of the server's training slots for the block, showing the queue while waiting.

    The waiting message is drawn in a placeholder that is emptied when the
    training starts; each redraw lets Streamlit's Stop button end the wait.
    With `rerun` the page reruns afterwards so the sidebar lists the new run;
    a training inside a cached function passes ``rerun=False`` (a rerun raised
    there would discard the result before it is cached).
    """
    import streamlit as st

    box = st.empty()

    def show(position: int, running: int) -> None:
        box.info(queue_message(position, running), icon=":material/hourglass_top:")

    with shared_slots().slot(on_wait=show):
        box.empty()
        yield
