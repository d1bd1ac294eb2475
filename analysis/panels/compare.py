"""The Compare page's numbers: CKA matrices, two spaces side by side, and the two-seed demo.

Every function takes `Selection`s (a run or embedding at one layer and
checkpoint, restricted to the sidebar's rows) and options, and returns a
frozen dataclass holding what the page draws:

* `cka_layers`, `cka_runs`, `cka_checkpoints` -> `CkaPanel`: plain and
  debiased linear CKA between the layers of one run, between the layers of
  two runs, or between the checkpoints of one layer (Kornblith et al. 2019).
* `neighbour_graph` (one search per space, cached by the page under that
  space's own selection key), `space_projection` and `side_by_side_panel` ->
  `SideBySidePanel`: each point's k-NN Jaccard between A and B and the
  neighbours it loses and gains, read from the two graphs (no search).
* `train_seed_run` and `seed_pair_panel`: two seeds of a small digits MLP,
  absolute coordinates against relative representations (Moschella et al. 2023).

`same_rows` builds B on A's rows, so both sides of a comparison are the same
inputs in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from analysis.data import ALL_SPLITS, Run, Selection
from analysis.metrics.seed_agreement import SeedAgreement, seed_agreement
from analysis.metrics.similarity import (
    NeighborAgreement,
    choose_anchors,
    cka_matrices,
    knn_agreement,
)
from analysis.neighbors import NeighborGraph
from analysis.projection import project
from analysis.validation import ProgressFn, unit_scaled_if_huge

__all__ = [
    "NEIGHBOURS",
    "SETTLED_CKA",
    "CkaPanel",
    "NeighborGraph",
    "SeedAgreement",
    "SideBySidePanel",
    "cka_checkpoints",
    "cka_layers",
    "cka_runs",
    "neighbour_changes",
    "neighbour_graph",
    "same_rows",
    "seed_pair_panel",
    "side_by_side_panel",
    "space_projection",
    "step_label",
    "train_seed_run",
]

# Neighbours compared per point in the side-by-side view.
NEIGHBOURS = 10
# A checkpoint whose CKA with the final one reaches this has "settled".
SETTLED_CKA = 0.95
# Rows listed in the neighbour-change table (worst Jaccard first).
CHANGE_ROWS = 200
# Below this gap between plain and debiased CKA the bias is called small.
SMALL_BIAS = 0.05


def step_label(step: int) -> str:
    """"init" for step 0, else "step 1,234"."""
    return "init" if step == 0 else f"step {step:,}"


def same_rows(selection: Selection, run: Run, *, layer: str | None = None, step: int | None = None,
              source_key: str | None = None) -> Selection:
    """`run` at `layer` and `step` (default its last) on the rows of `selection`.

    Both must hold the same inputs in the same order (equal ``n_samples`` of
    their sources); the sidebar's split rows of A are then B's rows too. The
    split's name is kept where `run` has that split (only its label: the rows
    are `selection.row_ids` either way).
    """
    if run.n_samples != selection.source.n_samples:
        raise ValueError(f"{run.name or 'the run'} has {run.n_samples:,} inputs and the selection's data has "
                         f"{selection.source.n_samples:,}: the two sides must be the same inputs in the same order.")
    split = selection.split if selection.split in run.splits() else ALL_SPLITS
    return Selection(run, layer, step, split, selection.row_ids, source_key)


# ---------------------------------------------------------------------------------------------------- CKA
@dataclass(frozen=True, eq=False)
class CkaPanel:
    """Plain and debiased linear CKA between two lists of representations of the same rows.

    Linear CKA (Kornblith et al. 2019) is ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)``
    on column-centred X and Y; the debiased one uses the unbiased HSIC
    estimator (Song et al. 2012), near 0 for unrelated representations even
    with few samples per feature. Both come from one set of products
    (`cka_matrices`).

    Attributes
    ----------
    plain, debiased : ndarray of shape (len(rows), len(columns))
    rows, columns : tuple of str
        Layer names, or checkpoint labels (`step_label`).
    n_samples : int
        Rows compared.
    widest : int
        Most features of any representation (the bias grows with it).
    steps : tuple of int or None
        The checkpoints of `rows`/`columns` in checkpoint mode, else None.
    """

    plain: np.ndarray
    debiased: np.ndarray
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    n_samples: int
    widest: int
    steps: tuple[int, ...] | None = None

    def values(self, debiased: bool) -> np.ndarray:
        return self.debiased if debiased else self.plain

    @property
    def gap(self) -> float:
        """Largest |plain - debiased| over the matrix."""
        return float(np.max(np.abs(self.plain - self.debiased)))

    def settled_step(self, debiased: bool) -> int | None:
        """Checkpoint mode: the first step whose CKA with the last checkpoint is >= `SETTLED_CKA`."""
        if self.steps is None:
            return None
        last = self.values(debiased)[:, -1]
        return next((s for s, v in zip(self.steps, last, strict=True) if v >= SETTLED_CKA), None)

    def bias_note(self) -> str:
        """A sentence on how far plain and debiased CKA differ here, and why."""
        gap = self.gap
        why = ("with many samples per feature the bias is small; it grows when there are few samples for many "
               "features." if gap < SMALL_BIAS else
               f"with {self.n_samples:,} samples for up to {self.widest:,} features the plain estimate is "
               "inflated; the debiased one is not.")
        return f"Plain and debiased CKA differ here by at most {gap:.3f}: {why}"


def _reps(selections: list[Selection]) -> list[np.ndarray]:
    return [np.asarray(s.X, dtype=np.float32) for s in selections]


def _cka_panel(a: list[Selection], b: list[Selection] | None, rows: list[str], columns: list[str],
               progress: ProgressFn | None, steps: tuple[int, ...] | None = None) -> CkaPanel:
    reps_a = _reps(a)
    reps_b = None if b is None else _reps(b)
    plain, debiased = cka_matrices(reps_a, reps_b, progress=progress)
    widest = max(r.shape[1] for r in [*reps_a, *(reps_b or [])])
    return CkaPanel(plain=plain, debiased=debiased, rows=tuple(rows), columns=tuple(columns),
                    n_samples=int(reps_a[0].shape[0]), widest=int(widest), steps=steps)


def _run_of(selection: Selection) -> Run:
    if selection.run is None:
        raise ValueError("CKA between layers or checkpoints needs a run (layers x checkpoints); this selection "
                         "is a single embedding.")
    return selection.run


def cka_layers(selection: Selection, *, progress: ProgressFn | None = None) -> CkaPanel:
    """Layer x layer CKA of the selection's run at its checkpoint, on its rows (its own layer is ignored)."""
    run = _run_of(selection)
    layers = [selection.at_layer(layer) for layer in run.layers]
    return _cka_panel(layers, None, list(run.layers), list(run.layers), progress)


