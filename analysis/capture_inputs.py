"""Read the inputs a model is run over: texts (a text file, a CSV or parquet column) or images (a folder).

- a ``.txt`` file: one example per line (blank lines are skipped);
- a ``.csv`` or ``.parquet`` table: the text column (default ``"text"``) and,
  optionally, a label column; every other column is kept as metadata;
- a folder of images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``, ``.webp``,
  searched recursively): the label of an image is the name of its sub-folder
  (images directly in the folder have none, so then no image has a label).

The inputs become the run's per-sample metadata: the ``text`` column, or the
image's ``path`` (relative to the folder) and an ``image`` column of small PNG
thumbnails, which the Explore page shows.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from analysis.data.formats.labels import _encode

__all__ = ["IMAGE_SUFFIXES", "THUMBNAIL_PIXELS", "CaptureInputs", "read_inputs"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
THUMBNAIL_PIXELS = 48  # longest side of the PNG kept as metadata (about 2-5 KB per image)


@dataclass(frozen=True)
class CaptureInputs:
    """What the model is run over, in order.

    Attributes
    ----------
    kind : {"text", "image"}
    items : tuple of str
        The texts, or the absolute image paths.
    labels : ndarray of int64 or None
    label_names : tuple of str or None
    metadata : polars.DataFrame
        One row per example (text, or path and thumbnail, plus other table columns).
    name : str
        The file or folder name, for the run's name.
    """

    kind: str
    items: tuple[str, ...]
    labels: np.ndarray | None
    label_names: tuple[str, ...] | None
    metadata: pl.DataFrame
    name: str

    @property
    def n(self) -> int:
        return len(self.items)


def _labels(values: object, n: int, fname: str, column: str) -> tuple[np.ndarray, tuple[str, ...] | None]:
    return _encode(values, n, fname, f"the label column {column!r}")


def _read_table(path: Path, text_column: str, label_column: str | None) -> CaptureInputs:
    try:
        df = pl.read_parquet(path) if path.suffix.lower() == ".parquet" else pl.read_csv(path, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ValueError(f"{path.name}: cannot read the table ({str(exc).splitlines()[0][:200]}).") from None
    for column, what in ((text_column, "--text-column"), (label_column, "--label-column")):
        if column is not None and column not in df.columns:
            raise ValueError(
                f"{path.name}: no column {column!r} ({what}); the columns are "
                f"{', '.join(repr(c) for c in df.columns[:12])}. Name the right one."
            )
    texts = df[text_column]
    if texts.dtype not in (pl.Utf8, pl.String):
        raise ValueError(f"{path.name}: the text column {text_column!r} holds {texts.dtype}, not text.")
    if texts.null_count():
        raise ValueError(
            f"{path.name}: the text column {text_column!r} has {texts.null_count()} empty cells; "
            "fill or drop those rows."
        )
    labels = label_names = None
    if label_column is not None:
        labels, label_names = _labels(df[label_column].to_numpy(), df.height, path.name, label_column)
    meta = df.rename({text_column: "text"}) if text_column != "text" and "text" not in df.columns else df
    return CaptureInputs("text", tuple(texts.to_list()), labels, label_names, meta, path.name)


def _read_lines(path: Path) -> CaptureInputs:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path.name}: not UTF-8 text. Save it as UTF-8, one example per line.") from None
    texts = tuple(line for line in lines if line.strip())
    return CaptureInputs("text", texts, None, None, pl.DataFrame({"text": list(texts)}), path.name)


def _thumbnail(path: Path) -> bytes:
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _read_images(folder: Path) -> CaptureInputs:
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    relative = [p.relative_to(folder) for p in paths]
    classes = [r.parts[0] if len(r.parts) > 1 else None for r in relative]
    labels = label_names = None
    if paths and all(c is not None for c in classes):
        labels, label_names = _labels(np.asarray(classes, dtype=str), len(paths), folder.name, "sub-folder")
    thumbs = []
    for path in paths:
        try:
            thumbs.append(_thumbnail(path))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable image ({exc}). Remove it or convert it.") from None
    meta = pl.DataFrame({"path": [r.as_posix() for r in relative],
                         "image": pl.Series(thumbs, dtype=pl.Binary)})
    if labels is not None:
        meta = meta.with_columns(pl.Series("folder", classes))
    return CaptureInputs("image", tuple(str(p) for p in paths), labels, label_names, meta, folder.name)


def read_inputs(path: str | os.PathLike, *, text_column: str = "text",
                label_column: str | None = None) -> CaptureInputs:
    """Read the inputs at `path` (see the module docstring for the accepted forms).

    Raises
    ------
    ValueError
        No such file, an unknown kind of file, a missing column, no examples.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        if label_column:
            raise ValueError(
                f"{path.name}: --label-column applies to tables; a folder's images take their labels "
                "from their sub-folders."
            )
        found = _read_images(path)
    elif not path.is_file():
        raise ValueError(f"{path}: no such file or folder.")
    elif path.suffix.lower() in (".csv", ".parquet"):
        found = _read_table(path, text_column, label_column or None)
    elif path.suffix.lower() in (".txt", ".text", ""):
        if label_column:
            raise ValueError(f"{path.name}: a text file has no columns; give a CSV or parquet for labels.")
        found = _read_lines(path)
    else:
        raise ValueError(
            f"{path.name}: inputs are a .txt file (one example per line), a .csv / .parquet table "
            "with a text column, or a folder of images."
        )
    if found.n == 0:
        what = "images" if found.kind == "image" else "examples"
        raise ValueError(f"{path.name}: no {what} found.")
    return found
