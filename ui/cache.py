"""Cached wrappers around `analysis` for the pages.

Cache keys are the view's `data_key` (derived from a content hash computed once
at load) plus the options; the arrays themselves are passed as `_`-prefixed
arguments, which Streamlit does not hash (it would sample large arrays and
serve stale results, and hashing 300 MB on every rerun is slow).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from analysis.data import Embedding
from analysis.data.inspect import summarize_embedding
from analysis.neighbors import kneighbors_of
from analysis.projection import Projection, project, project_sequence
from analysis.views import ColorSpec
from ui import explore
from ui.widgets import progress_bar

# Every st.cache_data / st.cache_resource in ui/ has max_entries (a count bound per function) and a
# ttl (a time bound), so a shared server does not keep every session's results forever (a test
# checks both). Results derived from a session's data (uploads, trained runs, the samples' layers)
# live an hour after they were computed: long enough for a working session, short enough that a
# closed session's arrays leave memory (Streamlit drops an expired entry when its cache is next
# read or written). Results of fixed inputs that every session shares (toy-model sweeps, demos,
# the estimator check, the seed-pair models) are small and the same for everyone: a day.
RESULTS_TTL = 3600
SHARED_TTL = 24 * 3600

# Above this many points the scatter draws a random subsample over a density
# image of all rows: the browser's selection cost grows with drawn points
# (measured: a 100,000-point lasso took ~2 s fully drawn, ~0.3 s this way).
MAX_DRAWN_POINTS = 20_000


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def projection(data_key: str, _X: np.ndarray, method: str, n_components: int,
               _labels: np.ndarray | None, seed: int = 0) -> Projection:
    return project(_X, method=method, n_components=n_components, labels=_labels, seed=seed)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def projection_over_steps(sequence_key: str, _load_steps: Callable[[], list[np.ndarray]], method: str,
                          _labels: np.ndarray | None, seed: int = 0) -> list[np.ndarray]:
    """All checkpoints projected and Procrustes-aligned, with a progress bar.

    `_load_steps` builds the per-checkpoint arrays only on a cache miss.
    """
    bar, progress = progress_bar("Projecting checkpoints…")

    projections = project_sequence(_load_steps(), method=method, n_components=2, labels=_labels,
                                   seed=seed, progress=progress)
    bar.empty()
    return [p.coords for p in projections]


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def summary(data_key: str, _emb: Embedding) -> dict:
    return summarize_embedding(_emb)


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def row_norms(data_key: str, _X: np.ndarray) -> np.ndarray:
    return np.linalg.norm(_X, axis=1).astype(np.float32)


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def colour_spec(data_key: str, _emb: Embedding, choice: str) -> ColorSpec:
    """Point colours for a choice, built once per (data, choice), not on every selection."""
    return explore.colour_spec(_emb, choice, row_norms(data_key, _emb.X))


@st.cache_data(max_entries=64, ttl=RESULTS_TTL, show_spinner=False)
def neighbours(data_key: str, _X: np.ndarray, row: int, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    distances, indices = kneighbors_of(_X, np.asarray([row]), k, metric=metric)
    return distances[0], indices[0]


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def draw_rows(data_key: str, n: int, max_points: int = MAX_DRAWN_POINTS, seed: int = 0) -> np.ndarray:
    """Rows to draw as markers: all of them, or a seeded random subsample."""
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_points, replace=False)).astype(np.int64)
