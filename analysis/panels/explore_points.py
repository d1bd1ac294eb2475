"""The Explore page's per-point tools: search rows by id, label or metadata, their thumbnails, and
HDBSCAN clusters with their label purity.

Nothing here imports streamlit or plotly: the page highlights the rows `search_rows` returns,
shows the PNG bytes `thumbnails` returns (as data URIs in a table's image column) and colours by
`clusters` (`analysis.panels.explore.colouring`).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis.clusters import PCA_COMPONENTS, Clusters, hdbscan_clusters
from analysis.data import Embedding, Selection
from analysis.panels.explore import MIN_CLUSTER_ROWS, pca_all_rows

ANY_COLUMN = "any column"
ID, LABEL = "id", "label"
# Metadata columns holding a point's picture (PNG/JPEG bytes, or a data:image/... URI) or text.
IMAGE_COLUMN, TEXT_COLUMN = "image", "text"
# Picture formats shown, by their leading bytes (no paths and no URLs: nothing is fetched or opened).
_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF87a": "image/gif",
                b"GIF89a": "image/gif"}
_DATA_URI_PREFIXES = tuple(f"data:{m};base64," for m in ("image/png", "image/jpeg", "image/gif", "image/webp"))
# Pixels per side of a digit thumbnail: 8 x 8 scaled by whole pixels (browsers blur a scaled-up 8 x 8 image).
DIGIT_THUMBNAIL_PIXELS = 32
# Largest picture shown per row (bytes): a larger one is left out of the table, not truncated.
MAX_IMAGE_BYTES = 200_000

__all__ = ["ANY_COLUMN", "IMAGE_COLUMN", "TEXT_COLUMN", "cluster_table", "clusters",
           "has_thumbnails", "search_columns", "search_rows", "thumbnail_uris", "thumbnails"]


def _embedding(emb: Embedding | Selection) -> Embedding:
    return emb.embedding if isinstance(emb, Selection) else emb


def _ids(emb: Embedding) -> np.ndarray:
    if emb.metadata is not None and ID in emb.metadata.columns:
        return emb.metadata[ID].to_numpy()
    return np.arange(emb.n_samples)


def search_columns(emb: Embedding | Selection) -> list[str]:
    """Where a search looks: any column, the id, the label (if any), each metadata column but pictures."""
    emb = _embedding(emb)
    columns = [ANY_COLUMN, ID] + ([LABEL] if emb.labels is not None else [])
    if emb.metadata is not None:
        columns += [c for c in emb.metadata.columns
                    if c not in (ID, LABEL) and emb.metadata[c].dtype != pl.Binary and c != IMAGE_COLUMN]
    return columns


def _column(emb: Embedding, name: str) -> pl.Series:
    if name == ID:
        return pl.Series(ID, _ids(emb))
    if name == LABEL:
        return pl.Series(LABEL, [emb.class_name(int(c)) for c in emb.labels])
    return emb.metadata[name]


def _number(term: str) -> float | None:
    try:
        value = float(term)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def search_rows(emb: Embedding | Selection, query: str, column: str = ANY_COLUMN) -> np.ndarray:
    """Rows matching any comma-separated term of `query` in `column` (or in any searchable column).

    A text column matches a term anywhere, ignoring case ("cat" finds "Cat" and "concatenate"); a
    numeric column (the id, a score) matches a number exactly ("12" finds id 12, not 112). Returns
    ascending row numbers (positions, not ids).
    """
    emb = _embedding(emb)
    terms = [t.strip() for t in str(query).split(",") if t.strip()]
    columns = search_columns(emb)
    if column not in columns:
        raise ValueError(f"Cannot search column {column!r}: choose one of {', '.join(columns)}.")
    if not terms:
        return np.empty(0, dtype=np.int64)
    mask = np.zeros(emb.n_samples, dtype=bool)
    for name in (columns[1:] if column == ANY_COLUMN else [column]):
        values = _column(emb, name)
        if values.dtype.is_numeric():
            numbers = [v for v in (_number(t) for t in terms) if v is not None]
            if numbers:
                mask |= values.cast(pl.Float64).is_in(numbers).fill_null(False).to_numpy()
            continue
        text = values.cast(pl.Utf8).fill_null("").str.to_lowercase()
        for term in terms:
            mask |= text.str.contains(term.lower(), literal=True).to_numpy()
    return np.flatnonzero(mask).astype(np.int64)


# ---------------------------------------------------------------------------------------------- thumbnails
@dataclass(frozen=True)
class ThumbnailSource:
    """Where a point's picture comes from: "digits" (metadata.source_index into scikit-learn's
    load_digits, as the shipped samples store it) or "column" (an `image` metadata column)."""

    kind: str
    column: str


def thumbnail_source(emb: Embedding | Selection) -> ThumbnailSource | None:
    """The rows' pictures, if they have any (None: nothing to show)."""
    emb = _embedding(emb)
    meta = emb.metadata
    if meta is None:
        return None
    if IMAGE_COLUMN in meta.columns and meta[IMAGE_COLUMN].dtype in (pl.Binary, pl.Utf8, pl.String):
        return ThumbnailSource("column", IMAGE_COLUMN)
    if "source_index" in meta.columns and "digit" in meta.columns and meta["source_index"].dtype.is_integer():
        return ThumbnailSource("digits", "source_index")
    return None


