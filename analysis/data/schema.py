"""The data model: `Embedding` (one matrix) and `Run` (layers x checkpoints).

Every metric consumes an `Embedding`; trainers produce `Run`s; the app and the
CLI consume both. See DESIGN.md section 2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

# The split choice that means every row (the sidebar's default).
ALL_SPLITS = "all"
SPLIT_COLUMN = "split"


def _metadata_splits(metadata: pl.DataFrame | None) -> list[str]:
    if metadata is None or SPLIT_COLUMN not in metadata.columns:
        return []
    return sorted(metadata[SPLIT_COLUMN].cast(pl.Utf8).drop_nulls().unique().to_list())


def _split_rows(metadata: pl.DataFrame | None, split: str | None) -> np.ndarray | None:
    """Row ids whose metadata "split" equals `split`; None (every row) for None or "all".

    The only reader of the split column (issue 16): `Run.rows` and
    `Embedding.rows` call it, and every page, table and report selects rows
    through them, so one sidebar choice means the same rows everywhere.
    """
    if split is None or split == ALL_SPLITS:
        return None
    splits = _metadata_splits(metadata)
    if split not in splits:
        raise ValueError(
            f"split {split!r} is not in this data; it has {splits or 'no split column'}. "
            f"Pass one of those, or {ALL_SPLITS!r} (or None) for all rows."
        )
    return np.flatnonzero((metadata[SPLIT_COLUMN].cast(pl.Utf8) == split).to_numpy())


def _check_labels(labels: Any, n: int, *, what: str = "labels") -> np.ndarray:
    """Return labels as int64 codes of shape (n,), or raise a clear ValueError."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(
            f"{what} must be one label per sample, shape ({n},); got shape {arr.shape}. "
            "Pass a 1-D array of class codes."
        )
    if arr.shape[0] != n:
        raise ValueError(
            f"{what} has {arr.shape[0]} entries but the embedding has {n} rows. "
            "Give exactly one label per row, in the same order."
        )
    if arr.dtype.kind == "f":
        nonfinite = np.flatnonzero(~np.isfinite(arr))
        if nonfinite.size:
            raise ValueError(
                f"{what} contains NaN or Inf in {nonfinite.size} of {n} entries (e.g. row "
                f"{int(nonfinite[0])}). Fill or drop the unlabelled rows first."
            )
        if not np.all(arr == np.round(arr)):
            raise ValueError(
                f"{what} contains non-integer values. Labels must be integer class "
                "codes (or strings, which are encoded for you)."
            )
    elif arr.dtype.kind not in "iub":
        raise ValueError(
            f"{what} has dtype {arr.dtype}; expected integer class codes. "
            "Encode string labels with `encode_labels` first."
        )
    # Checked before the cast: uint64 2**64-1 or a float 1e30 would wrap to a negative int64.
    if arr.size and arr.dtype.kind in "uf" and arr.max() > np.iinfo(np.int64).max:
        row = int(np.argmax(arr))
        raise ValueError(
            f"{what} holds the code {arr[row]} (row {row}), beyond the int64 range of class "
            "codes. Number the classes 0, 1, 2, ... (or pass their names as strings)."
        )
    codes = arr.astype(np.int64, copy=False)
    if codes.size and codes.min() < 0:
        row = int(np.argmin(codes))
        raise ValueError(
            f"{what} contains negative codes (e.g. {int(codes[row])} at row {row}); class "
            "codes must be >= 0."
        )
    return codes


