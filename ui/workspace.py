"""Streamlit glue of the per-user workspace (`analysis.data.workspace`): uploads and trained runs that
survive a reload.

Who is who: Streamlit has no login, so a user's workspace is a random id kept in the page address as
``?ws=<32 hex digits>`` (`st.query_params`). A reload keeps the address, and so the workspace; a
bookmark brings the user back to it; a fresh visit without ``ws`` gets a new one. The address was
chosen over a cookie because Streamlit can read cookies (`st.context.cookies`) but not set them
without a custom component, and because an address can be shared or bookmarked together with the
view it shows (ui/query_params.py). The id is a capability: whoever has the address can open (and
remove) the workspace's datasets; the Data page says so.

At a session's first run `start_session` adopts (or makes) the id and reloads every saved item
through the same loaders as the first upload (`ui.loading.load_upload` for uploads' original bytes,
`load_run` for run files), so a reload checks them again. Saving happens where a dataset is added:
`remember_upload` (the Data page's form) and `remember_run` (every trained run, via
`ui.state.add_upload`). A failed save never loses the dataset for this session: it says why and that
a reload will not find it.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import streamlit as st

from analysis.data import load_run, save_run
from analysis.data.workspace import (
    Item,
    WorkspaceStore,
    check_workspace_id,
    new_workspace_id,
    settings_from_env,
)
from ui.errors import USER_ERRORS, user_message
from ui.loading import Upload, load_upload
from ui.state import Source, add_upload, sources

WS_PARAM = "ws"
_WS_KEY = "_workspace_id"  # this session's workspace id (None: the workspace is off)
_SAVED_KEY = "_workspace_saved"  # source key -> item id of what this session knows to be on disk
_NOTES_KEY = "_workspace_notes"  # (level, text) messages shown once above the next page
CLEANUP_EVERY_S = 24 * 3600


# The settings are read again hourly (the ttl): a store is a few paths and numbers, cheap to rebuild.
@st.cache_resource(max_entries=1, ttl=3600, show_spinner=False)
def _store() -> WorkspaceStore | str:
    """The server's store, or the message saying why it is off (a bad setting is named, not fatal)."""
    try:
        settings = settings_from_env()
    except USER_ERRORS as exc:  # a bad setting (ValueError) among them
        return f"The workspace is off: {exc}"
    if settings is None:
        return "off"
    return WorkspaceStore(settings)


# Once when the server starts, then at most daily (the ttl): remove items unused for longer than the
# age limit. Keyed by the root so a test or deployment that changes REPLENS_WORKSPACE cleans its own.
@st.cache_resource(max_entries=4, ttl=CLEANUP_EVERY_S, show_spinner=False)
def _cleaned(root: str) -> int:
    store = _store()
    try:
        return len(store.cleanup()) if isinstance(store, WorkspaceStore) else 0
    except OSError:  # an unwritable root: saving will say so, each page must still open
        return 0


def store() -> WorkspaceStore | None:
    found = _store()
    if not isinstance(found, WorkspaceStore):
        return None
    _cleaned(str(found.root))
    return found


def workspace_id() -> str | None:
    """This session's workspace id (None before `start_session` or when the workspace is off)."""
    return st.session_state.get(_WS_KEY)


def note(level: str, text: str) -> None:
    st.session_state.setdefault(_NOTES_KEY, []).append((level, text))


def show_notes() -> None:
    """The workspace's messages since the last page (saved, evicted, not saved, not reloaded), once."""
    for level, text in st.session_state.pop(_NOTES_KEY, []):
        (st.warning if level == "warning" else st.info)(text, icon=":material/inventory_2:")


def start_session() -> None:
    """At a session's first run: adopt the address's workspace (or start one) and reload its datasets."""
    if _WS_KEY in st.session_state:
        return
    found = _store()
    if isinstance(found, str):
        st.session_state[_WS_KEY] = None
        if found != "off":
            note("warning", found)
        return
    active = store()
    raw = st.query_params.get(WS_PARAM)
    try:
        ws = check_workspace_id(raw) if raw else new_workspace_id()
    except USER_ERRORS as exc:  # a malformed id (ValueError) among them
        note("warning", f"{exc} A new, empty workspace was started.")
        ws = new_workspace_id()
    st.session_state[_WS_KEY] = ws  # ui.query_params.write puts it in the address
    _restore(active, ws)


