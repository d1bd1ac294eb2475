"""`LoadReport`: what loading a file did on the way to an `Embedding` (casts, pooling, dropped rows)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["LoadReport"]


@dataclass(frozen=True)
class LoadReport:
    """What `load_embedding_report` did to turn a file into an `Embedding`.

    Attributes
    ----------
    source : str
        The file name shown in messages (the upload's name for bytes).
    format : str
        ``"npy"``, ``"npz"``, ``"csv"``, ``"parquet"``, ``"safetensors"`` or ``"pt"``.
    original_shape : tuple of int
        Shape of the array as stored (before pooling and dropping rows).
    original_dtype : str
        Its dtype as stored (``"bfloat16"`` for bfloat16 tensors).
    shape : tuple of int
        Shape of the returned ``Embedding.X``.
    cast_from : str or None
        The dtype converted to float32, or None when it already was float32.
    pooling : str or None
        The pooling applied to 3-D activations.
    dropped_nonfinite_rows : int
        Rows dropped because they held NaN/Inf (``nonfinite="drop"``).
    dropped_row_indices : tuple of int
        Their indices in the file, so that a separate per-row table (e.g.
        metadata uploaded beside the embedding) can drop the same rows.
    memory_mapped : bool
        Whether ``Embedding.X`` is a memory-mapped view of the file (no copy).
    key : str or None
        The array picked inside an npz/safetensors/pt container, or the
        embedding column of a table.
    labels_from : str or None
        Where the labels came from (a key, a column, a file, an array).
    metadata_columns : tuple of str
        The columns kept as ``Embedding.metadata``.
    notes : tuple of str
        Anything else the user should know (ignored keys, precision loss, ...).
    """

    source: str
    format: str
    original_shape: tuple[int, ...]
    original_dtype: str
    shape: tuple[int, ...]
    cast_from: str | None = None
    pooling: str | None = None
    dropped_nonfinite_rows: int = 0
    dropped_row_indices: tuple[int, ...] = ()
    memory_mapped: bool = False
    key: str | None = None
    labels_from: str | None = None
    metadata_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        out = asdict(self)
        for name in ("original_shape", "shape", "dropped_row_indices", "metadata_columns", "notes"):
            out[name] = list(out[name])
        return out
