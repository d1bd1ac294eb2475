"""The shared matrix validator: every metric and backend reports bad input the same way."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.metrics import effective_rank
from analysis.neighbors import kneighbors
from analysis.projection import project
from analysis.validation import check_labels, check_matrix, check_squares, first_rows

BAD_INPUTS = [
    (np.zeros(5), r"X must be a 2-D array .* shape \(5,\)"),
    (np.zeros((0, 3)), r"X is empty"),
    (np.array([["a"], ["b"], ["c"]]), r"real numbers; got dtype <U1"),
    (np.ones((4, 2), dtype=bool), r"real numbers; got dtype bool"),
    (np.array([[1.0, 2.0], [np.inf, 0.0], [3.0, 4.0], [5.0, np.nan]]), r"NaN or Inf in 2 rows \(first: 1, 3\)"),
]


@pytest.mark.parametrize("entry", [
    lambda X: check_matrix(X),
    lambda X: kneighbors(X, 1),
    lambda X: project(X),
    lambda X: effective_rank(X),
], ids=["check_matrix", "kneighbors", "project", "effective_rank"])
@pytest.mark.parametrize(("X", "match"), BAD_INPUTS)
def test_every_entry_point_reports_bad_matrices_alike(entry, X, match) -> None:
    with pytest.raises(ValueError, match=match):
        entry(X)


def test_good_input_is_returned_without_a_copy() -> None:
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert check_matrix(X) is X


def test_min_samples_and_first_rows() -> None:
    with pytest.raises(ValueError, match=r"at least 3 samples; got 2"):
        check_matrix(np.zeros((2, 2)), min_samples=3)
    assert first_rows(np.arange(8)) == "0, 1, 2, 3, 4, ..."


def test_check_labels_refuses_nan_and_the_wrong_length() -> None:
    assert check_labels(["a", "b"], 2).tolist() == ["a", "b"]
    with pytest.raises(ValueError, match=r"y contains NaN in 2 entries \(first: 1, 3\).*not a class"):
        check_labels([0.0, np.nan, 1.0, np.nan], 4, name="y", rows_of="T")
    with pytest.raises(ValueError, match=r"NaN in 1 entries"):
        check_labels(np.array(["a", np.nan], dtype=object), 2)
    with pytest.raises(ValueError, match=r"shape \(3,\), one label per row of x; got shape \(2,\)"):
        check_labels([0, 1], 3, rows_of="x")


def test_check_squares_refuses_values_whose_squares_overflow() -> None:
    check_squares(np.full((3, 2), 1e150))
    with pytest.raises(ValueError, match=r"W has values up to 1e\+160; their squares overflow float64"):
        check_squares(np.full((3, 2), 1e160), name="W")