def cka_runs(selection_a: Selection, selection_b: Selection, *, progress: ProgressFn | None = None) -> CkaPanel:
    """Layers of run A x layers of run B, each at its selection's checkpoint, on the same rows."""
    run_a, run_b = _run_of(selection_a), _run_of(selection_b)
    if selection_a.n_samples != selection_b.n_samples:
        raise ValueError(f"A has {selection_a.n_samples:,} rows and B {selection_b.n_samples:,}: CKA compares "
                         "the same inputs in both. Build B with same_rows(A, run_b).")
    return _cka_panel([selection_a.at_layer(la) for la in run_a.layers],
                      [selection_b.at_layer(la) for la in run_b.layers],
                      list(run_a.layers), list(run_b.layers), progress)


def cka_checkpoints(selection: Selection, *, progress: ProgressFn | None = None) -> CkaPanel:
    """Checkpoint x checkpoint CKA of the selection's layer, on its rows (its own step is ignored)."""
    run = _run_of(selection)
    steps = tuple(int(s) for s in run.steps)
    labels = [step_label(s) for s in steps]
    return _cka_panel([selection.at(s) for s in steps], None, labels, labels, progress, steps=steps)


# ---------------------------------------------------------------------------------------------------- side by side
def neighbour_graph(selection: Selection, *, k_max: int = NEIGHBOURS, metric: str = "euclidean") -> NeighborGraph:
    """One space's neighbour search for the side-by-side view: k_max neighbours of every chosen row.

    Searched on X scaled by an exact power of two when its entries exceed
    float32's range, as `knn_agreement` does: neighbour sets are scale-free.
    """
    return NeighborGraph.search(unit_scaled_if_huge(np.asarray(selection.X)), k_max=k_max, metric=metric)


def space_projection(selection: Selection, *, seed: int = 0) -> np.ndarray:
    """PCA coordinates (n_samples, 2) of the selection's rows (`analysis.projection.project`)."""
    return project(selection.X, method="pca", n_components=2, seed=seed).coords


