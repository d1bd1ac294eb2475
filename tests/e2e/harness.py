"""Start the app and Debian's Chromium: used by the e2e fixtures and by `make bench`."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(log_path: Path | None = None) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port; yields its URL and stops it after."""
    with running_server(log_path) as (url, _):
        yield url


@contextlib.contextmanager
def running_server(log_path: Path | None = None, env: dict[str, str] | None = None,
                   args: tuple[str, ...] = ()) -> Iterator[tuple[str, subprocess.Popen]]:
    """`running_app` with extra environment variables and `streamlit run` options; yields its URL
    and the server process."""
    port = _free_port()
    log_path = log_path or Path(tempfile.mkdtemp()) / "server.log"
    # Uploads and trained runs go to a workspace on disk (issue 18): each server started here (tests,
    # `make bench`) keeps them in its own temporary folder, never in ~/.cache, and never in a folder
    # earlier servers filled towards the size cap; only a caller's explicit `env` names another.
    own_workspace = None
    if "REPLENS_WORKSPACE" not in (env or {}):
        own_workspace = tempfile.mkdtemp(prefix="replens-workspaces-")
        env = {**(env or {}), "REPLENS_WORKSPACE": own_workspace}
    with open(log_path, "w") as log, _removed_after(own_workspace):
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", *args],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        raise RuntimeError("streamlit did not start:\n" + log_path.read_text()) from None
                    time.sleep(0.5)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def _removed_after(folder: str | None) -> Iterator[None]:
    try:
        yield
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """Headless Debian Chromium under Playwright (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError("Debian chromium is missing: `apt-get install -y chromium` (make test does it).")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
