"""Issue 17: above `MAX_DRAWN_POINTS` rows the Explore scatter draws a stratified subsample over a
datashader density image of every row, aligned with the markers, and selections cover every row."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from sklearn.decomposition import PCA

from analysis.data import Embedding, Selection
from analysis.panels import explore as panel
from analysis.projection import project
from analysis.views import ColorSpec, embedding_scatter
from analysis.views.density import DENSITY_COLORS, shade_counts
from ui import explore


def _selection(n: int = 3_000, d: int = 8, classes: int = 3, seed: int = 0) -> Selection:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    X = (rng.normal(size=(n, d)) + 6.0 * labels[:, None] * (np.arange(d) == 0) + 500.0).astype(np.float32)
    return Selection(Embedding(X=X, labels=labels))


def _png(fig) -> np.ndarray:
    source = fig.layout.images[0].source
    assert source.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGBA"))


# ------------------------------------------------------------------------------------------ the aggregate
def test_density_counts_every_row_once_and_skips_rows_without_a_position() -> None:
    coords = np.random.default_rng(1).normal(size=(5_000, 2)).astype(np.float32)
    image = panel.density_image(coords)
    assert image.n_points == 5_000 and image.counts.dtype == np.uint32
    assert max(image.counts.shape) == panel.DENSITY_PIXELS
    coords[:700] = np.nan  # rows a subsample-fitted projection could not place
    assert panel.density_image(coords).n_points == 4_300


def test_a_point_lands_in_the_pixel_that_covers_it() -> None:
    """On [0, 10] x [0, 5] with 10 x 5 pixels, pixel (row i, column j) covers x in [j, j + 1), y in [i, i + 1)."""
    coords = np.array([[0.5, 0.5]] * 3 + [[9.5, 4.5]] * 2 + [[3.2, 1.7]] + [[10.0, 5.0]], dtype=np.float32)
    image = panel.density_image(coords, pixels=10, x_range=(0.0, 10.0), y_range=(0.0, 5.0))
    assert image.counts.shape == (5, 10)
    want = np.zeros((5, 10), dtype=np.uint32)
    want[0, 0] = 3  # bottom left
    want[4, 9] = 2 + 1  # top right, with the point on the top-right corner (the last pixel holds its edges)
    want[1, 3] = 1
    np.testing.assert_array_equal(image.counts, want)


def test_the_extent_is_the_padded_data_range() -> None:
    coords = np.array([[-2.0, 10.0], [6.0, 14.0], [0.0, 11.0]], dtype=np.float32)
    x_range, y_range = panel.density_extent(coords)
    pad = panel.DENSITY_PAD
    assert x_range == pytest.approx((-2.0 - 8 * pad, 6.0 + 8 * pad))
    assert y_range == pytest.approx((10.0 - 4 * pad, 14.0 + 4 * pad))
    image = panel.density_image(coords)
    assert image.x_range == pytest.approx(x_range) and image.y_range == pytest.approx(y_range)
    assert image.counts.shape == (panel.DENSITY_PIXELS // 2, panel.DENSITY_PIXELS)  # square pixels: 8 wide by 4 high
    # A single value along an axis still gets an extent.
    assert panel.density_extent(np.zeros((4, 2), dtype=np.float32)) == ((-0.5, 0.5), (-0.5, 0.5))


# ------------------------------------------------------------------------------------------ PCA of every row
def test_streamed_pca_equals_scikit_learn_on_offset_data() -> None:
    X = _selection(n=2_500, d=12).X
    coords, explained = panel.pca_all_rows(X, n_components=2, chunk_rows=300)
    model = PCA(n_components=2).fit(X.astype(np.float64))
    np.testing.assert_allclose(coords, model.transform(X.astype(np.float64)), atol=1e-4)
    np.testing.assert_allclose(explained, model.explained_variance_ratio_, rtol=1e-6)  # float32 products
    np.testing.assert_allclose(panel.pca_all_rows(X, n_components=3, chunk_rows=7)[0][:, :2], coords, atol=1e-4)
    bad = X.copy()
    bad[1234, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf in rows 1234"):
        panel.pca_all_rows(bad, chunk_rows=300)


# ------------------------------------------------------------------------------------------ the layout
def test_no_density_when_every_row_is_drawn() -> None:
    sel = _selection(n=300)
    layout = panel.explore_layout(sel, method="PCA", n_components=2)
    assert not panel.subsampled(300) and panel.subsampled(panel.MAX_DRAWN_POINTS + 1)
    assert layout.density is None and layout.placed_all and layout.note == "all rows drawn"
    np.testing.assert_array_equal(layout.drawn, np.arange(300))
    np.testing.assert_array_equal(layout.coords, project(sel.X, method="pca", n_components=2).coords)
    at_limit = panel.explore_layout(_selection(n=500), method="PCA", n_components=2, max_points=500)
    assert at_limit.density is None and at_limit.drawn.size == 500


def test_above_the_limit_pca_places_every_row_and_the_density_counts_them() -> None:
    sel = _selection(n=3_000)
    layout = panel.explore_layout(sel, method="PCA", n_components=2, max_points=600)
    assert layout.placed_all and layout.fitted_rows == 3_000
    assert layout.coords.shape == (3_000, 2) and np.isfinite(layout.coords).all()
    np.testing.assert_allclose(layout.coords, panel.pca_all_rows(sel.X)[0])
    np.testing.assert_array_equal(layout.drawn, panel.draw_rows(3_000, 600, labels=sel.labels))
    assert layout.density is not None and layout.density.n_points == 3_000
    assert (layout.density.x_range, layout.density.y_range) == panel.density_extent(layout.coords)
    assert layout.note == ("Showing 600 of 3,000 rows (sampled per class, at least 50 of each) over a density "
                           "image of all 3,000 rows; selections include every row")
    assert 0.0 <= layout.projection.trustworthiness <= 1.0
    in_3d = panel.explore_layout(sel, method="PCA", n_components=3, max_points=600)
    assert in_3d.density is None and in_3d.placed_all and "2-D only" in in_3d.note


def test_above_the_limit_lda_is_fitted_on_the_drawn_rows_and_places_no_other() -> None:
    sel = _selection(n=3_000)
    layout = panel.explore_layout(sel, method="LDA", n_components=2, max_points=600)
    drawn = layout.drawn
    assert not layout.placed_all and layout.density is None and layout.fitted_rows == 600
    want = project(sel.X[drawn], method="lda", n_components=2, labels=sel.labels[drawn])
    np.testing.assert_array_equal(layout.coords[drawn], want.coords)
    others = np.setdiff1d(np.arange(3_000), drawn)
    assert np.isnan(layout.coords[others]).all()
    assert "LDA is fitted on the drawn rows only" in layout.note and "choose PCA" in layout.note


# ------------------------------------------------------------------------------------------ selections
def test_a_region_selects_the_undrawn_rows_inside_it() -> None:
    sel = _selection(n=3_000)
    layout = panel.explore_layout(sel, method="PCA", n_components=2, max_points=600)
    coords = layout.coords
    x0, x1 = np.quantile(coords[:, 0], [0.2, 0.5])
    y0, y1 = np.quantile(coords[:, 1], [0.2, 0.8])
    inside = np.flatnonzero((coords[:, 0] >= x0) & (coords[:, 0] <= x1) & (coords[:, 1] >= y0) & (coords[:, 1] <= y1))
    undrawn = np.setdiff1d(inside, layout.drawn)
    assert undrawn.size > 100  # the region holds many rows the browser never received
    # The browser reports only the drawn points it selected; the server resolves the region.
    event = {"points": [{"customdata": int(r)} for r in np.intersect1d(inside, layout.drawn)],
             "box": [{"x": [x0, x1], "y": [y0, y1]}], "lasso": []}
    rows, clicked = explore.selected_rows(event, coords)
    np.testing.assert_array_equal(rows, inside)
    assert clicked is None
    lasso = {"points": [], "box": [], "lasso": [{"x": [x0, x1, x1, x0], "y": [y0, y0, y1, y1]}]}
    np.testing.assert_array_equal(explore.selected_rows(lasso, coords)[0], inside)
    # A projection of the drawn rows only: the same region never holds a row without a position.
    lda = panel.explore_layout(sel, method="LDA", n_components=2, max_points=600)
    everything = {"points": [], "lasso": [], "box": [{"x": [-1e9, 1e9], "y": [-1e9, 1e9]}]}
    np.testing.assert_array_equal(explore.selected_rows(everything, lda.coords)[0], lda.drawn)


# ------------------------------------------------------------------------------------------ the figure
def test_the_image_spans_exactly_the_extent_and_the_axes() -> None:
    sel = _selection(n=3_000)
    layout = panel.explore_layout(sel, method="PCA", n_components=2, max_points=600)
    density = layout.density
    fig = embedding_scatter(layout.coords, draw_rows=layout.drawn, color=ColorSpec("category", sel.labels,
                            ("a", "b", "c")), density=density)
    (x0, x1), (y0, y1) = density.x_range, density.y_range
    [image] = fig.layout.images
    assert (image.xref, image.yref, image.xanchor, image.yanchor) == ("x", "y", "left", "top")
    assert (image.sizing, image.layer) == ("stretch", "below")
    assert (image.x, image.y, image.sizex, image.sizey) == pytest.approx((x0, y1, x1 - x0, y1 - y0))
    assert tuple(fig.layout.xaxis.range) == pytest.approx((x0, x1))
    assert tuple(fig.layout.yaxis.range) == pytest.approx((y0, y1))
    # Every row, drawn or not, lies inside the image.
    assert (layout.coords[:, 0] > x0).all() and (layout.coords[:, 0] < x1).all()
    assert (layout.coords[:, 1] > y0).all() and (layout.coords[:, 1] < y1).all()
    assert _png(fig).shape[:2] == density.counts.shape
    assert all(t.type == "scattergl" for t in fig.data)  # the image is no trace: no hover, no lasso


def test_the_png_puts_each_count_where_the_points_are() -> None:
    """Image rows run top down, the aggregate's bottom up: a point near the top right shows there."""
    coords = np.array([[9.5, 4.5]] * 5 + [[0.5, 0.5]], dtype=np.float32)
    density = panel.density_image(coords, pixels=10, x_range=(0.0, 10.0), y_range=(0.0, 5.0))
    fig = embedding_scatter(coords, draw_rows=np.arange(2), color=ColorSpec(), density=density)
    rgba = _png(fig)
    alpha = rgba[..., 3]
    assert alpha[0, 9] == 255 and alpha[4, 0] > 0  # top right (the densest), bottom left
    assert np.count_nonzero(alpha) == 2  # empty pixels are transparent
    dark = tuple(int(DENSITY_COLORS[1][i:i + 2], 16) for i in (1, 3, 5))
    assert tuple(rgba[0, 9, :3]) == dark
    assert shade_counts(np.zeros((3, 4), dtype=np.uint32)).shape == (3, 4, 4)


def test_no_image_without_a_density_or_in_3d() -> None:
    coords = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    density = panel.density_image(coords[:, :2])
    assert not embedding_scatter(coords[:, :2], draw_rows=np.arange(10), color=ColorSpec()).layout.images
    in_3d = embedding_scatter(coords, draw_rows=np.arange(10), color=ColorSpec(), density=density)
    assert not in_3d.layout.images and [t.type for t in in_3d.data] == ["scatter3d"]


def test_the_stratified_subsample_has_exactly_the_drawing_limit() -> None:
    """Floored class shares once drew 19,999 of 20,000 rows; the remainders now fill the limit."""
    labels = np.random.default_rng(3).integers(0, 6, size=60_000)
    rows = panel.draw_rows(labels.size, 20_000, labels=labels)
    assert rows.size == 20_000 and np.unique(rows).size == 20_000
    shares = 20_000 * np.bincount(labels) / labels.size
    drawn = np.bincount(labels[rows])
    assert np.all((drawn == np.floor(shares)) | (drawn == np.floor(shares) + 1))
    for n_classes in (1, 7, 13):
        labels = np.arange(1_001) % n_classes
        assert panel.draw_rows(labels.size, 1_000, labels=labels).size == 1_000
