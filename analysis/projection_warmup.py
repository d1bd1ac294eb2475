"""Compile numba code before anyone asks for it: once per process, in the background.

A process's first UMAP fit compiles umap-learn's layout optimiser and fuzzy
graph with numba (about 8-12 s measured on 2 cores, 20 s on a busy machine);
every later fit reuses the compiled code. The exact hubness reduction's
kernels (`analysis.metrics._hubness_exact`) compile on first use too, 25-50 s
on 2 cores when numba's on-disk cache is empty (a fresh install), under 1 s
from the cache. A web server calls `start_umap_warm_up` when it starts, so the
first user to choose UMAP, or to open the Hubness page's Reduction tab, waits
for the computation only. Both compile one after the other in one thread, so
the warm-up never takes more than one core.
"""

from __future__ import annotations

import threading

import numpy as np

from analysis.metrics import _hubness_exact
from analysis.metrics.hubness_reduction import METHODS as REDUCTION_METHODS
from analysis.projection import project

__all__ = ["WARM_UP_THREAD_NAME", "start_umap_warm_up", "warm_up_hubness_reduction", "warm_up_umap"]

#: The warm-up thread's name (tests tell its work from a page's by it).
WARM_UP_THREAD_NAME = "replens-umap-warm-up"

_warm_up_lock = threading.Lock()
_warm_up_thread: threading.Thread | None = None


def warm_up_umap() -> None:
    """Compile umap-learn's numba code now: `project` 64 random rows with UMAP, fresh and from a
    given layout (the two paths the Explore page takes), so both are compiled."""
    data = np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32)
    first = project(data, method="umap", n_neighbors=10)
    project(data, method="umap", n_neighbors=10, init=first.coords)


def warm_up_hubness_reduction() -> None:
    """Compile the exact hubness reduction's numba kernels: every method's exact lists of 40 random points
    (no neighbour search: the exact engine reads the full distance matrix)."""
    data = np.random.default_rng(0).standard_normal((40, 4))
    _hubness_exact.exact_lists(_hubness_exact.as_vectors(data, "euclidean"), "euclidean", REDUCTION_METHODS, 5, 5)


def start_umap_warm_up() -> threading.Thread:
    """Start :func:`warm_up_umap` in a daemon thread, once per process; return that thread.

    Safe to call from any number of threads at once (a lock guards the one
    start): a web server calls it on every page run and only the first call
    starts the thread. The thread does not block the caller; a UMAP fit asked
    for while it compiles waits on numba's compiler lock, never compiles twice.
    """
    global _warm_up_thread
    with _warm_up_lock:
        if _warm_up_thread is None:
            _warm_up_thread = threading.Thread(target=_warm_up_quietly, name=WARM_UP_THREAD_NAME, daemon=True)
            _warm_up_thread.start()
        return _warm_up_thread


def _warm_up_quietly() -> None:
    # A failed warm-up (umap-learn missing or broken) must not take the server down: the first real
    # fit then compiles, or reports the error to the user who asked for UMAP.
    for warm_up in (warm_up_umap, warm_up_hubness_reduction):
        try:
            warm_up()
        except Exception:  # noqa: BLE001 - a background optimisation; the real call reports errors
            pass
