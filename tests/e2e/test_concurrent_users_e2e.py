"""Eight users at once on one server (issue 15): own data only, a training queue, flat memory, a live server.

Two waves of eight headless-Chromium sessions (one browser, a context each)
upload different .npy files, switch pages and press the same training within
a second or two, on a server started with REPLENS_MAX_TRAININGS=2. Timings are
printed by `make bench` (tests/bench/bench_concurrency.py), never asserted.
The server keeps closed sessions 2 s instead of Streamlit's 120 s
(`SERVER_ARGS`), so the RSS after a wave measures what outlives its users.
A second test presses Stop on a queued and on a running training (limit 1).
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.concurrency import (
    SERVER_ARGS,
    TRAINED_LABEL,
    queue_positions,
    run_wave,
    shape_caption,
)
from tests.e2e.harness import running_server
from tests.e2e.helpers import ARTIFACTS

SESSIONS = 8
LIMIT = 2


@pytest.fixture(scope="module")
def limited_server():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_server(ARTIFACTS / "server-concurrency.log", env={"REPLENS_MAX_TRAININGS": str(LIMIT)},
                        args=SERVER_ARGS) as served:
        yield served


def _check_wave(wave, all_names: set[str]) -> None:
    for s in wave.sessions:
        # Each saw its own n x d on Data and on the next page (run_wave waited for exactly that text) ...
        assert {"upload -> summary", "switch to Codebook usage", "training"} <= set(s.seconds), s.index
        # ... and its picker offers its own upload and its own trained run, nobody else's.
        assert s.path.name in s.datasets, (s.index, s.datasets)
        assert TRAINED_LABEL in s.datasets, (s.index, s.datasets)
        others = {name for name in all_names if name != s.path.name}
        assert not others & set(s.datasets), (s.index, s.datasets)
        assert sum(1 for label in s.datasets if label.startswith("user")) == 1, s.datasets
    captions = {shape_caption(s.n, s.d) for s in wave.sessions}
    assert len(captions) == SESSIONS  # the shapes really differ, so a leak would have shown
    # Trainings beyond the limit waited in line and said so.
    seen = [pos for s in wave.sessions for pos in queue_positions(s.queue_messages)]
    assert seen, "no session ever showed the queue message"
    assert all(running == LIMIT and 1 <= position <= SESSIONS - LIMIT for running, position in seen), \
        [s.queue_messages for s in wave.sessions]
    if wave.all_clicked_before_first_finish:  # all eight asked while the first two were still training
        assert wave.queued == SESSIONS - LIMIT, [s.queue_messages for s in wave.sessions]
    # The server answered its health check throughout.
    assert wave.health_checks > 0 and not wave.health_failures, wave.health_failures


def test_eight_users_at_once_see_only_their_own_data_queue_and_keep_memory_flat(
        limited_server, browser, tmp_path) -> None:
    url, proc = limited_server
    first = run_wave(browser, url, tmp_path, first_index=0, n_sessions=SESSIONS, server_pid=proc.pid)
    second = run_wave(browser, url, tmp_path, first_index=SESSIONS, n_sessions=SESSIONS, server_pid=proc.pid)
    for number, wave in enumerate((first, second), start=1):
        print(f"\nwave {number}: peak RSS {wave.peak_rss_mb:.0f} MB, after {wave.rss_after_mb:.0f} MB, "
              f"queued {wave.queued}, health {wave.health_checks} checks")
        for s in wave.sessions:
            steps = ", ".join(f"{k} {v:.1f} s" for k, v in s.seconds.items())
            print(f"  session {s.index}: {steps}; queue {queue_positions(s.queue_messages)}")
    names = {s.path.name for s in first.sessions + second.sessions}
    assert all(re.fullmatch(r"user\d\d_emb\.npy", n) for n in names) and len(names) == 2 * SESSIONS
    _check_wave(first, names)
    _check_wave(second, names)
    # Caches are bounded and closed sessions let go: a second wave costs little more memory than the first.
    assert second.rss_after_mb < 1.5 * first.rss_after_mb + 200, (first.rss_after_mb, second.rss_after_mb)
    assert proc.poll() is None  # still serving


# The page's text (a trained run's label shows in its charts' legends).
_PAGE_TEXT = "document.body.textContent"


def _stop(page) -> None:
    """Press Streamlit's Stop (top right, while the script runs)."""
    page.locator('[data-testid="stStatusWidget"]').get_by_role("button", name="Stop").click()


def test_stop_leaves_the_queue_or_frees_the_slot(browser, tmp_path) -> None:
    with running_server(ARTIFACTS / "server-stop.log", env={"REPLENS_MAX_TRAININGS": "1"}) as (url, _):
        pages = []
        # The holder trains the 12-bit network (about 30 s), long enough to be stopped mid-way.
        for path, tab in (("information", "Train"), ("codebook", "Try this"), ("codebook", "Try this")):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{url}/{path}")
            page.get_by_role("tab", name=tab).click()
            pages.append(page)
        holder, quitter, waiter = pages
        try:
            holder.get_by_role("button", name=re.compile(r"^Train the .+ network \(about 30 s\)$")).first.click()
            holder.get_by_text(re.compile(r"Initialised|Epoch \d+/")).first.wait_for()
            quitter.get_by_role("button", name="8. Train 'small K'").click()
            quitter.get_by_text(re.compile("yours starts when one finishes — position 1$")).wait_for()
            waiter.get_by_role("button", name="8. Train 'small K'").click()
            waiter.get_by_text(re.compile("yours starts when one finishes — position 2$")).wait_for()
            _stop(quitter)  # leaves the line (its page keeps what it drew, as after any Stop) ...
            waiter.get_by_text(re.compile("yours starts when one finishes — position 1$")).wait_for()  # ... so
            _stop(holder)  # frees the only slot: the waiter trains
            waiter.wait_for_function(f"() => {_PAGE_TEXT}.includes({TRAINED_LABEL!r})")
            for page in (holder, quitter):  # stopped: nothing trained joined their datasets
                assert "(trained)" not in page.evaluate(f"() => {_PAGE_TEXT}")
        finally:
            for page in pages:
                page.context.close()