def has_thumbnails(emb: Embedding | Selection) -> bool:
    return thumbnail_source(emb) is not None


def _png(gray: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG, written by Pillow (as `analysis.views.density` writes its image)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _digit_pngs(source_index: np.ndarray) -> list[bytes | None]:
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download

    images = load_digits().images  # (1797, 8, 8), 0 (paper) .. 16 (ink)
    scale = DIGIT_THUMBNAIL_PIXELS // 8
    out: list[bytes | None] = []
    for index in source_index:
        if not 0 <= int(index) < images.shape[0]:
            out.append(None)
            continue
        ink = np.kron(images[int(index)], np.ones((scale, scale)))
        out.append(_png((255 - ink * (255 / 16)).round().astype(np.uint8)))  # dark ink on white
    return out


def _mime(data: bytes) -> str | None:
    return next((m for magic, m in _IMAGE_MAGIC.items() if data.startswith(magic)), None)


def thumbnail_uris(emb: Embedding | Selection, rows: np.ndarray) -> list[str | None]:
    """A data URI (``data:image/png;base64,...``) of each row's picture, None where it has none.

    Digits samples: the 8 x 8 digit, scaled by whole pixels. An `image` metadata column: PNG, JPEG
    or GIF bytes (checked by their leading bytes) or an inline ``data:image/...;base64,`` URI; never
    a path or URL, so showing a table opens no file and fetches nothing.
    """
    emb = _embedding(emb)
    rows = np.asarray(rows, dtype=np.int64)
    source = thumbnail_source(emb)
    if source is None or rows.size == 0:
        return [None] * int(rows.size)
    values = emb.metadata[source.column].gather(rows)
    if source.kind == "digits":
        pngs = _digit_pngs(values.to_numpy())
        return [None if p is None else "data:image/png;base64," + base64.b64encode(p).decode("ascii") for p in pngs]
    out: list[str | None] = []
    for value in values.to_list():
        if isinstance(value, bytes | bytearray) and 0 < len(value) <= MAX_IMAGE_BYTES and _mime(bytes(value)):
            out.append(f"data:{_mime(bytes(value))};base64," + base64.b64encode(bytes(value)).decode("ascii"))
        elif isinstance(value, str) and value.startswith(_DATA_URI_PREFIXES) and len(value) <= 2 * MAX_IMAGE_BYTES:
            out.append(value)
        else:
            out.append(None)
    return out


def thumbnails(emb: Embedding | Selection, rows: np.ndarray) -> list[bytes | None]:
    """The PNG/JPEG/GIF bytes of each row's picture (for `st.image`), None where it has none."""
    return [None if uri is None else base64.b64decode(uri.split(",", 1)[1]) for uri in thumbnail_uris(emb, rows)]


# ---------------------------------------------------------------------------------------------- clusters
def clusters(selection: Selection, *, min_cluster_size: int | None = None, seed: int = 0) -> Clusters:
    """HDBSCAN clusters of the selection's rows in the original space (`analysis.clusters`), on the
    first `PCA_COMPONENTS` principal components of a wider embedding (streamed over every row)."""
    n, d = selection.n_samples, int(selection.X.shape[1])
    if d > PCA_COMPONENTS:
        Z, _ = pca_all_rows(selection.X, n_components=PCA_COMPONENTS)
        space = f"the PCA-{PCA_COMPONENTS} of the {d}-D embedding"
    else:
        Z = np.asarray(selection.X, dtype=np.float32)
        space = f"the {d}-D embedding"
    if n < MIN_CLUSTER_ROWS:
        raise ValueError(f"Clusters need at least {MIN_CLUSTER_ROWS} rows; this selection has {n}.")
    return hdbscan_clusters(Z, labels=selection.labels, min_cluster_size=min_cluster_size, seed=seed, space=space)


def cluster_table(clustering: Clusters, class_name=None) -> pl.DataFrame:
    """One row per cluster (then noise): its size, share of rows and, with labels, its majority
    label and purity (the majority label's share of the cluster)."""
    n = max(int(clustering.labels.size), 1)
    k = clustering.n_clusters
    names = [f"cluster {c}" for c in range(k)] + ["noise"]
    sizes = [*clustering.sizes.tolist(), clustering.n_noise]
    columns: dict[str, Any] = {"cluster": names, "rows": sizes, "share of rows": [s / n for s in sizes]}
    if clustering.purity is not None and clustering.majority is not None:
        label = (lambda code: str(code)) if class_name is None else class_name
        columns["majority label"] = [label(int(c)) for c in clustering.majority] + [None]
        columns["purity"] = [*clustering.purity.tolist(), None]
    return pl.DataFrame(columns)
