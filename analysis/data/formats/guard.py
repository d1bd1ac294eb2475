"""The loader boundary: malformed input surfaces as ValueError, never as a stray exception.

Every reader checks what it can and raises ``ValueError`` itself; this catches
what a malformed file can still provoke from the libraries underneath (a JSON
nested thousands deep, a number beyond int64, a struct cut short, a key
missing from a pickle-free structure, bytes that are not UTF-8) and says so
with the file's name, so callers (the app, the CLI) need only catch
``ValueError``.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from tokenize import TokenError

from analysis.data.formats.common import _err

# What a malformed file can make numpy, json, struct, zipfile or zlib raise.
_MALFORMED = (
    RecursionError,
    OverflowError,
    MemoryError,
    struct.error,
    KeyError,
    IndexError,
    AttributeError,
    UnicodeDecodeError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    TokenError,  # numpy's .npy header parser
    NotImplementedError,  # zipfile, for unknown zip versions and features
)


def _why(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "its structure is nested too deeply to read (a corrupt or hostile file)"
    if isinstance(exc, MemoryError):
        return (
            "reading it needs more memory than is available (MemoryError); load a subset of "
            "the rows, or lower REPLENS_MEMORY_BUDGET so such files are refused up front"
        )
    if isinstance(exc, OverflowError):
        return f"it holds a number too large to represent ({exc})"
    if isinstance(exc, UnicodeDecodeError):
        return f"it holds bytes that are not UTF-8 text (at byte {exc.start})"
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"it is malformed ({type(exc).__name__}{': ' + detail if detail else ''})"


@contextmanager
def _as_value_error(fname: str) -> Iterator[None]:
    """Re-raise what a malformed file provokes as ValueError(fname: problem. fix)."""
    try:
        yield
    except _MALFORMED as exc:
        if isinstance(exc, MemoryError):
            raise _err(fname, f"could not be read: {_why(exc)}.") from None
        raise _err(
            fname,
            f"could not be read: {_why(exc)}. The file is corrupt or not what its extension "
            "says; save it again with the library that wrote it.",
        ) from None
