"""Zip archives (npz, pt): directory checks before reading, and .npz arrays."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np

from analysis.data.formats.common import (
    _MIB,
    _check_array_declared,
    _check_dtype,
    _err,
    _Options,
    _Raw,
    _shape_text,
    _Source,
    _wrong_format,
)
from analysis.data.formats.containers import _Entry, _find_label_key, _ignored_note, _pick_key
from analysis.data.formats.npy import _NpyHeader, _read_npy_header
from analysis.data.limits import format_bytes, memory_budget_bytes

# Deflate tops out near 1032:1, reached only by runs of one byte: a declared ratio above
# 1000:1 is a zip bomb (or all-zero data, useless as an embedding). Tiny members are
# exempt because their ratios mean nothing.
_MAX_ZIP_RATIO = 1000
_ZIP_RATIO_MIN_BYTES = _MIB


# ---- zip (npz, pt)


def _open_zip(src: _Source) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(src.path if src.path is not None else io.BytesIO(src.data))  # type: ignore[arg-type]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise _err(
            src.name,
            f"is not a readable zip archive ({exc}); it is truncated or corrupt. Save it again.",
        ) from None


def _check_zip_directory(zf: zipfile.ZipFile, fname: str, *, compressed_ok: bool) -> None:
    """Check every member's declared size and compression before reading any of them."""
    budget = memory_budget_bytes()
    allowed = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED} if compressed_ok else {zipfile.ZIP_STORED}
    for info in zf.infolist():
        if info.flag_bits & 0x1:
            raise _err(fname, f"member {info.filename!r} is encrypted; save the file unencrypted.")
        if info.compress_type not in allowed:
            if compressed_ok:
                raise _err(
                    fname,
                    f"member {info.filename!r} uses an unusual compression (method "
                    f"{info.compress_type}); save it again with numpy.savez or savez_compressed.",
                )
            raise _err(
                fname,
                f"member {info.filename!r} is compressed, but torch.save never compresses: this "
                "is not a plain torch.save archive. Save the tensors again with torch.save or "
                "use safetensors.",
            )
        if info.file_size > budget:
            raise _err(
                fname,
                f"member {info.filename!r} declares {format_bytes(info.file_size)} uncompressed, "
                f"above the memory budget of {format_bytes(budget)} (checked from the zip "
                "directory before reading). Save fewer rows, or raise REPLENS_MEMORY_BUDGET.",
            )
        if (
            info.compress_type != zipfile.ZIP_STORED
            and info.file_size >= _ZIP_RATIO_MIN_BYTES
            and info.file_size > _MAX_ZIP_RATIO * max(info.compress_size, 1)
        ):
            raise _err(
                fname,
                f"member {info.filename!r} declares {format_bytes(info.file_size)} from "
                f"{format_bytes(info.compress_size)} compressed, a ratio above "
                f"{_MAX_ZIP_RATIO}:1, the mark of a zip bomb (or of an array of nothing but "
                "zeros). Refusing to read it; save the data with numpy.savez (uncompressed).",
            )


def _zip_member_data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Absolute offset of a stored member's bytes, from its local file header."""
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(zipfile.sizeFileHeader)
    if len(local) < zipfile.sizeFileHeader or local[:4] != zipfile.stringFileHeader:
        raise ValueError("bad local file header")
    fields = struct.unpack(zipfile.structFileHeader, local)
    name_len = fields[zipfile._FH_FILENAME_LENGTH]
    extra_len = fields[zipfile._FH_EXTRA_FIELD_LENGTH]
    return info.header_offset + zipfile.sizeFileHeader + name_len + extra_len


