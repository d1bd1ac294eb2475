"""Many users at once on one server: shared by the e2e test and `make bench` (bench_concurrency).

Each wave opens `n` browser contexts (separate Streamlit sessions) in one
headless Chromium and drives them interleaved, so the server works for all of
them at the same time: every session uploads its own small .npy (its own n x d
and values) and checks the Data page's summary, switches to Codebook usage
(its sidebar still shows its own n x d), then all press the same "Try this"
training within a second or two.
Meanwhile a thread asks the health endpoint and samples the server's RSS.

Per session it records how long each step took to show its page's main
content (seconds from the click or upload to the page title, the expected text
and an idle app; polled round-robin over the sessions, so within about 0.1 s
plus one check per session), whether its training was queued (an init script
in the page watches for the queue message every 100 ms), and the datasets its
sidebar offers (its own upload, the samples and its own trained run only).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.e2e.helpers import uploader

QUEUE_MARKER = "yours starts when one finishes"
QUEUE_PATTERN = re.compile(r"(\d+) trainings? (?:is|are) running on this server; yours starts when one "
                           r"finishes — position (\d+)")
TRAIN_BUTTON = "8. Train 'small K'"  # the VQ lab's quickest preset
TRAINED_LABEL = "VQ · small K (trained)"

# Watches the page for the training queue's message (it shows only while waiting).
WATCH_QUEUE = """
window.__queueSeen = [];
setInterval(() => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return;
  const text = main.textContent;
  const at = text.indexOf('QUEUE_MARKER');
  if (at < 0) return;
  const sentence = text.slice(Math.max(0, at - 80), at + 60);
  if (!window.__queueSeen.includes(sentence)) window.__queueSeen.push(sentence);
}, 100);
""".replace("QUEUE_MARKER", QUEUE_MARKER)

# True once the page shows `title` as its h1, contains every text in `texts`, and Streamlit is idle.
READY = """
([title, texts]) => {
  if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main || ![...main.querySelectorAll('h1')].some(h => h.textContent.includes(title))) return false;
  const all = document.body.textContent;
  return texts.every(t => all.includes(t));
}
"""


def make_upload(folder: Path, index: int) -> tuple[Path, int, int]:
    """Session `index`'s own embeddings: a distinct shape and distinct values."""
    n, d = 120 + 17 * index, 4 + 3 * (index % 6) + index // 6
    rng = np.random.default_rng(1000 + index)
    X = (rng.normal(size=(n, d)) + 10.0 * index).astype(np.float32)
    path = folder / f"user{index:02d}_emb.npy"
    np.save(path, X)
    return path, n, d


def shape_caption(n: int, d: int) -> str:
    """The sidebar's caption of an n x d embedding."""
    return f"{n:,} samples × {d:,} features"


@dataclasses.dataclass
class Session:
    index: int
    context: object
    page: object
    path: Path
    n: int
    d: int
    t0: float = 0.0
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    queue_messages: list[str] = dataclasses.field(default_factory=list)
    datasets: list[str] = dataclasses.field(default_factory=list)
    trained_at: float = 0.0


@dataclasses.dataclass
class WaveResult:
    sessions: list[Session]
    peak_rss_mb: float  # the server's largest RSS sampled during the wave
    rss_after_mb: float  # its RSS once every session of the wave has closed
    health_failures: list[str]  # health-endpoint requests that failed or did not say "ok"
    health_checks: int
    slowest_health_s: float
    all_clicked_before_first_finish: bool

    @property
    def slowest_response(self) -> tuple[float, str]:
        """(seconds, "session: step") of the slowest page response in the wave."""
        return max(((s.seconds[k], f"session {s.index}: {k}") for s in self.sessions for k in s.seconds
                    if k != "training"), default=(0.0, ""))

    @property
    def queued(self) -> int:
        return sum(1 for s in self.sessions if s.queue_messages)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory (or VmHWM, its peak) in MB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


class ServerWatch(threading.Thread):
    """Asks /_stcore/health and samples the server's RSS every `interval` seconds until stopped."""

    def __init__(self, url: str, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.url, self.pid, self.interval = url, pid, interval
        self.halt = threading.Event()
        self.failures: list[str] = []
        self.checks = 0
        self.slowest = 0.0
        self.peak_rss = 0.0

    def run(self) -> None:
        while not self.halt.is_set():
            self.peak_rss = max(self.peak_rss, rss_mb(self.pid))
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=20) as resp:
                    body = resp.read().decode()
                    if resp.status != 200 or body.strip() != "ok":
                        self.failures.append(f"status {resp.status}: {body[:80]!r}")
            except OSError as exc:
                self.failures.append(repr(exc))
            self.slowest = max(self.slowest, time.perf_counter() - start)
            self.checks += 1
            self.halt.wait(self.interval)


def _ready(page, title: str, texts: list[str]) -> bool:
    try:
        return bool(page.evaluate(READY, [title, texts]))
    except Exception:  # noqa: BLE001 - a page mid-navigation: not ready yet
        return False