def _restore(active: WorkspaceStore, ws: str) -> None:
    try:
        items, problems = active.items(ws)
    except OSError as exc:
        note("warning", f"The saved datasets of this workspace could not be listed: {_disk_problem(exc)}.")
        return
    for problem in problems:
        note("warning", f"A saved dataset could not be read and was skipped: {problem}")
    saved: dict[str, str] = st.session_state.setdefault(_SAVED_KEY, {})
    for item in items:
        try:
            source = _load_item(str(item.folder), item.saved_at, item.size_bytes, _item=item)
        except USER_ERRORS as exc:
            note("warning", f"{item.label}, saved in this workspace, could not be loaded again: "
                             f"{user_message(exc, item.label)} Remove it on the Data page.")
            continue
        active.touch(item)  # used now: the age limit counts from here
        add_upload(source, select=False, persist=False)
        saved[source.key] = item.item_id


# Shared by every session of the workspace (two tabs, a reload whose old session is still open): the
# bytes are parsed once. Keyed by the item's folder and its save time and size, so a replaced item is
# parsed again.
@st.cache_resource(max_entries=16, ttl=3600, show_spinner="Loading your saved datasets…")
def _load_item(folder: str, saved_at: float, size_bytes: int, *, _item: Item) -> Source:
    item = _item
    if item.kind == "run":
        run = load_run(item.run_path)
        return Source(key=item.key, label=item.label, origin=item.origin, run=run)
    files = {role: Upload(name, item.upload_bytes(role)) for role, name in item.file_names.items()}
    options = item.options
    pooling = options.get("pooling")
    source, _ = load_upload(files["main"], labels=files.get("labels"), metadata=files.get("metadata"),
                            label_column=str(options.get("label_column") or "") or None,
                            pooling=pooling if isinstance(pooling, str) else None,
                            drop_nonfinite=bool(options.get("drop_nonfinite")))
    return source


def _after_save(source: Source, result) -> None:
    st.session_state.setdefault(_SAVED_KEY, {})[source.key] = result.item.item_id
    if result.evicted:
        ws = workspace_id()
        mine = [e.label for e in result.evicted if e.workspace == ws]
        others = len(result.evicted) - len(mine)
        parts = ([f"from your workspace: {', '.join(mine)}"] if mine else []) + (
            [f"{others} from other workspaces"] if others else [])
        cap = active.settings.max_bytes if (active := store()) else 0
        note("info", f"To keep the saved workspaces under {cap / 1024**3:.3g} GiB, the least recently used "
                      f"datasets were removed ({'; '.join(parts)}).")
        for key, item_id in list(st.session_state[_SAVED_KEY].items()):
            if item_id in {e.item_id for e in result.evicted if e.workspace == ws}:
                del st.session_state[_SAVED_KEY][key]


def _disk_problem(exc: OSError) -> str:
    """An OSError without the server's paths (users never see those): its reason and who can fix it."""
    return (f"the server cannot use its workspace folder: {exc.strerror or type(exc).__name__}. Whoever runs "
            "the server can point REPLENS_WORKSPACE at a writable folder")


def _save_failed(source: Source, exc: BaseException) -> None:
    reason = _disk_problem(exc) if isinstance(exc, OSError) else user_message(exc, source.label)
    note("warning", f"{source.label} is loaded for this session but was not saved in your workspace "
                    f"({reason.rstrip('.')}); a reload will not find it.")


def remember_upload(source: Source, files: dict[str, Upload], options: dict[str, object]) -> None:
    """Keep an upload's original bytes (and how they were parsed) in this session's workspace."""
    active, ws = store(), workspace_id()
    if active is None or ws is None:
        return
    try:
        result = active.save_upload(ws, key=source.key, label=source.label,
                                    files={role: (u.name, u.data) for role, u in files.items()}, options=options)
    except (*USER_ERRORS, OSError) as exc:
        _save_failed(source, exc)
        return
    _after_save(source, result)


