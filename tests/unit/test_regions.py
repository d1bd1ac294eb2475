from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.views.regions import points_in_box, points_in_polygon


def test_square_polygon_hand_checked() -> None:
    coords = np.array([[0.5, 0.5], [1.5, 0.5], [0.99, 0.01], [-0.1, 0.5], [0.5, 2.0]])
    mask = points_in_polygon(coords, [0, 1, 1, 0], [0, 0, 1, 1])
    assert mask.tolist() == [True, False, True, False, False]


def test_concave_polygon_excludes_the_notch() -> None:
    # A "U": the notch between the arms is outside.
    xs = [0, 3, 3, 2, 2, 1, 1, 0]
    ys = [0, 0, 3, 3, 1, 1, 3, 3]
    coords = np.array([[0.5, 2.0], [1.5, 2.0], [2.5, 2.0], [1.5, 0.5]])
    assert points_in_polygon(coords, xs, ys).tolist() == [True, False, True, True]


def test_degenerate_polygon_selects_nothing() -> None:
    coords = np.zeros((3, 2))
    assert not points_in_polygon(coords, [0, 1], [0, 1]).any()


def test_box_accepts_reversed_ranges() -> None:
    coords = np.array([[0.0, 0.0], [2.0, 2.0], [0.5, -0.5]])
    assert points_in_box(coords, [1, -1], [1, -1]).tolist() == [True, False, True]


@settings(max_examples=50, deadline=None)
@given(st.floats(0.1, 10), st.floats(-5, 5), st.floats(-5, 5))
def test_rectangle_polygon_equals_box(width: float, x0: float, y0: float) -> None:
    rng = np.random.default_rng(0)
    coords = rng.uniform(-10, 10, size=(500, 2))
    xs = [x0, x0 + width, x0 + width, x0]
    ys = [y0, y0, y0 + width, y0 + width]
    poly = points_in_polygon(coords, xs, ys)
    box = points_in_box(coords, [x0, x0 + width], [y0, y0 + width])
    assert np.array_equal(poly, box)
