"""Every test tier writes workspaces (issue 18: uploads and trained runs kept on disk) under a
temporary folder, never the user's ~/.cache: the AppTests' sessions and the e2e servers
(started with this process's environment) read REPLENS_WORKSPACE set here."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

_made: list[str] = []


def pytest_configure(config) -> None:
    folder = tempfile.mkdtemp(prefix="replens-test-workspaces-")
    _made.append(folder)
    os.environ["REPLENS_WORKSPACE"] = folder


_REAL_MAIN = sys.modules.get("__main__")


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's script runner (every AppTest) installs the app script as ``sys.modules["__main__"]``
    and leaves it there. A process spawned later (dask's LocalCluster workers, a bench's spawn pool)
    re-runs the parent's ``__main__`` file on start: it would run app.py, page config and UMAP warm-up
    included, and miss dask's 60 s worker-start deadline. Put the real one back after every test."""
    yield
    if _REAL_MAIN is not None and sys.modules.get("__main__") is not _REAL_MAIN:
        sys.modules["__main__"] = _REAL_MAIN


def pytest_unconfigure(config) -> None:
    for folder in _made:
        shutil.rmtree(folder, ignore_errors=True)
