"""The shared matrix validator: every metric and backend reports bad input the same way."""

from __future__ import annotations

import re

import numpy as np
import pytest

from analysis.metrics import effective_rank
from analysis.neighbors import kneighbors
from analysis.projection import project
from analysis.validation import (
    check_k,
    check_labels,
    check_matrix,
    check_option,
    check_squares,
    first_rows,
)

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


# --------------------------------------------------------------- check_k / check_option (issue 16)


@pytest.mark.parametrize("k", [1, 5, np.int64(3), np.int32(9), np.uint8(2)])
def test_check_k_accepts_integers_in_range(k) -> None:
    out = check_k(k, n=9)
    assert out == int(k) and type(out) is int


@pytest.mark.parametrize(("k", "fix"), [
    (True, r"Pass a Python or NumPy integer, e\.g\. k=1\."),
    (False, r"Pass a Python or NumPy integer, e\.g\. k=1\."),
    (2.0, r"Pass a Python or NumPy integer, e\.g\. k=2\."),
    (2.5, r"Pass a Python or NumPy integer, e\.g\. k=1\."),
    ("3", r"Pass a Python or NumPy integer, e\.g\. k=1\."),
    (None, r"Pass a Python or NumPy integer, e\.g\. k=1\."),
    (np.float64(4.0), r"Pass a Python or NumPy integer, e\.g\. k=4\."),
])
def test_check_k_rejects_bools_floats_and_other_types(k, fix) -> None:
    with pytest.raises(ValueError, match=rf"^k must be an integer in \[1, 9\] \(9 points\); got {re.escape(repr(k))}\. {fix}$"):
        check_k(k, n=9)


@pytest.mark.parametrize(("k", "message"), [
    (0, r"^k must be an integer in \[1, 7\] \(7 other points each\); got 0\. Use k >= 1\.$"),
    (-3, r"^k must be an integer in \[1, 7\] \(7 other points each\); got -3\. Use k >= 1\.$"),
    (8, r"^k must be an integer in \[1, 7\] \(7 other points each\); got 8\. Use k <= 7\.$"),
])
def test_check_k_names_the_range_the_value_and_the_fix(k, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_k(k, n=7, needs="other points each")


def test_check_k_options() -> None:
    assert check_k(10**9) == 10**9  # no upper bound without n
    with pytest.raises(ValueError, match=r"^k must be an integer >= 2; got 1\. Use k >= 2\.$"):
        check_k(1, minimum=2)
    with pytest.raises(ValueError, match=r"^k_max must be an integer >= 1; got 0\. Use k_max >= 1\. See the docs\.$"):
        check_k(0, what="k_max", hint="See the docs.")
    with pytest.raises(ValueError, match=r"^k needs at least 2 points; there are 1\. Pass more rows\.$"):
        check_k(2, n=1, minimum=2)
    assert check_k(7, n=7) == 7  # the upper end is valid


def test_check_option() -> None:
    options = ("euclidean", "cosine")
    assert check_option("cosine", options, what="metric") == "cosine"
    assert check_option(np.str_("cosine"), options, what="metric") == "cosine"
    with pytest.raises(ValueError, match=r"^metric must be one of \('euclidean', 'cosine'\); got 'l1'\.$"):
        check_option("l1", options, what="metric")
    with pytest.raises(ValueError, match=r"^metric must be one of \('euclidean', 'cosine'\); got 'L2'\. Use 'euclidean'\.$"):
        check_option("L2", options, what="metric", hint="Use 'euclidean'.")
    with pytest.raises(ValueError, match=r"^metric must be one of .*; got array\("):
        check_option(np.array(["cosine", "cosine"]), options, what="metric")  # refused, not an error of its own
    with pytest.raises(ValueError, match=r"got True"):
        check_option(True, (1, 2), what="level")  # True == 1 in Python, but a bool is not the option 1
    assert check_option(1, [1, 2], what="level") == 1
    with pytest.raises(ValueError, match=r"got \['cosine'\]"):
        check_option(["cosine"], options, what="metric")  # unhashable: refused with the message
