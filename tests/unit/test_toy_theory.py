"""Closed-form phases of the n = 2, m = 1 toy model (analysis.models.toy_superposition.theoretical_phases)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.models.toy_superposition import PHASE_LABELS, theoretical_phases
from analysis.views.superposition import phase_diagram_heatmap

IGNORE, DEDICATED, ANTIPODAL = (PHASE_LABELS.index(n) for n in ("ignore second", "dedicated to second", "antipodal"))


def test_hand_computed_corners() -> None:
    # p = 1, r = 0.5: losses 0.5 (1/3 - 1/4) = 0.042, 1/12 = 0.083, 1.5/6 = 0.25 -> ignore the second.
    assert theoretical_phases([1.0], [0.5])[0, 0] == IGNORE
    # p = 1, r = 2: 2/12, 1/12, 3/6 -> the dimension goes to the (more important) second feature.
    assert theoretical_phases([1.0], [2.0])[0, 0] == DEDICATED
    # p = 0.01, r = 1: 2e-4/6 = 3.3e-5 against 0.0033 -> antipodal.
    assert theoretical_phases([0.01], [1.0])[0, 0] == ANTIPODAL


@pytest.mark.parametrize("r", [0.2, 0.5, 0.9])
def test_ignore_antipodal_boundary_is_where_the_losses_cross(r: float) -> None:
    # r (p/3 - p^2/4) = (1 + r) p^2 / 6  <=>  p = 4r / (2 + 5r).
    boundary = 4 * r / (2 + 5 * r)
    assert theoretical_phases([boundary * 1.01], [r])[0, 0] == IGNORE
    assert theoretical_phases([boundary * 0.99], [r])[0, 0] == ANTIPODAL


def test_symmetry_swaps_ignore_and_dedicated() -> None:
    p = np.geomspace(0.01, 1, 30)
    r = np.geomspace(0.1, 10, 30)  # symmetric around 1 (r = 1 itself, a tie, is not on it)
    grid = theoretical_phases(p, r)
    mirrored = theoretical_phases(p, 1 / r)  # row i: importance 1/r_i
    swap = {IGNORE: DEDICATED, DEDICATED: IGNORE, ANTIPODAL: ANTIPODAL}
    assert np.array_equal(grid, np.vectorize(swap.get)(mirrored))


def test_heatmap_draws_theory_boundaries() -> None:
    p, r = np.geomspace(0.01, 1, 20), np.geomspace(0.1, 10, 20)
    fig = phase_diagram_heatmap([1.0, 0.01], [0.5, 2.0], np.array([["ignore second", "antipodal"]] * 2),
                                theory=(p, r, theoretical_phases(p, r)))
    contour = fig.data[1]
    assert contour.type == "contour" and contour.contours.coloring == "none"
    assert np.asarray(contour.z).shape == (20, 20)
