"""Neural collapse names its classes by the label codes present, not by position."""

from __future__ import annotations

import numpy as np

from analysis.metrics import neural_collapse
from analysis.panels.collapse import result_names as _result_names


def test_gapped_codes_are_named_by_their_code():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 2, 5], 10)
    X = rng.standard_normal((30, 4)) + 5.0 * np.eye(6, 4)[y]
    result = neural_collapse(X, y)
    assert _result_names(result, ["0", "1", "2"]) == ["0", "2", "5"]
    assert _result_names(result, ["cat", "dog", "owl", "ant", "bee", "fox"]) == ["cat", "owl", "fox"]
