"""Every test tier writes workspaces (issue 18: uploads and trained runs kept on disk) under a
temporary folder, never the user's ~/.cache: the AppTests' sessions and the e2e servers
(started with this process's environment) read REPLENS_WORKSPACE set here."""

from __future__ import annotations

import os
import shutil
import tempfile

_made: list[str] = []


def pytest_configure(config) -> None:
    folder = tempfile.mkdtemp(prefix="replens-test-workspaces-")
    _made.append(folder)
    os.environ["REPLENS_WORKSPACE"] = folder


def pytest_unconfigure(config) -> None:
    for folder in _made:
        shutil.rmtree(folder, ignore_errors=True)
