"""Zip archives (npz, pt): directory checks before reading, and .npz arrays."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np

from analysis.data.formats.common import (
    _MIB,
    _check_array_declared,
    _check_dtype,
    _err,
    _names_text,
    _Options,
    _Raw,
    _shape_text,
    _short,
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


# zipfile turns every central-directory entry into a ZipInfo (~530 bytes, ~4 us each)
# when it opens an archive: a 1 GB upload of empty members would cost gigabytes and
# minutes before any check ran. No npz or torch.save archive needs more members than
# the classic zip format holds.
_MAX_ZIP_MEMBERS = 65_535
_MAX_ZIP_DIRECTORY = 64 * _MIB


def _check_zip_size(src: _Source) -> None:
    """Bound the member count from the end-of-directory record, before zipfile parses it."""
    with src.open() as fh:
        try:
            end = zipfile._EndRecData(fh)  # the stdlib's own reader of the end record (zip64 too)
        except (OSError, struct.error, EOFError, ValueError):
            end = None
    if not end:
        return  # not a zip: zipfile.ZipFile says so in its own words
    declared, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    location = end[zipfile._ECD_LOCATION]
    if declared <= _MAX_ZIP_MEMBERS and size <= _MAX_ZIP_DIRECTORY:
        # zipfile trusts the directory's byte size, not the count: count the entry
        # signatures in it (an upper bound) so that a lying count is caught too.
        start = max(0, location - size - 76)  # 76: room for the zip64 end records
        declared = src.read_at(start, location - start).count(b"PK\x01\x02")
    if declared > _MAX_ZIP_MEMBERS or size > _MAX_ZIP_DIRECTORY:
        raise _err(
            src.name,
            f"is a zip archive of {declared:,} members ({format_bytes(size)} of directory); "
            f"RepLens reads archives of at most {_MAX_ZIP_MEMBERS:,} members (checked before "
            "opening it). Save only the arrays you need, or one safetensors file.",
        )


def _open_zip(src: _Source) -> zipfile.ZipFile:
    _check_zip_size(src)
    try:
        return zipfile.ZipFile(src.path if src.path is not None else io.BytesIO(src.data))  # type: ignore[arg-type]
    # NotImplementedError: zipfile's answer to unknown versions and features (a corrupt header).
    except (
        zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError,
    ) as exc:
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
            raise _err(fname, f"member {_short(info.filename)} is encrypted; save the file unencrypted.")
        if info.compress_type not in allowed:
            if compressed_ok:
                raise _err(
                    fname,
                    f"member {_short(info.filename)} uses an unusual compression (method "
                    f"{info.compress_type}); save it again with numpy.savez or savez_compressed.",
                )
            raise _err(
                fname,
                f"member {_short(info.filename)} is compressed, but torch.save never compresses: this "
                "is not a plain torch.save archive. Save the tensors again with torch.save or "
                "use safetensors.",
            )
        if info.file_size > budget:
            raise _err(
                fname,
                f"member {_short(info.filename)} declares {format_bytes(info.file_size)} uncompressed, "
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
                f"member {_short(info.filename)} declares {format_bytes(info.file_size)} from "
                f"{format_bytes(info.compress_size)} compressed, a ratio above "
                f"{_MAX_ZIP_RATIO}:1, the mark of a zip bomb (or of an array of nothing but "
                "zeros). Refusing to read it; save the data with numpy.savez (uncompressed).",
            )


def _zip_member_data_offset(src: _Source, info: zipfile.ZipInfo) -> int:
    """Absolute offset of a stored member's bytes, from its local file header."""
    local = src.read_at(info.header_offset, zipfile.sizeFileHeader)
    if len(local) < zipfile.sizeFileHeader or local[:4] != zipfile.stringFileHeader:
        raise ValueError("bad local file header")
    fields = struct.unpack(zipfile.structFileHeader, local)
    name_len = fields[zipfile._FH_FILENAME_LENGTH]
    extra_len = fields[zipfile._FH_EXTRA_FIELD_LENGTH]
    return info.header_offset + zipfile.sizeFileHeader + name_len + extra_len


# Inflate into the array in slices: one readinto() of the whole member makes zipfile
# read() the member into a bytes object first and copy it, a peak of twice the array.
_READ_CHUNK = 4 * _MIB


