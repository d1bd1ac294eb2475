"""A per-user workspace on disk: uploads and trained runs that survive a page reload.

The app keeps a user's datasets in server memory for one browser session; a
reload starts a new session and used to lose them (issue 18 item 3). This store
keeps them on disk instead, one folder per workspace and one folder per item::

    <root>/<workspace id>/<item id>/item.json        what it is (kind, label, key, file names, options)
                                    main.bin ...     an upload's original bytes, one file per role
                                    run.safetensors  a trained run (`save_run`'s format, never pickle)
                                    run.parquet      its per-sample metadata sidecar, when it has one

Uploads are kept as the bytes the user sent (with their names and the parsing
options), so a reload parses them again through the same loaders, with the
same validation and size checks, as the first upload. Runs are RepLens run
files, memory-mapped when read back.

Limits (environment variables, read by `settings_from_env`):

- ``REPLENS_WORKSPACE``: the root folder, or ``off`` to keep nothing on disk.
  Default ``$XDG_CACHE_HOME/replens/workspaces`` (``~/.cache/...``): per
  OS user, outside the source tree (an installed or read-only checkout still
  works, and git never sees user data), in the place users and tools expect
  re-creatable data to be cleared from.
- ``REPLENS_WORKSPACE_MAX``: total size of every workspace under the root
  (``2GB`` by default; units as ``REPLENS_MEMORY_BUDGET``). A save that would
  pass it first removes the least recently used items (of any workspace) and
  says which; an item larger than the whole cap is refused.
- ``REPLENS_WORKSPACE_MAX_AGE_DAYS``: items unused for longer are removed by
  `WorkspaceStore.cleanup` (30 by default; the app runs it at start and daily).

A workspace id is 32 lower-case hex digits (128 random bits, `secrets`); every
id is checked against that pattern before it becomes part of a path, so no id
can reach outside the root. Nothing here imports Streamlit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from analysis.data.limits import parse_size
from analysis.data.runs import save_run
from analysis.data.schema import Run

__all__ = [
    "ENV_MAX_AGE_DAYS", "ENV_MAX_BYTES", "ENV_ROOT", "Item", "SaveResult", "StoreSettings", "WorkspaceStore",
    "check_workspace_id", "default_root", "new_workspace_id", "settings_from_env",
]

ENV_ROOT = "REPLENS_WORKSPACE"
ENV_MAX_BYTES = "REPLENS_WORKSPACE_MAX"
ENV_MAX_AGE_DAYS = "REPLENS_WORKSPACE_MAX_AGE_DAYS"
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MAX_AGE_DAYS = 30.0
OFF_WORDS = frozenset({"off", "none", "0", "false", "no"})

MANIFEST = "item.json"
RUN_FILE = "run.safetensors"
RUN_SIDECAR = "run.parquet"
UPLOAD_ROLES = ("main", "labels", "metadata")
MANIFEST_FORMAT = 1
# A save in progress lives in a hidden staging folder and is renamed into place whole; one left behind
# by a killed server is removed by `cleanup` once it is this old (no live save takes an hour).
STALE_STAGING_SECONDS = 3600.0

_WORKSPACE_ID = re.compile(r"[0-9a-f]{32}")
_ITEM_ID = re.compile(r"(upload|run)-[0-9a-f]{20}")
_STAGING_PREFIX = ".staging-"


def new_workspace_id() -> str:
    """A fresh random workspace id: 32 hex digits (128 bits; unguessable, so it can stand in for a login)."""
    return secrets.token_hex(16)


def check_workspace_id(text: object) -> str:
    """`text` if it is a workspace id (32 lower-case hex digits), else a ValueError saying what to do."""
    if isinstance(text, str) and _WORKSPACE_ID.fullmatch(text):
        return text
    shown = repr(text)[:60]
    raise ValueError(f"Workspace id {shown} is not valid: an id is 32 lower-case hex digits (0-9, a-f). "
                     "Open the app without `ws=` in the address to start a new workspace.")


def default_root(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/replens/workspaces``, or ``~/.cache/replens/workspaces`` without it."""
    env = os.environ if environ is None else environ
    cache = env.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache) if cache and Path(cache).is_absolute() else Path.home() / ".cache"
    return base / "replens" / "workspaces"


