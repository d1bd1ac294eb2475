"""Session state: the loaded datasets and the sidebar's shared choices.

A *source* is a loaded Run (layers x checkpoints) or a single Embedding. The
shipped samples are loaded once per server (memory-mapped, `st.cache_resource`);
uploads and trained runs live in the session and in the user's workspace on disk
(ui/workspace.py), which reloads them into a new session. Every page reads the active choice through
`current_view()`; nothing here computes metrics.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from analysis.data import ALL_SPLITS, Embedding, Run, Selection, load_run
from analysis.panels.common import ensure_samples, sample_paths

__all__ = ["ALL_SPLITS", "Source", "View", "add_upload", "bytes_key", "current_view", "selection_of", "sidebar",
           "sources"]
_PENDING_SOURCE = "_pending_source_key"


@dataclass(eq=False)
class Source:
    """One loaded dataset: exactly one of `run` / `embedding` is set."""

    key: str  # content-derived id, the root of every cache key
    label: str
    origin: str  # "sample" or "upload"
    run: Run | None = None
    embedding: Embedding | None = None
    name: str = ""  # a shipped sample's name ("digits_mlp"): its stable id in a shared address


    @property
    def is_run(self) -> bool:
        return self.run is not None


@dataclass(eq=False)
class View:
    """What the sidebar selects: one `Selection` (rows of one layer at one step) plus where it came from."""

    source: Source
    selection: Selection

    @property
    def embedding(self) -> Embedding:
        return self.selection.embedding

    @property
    def data_key(self) -> str:
        """The selection's content key: the cache key of every result derived from it."""
        return self.selection.key

    @property
    def layer(self) -> str | None:
        return self.selection.layer

    @property
    def step(self) -> int | None:
        return self.selection.step

    @property
    def split(self) -> str:
        return self.selection.split


# One entry per server, no ttl: the shipped runs are memory-mapped and shared by every session, and
# reloading them would only cost time (max_entries=1 still bounds it).
@st.cache_resource(max_entries=1, show_spinner="Preparing the shipped samples…")
def _sample_sources() -> dict[str, Source]:
    ensure_samples()
    sources: dict[str, Source] = {}
    for name, path in sample_paths().items():
        stat = Path(path).stat()
        key = hashlib.blake2b(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode(), digest_size=8).hexdigest()
        run = load_run(path)
        sources[f"sample:{key}"] = Source(key=f"sample:{key}", label=f"{name} (sample)", origin="sample", run=run,
                                          name=name)
    return sources


def sources() -> dict[str, Source]:
    """All datasets this session can pick: shipped samples, then its uploads."""
    uploads: dict[str, Source] = st.session_state.setdefault("uploads", {})
    return {**_sample_sources(), **uploads}


def add_upload(source: Source, *, select: bool = True, persist: bool = True) -> None:
    """Register an uploaded (or trained) dataset; with `select`, make it the sidebar's active one.

    With `persist`, a trained run is also saved in the user's workspace on disk (ui.workspace) so a
    reload finds it; uploads are saved by the Data page, which holds their original bytes.
    """
    st.session_state.setdefault("uploads", {})[source.key] = source
    if persist and source.origin == "trained" and source.run is not None:
        from ui import workspace  # ui.workspace imports this module

        workspace.remember_run(source)
    if not select:
        return
    # The sidebar's widget already exists in this run, so its key cannot be set
    # now; the sidebar applies the pending choice before drawing it next run.
    st.session_state[_PENDING_SOURCE] = source.key


def bytes_key(prefix: str, *parts: bytes | str) -> str:
    """A content key over `parts`, each length-prefixed: ("ab", "c") and ("a", "bc") differ, so bytes
    cannot move between an upload's files (or into a name or option) and keep the key."""
    h = hashlib.blake2b(digest_size=10)
    for part in parts:
        data = part if isinstance(part, bytes) else part.encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return f"{prefix}:{h.hexdigest()}"


def _ensure_choice(key: str, options: list, default) -> None:
    """Reset a sidebar choice that the newly picked dataset does not offer."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def sidebar() -> View:
    """Render the shared dataset / layer / checkpoint / split picker; return the view."""
    available = sources()
    keys = list(available)
    pending = st.session_state.pop(_PENDING_SOURCE, None)
    if pending in available:
        st.session_state["source_key"] = pending
        for stale in ("layer", "step", "split"):
            st.session_state.pop(stale, None)
    _ensure_choice("source_key", keys, keys[0])
    with st.sidebar:
        st.selectbox("Dataset", keys, key="source_key", format_func=lambda k: available[k].label)
        source = available[st.session_state["source_key"]]
        layer = step = None
        split = ALL_SPLITS
        if source.is_run:
            run = source.run
            default_layer = run.layers[-1]
            _ensure_choice("layer", list(run.layers), default_layer)
            st.selectbox("Layer", list(run.layers), key="layer",
                         format_func=lambda la: f"{la}  (d={run.layer_dim(la)})")
            _ensure_choice("step", list(run.steps), run.steps[-1])
            if len(run.steps) > 1:
                st.select_slider("Checkpoint (optimiser step)", options=list(run.steps), key="step")
            splits = [ALL_SPLITS, *run.splits()]
            _ensure_choice("split", splits, ALL_SPLITS)
            if len(splits) > 1:
                st.radio("Split", splits, key="split", horizontal=True)
            layer, step, split = st.session_state["layer"], st.session_state["step"], st.session_state["split"]
            if run.task:
                with st.expander("About this run"):
                    st.caption(run.task)
        selection = _selection_for(source, layer, step, split)
        emb = selection.embedding
        st.caption(f"{emb.n_samples:,} samples × {emb.n_features:,} features")
    return View(source=source, selection=selection)


def _selection_for(source: Source, layer: str | None, step: int | None, split: str) -> Selection:
    """The Selection for a choice, memoised per session: its arrays (a float32 copy of a float16
    layer, the split's rows) are sliced once, not on every rerun."""
    memo_key = (source.key, layer, step, split)
    memo = st.session_state.get("_selection_memo")
    if memo is not None and memo[0] == memo_key:
        return memo[1]
    selection = selection_of(source, layer, step, split)
    st.session_state["_selection_memo"] = (memo_key, selection)
    return selection


def selection_of(source: Source, layer: str | None = None, step: int | None = None,
                 split: str = ALL_SPLITS) -> Selection:
    """A Selection of any loaded dataset (a run's last layer and step by default), keyed by the source's key:
    the sidebar's, and a page's second dataset (the Retrieval tab's gallery)."""
    data = source.run if source.is_run else source.embedding
    return Selection(data, layer, step, split, source_key=source.key)


def current_run(view: View) -> Run | None:
    return view.source.run


def current_view() -> View:
    """The view the sidebar selected in this rerun (set by app.py)."""
    view = st.session_state.get("view")
    # app.py renders the sidebar before every page, so the view is fresh. A page
    # run without the entry point (AppTest reruns only the page script) finds
    # no view, or one for another dataset after an upload: render it here.
    if view is None or _PENDING_SOURCE in st.session_state:
        view = sidebar()
        st.session_state["view"] = view
    return view


def embedding_for_step(view: View, step: int) -> Embedding:
    """The view's layer and rows at another checkpoint (for animations)."""
    return view.selection.at(step).embedding