def neighbour_changes(rows: Any, nn_a: np.ndarray, nn_b: np.ndarray, jaccard: np.ndarray,
                      *, ids: np.ndarray | None = None, limit: int = CHANGE_ROWS) -> pl.DataFrame:
    """Per row: its Jaccard and the neighbours it loses (only in A) and gains (only in B), worst first.

    `rows`, `nn_a` and `nn_b` hold positions in the compared rows; with `ids`
    (the selection's `row_ids`) the table names the dataset's row numbers
    instead. At most `limit` rows; ties in Jaccard keep the order of `rows`.
    """
    rows = np.asarray(rows, dtype=np.int64)
    rows = rows[np.argsort(jaccard[rows], kind="stable")][:limit]
    name = (lambda r: r) if ids is None else (lambda r: int(ids[r]))
    lost = [sorted(name(x) for x in set(nn_a[r].tolist()) - set(nn_b[r].tolist())) for r in rows]
    gained = [sorted(name(x) for x in set(nn_b[r].tolist()) - set(nn_a[r].tolist())) for r in rows]
    shown = rows if ids is None else np.asarray(ids, dtype=np.int64)[rows]
    return pl.DataFrame({"row": shown, "jaccard": np.round(jaccard[rows], 3),
                         "neighbours only in A": [", ".join(map(str, x)) for x in lost],
                         "neighbours only in B": [", ".join(map(str, x)) for x in gained]})


@dataclass(frozen=True, eq=False)
class SideBySidePanel:
    """Neighbourhoods of the same rows in two spaces A and B.

    Attributes
    ----------
    agreement : NeighborAgreement
        `knn_agreement(A, B, k=k)`: per point ``J_i = |N_A(i) & N_B(i)| / |N_A(i) | N_B(i)|``
        (Klabunde et al. 2023), read from the two graphs.
    nn_a, nn_b : ndarray of shape (n_samples, k), int64
        Each row's k nearest neighbours in A and in B (positions in the selection).
    k : int
    row_ids : ndarray of int64 or None
        The dataset's row number of each position (A's `row_ids`; None: all rows, in order).
    """

    agreement: NeighborAgreement
    nn_a: np.ndarray
    nn_b: np.ndarray
    k: int
    row_ids: np.ndarray | None = None

    @property
    def mean_jaccard(self) -> float:
        return self.agreement.mean_jaccard

    def selected_jaccard(self, rows: Any) -> float:
        """Mean Jaccard over `rows` (positions in the selection)."""
        return float(self.agreement.per_point[np.asarray(rows, dtype=np.int64)].mean())

    def changes(self, rows: Any) -> pl.DataFrame:
        """`neighbour_changes` of `rows` (positions), worst first, named by the dataset's row numbers."""
        return neighbour_changes(rows, self.nn_a, self.nn_b, self.agreement.per_point, ids=self.row_ids)


def side_by_side_panel(a: Selection, b: Selection, *, graph_a: NeighborGraph, graph_b: NeighborGraph,
                       k: int = NEIGHBOURS, metric: str = "euclidean") -> SideBySidePanel:
    """k-NN agreement of A and B and each row's neighbours, from one graph per space (no search)."""
    if a.n_samples != b.n_samples:
        raise ValueError(f"A has {a.n_samples:,} rows and B {b.n_samples:,}: side by side needs the same inputs. "
                         "Build B with same_rows(A, run_b).")
    agreement = knn_agreement(a.X, b.X, k=k, metric=metric, neighbors=(graph_a, graph_b))
    return SideBySidePanel(agreement=agreement, nn_a=np.asarray(graph_a.top(k)[1]),
                           nn_b=np.asarray(graph_b.top(k)[1]), k=int(k), row_ids=a.row_ids)


# ---------------------------------------------------------------------------------------------------- two seeds
def train_seed_run(seed: int) -> Run:
    """A small digits MLP (64-64-32, tanh, 60 epochs, about a second): the relative-representation demo's model."""
    from analysis.models import collapse_lab  # looked up at call time: tests wrap the trainer

    base = collapse_lab.PRESETS["balanced"]
    return collapse_lab.train_collapse_lab(replace(base, mlp=replace(base.mlp, epochs=60, n_checkpoints=2, seed=seed)))


def seed_pair_panel(run_a: Run, run_b: Run, *, n_anchors: int, method: str) -> SeedAgreement:
    """Absolute vs relative agreement of two seeds' last hidden layers, and zero-shot stitching.

    Anchors are training inputs (the same rows in both seeds): `n_anchors`
    random ones, or one per class with ``method="per_class"``. The probe is
    fitted on A's training rows and tested on the test rows (`Run.rows`).
    Moschella et al., "Relative representations enable zero-shot latent space
    communication", ICLR 2023.
    """
    layer, step = run_a.layers[-1], run_a.steps[-1]
    train, test = run_a.rows("train"), run_a.rows("test")
    per_class = method == "per_class"
    anchors = train[choose_anchors(train.size, method=method, n_anchors=None if per_class else n_anchors,
                                   labels=run_a.labels[train] if per_class else None, seed=0)]
    return seed_agreement(run_a.activations[(layer, step)], run_b.activations[(layer, step)], run_a.labels,
                          anchors=anchors, train_rows=train, test_rows=test)