def encode_labels(values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map arbitrary label values to codes 0..C-1 (sorted order) and their names."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f" and np.any(~np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(
            f"labels contain NaN or Inf in {bad} entries. Fill or drop those rows first."
        )
    uniques, codes = np.unique(arr, return_inverse=True)
    names = tuple(str(u.item() if hasattr(u, "item") else u) for u in uniques)
    return codes.astype(np.int64), names


@dataclass(frozen=True, eq=False)
class Embedding:
    """One matrix of vectors, the input of every metric.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Stored as float32 (cast on construction if needed; no copy if it
        already is float32, so a memory-mapped array stays mapped).
    labels : ndarray of shape (n_samples,), optional
        Integer class codes 0..C-1.
    label_names : tuple of str, optional
        ``label_names[c]`` names class code ``c``.
    metadata : polars.DataFrame, optional
        One row per sample (text, split, image path, ...).
    name : str
        Shown in the app.
    """

    X: np.ndarray
    labels: np.ndarray | None = None
    label_names: tuple[str, ...] | None = None
    metadata: pl.DataFrame | None = None
    name: str = ""

    def __post_init__(self) -> None:
        X = self.X
        if not isinstance(X, np.ndarray):
            X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(
                f"Embedding X must be 2-D (n_samples, n_features); got shape {X.shape}."
            )
        if X.dtype != np.float32:
            X = X.astype(np.float32)
        object.__setattr__(self, "X", X)
        n = X.shape[0]
        if self.labels is not None:
            object.__setattr__(self, "labels", _check_labels(self.labels, n))
            if self.label_names is not None:
                names = tuple(str(s) for s in self.label_names)
                object.__setattr__(self, "label_names", names)
                top = int(self.labels.max()) if n else -1
                if top >= len(names):
                    raise ValueError(
                        f"labels use code {top} but only {len(names)} label_names "
                        "were given. Give one name per class code."
                    )
        if self.metadata is not None and self.metadata.height != n:
            raise ValueError(
                f"metadata has {self.metadata.height} rows but X has {n}. "
                "Metadata needs exactly one row per sample, in the same order."
            )

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of distinct label codes present (0 without labels)."""
        return 0 if self.labels is None else int(np.unique(self.labels).size)

    def class_name(self, code: int) -> str:
        if self.label_names is not None and 0 <= code < len(self.label_names):
            return self.label_names[code]
        return str(code)

    def label_strings(self) -> list[str] | None:
        """Each sample's class name (or code as text); None without labels."""
        if self.labels is None:
            return None
        return [self.class_name(int(c)) for c in self.labels]

    def subset(self, rows: np.ndarray) -> Embedding:
        """The embedding restricted to `rows` (boolean mask or integer ids)."""
        rows = np.asarray(rows)
        idx = np.flatnonzero(rows) if rows.dtype == bool else rows.astype(np.int64)
        return Embedding(
            X=np.ascontiguousarray(self.X[idx]),
            labels=None if self.labels is None else self.labels[idx],
            label_names=self.label_names,
            metadata=None if self.metadata is None else self.metadata[idx.tolist()],
            name=self.name,
        )

    def splits(self) -> list[str]:
        """Distinct values of the metadata column "split" (empty if none)."""
        return _metadata_splits(self.metadata)

    def rows(self, split: str | None) -> np.ndarray | None:
        """Row ids of a split ("train", "test", ...); None means all rows ("all" or None)."""
        return _split_rows(self.metadata, split)

    def content_hash(self) -> str:
        """A digest of every value (not a sample of them), for cache keys."""
        h = hashlib.blake2b(digest_size=16)
        h.update(str(self.X.shape).encode())
        h.update(np.ascontiguousarray(self.X).data)
        if self.labels is not None:
            h.update(b"labels")
            h.update(np.ascontiguousarray(self.labels).data)
        if self.label_names is not None:
            h.update("\x1f".join(self.label_names).encode())
        if self.metadata is not None:
            h.update(str(self.metadata.schema).encode())
            h.update(str(self.metadata.hash_rows().sum()).encode())
        return h.hexdigest()


ActKey = tuple[str, int]  # (layer, step)


@dataclass(eq=False)
class Run:
    """The same n samples seen at several layers and checkpoints.

    Attributes
    ----------
    activations : dict mapping (layer, step) to ndarray of shape (n_samples, d_layer)
        May be float16 or memory-mapped; `embedding()` returns float32.
    layers : tuple of str
        Layer order (input to output).
    steps : tuple of int
        Checkpoint steps, ascending.
    labels, label_names, metadata
        As in `Embedding`, shared by all layers and steps.
    classifier : dict mapping step to (weight, bias)
        weight of shape (n_classes, d_last), bias of shape (n_classes,) or None.
    logits : dict mapping step to ndarray of shape (n_samples, n_classes)
    codes : dict mapping (layer, step) to int ndarray of shape (n_samples,)
    codebooks : dict mapping (layer, step) to ndarray of shape (K, d_code)
    curves : dict of str to list of float
        Training curves; the key "step" gives their x axis.
    task : str
        A human description of what was trained on what.
    """

    activations: dict[ActKey, np.ndarray]
    layers: tuple[str, ...]
    steps: tuple[int, ...]
    labels: np.ndarray | None = None
    label_names: tuple[str, ...] | None = None
    metadata: pl.DataFrame | None = None
    classifier: dict[int, tuple[np.ndarray, np.ndarray | None]] = field(default_factory=dict)
    logits: dict[int, np.ndarray] = field(default_factory=dict)
    codes: dict[ActKey, np.ndarray] = field(default_factory=dict)
    codebooks: dict[ActKey, np.ndarray] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    task: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        self.layers = tuple(str(x) for x in self.layers)
        self.steps = tuple(int(s) for s in self.steps)
        if not self.layers or not self.steps:
            raise ValueError("A Run needs at least one layer and one step.")
        if list(self.steps) != sorted(set(self.steps)):
            raise ValueError(f"Run steps must be unique and ascending; got {list(self.steps)}.")
        missing = [(la, s) for la in self.layers for s in self.steps if (la, s) not in self.activations]
        if missing:
            raise ValueError(
                f"Run is missing activations for {len(missing)} (layer, step) pairs, "
                f"e.g. {missing[:3]}. Every layer needs every step."
            )
        ns = {a.shape[0] for a in self.activations.values()}
        if len(ns) != 1:
            raise ValueError(f"Run activations disagree on the number of samples: {sorted(ns)}.")
        for key, a in self.activations.items():
            if a.ndim != 2:
                raise ValueError(f"activations {key} must be 2-D; got shape {a.shape}.")
        n = self.n_samples
        if self.labels is not None:
            self.labels = _check_labels(self.labels, n)
        if self.label_names is not None:
            self.label_names = tuple(str(s) for s in self.label_names)
        if self.metadata is not None and self.metadata.height != n:
            raise ValueError(
                f"Run metadata has {self.metadata.height} rows but activations have {n}."
            )

    @property
    def n_samples(self) -> int:
        return int(next(iter(self.activations.values())).shape[0])

    def layer_dim(self, layer: str) -> int:
        return int(self.activations[(layer, self.steps[0])].shape[1])

    def embedding(self, layer: str, step: int) -> Embedding:
        """The activations of `layer` at checkpoint `step` as a float32 Embedding."""
        if layer not in self.layers:
            raise ValueError(f"Unknown layer {layer!r}; this run has {list(self.layers)}.")
        if int(step) not in self.steps:
            raise ValueError(f"Unknown step {step}; this run has {list(self.steps)}.")
        X = self.activations[(layer, int(step))]
        return Embedding(
            X=np.asarray(X, dtype=np.float32),
            labels=self.labels,
            label_names=self.label_names,
            metadata=self.metadata,
            name=f"{self.name} · {layer} · step {step}" if self.name else f"{layer} · step {step}",
        )

    def predictions(self, step: int) -> np.ndarray | None:
        """Argmax of the logits at `step`, or None when the run has none."""
        logits = self.logits.get(int(step))
        return None if logits is None else np.asarray(logits).argmax(axis=1)

    def splits(self) -> list[str]:
        """Distinct values of the metadata column "split" (empty if none)."""
        return _metadata_splits(self.metadata)

    def rows(self, split: str | None) -> np.ndarray | None:
        """Row ids of a split ("train", "test", ...); None means all rows ("all" or None).

        Raises ValueError naming the run's splits for one it does not have.
        """
        return _split_rows(self.metadata, split)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "n_samples": self.n_samples,
            "layers": {la: self.layer_dim(la) for la in self.layers},
            "steps": list(self.steps),
            "n_classes": None if self.labels is None else int(np.unique(self.labels).size),
            "has_classifier": bool(self.classifier),
            "has_logits": bool(self.logits),
            "has_codes": bool(self.codes),
            "curves": sorted(self.curves),
            "splits": self.splits(),
        }


