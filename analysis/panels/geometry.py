"""The Sphere & spectrum page's numbers: one table over checkpoints per (layer, rows), sliced by every tab.

`layer_table` measures the selection's rows at every checkpoint of its layer
once (alignment, uniformity, isotropy, effective rank, TwoNN dimension:
`analysis.metrics.geometry_table`); `geometry_panel` (the Geometry tab: cards,
points on the sphere, the alignment-uniformity trajectory) and
`spectrum_panel` (the Spectrum tab) read it, so moving the checkpoint slider
measures nothing again. Every function takes a `Selection`: the sidebar's
rows (its split) on every tab.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from analysis.data import ALL_SPLITS, Run, Selection
from analysis.metrics.geometry_table import GEOMETRY_COLUMNS, geometry_row, geometry_table
from analysis.metrics.spectrum import CovarianceSpectrum, covariance_spectrum
from analysis.models.contrastive import CONTRASTIVE_PRESETS, ContrastiveConfig, train_contrastive
from analysis.validation import ProgressFn

__all__ = [
    "CONTRASTIVE_PRESETS",
    "GEOMETRY_COLUMNS",
    "VARIANCE_SHARE",
    "ContrastiveConfig",
    "CovarianceSpectrum",
    "GeometryPanel",
    "SphereFrames",
    "SpectrumPanel",
    "Trajectory",
    "contrastive_config",
    "geometry_panel",
    "layer_table",
    "overlay_selection",
    "spectrum_panel",
    "spectrum_steps",
    "sphere_frames",
    "steps_key",
    "train_contrastive",
    "trajectory",
]

# steps_key per Selection object: the app keeps one Selection per sidebar choice across reruns, and
# the key hashes the rows once per checkpoint, which is worth doing once on a million rows.
_STEPS_KEYS: weakref.WeakKeyDictionary[Selection, str] = weakref.WeakKeyDictionary()

# The spectrum table counts the directions that hold this share of the variance.
VARIANCE_SHARE = 0.9


def steps_key(sel: Selection) -> str:
    """Content key of the selection's layer and rows at every checkpoint: the cache key of `layer_table`.

    It does not depend on the chosen checkpoint, so the table over steps is
    measured once per (data, layer, rows), not once per slider position.
    """
    if not sel.is_run:
        return sel.key
    if sel not in _STEPS_KEYS:
        h = hashlib.blake2b(digest_size=12)
        for step in sel.run.steps:
            h.update(sel.at(step).key.encode())
        _STEPS_KEYS[sel] = h.hexdigest()
    return _STEPS_KEYS[sel]


def layer_table(sel: Selection, *, progress: ProgressFn | None = None) -> pl.DataFrame:
    """`geometry_row` of the selection's rows at every checkpoint of its layer.

    For a run: `geometry_table(run, rows=sel.row_ids, layers=[sel.layer])`,
    one row per step. For an embedding: one row (layer and step null).
    Columns ``layer``, ``step``, then `GEOMETRY_COLUMNS` (null where undefined:
    alignment without labels, TwoNN on too few distinct points).
    """
    if sel.is_run:
        return geometry_table(sel.run, rows=sel.row_ids, layers=[sel.layer], progress=progress)
    schema = {"layer": pl.Utf8, "step": pl.Int64} | {name: pl.Float64 for name in GEOMETRY_COLUMNS}
    record = {"layer": None, "step": None} | geometry_row(sel.X, sel.labels)
    return pl.DataFrame([record], schema=schema, orient="row")


def _row_at(table: pl.DataFrame, step: int | None) -> dict:
    if step is None:
        return table.to_dicts()[0]
    return table.filter(pl.col("step") == step).to_dicts()[0]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One layer's (uniformity, alignment) over training, for the alignment-uniformity plane.

    ``pairs`` names the positive pairs of the alignment: "augmented views"
    (the contrastive trainer's own curves) or "same-class pairs".
    """

    steps: tuple[int, ...]
    uniformity: tuple[float, ...]
    alignment: tuple[float | None, ...]
    pairs: str

    def as_tuple(self) -> tuple[list, list, list]:
        """(steps, uniformity, alignment) as `analysis.views.alignment_uniformity_plane` takes them."""
        return list(self.steps), list(self.uniformity), list(self.alignment)


def trajectory(sel: Selection, table: pl.DataFrame) -> Trajectory:
    """(steps, uniformity, alignment) of the selection's layer over training.

    A contrastive run records Wang & Isola's (2020) alignment of augmented
    views in its curves, for its output layer, measured during training on the
    training batches: used there (one point per checkpoint). Elsewhere positive
    pairs are same-class pairs among the selection's rows (`table`).
    """
    run = sel.run
    curves = run.curves
    if sel.layer == run.layers[-1] and {"alignment", "uniformity", "step"} <= set(curves):
        # The curves have a point per epoch: keep the checkpoints, one marker each.
        wanted = set(run.steps)
        keep = [i for i, step in enumerate(curves["step"]) if int(step) in wanted]
        keep = [i for n, i in enumerate(keep) if n == 0 or curves["step"][i] != curves["step"][keep[n - 1]]]
        return Trajectory(tuple(int(curves["step"][i]) for i in keep),
                          tuple(curves["uniformity"][i] for i in keep),
                          tuple(curves["alignment"][i] for i in keep), "augmented views")
    return Trajectory(tuple(table["step"].to_list()), tuple(table["uniformity"].to_list()),
                      tuple(table["alignment"].to_list()), "same-class pairs")


