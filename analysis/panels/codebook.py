"""The Codebook usage page's numbers: usage of a selection's VQ codes, over checkpoints, and in the embedding.

`code_selection` moves the sidebar's selection to the layer (and checkpoint)
that has codes, keeping its rows; `usage_panel` counts those rows' codes
(`analysis.metrics.codebook_usage`) and tabulates the layer over checkpoints
(`codebook_usage_table`); `code_space` projects the encoder outputs and the
codebook together once per (selection, method); `code_members` lists a code's
rows and their digit images. Every function takes a `Selection`: the
sidebar's split rows throughout.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis.data import ALL_SPLITS, Run, Selection
from analysis.metrics.codebook import CodebookUsage, codebook_usage, codebook_usage_table
from analysis.models.vq import VQ_PRESETS, train_vq
from analysis.projection import project

__all__ = [
    "VQ_PRESETS",
    "CodeMembers",
    "CodeSpace",
    "CodebookUsage",
    "UsagePanel",
    "code_layer",
    "code_members",
    "code_selection",
    "code_space",
    "other_run_selection",
    "train_vq",
    "upload_usage",
    "usage_panel",
]

# The code picker lists at most this many used codes, most used first.
TOP_CODES = 50
# A code's gallery shows at most this many of its inputs.
MEMBERS_SHOWN = 24


def code_layer(run: Run, layer: str | None) -> str | None:
    """The layer whose codes to show: `layer` if it has codes, else the first (by name) that has."""
    layers = sorted({la for la, _ in run.codes})
    if not layers:
        return None
    return layer if layer in layers else layers[0]


def code_selection(sel: Selection) -> Selection | None:
    """The selection moved to the layer with codes, at its step (else that layer's last step with codes).

    Same rows (the sidebar's split). None for an embedding or a run without codes.
    """
    run = sel.run
    if run is None or not run.codes:
        return None
    layer = code_layer(run, sel.layer)
    step = sel.step if (layer, sel.step) in run.codes else max(s for (la, s) in run.codes if la == layer)
    return sel.at_layer(layer).at(step)


def other_run_selection(run: Run, *, split: str, source_key: str | None = None) -> Selection | None:
    """Another run's first layer with codes at its last checkpoint (with codes), on `split` when it has it
    (else all rows)."""
    split = split if split in run.splits() else ALL_SPLITS
    return code_selection(Selection(run, code_layer(run, None), run.steps[-1], split, source_key=source_key))


def _codebook_size(run: Run, layer: str, step: int) -> int:
    """K: the codebook's rows, else the largest code of the cell (all rows) + 1, as `codebook_usage_table`."""
    codebook = run.codebooks.get((layer, step))
    return int(codebook.shape[0]) if codebook is not None else int(np.asarray(run.codes[(layer, step)]).max()) + 1


def _vectors(sel: Selection) -> np.ndarray | None:
    """The pre-quantisation vectors (the layer's activations) when they match the codebook's width."""
    codebook = sel.codebook
    if codebook is None or sel.X.shape[1] != codebook.shape[1]:
        return None
    return np.asarray(sel.X, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class UsagePanel:
    """Everything the Usage tab draws for one code selection.

    Attributes
    ----------
    layer, step : str and int
    usage : CodebookUsage
        `codebook_usage` of the selection's codes with its labels (and
        quantisation error when the codebook and vectors are known).
    codes : ndarray of shape (n_rows,)
        The selection's code ids (for the code-label heatmap and code members).
    labels, label_names
    table : polars.DataFrame
        `codebook_usage_table` of this layer at every checkpoint, on the same rows.
    curves : tuple of (steps, perplexity, dead_fraction)
        The run's training curves when it recorded them, else the table's columns.
    curves_from : str
        "training" or "table".
    top_codes : ndarray of int
        Up to 50 used codes, most used first (the code picker).
    has_space : bool
        Whether the codebook and the encoder outputs can be drawn together.
    """

    layer: str
    step: int
    usage: CodebookUsage
    codes: np.ndarray
    labels: np.ndarray | None
    label_names: tuple[str, ...] | None
    table: pl.DataFrame
    curves: tuple[list, list, list]
    curves_from: str
    top_codes: np.ndarray
    has_space: bool

    @property
    def codebook_size(self) -> int:
        return self.usage.codebook_size


def usage_panel(sel: Selection) -> UsagePanel:
    """Codebook usage of the selection's rows (van den Oord et al. 2017: perplexity exp(H), dead codes)."""
    run = sel.run
    K = _codebook_size(run, sel.layer, sel.step)
    codes = np.asarray(sel.codes)
    vectors = _vectors(sel)
    usage = codebook_usage(codes, codebook_size=K, labels=sel.labels,
                           codebook=None if vectors is None else sel.codebook, vectors=vectors)
    table = codebook_usage_table(run, rows=sel.row_ids, layers=[sel.layer])
    c = run.curves
    if {"step", "perplexity", "dead_fraction"} <= set(c):
        curves, curves_from = (list(c["step"]), list(c["perplexity"]), list(c["dead_fraction"])), "training"
    else:
        curves = (table["step"].to_list(), table["perplexity"].to_list(), table["dead_fraction"].to_list())
        curves_from = "table"
    top = np.argsort(usage.counts)[::-1]
    top = top[usage.counts[top] > 0][:TOP_CODES]
    return UsagePanel(layer=sel.layer, step=int(sel.step), usage=usage, codes=codes, labels=sel.labels,
                      label_names=sel.label_names, table=table, curves=curves, curves_from=curves_from,
                      top_codes=top, has_space=vectors is not None)


@dataclass(frozen=True, eq=False)
class CodeSpace:
    """Encoder outputs and the codebook projected together.

    coords : ndarray of shape (n_rows + K, 2)
        The selection's vectors first, then the K codes.
    n_vectors : int
    colour : ndarray of int
        Code id mod 10 for the vectors, 10 for the codebook's rows.
    colour_names : tuple of str
    used, dead : ndarray of int
        Rows of `coords` holding used and dead codes.
    method : str
    """

    coords: np.ndarray
    n_vectors: int
    colour: np.ndarray
    colour_names: tuple[str, ...]
    used: np.ndarray
    dead: np.ndarray
    method: str


def code_space(sel: Selection, usage: CodebookUsage, *, method: str = "pca") -> CodeSpace | None:
    """`project` of [vectors; codebook] to 2-D (one projection per selection and method); None without both."""
    vectors = _vectors(sel)
    if vectors is None:
        return None
    codebook = np.asarray(sel.codebook, dtype=np.float32)
    coords = project(np.vstack([vectors, codebook]), method=method, n_components=2).coords
    n, K = vectors.shape[0], codebook.shape[0]
    dead = usage.dead_codes + n
    return CodeSpace(coords=coords, n_vectors=n,
                     colour=np.r_[np.asarray(sel.codes) % 10, np.full(K, 10)],
                     colour_names=tuple(f"codes ≡ {i} mod 10" for i in range(10)) + ("codebook",),
                     used=np.setdiff1d(np.arange(n, n + K), dead), dead=dead, method=method)


@dataclass(frozen=True, eq=False)
class CodeMembers:
    """The first rows assigned to one code.

    rows : ndarray of int
        Row ids in the source (run) of the members.
    images : ndarray of shape (n_members, 64) or None
        Their 8 x 8 digit images (metadata.source_index into scikit-learn's digits), or None.
    decoded : ndarray of shape (1, 64) or None
        The run's reconstruction of the first member at this step, when recorded.
    """

    code: int
    rows: np.ndarray
    images: np.ndarray | None
    decoded: np.ndarray | None


def code_members(sel: Selection, codes: np.ndarray, code: int, *, limit: int = MEMBERS_SHOWN) -> CodeMembers:
    """The first `limit` of the selection's rows with code `code`, their digit images and a decoded one."""
    positions = np.flatnonzero(np.asarray(codes) == code)[:limit]
    rows = positions if sel.row_ids is None else sel.row_ids[positions]
    images = decoded = None
    metadata = sel.metadata
    if metadata is not None and "source_index" in metadata.columns and positions.size:
        from sklearn.datasets import load_digits  # only for digit runs

        images = load_digits().data[metadata["source_index"].to_numpy()[positions]]
        recon = sel.run.activations.get(("reconstruction", sel.step)) if sel.is_run else None
        if recon is not None:
            decoded = np.asarray(recon[rows[:1]])
    return CodeMembers(code=int(code), rows=rows.astype(np.int64), images=images, decoded=decoded)


def upload_usage(data: bytes, *, codebook_size: int) -> CodebookUsage:
    """`codebook_usage` of codes uploaded as .npy bytes (integers, any shape; no pickle)."""
    codes: Any = np.load(io.BytesIO(data), allow_pickle=False)
    return codebook_usage(codes, codebook_size=int(codebook_size))