@dataclass(frozen=True)
class StoreSettings:
    """Where the workspaces live and how much they may hold."""

    root: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    max_age_days: float = DEFAULT_MAX_AGE_DAYS

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError(f"The workspace size cap must be positive; got {self.max_bytes} bytes.")
        if not self.max_age_days > 0:
            raise ValueError(f"The workspace age limit must be a positive number of days; got {self.max_age_days}.")


def settings_from_env(environ: Mapping[str, str] | None = None) -> StoreSettings | None:
    """The settings from the environment variables above; None when ``REPLENS_WORKSPACE=off``."""
    env = os.environ if environ is None else environ
    raw_root = env.get(ENV_ROOT, "").strip()
    if raw_root.lower() in OFF_WORDS:
        return None
    root = Path(raw_root).expanduser() if raw_root else default_root(env)
    raw_max = env.get(ENV_MAX_BYTES, "").strip()
    try:
        max_bytes = parse_size(raw_max) if raw_max else DEFAULT_MAX_BYTES
    except ValueError as exc:
        raise ValueError(f"{ENV_MAX_BYTES}={raw_max!r}: {exc}") from None
    raw_age = env.get(ENV_MAX_AGE_DAYS, "").strip()
    try:
        max_age = float(raw_age) if raw_age else DEFAULT_MAX_AGE_DAYS
    except ValueError:
        raise ValueError(f"{ENV_MAX_AGE_DAYS}={raw_age!r}: give a number of days, e.g. 30.") from None
    return StoreSettings(root=root.resolve(), max_bytes=max_bytes, max_age_days=max_age)


@dataclass(frozen=True)
class Item:
    """One saved upload or run, as read from its folder."""

    workspace: str
    item_id: str
    kind: str  # "upload" (original bytes) or "run" (a RepLens run file)
    key: str  # the app's content key of the dataset: a reload gives it the same key (and caches)
    label: str
    origin: str  # "upload" or "trained"
    saved_at: float  # seconds since the epoch
    last_used: float
    size_bytes: int
    folder: Path
    # role -> original file name (uploads): the bytes are in <folder>/<role>.bin
    file_names: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, object] = field(default_factory=dict)

    def upload_bytes(self, role: str) -> bytes:
        """The original bytes of the upload's `role` file ("main", "labels", "metadata")."""
        if role not in self.file_names:
            raise KeyError(role)
        return (self.folder / f"{role}.bin").read_bytes()

    @property
    def run_path(self) -> Path:
        return self.folder / RUN_FILE

    @property
    def sidecar_path(self) -> Path | None:
        path = self.folder / RUN_SIDECAR
        return path if path.is_file() else None


@dataclass(frozen=True)
class SaveResult:
    """A saved item and the least recently used items removed to make room for it."""

    item: Item
    evicted: tuple[Item, ...] = ()


def item_id_for(kind: str, key: str) -> str:
    """The folder name of a dataset: derived from its content key, so saving it again replaces it."""
    return f"{kind}-{hashlib.blake2b(key.encode(), digest_size=10).hexdigest()}"


def _folder_bytes(folder: Path) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


