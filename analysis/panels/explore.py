"""The Explore page's numbers: projections, point colours, and the neighbours of a clicked point.

Compute once (issue 16):

* a projection is made once per (selection, method, n_components); the
  over-training animation projects the selection's rows at every checkpoint
  once per (selection at each step, method);
* the neighbours of clicked points come from one `NeighborGraph` per
  (selection, metric), searched to `LARGEST_K` (the k slider's end) on the
  first click and sliced for every later click and every k. Above
  `GRAPH_MAX_ROWS` rows the all-points search costs seconds to a minute
  (measured on 2 cores: 2.6 s at 20,000 x 768, O(n^2 d)) while one row's
  exact neighbours cost ~40 ms (O(n d)), so there each clicked row is searched
  alone, still once to `LARGEST_K` and sliced for every k.

Nothing here imports streamlit or plotly: `Colouring` is plain data that
`ui.explore` turns into the views' `ColorSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis.data import Embedding, Selection
from analysis.neighbors import NeighborGraph, kneighbors_of
from analysis.projection import Projection, project, project_sequence
from analysis.validation import ProgressFn, max_abs, power_of_two_exponent

# unit_scaled_if_huge's default limit: the shared graph is searched on X / 2**e above it.
_SCALED_ABOVE = 2.0**64

__all__ = [
    "GRAPH_MAX_ROWS",
    "LABEL",
    "LARGEST_K",
    "MAX_CATEGORIES",
    "MAX_DRAWN_POINTS",
    "METHODS",
    "NONE",
    "NORM",
    "Colouring",
    "NeighborGraph",
    "PointNeighbours",
    "Projection",
    "TrainingFrames",
    "colour_options",
    "colouring",
    "draw_rows",
    "method_options",
    "neighbour_depth",
    "neighbour_graph",
    "point_neighbours",
    "projection",
    "projection_of",
    "row_norms",
    "training_frames",
    "uses_graph",
]

# The k slider's end (or n - 1 on fewer points): the depth of every neighbour search here.
LARGEST_K = 50
# Up to this many rows one all-points search serves every click; above it each clicked row is searched alone.
GRAPH_MAX_ROWS = 20_000
# Fewest rows of a class drawn in a subsample (all of a smaller class): rare classes stay visible.
MIN_DRAWN_PER_CLASS = 50
# Above this many points the scatter draws a random subsample over a density
# image of all rows: the browser's selection cost grows with drawn points
# (measured: a 100,000-point lasso took ~2 s fully drawn, ~0.3 s this way).
MAX_DRAWN_POINTS = 20_000
# Display name -> `analysis.projection.project` method.
METHODS = {"PCA": "pca", "UMAP": "umap", "t-SNE": "tsne", "LDA": "lda"}

NONE, LABEL, NORM = "none", "label", "vector norm"
# A metadata column with at most this many distinct values is coloured as categories.
MAX_CATEGORIES = 40
HIDDEN_COLUMNS = frozenset({"id"})


# ---------------------------------------------------------------------------------------------- projections
def method_options(n_classes: int) -> list[str]:
    """The projections offered: LDA needs at least 3 classes for two discriminant axes."""
    return ["PCA", "UMAP", "t-SNE"] + (["LDA"] if n_classes >= 3 else [])


def projection_of(X: Any, *, method: str, n_components: int, labels: np.ndarray | None = None,
                  seed: int = 0) -> Projection:
    """`analysis.projection.project` of any point set (Compare and Hubness project theirs through this)."""
    return project(X, method=METHODS.get(method, method), n_components=n_components, labels=labels, seed=seed)


def projection(selection: Selection, *, method: str, n_components: int, seed: int = 0) -> Projection:
    """The selection's rows in 2-D or 3-D (`project`; LDA uses the selection's labels)."""
    return projection_of(selection.X, method=method, n_components=n_components, labels=selection.labels, seed=seed)


@dataclass(frozen=True, eq=False)
class TrainingFrames:
    """The selection's rows projected at every checkpoint, each aligned to the previous one.

    Attributes
    ----------
    steps : tuple of int
        The checkpoints, in training order.
    coords : tuple of ndarray of shape (n_samples, 2)
        One layout per step, Procrustes-aligned to the step before (`project_sequence`).
    method : str
        The `project` method used.
    """

    steps: tuple[int, ...]
    coords: tuple[np.ndarray, ...]
    method: str


def training_frames(selection: Selection, *, method: str, seed: int = 0,
                    progress: ProgressFn | None = None) -> TrainingFrames:
    """`project_sequence` of `selection.at(step).X` for every step of the selection's run.

    The same rows and layer at each checkpoint, projected with the same method
    and seed, each aligned to the previous by orthogonal Procrustes
    (Schönemann 1966) so the cloud moves only where the representation moved.
    """
    run = selection.run
    if run is None:
        raise ValueError("An animation over training needs a run (several checkpoints); this is one embedding.")
    steps = tuple(int(s) for s in run.steps)
    name = METHODS.get(method, method)
    projections = project_sequence([selection.at(s).X for s in steps], method=name, n_components=2,
                                   labels=selection.labels, seed=seed, progress=progress)
    return TrainingFrames(steps=steps, coords=tuple(p.coords for p in projections), method=name)


def draw_rows(n: int, max_points: int = MAX_DRAWN_POINTS, seed: int = 0,
              labels: np.ndarray | None = None) -> np.ndarray:
    """Rows to draw as markers: all of them, or a seeded subsample of `max_points`, stratified by label.

    With labels each class gets its share of the drawn points, but at least
    ``min(its size, MIN_DRAWN_PER_CLASS)``, so a class of 30 rows among a million
    stays visible (a uniform sample would draw it about once); the largest
    classes give up what the small ones take. Rows are returned ascending.
    """
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if labels is None:
        return np.sort(rng.choice(n, size=max_points, replace=False)).astype(np.int64)
    codes, inverse, counts = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
    quota = np.maximum(np.minimum(counts, MIN_DRAWN_PER_CLASS), np.floor(max_points * counts / n).astype(np.int64))
    quota = np.minimum(quota, counts)
    excess = int(quota.sum()) - max_points
    for c in np.argsort(-quota, kind="stable"):  # trim the largest quotas first
        if excess <= 0:
            break
        floor = min(int(counts[c]), MIN_DRAWN_PER_CLASS)
        cut = min(excess, int(quota[c]) - floor)
        quota[c] -= cut
        excess -= cut
    order = np.argsort(inverse, kind="stable")  # rows grouped by class, ascending within each
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    chosen = [rng.choice(order[start:start + count], size=int(q), replace=False)
              for start, count, q in zip(starts, counts, quota, strict=True)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


# ---------------------------------------------------------------------------------------------- colours
def row_norms(X: Any) -> np.ndarray:
    """L2 norm of every row, float32 (the "vector norm" colour and the Data page's histogram)."""
    return np.linalg.norm(X, axis=1).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Colouring:
    """How to colour the points: "category" (int codes into `names`), "continuous" or "none".

    The fields are those of `analysis.views.ColorSpec`.
    """

    kind: str = "none"
    values: np.ndarray | None = None
    names: tuple[str, ...] = ()
    title: str = ""


def colour_options(emb: Embedding | Selection) -> list[str]:
    """Colour choices: the label (if any), each visible metadata column, the vector norm, none."""
    options = [LABEL] if emb.labels is not None else []
    if emb.metadata is not None:
        options += [c for c in emb.metadata.columns if c not in HIDDEN_COLUMNS]
    return [*options, NORM, NONE]


def colouring(emb: Embedding | Selection, choice: str, norms: np.ndarray | None = None) -> Colouring:
    """The colours of a choice: labels by class name, norms on a colour bar, a metadata column as
    categories (at most `MAX_CATEGORIES` distinct values) or as numbers (numeric with more)."""
    if isinstance(emb, Selection):
        emb = emb.embedding
    if choice == LABEL and emb.labels is not None:
        n_codes = int(emb.labels.max()) + 1
        names = tuple(emb.class_name(c) for c in range(n_codes))
        return Colouring(kind="category", values=emb.labels, names=names, title="label")
    if choice == NORM:
        return Colouring(kind="continuous", values=row_norms(emb.X) if norms is None else norms, title="‖x‖₂")
    if emb.metadata is not None and choice in emb.metadata.columns:
        column = emb.metadata[choice]
        if column.dtype.is_numeric() and column.n_unique() > MAX_CATEGORIES:
            return Colouring(kind="continuous", values=column.cast(pl.Float32).to_numpy(), title=choice)
        text = column.cast(pl.Utf8).fill_null("(missing)")
        uniques = sorted(text.unique().to_list())
        if len(uniques) <= MAX_CATEGORIES:
            lookup = {v: i for i, v in enumerate(uniques)}
            codes = np.fromiter((lookup[v] for v in text.to_list()), dtype=np.int64, count=len(text))
            return Colouring(kind="category", values=codes, names=tuple(uniques), title=choice)
    return Colouring()


# ---------------------------------------------------------------------------------------------- neighbours
def neighbour_depth(n_samples: int, largest_k: int = LARGEST_K) -> int:
    """Neighbours searched per row: the k slider's end, at most n - 1."""
    return max(1, min(int(largest_k), n_samples - 1))


def uses_graph(n_samples: int) -> bool:
    """Whether one all-points search serves every click (see the module docstring for the measured costs)."""
    return n_samples <= GRAPH_MAX_ROWS


def neighbour_graph(selection: Selection, *, metric: str, k_max: int | None = None) -> NeighborGraph:
    """Every row's `neighbour_depth` nearest rows (one exact `kneighbors` search), for every click and k."""
    depth = neighbour_depth(selection.n_samples) if k_max is None else int(k_max)
    return NeighborGraph.search(selection.X, k_max=depth, metric=metric)


def _graph_distances(X: np.ndarray, graph: NeighborGraph, row: int) -> np.ndarray:
    """Row `row` of the graph's distances in X's own units.

    The shared graph (`analysis.panels.common.selection_graph`) is searched on X / 2**e when X's
    entries exceed 2**64 (ranks are scale-free); Euclidean distances then scale back exactly by
    2**e. Cosine distances do not depend on the scale.
    """
    distances = graph.distances[row]
    if graph.metric != "euclidean":
        return distances
    peak = max_abs(X)
    if peak <= _SCALED_ABOVE:
        return distances
    return np.ldexp(distances.astype(np.float64), power_of_two_exponent(peak))


@dataclass(frozen=True, eq=False)
class PointNeighbours:
    """The nearest other rows of one chosen row, nearest first, deep enough for every k on the page.

    Attributes
    ----------
    row : int
    metric : str
    distances : ndarray of shape (depth,), float32, ascending
    indices : ndarray of shape (depth,), int64; never `row` itself.
    """

    row: int
    metric: str
    distances: np.ndarray
    indices: np.ndarray

    @property
    def depth(self) -> int:
        return int(self.indices.size)

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest: (distances, indices), k clipped to the depth searched."""
        k = max(1, min(int(k), self.depth))
        return self.distances[:k], self.indices[:k]


def point_neighbours(selection: Selection, row: int, *, metric: str,
                     graph: NeighborGraph | None = None) -> PointNeighbours:
    """The `neighbour_depth` nearest rows of `row` in the original space (self excluded).

    A row of `graph` when one is given (no search), else `kneighbors_of` for
    that row alone: exact float64 distances either way, so both give the same
    neighbours wherever distances do not tie.
    """
    row = int(row)
    if not 0 <= row < selection.n_samples:
        raise ValueError(f"row must be in [0, {selection.n_samples - 1}]; got {row}.")
    if graph is not None:
        graph.check_matches(selection.X, metric=metric, name="graph")
        return PointNeighbours(row=row, metric=metric, distances=_graph_distances(selection.X, graph, row),
                               indices=graph.indices[row])
    distances, indices = kneighbors_of(selection.X, np.asarray([row]), neighbour_depth(selection.n_samples),
                                       metric=metric)
    return PointNeighbours(row=row, metric=metric, distances=distances[0], indices=indices[0])