def wait_all(sessions: list[Session], step: str, check: Callable[[Session], bool], *,
             timeout_s: float = 240) -> None:
    """Poll every session round-robin until `check` holds for each; record seconds since its t0."""
    pending = list(sessions)
    deadline = time.perf_counter() + timeout_s
    while pending:
        for s in list(pending):
            if check(s):
                s.seconds[step] = time.perf_counter() - s.t0
                pending.remove(s)
        if pending and time.perf_counter() > deadline:
            names = ", ".join(str(s.index) for s in pending)
            raise TimeoutError(f"{step}: sessions {names} never showed their page")
        time.sleep(0.05)


def _click_nav(page, title: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name=title).click()


def _sidebar_datasets(page) -> list[str]:
    """The labels in the sidebar's dataset picker (open it, read the options, close it)."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    labels = [t.strip() for t in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return labels


# Streamlit keeps a closed tab's session (its uploads, its trained runs) for
# server.disconnectedSessionTTL seconds (default 120) in case it reconnects, and
# drops expired ones only when it next stores a closed session. The memory
# check wants what outlives the sessions (caches, leaks), so its server keeps
# them briefly and each wave ends by opening and closing one more page.
SESSION_TTL_S = 2
SERVER_ARGS = ("--server.disconnectedSessionTTL", str(SESSION_TTL_S))


def _flush_closed_sessions(browser, url: str) -> None:
    """Open and close one page after the TTL: Streamlit then drops the expired closed sessions."""
    time.sleep(SESSION_TTL_S + 1)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{url}/data")
        page.wait_for_selector('[data-testid="stSidebar"]', timeout=120_000)
    finally:
        context.close()
    time.sleep(2)


def run_wave(browser, url: str, folder: Path, *, first_index: int, n_sessions: int, server_pid: int,
             settle_s: float = 3.0) -> WaveResult:
    """One wave of `n_sessions` users, indices first_index.. (their uploads differ from other waves').

    The server should run with `SERVER_ARGS`; ``rss_after_mb`` is read once
    the wave's sessions have closed and Streamlit has let them go.
    """
    watch = ServerWatch(url, server_pid)
    watch.start()
    sessions: list[Session] = []
    try:
        for k in range(n_sessions):
            path, n, d = make_upload(folder, first_index + k)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_init_script(WATCH_QUEUE)
            page = context.new_page()
            page.set_default_timeout(120_000)
            sessions.append(Session(first_index + k, context, page, path, n, d))

        # 1. Everyone opens the Data page at once.
        for s in sessions:
            s.t0 = time.perf_counter()
            s.page.goto(f"{url}/data", wait_until="commit")
        wait_all(sessions, "open Data", lambda s: _ready(s.page, "Data", []))

        # 2. Everyone attaches a different file, then all press Load together.
        for s in sessions:
            s.page.get_by_text("Upload embeddings, activations or a RepLens run").click()
            uploader(s.page, "Embeddings").set_input_files(str(s.path))
        for s in sessions:
            s.page.locator('[data-testid="stFileChip"]').filter(has_text=s.path.name).wait_for()
            s.page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stFileChip\"] [role=\"progressbar\"]')")
        for s in sessions:
            s.t0 = time.perf_counter()
            s.page.get_by_role("button", name="Load", exact=True).click()
        wait_all(sessions, "upload -> summary",
                 lambda s: _ready(s.page, "Data", [s.path.name, shape_caption(s.n, s.d)]))

        # 3. Everyone switches to Codebook usage at once: still their own data in the sidebar.
        for s in sessions:
            s.t0 = time.perf_counter()
            _click_nav(s.page, "Codebook usage")
        wait_all(sessions, "switch to Codebook usage",
                 lambda s: _ready(s.page, "Codebook usage", [shape_caption(s.n, s.d)]))

        # 4. Everyone opens "Try this", then all press the same training together.
        for s in sessions:
            s.page.get_by_role("tab", name="Try this").click()
            s.page.get_by_role("button", name=TRAIN_BUTTON).wait_for()
        for s in sessions:
            s.t0 = time.perf_counter()
            s.page.get_by_role("button", name=TRAIN_BUTTON).click()
        last_click = time.perf_counter()

        def trained(s: Session) -> bool:
            done = _ready(s.page, "Codebook usage", [TRAINED_LABEL])
            if done:
                s.trained_at = time.perf_counter()
            return done

        wait_all(sessions, "training", trained, timeout_s=600)
        first_finish = min(s.trained_at for s in sessions)

        for s in sessions:
            s.queue_messages = [m for m in s.page.evaluate("() => window.__queueSeen || []")]
            s.datasets = _sidebar_datasets(s.page)
    finally:
        for s in sessions:
            s.context.close()
        time.sleep(settle_s)  # let the server notice the closed sessions
        _flush_closed_sessions(browser, url)
        watch.halt.set()
        watch.join(30)
    return WaveResult(sessions=sessions, peak_rss_mb=max(watch.peak_rss, rss_mb(server_pid, "VmRSS")),
                      rss_after_mb=rss_mb(server_pid), health_failures=watch.failures,
                      health_checks=watch.checks, slowest_health_s=watch.slowest,
                      all_clicked_before_first_finish=last_click < first_finish)


def queue_positions(messages: list[str]) -> list[tuple[int, int]]:
    """(trainings running, position) of every queue message seen."""
    return [(int(m.group(1)), int(m.group(2))) for text in messages for m in QUEUE_PATTERN.finditer(text)]
