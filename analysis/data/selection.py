"""`Selection`: one user choice (dataset, layer, checkpoint, rows) as one object with one cache key.

Every page, panel, the report and the CLI read the chosen rows through a
Selection, so the sidebar's choice means the same rows everywhere (issue 16):
the rows of a split come from `Run.rows` / `Embedding.rows`, the only readers
of the "split" column. Arrays are sliced lazily and memoised on the object;
with every row selected `.X` is the source's own (possibly memory-mapped)
float32 array, not a copy.

`.key` is a content hash: the same data, layer, step and rows give the same
key whichever object holds them, so results cached under it are reused across
reruns and sessions and never served for other data.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from analysis.data.schema import ALL_SPLITS, Embedding, Run

__all__ = ["ALL_SPLITS", "Selection"]

# Content digests of a source's arrays, computed once per (source object, layer, step):
# hashing a large memory-mapped layer costs a pass over it, so a Selection
# rebuilt on every rerun must not repeat it. Weak keys: a dropped Run frees its entry.
_DIGESTS: weakref.WeakKeyDictionary[Any, dict[tuple, str]] = weakref.WeakKeyDictionary()


def _digest_arrays(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if part is None:
            h.update(b"\x00none")
        elif isinstance(part, np.ndarray):
            arr = np.ascontiguousarray(part)
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.data)
        elif isinstance(part, pl.DataFrame):
            h.update(str(part.schema).encode())
            h.update(part.hash_rows(seed=0).to_numpy().tobytes())
        else:
            data = repr(part).encode()
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Selection:
    """A run (at one layer and checkpoint) or an embedding, restricted to some rows.

    Parameters
    ----------
    source : Run or Embedding
    layer, step : str and int, optional
        Required for a Run (default: its last layer and last step); ignored for an Embedding.
    split : str
        A value of the metadata column "split", or "all" for every row.
    row_ids : ndarray of int, optional
        Rows of the source (after the split) chosen explicitly; see `with_rows`.
    source_key : str, optional
        A key that already identifies the source's content (e.g. a hash of the
        uploaded bytes). Without it the key hashes the selected arrays.
    """

    source: Run | Embedding
    layer: str | None = None
    step: int | None = None
    split: str = ALL_SPLITS
    row_ids: np.ndarray | None = field(default=None, repr=False)
    source_key: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.source, Run):
            run = self.source
            layer = run.layers[-1] if self.layer is None else str(self.layer)
            step = run.steps[-1] if self.step is None else int(self.step)
            if layer not in run.layers:
                raise ValueError(f"Unknown layer {layer!r}; this run has {list(run.layers)}.")
            if step not in run.steps:
                raise ValueError(f"Unknown step {step}; this run has {list(run.steps)}.")
            object.__setattr__(self, "layer", layer)
            object.__setattr__(self, "step", step)
        elif isinstance(self.source, Embedding):
            object.__setattr__(self, "layer", None)
            object.__setattr__(self, "step", None)
        else:
            raise TypeError(f"Selection needs a Run or an Embedding; got {type(self.source).__name__}.")
        split_ids = self.source.rows(self.split)  # validates the split name
        if self.row_ids is not None:
            ids = np.asarray(self.row_ids)
            if ids.dtype == bool:
                ids = np.flatnonzero(ids)
            ids = ids.astype(np.int64, copy=False)
            n = self.source.n_samples
            if ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= n)):
                raise ValueError(f"row_ids must be 1-D row numbers in [0, {n - 1}].")
            object.__setattr__(self, "row_ids", ids)
        elif split_ids is not None:
            object.__setattr__(self, "row_ids", split_ids)

    # ------------------------------------------------------------------ derived selections
    @property
    def run(self) -> Run | None:
        return self.source if isinstance(self.source, Run) else None

    @property
    def is_run(self) -> bool:
        return isinstance(self.source, Run)

    def at(self, step: int) -> Selection:
        """The same layer and rows at another checkpoint."""
        return Selection(self.source, self.layer, int(step), self.split, self.row_ids, self.source_key)

    def at_layer(self, layer: str) -> Selection:
        """The same checkpoint and rows at another layer."""
        return Selection(self.source, layer, self.step, self.split, self.row_ids, self.source_key)

    def with_rows(self, rows: np.ndarray) -> Selection:
        """A sub-selection: `rows` (int positions or a boolean mask) index this selection's rows."""
        rows = np.asarray(rows)
        positions = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64, copy=False)
        if rows.dtype == bool and rows.shape[0] != self.n_samples:
            raise ValueError(f"row mask has {rows.shape[0]} entries; the selection has {self.n_samples} rows.")
        base = np.arange(self.source.n_samples) if self.row_ids is None else self.row_ids
        if positions.size and (positions.min() < -base.size or positions.max() >= base.size):
            raise ValueError(f"rows must index the selection's {base.size} rows.")
        return Selection(self.source, self.layer, self.step, self.split, base[positions], self.source_key)

    # ------------------------------------------------------------------ arrays
    def _take(self, arr: np.ndarray | None) -> np.ndarray | None:
        if arr is None or self.row_ids is None:
            return arr
        return np.asarray(arr)[self.row_ids]

    @property
    def n_samples(self) -> int:
        return self.source.n_samples if self.row_ids is None else int(self.row_ids.size)

    @cached_property
    def embedding(self) -> Embedding:
        """The chosen rows as a float32 Embedding (the source's own array when every row is chosen)."""
        if isinstance(self.source, Run):
            full = self.source.embedding(self.layer, self.step)
        else:
            full = self.source
        return full if self.row_ids is None else full.subset(self.row_ids)

    @property
    def X(self) -> np.ndarray:
        return self.embedding.X

    @property
    def labels(self) -> np.ndarray | None:
        return self.embedding.labels

    @property
    def label_names(self) -> tuple[str, ...] | None:
        return self.embedding.label_names

    @property
    def metadata(self) -> pl.DataFrame | None:
        return self.embedding.metadata

    @property
    def predictions(self) -> np.ndarray | None:
        """Argmax of the run's logits at this step for the chosen rows, or None."""
        run = self.run
        return None if run is None else self._take(run.predictions(self.step))

    @property
    def classifier(self) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(weight, bias) of the run's classifier at this step, or None (not row-dependent)."""
        run = self.run
        return None if run is None else run.classifier.get(self.step)

    @property
    def codes(self) -> np.ndarray | None:
        """VQ code of each chosen row at this layer and step, or None."""
        run = self.run
        return None if run is None else self._take(run.codes.get((self.layer, self.step)))

    @property
    def codebook(self) -> np.ndarray | None:
        run = self.run
        return None if run is None else run.codebooks.get((self.layer, self.step))

    def splits(self) -> list[str]:
        return self.source.splits()

    # ------------------------------------------------------------------ identity
    def _source_digest(self) -> str:
        if self.source_key is not None:
            return self.source_key
        memo = _DIGESTS.setdefault(self.source, {})
        cell = (self.layer, self.step)
        if cell not in memo:
            src = self.source
            if isinstance(src, Run):
                X = src.activations[(self.layer, self.step)]
                extras = (src.codes.get(cell), src.logits.get(self.step), *(src.classifier.get(self.step) or ()))
            else:
                X, extras = src.X, ()
            memo[cell] = _digest_arrays(X, src.labels, src.label_names, src.metadata, *extras)
        return memo[cell]

    @cached_property
    def key(self) -> str:
        """Content hash of (source, layer, step, rows): the cache key of everything derived from it."""
        rows = None if self.row_ids is None else self.row_ids
        return _digest_arrays(self._source_digest(), self.layer, self.step, rows)[:24]

    def describe(self) -> str:
        """A short human description, e.g. "digits_mlp · hidden2 · step 600 · train (1,437 rows)"."""
        parts = [getattr(self.source, "name", "") or "data"]
        if self.is_run:
            parts += [str(self.layer), f"step {self.step}"]
        parts.append(f"{self.split if self.split != ALL_SPLITS else 'all rows'} ({self.n_samples:,} rows)")
        return " · ".join(parts)