def _read_zip_npy(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, hdr: _NpyHeader, src: _Source, what: str
) -> tuple[np.ndarray, bool]:
    """Read one npz member's array: a view of the file (mmap) or of the upload when stored
    uncompressed, else inflated straight into the array (peak ~1x its size)."""
    shape_order = "F" if hdr.fortran else "C"
    if info.compress_type == zipfile.ZIP_STORED:
        try:
            start = _zip_member_data_offset(src, info) + hdr.offset
        except (OSError, ValueError, struct.error):
            start = -1
        if 0 <= start and start + hdr.nbytes <= src.size:
            if src.path is not None:
                mapped = np.memmap(
                    src.path, dtype=hdr.dtype, mode="r", offset=start, shape=hdr.shape,
                    order=shape_order,
                )
                return np.asarray(mapped), True
            arr = np.frombuffer(src.data, dtype=hdr.dtype, count=hdr.count, offset=start)  # type: ignore[arg-type]
            return arr.reshape(hdr.shape, order=shape_order), False
    arr = np.empty(hdr.count, dtype=hdr.dtype)
    view = memoryview(arr).cast("B")
    got = 0
    try:
        with zf.open(info) as fh:
            fh.read(hdr.offset)  # skip the header parsed before
            while got < hdr.nbytes:
                k = fh.readinto(view[got : got + _READ_CHUNK])
                if not k:
                    break
                got += k
            fh.read(1)  # reach the member's end so zipfile verifies its CRC
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error, NotImplementedError) as exc:
        raise _err(src.name, f"{what} is corrupt ({exc}). Save the file again.") from None
    if got < hdr.nbytes:
        raise _err(
            src.name,
            f"{what} declares {hdr.nbytes} bytes of data but holds {got}: it is truncated. "
            "Save the file again.",
        )
    return arr.reshape(hdr.shape, order=shape_order), False


def _npz_members(
    zf: zipfile.ZipFile, src: _Source, notes: list[str]
) -> tuple[dict[str, zipfile.ZipInfo], dict[str, _NpyHeader]]:
    """The .npy members of a checked archive and their headers; no array data is read."""
    infos: dict[str, zipfile.ZipInfo] = {}
    headers: dict[str, _NpyHeader] = {}
    skipped: list[str] = []
    for info in zf.infolist():
        if info.is_dir():
            continue
        if not info.filename.endswith(".npy"):
            skipped.append(info.filename)
            continue
        k = info.filename[: -len(".npy")]
        what = f"array {_short(k)}"
        try:
            with zf.open(info) as fh:
                hdr = _read_npy_header(fh, src.name, what)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
            raise _err(src.name, f"{what} is corrupt ({exc}). Save the file again.") from None
        if hdr.offset + hdr.nbytes > info.file_size:
            raise _err(
                src.name,
                f"{what} declares shape {_shape_text(hdr.shape)} ({hdr.nbytes} bytes) "
                f"but its member holds only {info.file_size - hdr.offset} bytes of data: the "
                "file is truncated or corrupt. Save it again.",
            )
        infos[k], headers[k] = info, hdr
    if skipped:  # one note, however many members: the report is shown to the user
        notes.append(f"skipped {_names_text(skipped)}: not .npy members")
    return infos, headers


def _check_read_total(src: _Source, infos: list[zipfile.ZipInfo]) -> None:
    """The members about to be read, inflated, must fit the budget together.

    Each member is checked alone from the directory; this bounds their sum (a 4 MB
    upload of several 1000:1 members would otherwise inflate to gigabytes). Stored
    members are served as views of the file or upload, so only compressed ones count;
    for an upload, its own bytes, already held in memory, count too (the tighter cap).
    """
    total = sum(i.file_size for i in infos if i.compress_type != zipfile.ZIP_STORED)
    held = src.size if src.data is not None else 0
    budget = memory_budget_bytes()
    if total and total + held > budget:
        names = _names_text([i.filename for i in infos])
        raise _err(
            src.name,
            f"the arrays to read ({names}) inflate to {format_bytes(total)}"
            + (f", plus the {format_bytes(held)} upload held in memory," if held else "")
            + f" above the memory budget of {format_bytes(budget)} (checked from the zip "
            "directory before reading). Save fewer rows or uncompressed (numpy.savez), or "
            "raise REPLENS_MEMORY_BUDGET.",
        )


def _read_npz(src: _Source, opts: _Options) -> _Raw:
    head = src.head(16)
    if head.startswith(b"PK\x05\x06"):
        raise _err(src.name, "is an empty archive: it holds no arrays. Save the embedding into it.")
    if not head.startswith(b"PK\x03\x04"):
        raise _wrong_format(src, ".npz", src.head())
    notes: list[str] = []
    with _open_zip(src) as zf:
        _check_zip_directory(zf, src.name, compressed_ok=True)
        infos, headers = _npz_members(zf, src, notes)
        entries = {
            k: _Entry(hdr.shape, hdr.dtype.kind, str(hdr.dtype)) for k, hdr in headers.items()
        }
        if not entries:
            raise _err(src.name, "holds no .npy arrays. Save the embedding with numpy.savez.")
        chosen = _pick_key(entries, opts.key, src.name)
        hdr = headers[chosen]
        what = f"array {chosen!r}"
        _check_array_declared(hdr.shape, hdr.dtype, src.name, opts.pooling, what)
        labels = labels_from = None
        label_key = (
            None if opts.labels_given else _find_label_key(entries, chosen, hdr.shape[0], notes)
        )
        _check_read_total(src, [infos[k] for k in (chosen, label_key) if k is not None])
        arr, mapped = _read_zip_npy(zf, infos[chosen], hdr, src, what)
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
