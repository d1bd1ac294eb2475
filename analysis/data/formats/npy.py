""".npy arrays: the header is parsed with numpy's literal-only reader before any data."""

from __future__ import annotations

from dataclasses import dataclass
from tokenize import TokenError
from typing import BinaryIO

import numpy as np

from analysis.data.formats.common import (
    _check_array_declared,
    _err,
    _Options,
    _Raw,
    _shape_text,
    _Source,
    _wrong_format,
)

# numpy's own default; a longer header is either corrupt or a trap for literal_eval.
_NPY_MAX_HEADER = 10_000


@dataclass
class _NpyHeader:
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    offset: int  # bytes from the start of the stream to the first data byte

    @property
    def count(self) -> int:
        count = 1
        for s in self.shape:
            count *= s
        return count

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize


def _read_npy_header(fh: BinaryIO, fname: str, what: str = "") -> _NpyHeader:
    """Parse a .npy header from `fh` (positioned at its start) without reading data.

    numpy's header readers evaluate only Python literals (never pickle), and the
    dtype they return is just a description, so an object dtype is seen and
    refused here before a byte of data is touched.
    """
    prefix = f"{what} " if what else ""
    start = fh.tell()
    try:
        version = np.lib.format.read_magic(fh)
    except (ValueError, EOFError):
        raise _err(
            fname,
            f"{prefix}does not start with the .npy magic bytes; it is not a .npy array "
            "(or is truncated). Save it again with numpy.save.",
        ) from None
    if version == (1, 0):
        reader = np.lib.format.read_array_header_1_0
    elif version == (2, 0):
        reader = np.lib.format.read_array_header_2_0
    else:
        raise _err(
            fname,
            f"{prefix}uses .npy format version {version[0]}.{version[1]}, which numpy writes only "
            "for structured arrays with non-Latin-1 field names. Save a plain numeric array.",
        )
    try:
        shape, fortran, dtype = reader(fh, max_header_size=_NPY_MAX_HEADER)
    except (
        ValueError, SyntaxError, TypeError, EOFError, OverflowError, KeyError, TokenError,
        RecursionError, MemoryError,
    ) as exc:  # what numpy's literal parser raises on a malformed header
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "pickle" in detail.lower():  # never relay numpy's hint to unpickle
            detail = "unreadable header"
        raise _err(
            fname,
            f"{prefix}has a corrupt or truncated .npy header ({detail}). Save the array again "
            "with numpy.save.",
        ) from None
    shape = tuple(int(s) for s in shape)
    return _NpyHeader(shape=shape, fortran=bool(fortran), dtype=dtype, offset=fh.tell() - start)


def _read_npy(src: _Source, opts: _Options) -> _Raw:
    head = src.head(16)
    if not head.startswith(b"\x93NUMPY"):
        raise _wrong_format(src, ".npy", src.head())
    with src.open() as fh:
        hdr = _read_npy_header(fh, src.name)
    _check_array_declared(hdr.shape, hdr.dtype, src.name, opts.pooling)
    available = src.size - hdr.offset
    if available < hdr.nbytes:
        raise _err(
            src.name,
            f"the header declares shape {_shape_text(hdr.shape)} ({hdr.dtype}), "
            f"{hdr.nbytes} bytes of data, but only {available} bytes follow it: the file is "
            "truncated. Copy or save it again.",
        )
    if src.path is not None:
        try:
            # mmap_mode: the OS pages the data in on demand; nothing is copied.
            mapped = np.load(src.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise _err(src.name, f"could not be memory-mapped ({exc}).") from None
        return _Raw(array=np.asarray(mapped), original_dtype=str(hdr.dtype), memory_mapped=True)
    arr = np.frombuffer(src.data, dtype=hdr.dtype, count=hdr.count, offset=hdr.offset)  # type: ignore[arg-type]
    arr = arr.reshape(hdr.shape, order="F" if hdr.fortran else "C")
    return _Raw(array=arr, original_dtype=str(hdr.dtype))
