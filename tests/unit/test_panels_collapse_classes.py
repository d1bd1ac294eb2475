"""analysis.panels.collapse_classes on hand-built runs: training counts, groups, ETF, held-out classes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data import Run
from analysis.panels.collapse_classes import (
    has_held_out,
    is_imbalanced,
    minority_history,
    minority_text,
)


def _run(train_counts: list[int], *, held: int = 0) -> Run:
    C = len(train_counts)
    labels = np.concatenate([np.repeat(np.arange(C), train_counts), np.arange(C),  # train, one test row each
                             np.repeat(np.arange(C, C + held), 3)]).astype(np.int64)
    n = labels.size
    split = ["train"] * sum(train_counts) + ["test"] * C + ["held_out"] * (3 * held)
    etf = np.eye(C) - 1.0 / C
    merged = etf.copy()
    merged[C - 2:] = merged[C - 1]  # at step 5 the two smallest classes share one row
    rng = np.random.default_rng(0)
    return Run(activations={("h", s): rng.standard_normal((n, 3)) for s in (0, 5)}, layers=("h",), steps=(0, 5),
               labels=labels, label_names=tuple("abcdefgh"[: C + held]),
               metadata=pl.DataFrame({"split": split}),
               classifier={0: (etf, None), 5: (merged, None)})


def test_minority_history_uses_train_counts_and_ignores_held_out_classes() -> None:
    run = _run([40, 30, 5, 4], held=2)
    assert has_held_out(run) and is_imbalanced(run)
    history = minority_history(run)
    assert history.steps == (0, 5)
    first, last = history.results
    # Train counts [40, 30, 5, 4] (test and held-out rows not counted): median 17.5 -> minority {2, 3}.
    assert last.minority_classes == (2, 3) and last.majority_classes == (0, 1)
    assert first.minority_cosine == pytest.approx(-1.0 / 3.0) and first.etf_cosine == pytest.approx(-1.0 / 3.0)
    assert last.minority_cosine == pytest.approx(1.0)  # identical rows
    assert last.majority_cosine == pytest.approx(-1.0 / 3.0)
    text = minority_text(history)
    assert "Minority classes c, d, majority a, b" in text and "+1.000" in text and "peaked at +1.000 (step 5)" in text


def test_balanced_training_counts_are_not_imbalanced() -> None:
    run = _run([10, 10, 10, 10])
    assert not is_imbalanced(run) and not has_held_out(run)
    with pytest.raises(ValueError, match="Pass n_minority"):
        minority_history(run)