def overlay_selection(run: Run, *, layer: str, split: str, source_key: str | None = None) -> Selection:
    """Another run's layer at its last checkpoint, on the same split when it has one (else all rows)."""
    split = split if split in run.splits() else ALL_SPLITS
    return Selection(run, layer, run.steps[-1], split, source_key=source_key)


@dataclass(frozen=True, eq=False)
class SphereFrames:
    """The selection's rows, unit-normalised, at every checkpoint (2-D or 3-D layers).

    frames : ndarray of shape (n_steps, n_rows, d), float32
    labels : ndarray of shape (n_rows,) or None
    steps : tuple of int
    start_index : int
        Index of the selection's checkpoint in `steps`.
    """

    frames: np.ndarray
    labels: np.ndarray | None
    label_names: tuple[str, ...] | None
    steps: tuple[int, ...]
    start_index: int


def sphere_frames(sel: Selection) -> SphereFrames | None:
    """Points on the circle or sphere per checkpoint: x / max(||x||, 1e-12); None unless d is 2 or 3."""
    run = sel.run
    if run is None or run.layer_dim(sel.layer) not in (2, 3):
        return None
    frames = []
    for step in run.steps:
        X = np.asarray(run.activations[(sel.layer, step)], dtype=np.float64)
        X = X if sel.row_ids is None else X[sel.row_ids]
        frames.append(X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12))
    return SphereFrames(frames=np.stack(frames).astype(np.float32), labels=sel.labels, label_names=sel.label_names,
                        steps=tuple(run.steps), start_index=run.steps.index(sel.step))


@dataclass(frozen=True, eq=False)
class GeometryPanel:
    """Everything the Geometry tab draws for one selection.

    Attributes
    ----------
    numbers : dict of str to float or None
        `geometry_row` of the selection (the cards): the table's row at its checkpoint.
    n_features : int
    uniform_reference : float
        Uniformity of uniform points on the same sphere (Wang & Isola's bound for this d).
    trajectory : Trajectory or None
        The layer's path in the alignment-uniformity plane (runs only).
    sphere : SphereFrames or None
        Points on the circle or sphere (2-D and 3-D run layers only).
    """

    numbers: dict
    n_features: int
    uniform_reference: float
    trajectory: Trajectory | None
    sphere: SphereFrames | None


def geometry_panel(sel: Selection, *, table: pl.DataFrame) -> GeometryPanel:
    """The Geometry tab of `sel`, from its `layer_table` (no metric recomputed)."""
    numbers = _row_at(table, sel.step)
    return GeometryPanel(numbers=numbers, n_features=int(numbers["n_features"]),
                         uniform_reference=float(numbers["uniform_reference"]),
                         trajectory=trajectory(sel, table) if sel.is_run else None,
                         sphere=sphere_frames(sel))


def spectrum_steps(sel: Selection) -> list[int]:
    """The checkpoints the Spectrum tab compares: first, middle, last and the selection's own."""
    steps = sel.run.steps
    return sorted({steps[0], steps[len(steps) // 2], steps[-1], sel.step})


@dataclass(frozen=True, eq=False)
class SpectrumPanel:
    """Explained variance per direction at a few checkpoints, with effective rank and TwoNN dimension beside d.

    spectra : dict of label to CovarianceSpectrum
    table : polars.DataFrame
        One row per label: d, effective rank, intrinsic dimension (TwoNN), directions for 90 % of variance.
    """

    spectra: dict[str, CovarianceSpectrum]
    table: pl.DataFrame

    @property
    def explained(self) -> dict[str, np.ndarray]:
        return {label: s.explained_variance_ratio for label, s in self.spectra.items()}


def spectrum_panel(sel: Selection, *, table: pl.DataFrame) -> SpectrumPanel:
    """`covariance_spectrum` of the selection's rows at `spectrum_steps` (one spectrum for an embedding).

    Effective rank (Roy & Vetterli 2007) and TwoNN dimension (Facco et al. 2017)
    are read from `table` (its `layer_table`).
    """
    if sel.is_run:
        cells = {f"step {step:,}": (sel.at(step), step) for step in spectrum_steps(sel)}
    else:
        cells = {"embedding": (sel, None)}
    spectra, rank, dimension = {}, [], []
    for label, (cell, step) in cells.items():
        spectra[label] = covariance_spectrum(np.asarray(cell.X, dtype=np.float32))
        row = _row_at(table, step)
        rank.append(row["effective_rank"])
        dimension.append(row["intrinsic_dimension"])
    d = next(iter(spectra.values())).n_features
    frame = pl.DataFrame({
        "": list(spectra),
        "d": [d] * len(spectra),
        "effective rank": rank,
        "intrinsic dimension (TwoNN)": dimension,
        "directions for 90 % of variance": [s.components_for(VARIANCE_SHARE) for s in spectra.values()],
    })
    return SpectrumPanel(spectra=spectra, table=frame)


def contrastive_config(**options: object) -> ContrastiveConfig:
    """The lab form's `ContrastiveConfig`: the defaults with the form's options (validated by the config)."""
    return replace(ContrastiveConfig(), **options)