def remember_run(source: Source) -> None:
    """Keep a trained run as a RepLens run file in this session's workspace."""
    active, ws = store(), workspace_id()
    if active is None or ws is None or source.run is None:
        return
    try:
        result = active.save_run(ws, key=source.key, label=source.label, run=source.run, origin=source.origin)
    except (*USER_ERRORS, OSError) as exc:
        _save_failed(source, exc)
        return
    _after_save(source, result)


def forget(source: Source) -> None:
    """Remove a dataset from this session and from the workspace on disk."""
    st.session_state.get("uploads", {}).pop(source.key, None)
    item_id = st.session_state.get(_SAVED_KEY, {}).pop(source.key, None)
    active, ws = store(), workspace_id()
    if active is not None and ws is not None and item_id is not None:
        active.remove(ws, item_id)


# ----------------------------------------------------------------------------------- downloads
def file_stem(label: str) -> str:
    """A file name from a dataset's label ("lab #1 · balanced (trained)" -> "lab_1_balanced_trained")."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_.") or "replens_run"


def _saved_folder(source: Source) -> Path | None:
    active, ws = store(), workspace_id()
    item_id = st.session_state.get(_SAVED_KEY, {}).get(source.key)
    if active is None or ws is None or item_id is None:
        return None
    folder = active.root / ws / item_id
    return folder if folder.is_dir() else None


def run_file_bytes(source: Source) -> bytes:
    """The run's .safetensors file: the saved one, or written now (`save_run`) when it was not saved."""
    folder = _saved_folder(source)
    if folder is not None and (folder / "run.safetensors").is_file() and source.origin == "trained":
        return (folder / "run.safetensors").read_bytes()
    with tempfile.TemporaryDirectory(prefix="replens-download-") as tmp:
        path = save_run(source.run, Path(tmp) / "run.safetensors")
        return path.read_bytes()


def run_metadata_bytes(source: Source) -> bytes:
    """The run's per-sample metadata as parquet (the run file's sidecar)."""
    buf = io.BytesIO()
    source.run.metadata.write_parquet(buf)
    return buf.getvalue()


def section() -> None:
    """The Data page's list of this session's uploads and trained runs: Download and Remove."""
    ws = workspace_id()
    mine = [s for s in sources().values() if s.origin != "sample"]
    with st.expander(f"Your uploads and trained runs ({len(mine)})", expanded=bool(mine)):
        _list(ws, mine)


def _list(ws: str | None, mine: list[Source]) -> None:
    if ws is None:
        st.caption("Kept for this browser session only: the server keeps no workspace (REPLENS_WORKSPACE=off).")
    else:
        active = store()
        st.caption(f"Kept on this server for {active.settings.max_age_days:g} days after their last use, so a "
                   "reload or a bookmark of this page's address (it holds `ws=`) finds them again. Anyone with "
                   "the address can open and remove them.")
    if not mine:
        st.caption("Nothing yet: upload a file above, or train a model on Neural collapse, Sphere & spectrum, "
                   "Codebook usage, Information plane or Compare.")
        return
    saved = st.session_state.get(_SAVED_KEY, {})
    for source in mine:
        row = st.columns([3, 1.1, 1.1, 0.8], vertical_alignment="center")
        kind = "trained run" if source.origin == "trained" else ("run" if source.is_run else "embedding")
        kept = "saved" if source.key in saved else "this session only"
        row[0].markdown(f"**{source.label}** · {kind} · {kept}")
        slot = source.key.replace(":", "_")
        if source.is_run:
            stem = file_stem(source.label)
            row[1].download_button("Run file", lambda s=source: run_file_bytes(s), file_name=f"{stem}.safetensors",
                                   mime="application/octet-stream", key=f"ws_download_{slot}", on_click="ignore",
                                   icon=":material/download:", help="The RepLens run file (.safetensors).")
            if source.run.metadata is not None:
                row[2].download_button("Metadata", lambda s=source: run_metadata_bytes(s), file_name=f"{stem}.parquet",
                                       mime="application/octet-stream", key=f"ws_download_meta_{slot}",
                                       on_click="ignore", icon=":material/download:",
                                       help="Its per-sample metadata (splits, text...): upload it beside the run file.")
        if row[3].button("Remove", key=f"ws_remove_{slot}", icon=":material/delete:"):
            forget(source)
            st.rerun()