def _read_item(workspace: str, folder: Path) -> Item:
    """Parse an item folder's manifest; ValueError when it is not one this store wrote."""
    manifest = folder / MANIFEST
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        stat = manifest.stat()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{folder.name}: unreadable manifest ({exc}).") from None
    strings = ("kind", "key", "label", "origin")
    if (not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT
            or not all(isinstance(data.get(k), str) for k in strings)
            or data["kind"] not in ("upload", "run") or not isinstance(data.get("saved_at"), int | float)):
        raise ValueError(f"{folder.name}: the manifest is not a RepLens workspace item (format {MANIFEST_FORMAT}).")
    names = data.get("files", {})
    options = data.get("options", {})
    if (not isinstance(names, dict) or not isinstance(options, dict)
            or not all(r in UPLOAD_ROLES and isinstance(n, str) for r, n in names.items())):
        raise ValueError(f"{folder.name}: the manifest's files or options are malformed.")
    if data["kind"] == "upload" and ("main" not in names
                                     or not all((folder / f"{r}.bin").is_file() for r in names)):
        raise ValueError(f"{folder.name}: an upload's files are missing.")
    if data["kind"] == "run" and not (folder / RUN_FILE).is_file():
        raise ValueError(f"{folder.name}: the run file is missing.")
    return Item(workspace=workspace, item_id=folder.name, kind=data["kind"], key=data["key"], label=data["label"],
                origin=data["origin"], saved_at=float(data["saved_at"]), last_used=stat.st_mtime,
                size_bytes=_folder_bytes(folder), folder=folder, file_names=dict(names), options=dict(options))


# One lock per process for the store's read-modify-write steps (the app's sessions are threads of one
# server); `_locked` adds an advisory file lock so two servers on one root do not evict at once.
_PROCESS_LOCK = threading.RLock()


