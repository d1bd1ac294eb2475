"""The Explore page's numbers: projections, point colours, and the neighbours of a clicked point.

Compute once (issue 16):

* a projection is made once per (selection, method, n_components); the
  over-training animation (issue 18) starts from that projection of the
  sidebar's checkpoint and fits every other checkpoint from its neighbour's
  layout (`project_sequence`), once per (selection at each step, method);
* the neighbours of clicked points come from one `NeighborGraph` per
  (selection, metric), searched to `LARGEST_K` (the k slider's end) on the
  first click and sliced for every later click and every k. Above
  `GRAPH_MAX_ROWS` rows the all-points search costs seconds to a minute
  (measured on 2 cores: 2.6 s at 20,000 x 768, O(n^2 d)) while one row's
  exact neighbours cost ~40 ms (O(n d)), so there each clicked row is searched
  alone, still once to `LARGEST_K` and sliced for every k.

Above `MAX_DRAWN_POINTS` rows (issue 17) the page draws a stratified subsample
over a density image of every row (`explore_layout`): PCA is fitted on all rows
in one streamed pass and places every row, so the density image and selections
cover every row; UMAP, t-SNE and LDA are fitted on the drawn rows only and the
other rows have no position (NaN), which the layout's `note` says.

Nothing here imports streamlit or plotly: `Colouring` and `DensityImage` are
plain data that `ui.explore` hands to the views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis.clusters import Clusters, default_min_cluster_size
from analysis.data import Embedding, Selection
from analysis.metrics.class_statistics import default_chunk_rows, iter_row_chunks
from analysis.neighbors import NeighborGraph, kneighbors_of
from analysis.projection import (
    TRUSTWORTHINESS_K,
    TRUSTWORTHINESS_SAMPLE_SIZE,
    Projection,
    project,
    project_sequence,
)
from analysis.projection_warmup import start_umap_warm_up
from analysis.validation import ProgressFn, first_rows, max_abs, power_of_two_exponent

# unit_scaled_if_huge's default limit: the shared graph is searched on X / 2**e above it.
_SCALED_ABOVE = 2.0**64

__all__ = [
    "CLUSTERS",
    "Clusters",
    "GRAPH_MAX_ROWS",
    "LABEL",
    "LARGEST_K",
    "MAX_CATEGORIES",
    "MAX_DRAWN_POINTS",
    "METHODS",
    "NONE",
    "NORM",
    "Colouring",
    "DENSITY_PIXELS",
    "DensityImage",
    "ExploreLayout",
    "NeighborGraph",
    "PointNeighbours",
    "Projection",
    "TrainingFrames",
    "colour_options",
    "colouring",
    "default_min_cluster_size",
    "density_extent",
    "density_image",
    "draw_rows",
    "explore_layout",
    "method_options",
    "neighbour_depth",
    "neighbour_graph",
    "point_neighbours",
    "projection",
    "projection_of",
    "pca_all_rows",
    "row_norms",
    "start_umap_warm_up",
    "subsampled",
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
# Pixels along the longer side of the density image (the other side keeps the data's aspect ratio):
# about 3 screen pixels each on the page's ~750-pixel plot, so a lone undrawn row still shows.
DENSITY_PIXELS = 240
# Share of each axis's span added on both sides of the data range, so edge points sit inside the image.
DENSITY_PAD = 0.02
# Display name -> `analysis.projection.project` method.
METHODS = {"PCA": "pca", "UMAP": "umap", "t-SNE": "tsne", "LDA": "lda"}

NONE, LABEL, NORM, CLUSTERS = "none", "label", "vector norm", "clusters (HDBSCAN)"
# Fewest rows offered clusters: HDBSCAN's smallest cluster is at least 10 rows here.
MIN_CLUSTER_ROWS = 20
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
    """The selection's rows projected at every checkpoint, each aligned to its neighbour.

    Attributes
    ----------
    steps : tuple of int
        The checkpoints, in training order.
    coords : tuple of ndarray of shape (n_samples, 2)
        One layout per step (`project_sequence`): the anchor step's as fitted, every other step
        Procrustes-aligned to its neighbour towards the anchor.
    method : str
        The `project` method used.
    anchor_step : int
        The checkpoint fitted first (the sidebar's): the others start from it, outward.
    trustworthiness : tuple of float
        Each layout's trustworthiness (`Projection.trustworthiness`).
    """

    steps: tuple[int, ...]
    coords: tuple[np.ndarray, ...]
    method: str
    anchor_step: int
    trustworthiness: tuple[float, ...]


def training_frames(selection: Selection, *, method: str, seed: int = 0,
                    progress: ProgressFn | None = None, anchor_projection: Projection | None = None,
                    warm_start: bool = True) -> TrainingFrames:
    """`project_sequence` of `selection.at(step).X` for every step of the selection's run, anchored at the
    selection's own step.

    The same rows and layer at each checkpoint, projected with the same method and seed. The
    selection's step is fitted first, or `anchor_projection` (its 2-D projection, e.g. the one on
    screen) is reused; UMAP and t-SNE then fit each other step from its neighbour's layout (a fifth
    of UMAP's epochs, a quarter of t-SNE's iterations: `project(init=...)`) and every step is
    aligned to its neighbour by orthogonal Procrustes (Schönemann 1966), so the cloud moves only
    where the representation moved. ``warm_start=False`` fits every step from scratch (as before
    issue 18; for comparison).
    """
    run = selection.run
    if run is None:
        raise ValueError("An animation over training needs a run (several checkpoints); this is one embedding.")
    steps = tuple(int(s) for s in run.steps)
    name = METHODS.get(method, method)
    projections = project_sequence([selection.at(s).X for s in steps], method=name, n_components=2,
                                   labels=selection.labels, seed=seed, progress=progress,
                                   anchor=steps.index(int(selection.step)), anchor_projection=anchor_projection,
                                   warm_start=warm_start)
    return TrainingFrames(steps=steps, coords=tuple(p.coords for p in projections), method=name,
                          anchor_step=int(selection.step),
                          trustworthiness=tuple(p.trustworthiness for p in projections))


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
    # Flooring the shares can leave up to one row per class undrawn (19,999 of 20,000): hand them out
    # by largest remainder (Hamilton's method) so exactly `max_points` rows are drawn.
    remainder = max_points * counts / n - np.floor(max_points * counts / n)
    shortfall = max_points - int(quota.sum())
    while shortfall > 0:
        for c in [c for c in np.argsort(-remainder, kind="stable") if quota[c] < counts[c]][:shortfall]:
            quota[c] += 1
            shortfall -= 1
    order = np.argsort(inverse, kind="stable")  # rows grouped by class, ascending within each
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    chosen = [rng.choice(order[start:start + count], size=int(q), replace=False)
              for start, count, q in zip(starts, counts, quota, strict=True)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


# ---------------------------------------------------------------------------------------------- all rows
def subsampled(n_samples: int, max_points: int = MAX_DRAWN_POINTS) -> bool:
    """Whether the page draws a subsample (and a density image of every row under it)."""
    return n_samples > max_points


def pca_all_rows(X: Any, *, n_components: int = 2, chunk_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """PCA of every row of X in two streamed passes, without a copy of X.

    Pass 1 sums ``x - s`` and ``(x - s)^T (x - s)`` over row chunks about a
    shift ``s`` (the first chunk's mean, so the covariance does not cancel
    catastrophically far from the origin); the covariance
    ``C = (G - n (m - s)(m - s)^T) / (n - 1)`` is diagonalised (``eigh``) and
    pass 2 projects the centred chunks on the top eigenvectors. This is exact
    PCA (Pearson 1901; Jolliffe, *Principal Component Analysis*, 2002, ch. 1):
    the coordinates of ``sklearn.decomposition.PCA`` up to float32 rounding, with
    its sign rule (each component's largest-magnitude loading positive, as
    ``svd_flip(u_based_decision=False)``). Each chunk's product is a float32
    GEMM (4x faster than float64 on OpenBLAS, measured; the centred Gram of the
    10^6 x 256 test data agrees with float64 to 1e-7 relative), summed across
    chunks in float64. Written here because scikit-learn's PCA needs X in memory
    (and copies it to float64: 2 GB at 10^6 x 256) and ``IncrementalPCA`` runs an
    SVD per batch (slower).

    Returns
    -------
    coords : ndarray of shape (n_samples, n_components), float32
    explained_variance_ratio : ndarray of shape (n_components,), float64
    """
    n, d = int(X.shape[0]), int(X.shape[1])
    if n < 3 or n_components > d:
        raise ValueError(f"PCA to {n_components} components needs at least 3 rows and {n_components} features; "
                         f"X has shape ({n}, {d}).")
    step = int(chunk_rows or default_chunk_rows(d))
    shift = np.asarray(X[: min(n, step)], dtype=np.float64).mean(axis=0)
    total = np.zeros(d)
    gram = np.zeros((d, d))
    for rows in iter_row_chunks(n, step):
        chunk = np.asarray(X[rows], dtype=np.float32) - shift.astype(np.float32)
        bad = ~np.isfinite(chunk).all(axis=1)
        if bad.any():
            raise ValueError(f"X contains NaN or Inf in rows {first_rows(np.flatnonzero(bad) + rows.start)}. "
                             "Drop or impute these rows before projecting.")
        total += chunk.sum(axis=0, dtype=np.float64)
        gram += chunk.T @ chunk
    offset = total / n
    covariance = (gram - n * np.outer(offset, offset)) / (n - 1)
    values, vectors = np.linalg.eigh(covariance)
    top = np.argsort(values)[::-1][:n_components]
    components = vectors[:, top]
    signs = np.sign(components[np.abs(components).argmax(axis=0), np.arange(n_components)])
    components *= np.where(signs == 0, 1.0, signs)
    mean32, components32 = (shift + offset).astype(np.float32), components.astype(np.float32)
    coords = np.empty((n, n_components), dtype=np.float32)
    for rows in iter_row_chunks(n, step):
        coords[rows] = (np.asarray(X[rows], dtype=np.float32) - mean32) @ components32
    explained = np.clip(values[top], 0.0, None) / max(float(np.clip(values, 0.0, None).sum()), np.finfo(float).tiny)
    return coords, explained


@dataclass(frozen=True, eq=False)
class DensityImage:
    """How many rows fall in each pixel of a grid over the projection (a datashader count aggregate).

    Attributes
    ----------
    counts : ndarray of shape (height, width), uint32
        Row 0 is the bottom of the image (``y_range[0]``), column 0 its left (``x_range[0]``);
        pixel (i, j) covers x in ``x_range[0] + [j, j + 1) * dx`` and y likewise (the top and
        right edges belong to the last pixel).
    x_range, y_range : tuple of float
        The image's extent in projection coordinates: the axis ranges the figure uses.
    """

    counts: np.ndarray
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    @property
    def n_points(self) -> int:
        return int(self.counts.sum(dtype=np.int64))


def density_extent(coords: np.ndarray, pad: float = DENSITY_PAD) -> tuple[tuple[float, float], tuple[float, float]]:
    """(x_range, y_range): the finite coordinates' range, widened by `pad` of its span on each side
    (by 0.5 around a single value), so every placed row lies strictly inside the image."""
    out = []
    for axis in (0, 1):
        values = coords[:, axis]
        values = values[np.isfinite(values)]
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        margin = pad * (hi - lo) if hi > lo else 0.5
        out.append((lo - margin, hi + margin))
    return out[0], out[1]


def density_image(coords: np.ndarray, *, pixels: int = DENSITY_PIXELS,
                  x_range: tuple[float, float] | None = None,
                  y_range: tuple[float, float] | None = None) -> DensityImage:
    """Count the rows of a 2-D projection per pixel with datashader (``Canvas.points``, ``count()``).

    The grid has `pixels` along the longer side of the extent and the data's aspect ratio on the
    other, so pixels are square on an equal-aspect plot; rows with NaN coordinates (no position)
    are not counted. datashader (Bednar et al., holoviz) bins millions of points in tens of ms.
    """
    import datashader as ds  # numba-compiled: imported only when a density image is drawn
    import pandas as pd

    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] < 2:
        raise ValueError(f"coords must have shape (n, 2); got {coords.shape}.")
    default_x, default_y = density_extent(coords)
    x_range = tuple(float(v) for v in (x_range or default_x))
    y_range = tuple(float(v) for v in (y_range or default_y))
    span_x, span_y = x_range[1] - x_range[0], y_range[1] - y_range[0]
    longest = max(span_x, span_y)
    width = max(1, round(pixels * span_x / longest))
    height = max(1, round(pixels * span_y / longest))
    frame = pd.DataFrame({"x": coords[:, 0].astype(np.float64), "y": coords[:, 1].astype(np.float64)})
    canvas = ds.Canvas(plot_width=width, plot_height=height, x_range=x_range, y_range=y_range)
    counts = canvas.points(frame, "x", "y", agg=ds.count()).values.astype(np.uint32)
    return DensityImage(counts=counts, x_range=x_range, y_range=y_range)


@dataclass(frozen=True, eq=False)
class ExploreLayout:
    """What the Explore scatter draws: every row's position (where it has one), the drawn rows, the density.

    Attributes
    ----------
    projection : Projection
        ``coords`` of shape (n_samples, n_components); rows the projection could not place
        (fitted on the drawn subsample, no ``transform``) are NaN, so no lasso contains them.
    drawn : ndarray of int64
        Rows drawn as markers (`draw_rows`: all, or a subsample stratified by label).
    fitted_rows : int
        Rows the projection was fitted on (all rows, or the drawn ones).
    placed_all : bool
        Every row has a position: selections and the density image cover every row.
    density : DensityImage or None
        Counts of every placed row, when a subsample is drawn over a 2-D projection placing all rows.
    note : str
        One sentence for the page: what is drawn and what a selection covers.
    """

    projection: Projection
    drawn: np.ndarray
    fitted_rows: int
    placed_all: bool
    density: DensityImage | None
    note: str

    @property
    def coords(self) -> np.ndarray:
        return self.projection.coords

    @property
    def n_samples(self) -> int:
        return self.projection.n_samples


def _trustworthiness_sample(X: Any, coords: np.ndarray, seed: int) -> tuple[float, int, int]:
    """sklearn's trustworthiness on a seeded sample of rows, as `project` estimates it above 5,000 rows."""
    from sklearn.manifold import trustworthiness

    n = coords.shape[0]
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(n, TRUSTWORTHINESS_SAMPLE_SIZE), replace=False))
    k = max(1, min(TRUSTWORTHINESS_K, (rows.size - 1) // 2))
    value = trustworthiness(np.asarray(X[rows], dtype=np.float32), coords[rows], n_neighbors=k)
    return float(value), int(k), int(rows.size)


def _drawn_words(n: int, drawn: int, labelled: bool) -> str:
    how = "sampled per class, at least 50 of each" if labelled else "a random sample"
    return f"Showing {drawn:,} of {n:,} rows ({how})"


def explore_layout(selection: Selection, *, method: str, n_components: int, seed: int = 0,
                   max_points: int = MAX_DRAWN_POINTS, projection: Projection | None = None) -> ExploreLayout:
    """The Explore scatter's layout: positions, drawn rows and, above `max_points` rows, a density image.

    Up to `max_points` rows: `projection` of every row (or the one given, e.g. a cached one), all drawn.
    Above: PCA is fitted on every row (`pca_all_rows`, streamed) and the density image counts
    every row; UMAP, t-SNE and LDA are fitted on the drawn rows only (a fit on 10^6 rows takes
    hours; umap-learn's ``transform`` of 10^6 x 256 rows after a 79 s fit on 20,000 took 416 s on
    2 shared cores, and t-SNE has none), so the other rows have no position and no density image.
    """
    n = selection.n_samples
    labels = selection.labels
    name = METHODS.get(method, method)
    drawn = draw_rows(n, max_points, seed, labels=labels)
    if not subsampled(n, max_points):
        proj = projection if projection is not None else projection_of(
            selection.X, method=name, n_components=n_components, labels=labels, seed=seed)
        return ExploreLayout(projection=proj, drawn=drawn, fitted_rows=n, placed_all=True, density=None,
                             note="all rows drawn")
    shown = _drawn_words(n, drawn.size, labels is not None)
    display = next((k for k, v in METHODS.items() if v == name), name)
    if name == "pca":
        coords, explained = pca_all_rows(selection.X, n_components=n_components)
        trust, trust_k, trust_rows = _trustworthiness_sample(selection.X, coords, seed)
        proj = Projection(coords=coords, method="pca", n_components=int(n_components), trustworthiness=trust,
                          trustworthiness_k=trust_k, trustworthiness_sample_size=trust_rows,
                          explained_variance_ratio=explained,
                          params={"seed": int(seed), "fitted_rows": n, "streamed": True})
        if n_components == 2:
            return ExploreLayout(projection=proj, drawn=drawn, fitted_rows=n, placed_all=True,
                                 density=density_image(coords),
                                 note=f"{shown} over a density image of all {n:,} rows; selections include every row")
        return ExploreLayout(projection=proj, drawn=drawn, fitted_rows=n, placed_all=True, density=None,
                             note=f"{shown}; the density image of all rows is drawn in 2-D only")
    fitted = projection_of(selection.X[drawn], method=name, n_components=n_components,
                           labels=None if labels is None else labels[drawn], seed=seed)
    coords = np.full((n, n_components), np.nan, dtype=np.float32)
    coords[drawn] = fitted.coords
    proj = Projection(coords=coords, method=fitted.method, n_components=fitted.n_components,
                      trustworthiness=fitted.trustworthiness, trustworthiness_k=fitted.trustworthiness_k,
                      trustworthiness_sample_size=fitted.trustworthiness_sample_size,
                      explained_variance_ratio=fitted.explained_variance_ratio,
                      params={**fitted.params, "fitted_rows": int(drawn.size)})
    why = {"umap": "placing the others with UMAP's transform took 7 minutes per 10^6 rows on 2 cores",
           "tsne": "t-SNE cannot place rows it was not fitted on",
           "lda": "placing every row is not built for LDA yet"}.get(name, "")
    return ExploreLayout(projection=proj, drawn=drawn, fitted_rows=int(drawn.size), placed_all=False, density=None,
                         note=f"{shown}; {display} is fitted on the drawn rows only ({why}), so there is no "
                              "density image of all rows and selections cover the drawn rows (choose PCA for both)")


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
    """Colour choices: the label (if any), each visible metadata column (not bytes, e.g. pictures),
    the vector norm, HDBSCAN clusters (on at least `MIN_CLUSTER_ROWS` rows), none."""
    options = [LABEL] if emb.labels is not None else []
    if emb.metadata is not None:
        options += [c for c in emb.metadata.columns
                    if c not in HIDDEN_COLUMNS and c != CLUSTERS and emb.metadata[c].dtype != pl.Binary]
    options.append(NORM)
    if emb.n_samples >= MIN_CLUSTER_ROWS:
        options.append(CLUSTERS)
    return [*options, NONE]


def colouring(emb: Embedding | Selection, choice: str, norms: np.ndarray | None = None,
              clustering: Clusters | None = None) -> Colouring:
    """The colours of a choice: labels by class name, norms on a colour bar, clusters (given in
    `clustering`; noise last, as "noise"), a metadata column as categories (at most
    `MAX_CATEGORIES` distinct values) or as numbers (numeric with more)."""
    if isinstance(emb, Selection):
        emb = emb.embedding
    if choice == CLUSTERS and clustering is not None:
        k = clustering.n_clusters
        codes = np.where(clustering.labels < 0, k, clustering.labels)
        return Colouring(kind="category", values=codes, names=(*(f"cluster {c}" for c in range(k)), "noise"),
                         title="cluster")
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
