"""The report's class-balance sentence names its classes (issue 18 item 6: it read "'0' / '0'")."""

from __future__ import annotations

import numpy as np

from analysis.report import diagnose


def _class_balance(labels: np.ndarray) -> str:
    X = np.random.default_rng(0).normal(size=(labels.size, 8)).astype(np.float32)
    X[np.arange(labels.size), 0] += 6.0 * (labels == labels[0])  # some class structure
    return next(f for f in diagnose(X, labels=labels).findings if f.key == "class_balance").reason


def test_equal_classes_are_said_to_be_of_one_size():
    reason = _class_balance(np.repeat(np.array(["0", "1", "2"]), 40))
    assert reason.startswith("3 classes of 40 samples each (largest / smallest = 1)")
    assert "'0'" not in reason


def test_unequal_classes_name_the_largest_and_the_smallest():
    labels = np.array(["cat"] * 30 + ["dog"] * 50 + ["eel"] * 40)
    reason = _class_balance(labels)
    assert "3 classes of 30 to 50 samples" in reason
    assert "largest / smallest = 1.67: largest class dog, smallest class cat" in reason