def _read_zip_npy(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, hdr: _NpyHeader, src: _Source, what: str
) -> tuple[np.ndarray, bool]:
    """Read one npz member's array; memory-map it when stored uncompressed on disk."""
    shape_order = "F" if hdr.fortran else "C"
    if src.path is not None and info.compress_type == zipfile.ZIP_STORED:
        try:
            start = _zip_member_data_offset(src.path, info) + hdr.offset
        except (OSError, ValueError, struct.error):
            start = -1
        if 0 <= start and start + hdr.nbytes <= src.size:
            mapped = np.memmap(
                src.path,
                dtype=hdr.dtype,
                mode="r",
                offset=start,
                shape=hdr.shape,
                order=shape_order,
            )
            return np.asarray(mapped), True
    arr = np.empty(hdr.count, dtype=hdr.dtype)
    view = memoryview(arr).cast("B")
    got = 0
    try:
        with zf.open(info) as fh:
            fh.read(hdr.offset)  # skip the header parsed before
            while got < hdr.nbytes:
                k = fh.readinto(view[got:])
                if not k:
                    break
                got += k
            fh.read(1)  # reach the member's end so zipfile verifies its CRC
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _err(src.name, f"{what} is corrupt ({exc}). Save the file again.") from None
    if got < hdr.nbytes:
        raise _err(
            src.name,
            f"{what} declares {hdr.nbytes} bytes of data but holds {got}: it is truncated. "
            "Save the file again.",
        )
    return arr.reshape(hdr.shape, order=shape_order), False


def _read_npz(src: _Source, opts: _Options) -> _Raw:
    head = src.head(16)
    if head.startswith(b"PK\x05\x06"):
        raise _err(src.name, "is an empty archive: it holds no arrays. Save the embedding into it.")
    if not head.startswith(b"PK\x03\x04"):
        raise _wrong_format(src, ".npz", src.head())
    notes: list[str] = []
    with _open_zip(src) as zf:
        _check_zip_directory(zf, src.name, compressed_ok=True)
        infos: dict[str, zipfile.ZipInfo] = {}
        headers: dict[str, _NpyHeader] = {}
        entries: dict[str, _Entry] = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            if not info.filename.endswith(".npy"):
                notes.append(f"skipped {info.filename!r}: not a .npy member")
                continue
            k = info.filename[: -len(".npy")]
            try:
                with zf.open(info) as fh:
                    hdr = _read_npy_header(fh, src.name, f"array {k!r}")
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise _err(
                    src.name, f"array {k!r} is corrupt ({exc}). Save the file again."
                ) from None
            if hdr.offset + hdr.nbytes > info.file_size:
                raise _err(
                    src.name,
                    f"array {k!r} declares shape {_shape_text(hdr.shape)} ({hdr.nbytes} bytes) "
                    f"but its member holds only {info.file_size - hdr.offset} bytes of data: the "
                    "file is truncated or corrupt. Save it again.",
                )
            infos[k], headers[k] = info, hdr
            entries[k] = _Entry(hdr.shape, hdr.dtype.kind, str(hdr.dtype))
        if not entries:
            raise _err(src.name, "holds no .npy arrays. Save the embedding with numpy.savez.")
        chosen = _pick_key(entries, opts.key, src.name)
        hdr = headers[chosen]
        what = f"array {chosen!r}"
        _check_array_declared(hdr.shape, hdr.dtype, src.name, opts.pooling, what)
        arr, mapped = _read_zip_npy(zf, infos[chosen], hdr, src, what)
        labels = labels_from = None
        label_key = (
            None if opts.labels_given else _find_label_key(entries, chosen, hdr.shape[0], notes)
        )
        if label_key is not None:
            lhdr = headers[label_key]
            _check_dtype(lhdr.dtype, src.name, f"labels {label_key!r}", strings_ok=True)
            labels, _ = _read_zip_npy(zf, infos[label_key], lhdr, src, f"labels {label_key!r}")
            labels = np.asarray(labels).reshape(-1)
            labels_from = f"{src.name}[{label_key!r}]"
        notes += _ignored_note(entries, {chosen, label_key} - {None})  # type: ignore[arg-type]
    return _Raw(
        array=arr,
        original_dtype=str(hdr.dtype),
        memory_mapped=mapped,
        key=chosen if len(entries) > 1 or opts.key else None,
        labels=labels,
        labels_from=labels_from,
        notes=notes,
    )
