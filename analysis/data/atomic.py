"""Write files so that a reader sees the old bytes or the new ones, never half of them.

One mechanism for every writer (`save_run`'s run and sidecar pair, the
information lab's weights file): each file is written under a temporary name
in its target's folder, flushed to disk, given its permission bits
(temporary files are created 0600; these files are meant to be shared) and
renamed over the target with `os.replace`. A write that fails, is cancelled
or raises KeyboardInterrupt leaves the previous files as they were and no
temporary file behind (a SIGKILL can leave a hidden ``.partial`` file).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replaced_atomically", "write_bytes_atomically"]


@contextlib.contextmanager
def replaced_atomically(*targets: str | os.PathLike, mode: int = 0o644) -> Iterator[tuple[Path, ...]]:
    """Yield one temporary path beside each target; on a clean exit, rename each over its target.

    The renames happen in the order the targets are given, after every file
    has been flushed, so the last target (e.g. a run whose sidecar comes
    first) appears last. On an exception nothing is renamed and every
    temporary file is removed.
    """
    paths = [Path(t) for t in targets]
    staged: list[Path] = []
    try:
        for target in paths:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
            os.close(fd)
            staged.append(Path(name))
        yield tuple(staged)
        for tmp in staged:
            _fsync(tmp)
            os.chmod(tmp, mode)
        for tmp, target in zip(staged, paths, strict=True):
            os.replace(tmp, target)
        staged.clear()
        for folder in dict.fromkeys(p.parent for p in paths):
            _fsync(folder)
    finally:
        for tmp in staged:
            tmp.unlink(missing_ok=True)


def write_bytes_atomically(path: str | os.PathLike, data: bytes, *, mode: int = 0o644) -> Path:
    """Write `data` to `path` through `replaced_atomically`; its folder is created if needed.

    Parameters
    ----------
    path : path-like
        The target.
    data : bytes
        The whole new content.
    mode : int, default=0o644
        Permission bits of the written file.

    Returns
    -------
    pathlib.Path
        `path`.
    """
    with replaced_atomically(path, mode=mode) as (tmp,):
        tmp.write_bytes(data)
    return Path(path)


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk; folders cannot be opened on Windows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