class WorkspaceStore:
    """Saved uploads and runs under one root folder, with a total size cap and an age limit.

    Parameters
    ----------
    settings : StoreSettings
        Root folder, size cap (bytes, every workspace together) and age limit (days since last use).
    """

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self.root = Path(settings.root)

    # ------------------------------------------------------------------ paths and locking
    def _workspace_folder(self, workspace: str) -> Path:
        return self.root / check_workspace_id(workspace)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with _PROCESS_LOCK:
            self.root.mkdir(parents=True, exist_ok=True)
            with open(self.root / ".lock", "a+b") as handle:
                try:
                    import fcntl  # POSIX only; elsewhere the process lock alone serialises saves
                except ImportError:
                    fcntl = None
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if fcntl is not None:
                        fcntl.flock(handle, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ reading
    def items(self, workspace: str) -> tuple[list[Item], list[str]]:
        """The workspace's items, oldest saved first, and one message per folder that could not be read."""
        folder = self._workspace_folder(workspace)
        found: list[Item] = []
        problems: list[str] = []
        if not folder.is_dir():
            return found, problems
        for entry in sorted(folder.iterdir()):
            if not entry.is_dir() or not _ITEM_ID.fullmatch(entry.name):
                continue
            try:
                found.append(_read_item(workspace, entry))
            except ValueError as exc:
                problems.append(str(exc))
        found.sort(key=lambda item: (item.saved_at, item.item_id))
        return found, problems

    def _all_items(self) -> list[Item]:
        everything: list[Item] = []
        if not self.root.is_dir():
            return everything
        for ws in self.root.iterdir():
            if ws.is_dir() and _WORKSPACE_ID.fullmatch(ws.name):
                everything.extend(self.items(ws.name)[0])
        return everything

    def total_bytes(self) -> int:
        """Bytes held by every item of every workspace."""
        return sum(item.size_bytes for item in self._all_items())

    def touch(self, item: Item) -> None:
        """Mark `item` as used now (its manifest's modification time): the age limit counts from here."""
        with contextlib.suppress(OSError):
            os.utime(item.folder / MANIFEST)

    # ------------------------------------------------------------------ writing
    def save_upload(self, workspace: str, *, key: str, label: str, files: Mapping[str, tuple[str, bytes]],
                    options: Mapping[str, object] | None = None) -> SaveResult:
        """Keep an upload's original bytes. `files` maps a role ("main", "labels", "metadata") to
        (original file name, bytes); `options` (JSON values) are how the app parsed them."""
        if "main" not in files or not set(files) <= set(UPLOAD_ROLES):
            raise ValueError(f"An upload needs a 'main' file and only the roles {UPLOAD_ROLES}; got {sorted(files)}.")
        options = dict(options or {})
        manifest = {"files": {role: str(name) for role, (name, _) in files.items()}, "options": options}
        json.dumps(options)  # a TypeError here, before anything is written, names an unserialisable option

        def write(staging: Path) -> None:
            for role, (_, data) in files.items():
                (staging / f"{role}.bin").write_bytes(data)

        return self._save(workspace, "upload", key, label, "upload", manifest, write)

    def save_run(self, workspace: str, *, key: str, label: str, run: Run, origin: str = "trained") -> SaveResult:
        """Keep a run as a RepLens run file (`analysis.data.save_run`: safetensors plus parquet sidecar)."""
        return self._save(workspace, "run", key, label, origin, {},
                          lambda staging: save_run(run, staging / RUN_FILE))

    def _save(self, workspace: str, kind: str, key: str, label: str, origin: str, extra: dict, write) -> SaveResult:
        ws_folder = self._workspace_folder(workspace)
        item_id = item_id_for(kind, key)
        ws_folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=ws_folder, prefix=_STAGING_PREFIX))
        try:
            write(staging)
            manifest = {"format": MANIFEST_FORMAT, "kind": kind, "key": key, "label": label, "origin": origin,
                        "saved_at": time.time(), **extra}
            (staging / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            size = _folder_bytes(staging)
            cap = self.settings.max_bytes
            if size > cap:
                raise ValueError(
                    f"{label}: {_mb(size)} is more than the whole workspace may hold ({_mb(cap)}), so it is "
                    f"not saved and will be gone after a reload. Raise {ENV_MAX_BYTES} (e.g. {ENV_MAX_BYTES}=8GB) "
                    "to keep datasets this large.")
            target = ws_folder / item_id
            with self._locked():
                others = [it for it in self._all_items() if it.folder != target]
                used = sum(it.size_bytes for it in others)
                evicted: list[Item] = []
                for oldest in sorted(others, key=lambda it: it.last_used):
                    if used + size <= cap:
                        break
                    shutil.rmtree(oldest.folder, ignore_errors=True)
                    used -= oldest.size_bytes
                    evicted.append(oldest)
                if target.exists():  # the same dataset saved again: the new copy replaces it
                    shutil.rmtree(target)
                os.replace(staging, target)
            return SaveResult(item=_read_item(workspace, target), evicted=tuple(evicted))
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def remove(self, workspace: str, item_id: str) -> bool:
        """Delete one item; False when it was not there."""
        if not isinstance(item_id, str) or not _ITEM_ID.fullmatch(item_id):
            raise ValueError(f"Item id {item_id!r} is not valid: expected 'upload-' or 'run-' and 20 hex digits.")
        target = self._workspace_folder(workspace) / item_id
        with self._locked():
            if not target.is_dir():
                return False
            shutil.rmtree(target)
        with contextlib.suppress(OSError):
            target.parent.rmdir()  # only succeeds when the workspace is now empty
        return True

    def cleanup(self, *, now: float | None = None) -> list[Item]:
        """Remove items unused for longer than the age limit, stale staging folders and empty workspaces.

        Only folders this store names (workspace ids, item ids, staging folders) are ever deleted, so a
        root pointed at a folder holding anything else loses nothing else. Returns the removed items.
        """
        now = time.time() if now is None else now
        oldest_kept = now - self.settings.max_age_days * 86400.0
        removed: list[Item] = []
        if not self.root.is_dir():
            return removed
        with self._locked():
            for ws in self.root.iterdir():
                if not (ws.is_dir() and _WORKSPACE_ID.fullmatch(ws.name)):
                    continue
                for entry in ws.iterdir():
                    with contextlib.suppress(OSError):
                        if entry.name.startswith(_STAGING_PREFIX) and entry.stat().st_mtime < now - STALE_STAGING_SECONDS:
                            shutil.rmtree(entry, ignore_errors=True)
                items, _ = self.items(ws.name)
                for item in items:
                    if item.last_used < oldest_kept:
                        shutil.rmtree(item.folder, ignore_errors=True)
                        removed.append(item)
                with contextlib.suppress(OSError):
                    ws.rmdir()  # only when empty
        return removed


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1024**2:,.1f} MB"
