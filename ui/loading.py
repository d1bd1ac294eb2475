"""Turn uploaded files into a `Source`, or a ValueError that says what to fix.

Nothing here touches disk: uploads are parsed from memory by analysis.data
(no pickle is ever executed), so a failed upload leaves no trace and the
previously loaded data stays active.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import polars as pl

from analysis.data import is_run_bytes, load_embedding_report, load_run
from ui.state import Source, bytes_key


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


def _metadata_frame(upload: Upload) -> pl.DataFrame:
    """Per-sample metadata from a CSV or parquet upload."""
    suffix = upload.name.rsplit(".", 1)[-1].lower()
    try:
        if suffix == "parquet":
            return pl.read_parquet(io.BytesIO(upload.data))
        if suffix == "csv":
            return pl.read_csv(io.BytesIO(upload.data), infer_schema_length=None)
    except Exception as exc:  # polars raises many types; the message is what matters
        raise ValueError(f"{upload.name}: cannot read the metadata table ({exc}).") from None
    raise ValueError(f"{upload.name}: metadata must be a .csv or .parquet table.")


def upload_key(main: Upload, *, labels: Upload | None = None, metadata: Upload | None = None,
               label_column: str | None = None, pooling: str | None = None,
               drop_nonfinite: bool = False) -> str:
    """The upload's identity, the root of every cache key derived from it: the bytes of each file AND
    every choice that decides how they are parsed. A file's name picks its parser (the same bytes are
    one label per line as labels.txt, a CSV column as labels.csv) and names the dataset."""

    def part(upload: Upload | None) -> tuple[str, bytes]:
        return ("-", b"") if upload is None else (f"+{upload.name}", upload.data)

    return bytes_key("upload", *part(main), *part(labels), *part(metadata), label_column or "",
                     pooling or "", "drop" if drop_nonfinite else "raise")


def load_upload(main: Upload, *, labels: Upload | None = None, metadata: Upload | None = None,
                label_column: str | None = None, pooling: str | None = None,
                drop_nonfinite: bool = False) -> tuple[Source, list[str]]:
    """Parse an upload (embedding or RepLens run) into a Source plus notes for the user."""
    meta_frame = _metadata_frame(metadata) if metadata is not None else None
    key = upload_key(main, labels=labels, metadata=metadata, label_column=label_column, pooling=pooling,
                     drop_nonfinite=drop_nonfinite)
    if main.name.lower().endswith(".safetensors") and is_run_bytes(main.data):
        run = load_run(main.data, name=main.name, metadata=meta_frame)
        return Source(key=key, label=f"{main.name} (run)", origin="upload", run=run), []
    emb, report = load_embedding_report(
        main.data,
        name=main.name,
        labels=None if labels is None else labels.data,
        labels_name=None if labels is None else labels.name,
        label_column=label_column or None,
        pooling=pooling,
        nonfinite="drop" if drop_nonfinite else "raise",
    )
    if meta_frame is not None:
        if report.dropped_row_indices:
            keep = sorted(set(range(meta_frame.height)) - set(report.dropped_row_indices))
            meta_frame = meta_frame[keep]
        if meta_frame.height != emb.n_samples:
            raise ValueError(
                f"{metadata.name}: {meta_frame.height} metadata rows for {emb.n_samples} embedding rows. "
                "Give exactly one metadata row per embedding row, in the same order."
            )
        emb = type(emb)(X=emb.X, labels=emb.labels, label_names=emb.label_names,
                        metadata=meta_frame if emb.metadata is None else pl.concat([emb.metadata, meta_frame], how="horizontal"),
                        name=emb.name)
    notes = list(report.notes)
    if report.dropped_nonfinite_rows:
        notes.append(f"Dropped {report.dropped_nonfinite_rows} rows containing NaN or Inf.")
    return Source(key=key, label=main.name, origin="upload", embedding=emb), notes
