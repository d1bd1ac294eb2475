"""Write a file so that a reader sees the old bytes or the new ones, never half of them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_bytes_atomically"]


def write_bytes_atomically(path: str | os.PathLike, data: bytes, *, mode: int = 0o644) -> Path:
    """Write `data` to `path` through a temporary file beside it, then rename it into place.

    Like `analysis.data.save_run`: the temporary file lives in the target's
    folder (so the rename is atomic), is flushed to disk, given `mode`
    (temporary files are created 0600; shared files are meant to be read by
    everyone) and renamed over `path` with `os.replace`. A write that fails or
    is cancelled leaves the previous file as it was and no temporary file behind.

    Parameters
    ----------
    path : path-like
        The target; its folder is created if needed.
    data : bytes
        The whole new content.
    mode : int, default=0o644
        Permission bits of the written file.

    Returns
    -------
    pathlib.Path
        `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
