"""The Compare page's canonical-correlation numbers: SVCCA and PWCCA matrices, and neuron matching of two seeds.

* `cca_layers`, `cca_runs`, `cca_checkpoints` -> `CcaPanel`: the same
  comparisons as the CKA panels of `analysis.panels.compare` (layers of one
  run, layers of two runs, checkpoints of one layer) with SVCCA (Raghu et al.
  2017) and PWCCA (Morcos et al. 2018), from one SVD per representation
  (`cca_matrices`).
* `neuron_matching_panel` -> `MatchingPanel`: one-to-one (Hungarian) and
  many-to-one unit matching between two runs at one layer (Li et al. 2015,
  convergent learning), with a chance level from the same units on shuffled
  rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.data import Run, Selection
from analysis.metrics.similarity import NeuronMatching, cca_matrices, neuron_matching
from analysis.panels.compare import _run_of, step_label
from analysis.validation import ProgressFn

__all__ = [
    "CCA_KEEP",
    "CCA_MEASURES",
    "CcaPanel",
    "MatchingPanel",
    "cca_checkpoints",
    "cca_layers",
    "cca_runs",
    "neuron_matching_panel",
]

# SVCCA keeps the top singular directions explaining this share of each representation's variance (Raghu et al.).
CCA_KEEP = 0.99
CCA_MEASURES = ("SVCCA", "PWCCA")


@dataclass(frozen=True, eq=False)
class CcaPanel:
    """SVCCA and PWCCA between two lists of representations of the same rows.

    Attributes
    ----------
    svcca : ndarray of shape (len(rows), len(columns))
        Mean canonical correlation of the top singular directions (99% of the variance) of each pair.
    pwcca : ndarray of shape (len(rows), len(columns))
        Projection-weighted mean canonical correlation, weighted by the units of the row's representation.
    rows, columns : tuple of str
    n_samples : int
    keep : float
        SVCCA's share of variance kept.
    steps : tuple of int or None
        The checkpoints in checkpoint mode, else None.
    """

    svcca: np.ndarray
    pwcca: np.ndarray
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    n_samples: int
    keep: float = CCA_KEEP
    steps: tuple[int, ...] | None = None

    def values(self, measure: str) -> np.ndarray:
        if measure not in CCA_MEASURES:
            raise ValueError(f"measure must be one of {CCA_MEASURES}; got {measure!r}.")
        return self.svcca if measure == "SVCCA" else self.pwcca

    def note(self, measure: str) -> str:
        """What the measure is, in one sentence, and a "try this"."""
        if measure == "SVCCA":
            what = (f"SVCCA (Raghu et al. 2017): each representation is cut to the singular directions holding "
                    f"{self.keep:.0%} of its variance, then the mean canonical correlation of the two is shown. "
                    "CCA ignores any invertible linear map, so it finds shared subspaces CKA may score lower.")
        else:
            what = ("PWCCA (Morcos et al. 2018): canonical correlations weighted by how much of the row's "
                    "representation each canonical direction accounts for; not symmetric (row weighs).")
        return (f"{what} Try this: switch between Linear CKA, SVCCA and PWCCA; where SVCCA is near 1 but CKA "
                "is lower, the two spaces share directions that differ in scale; where PWCCA is below SVCCA, the "
                "shared directions carry little of the units' activity.")


def _reps(selections: list[Selection]) -> list[np.ndarray]:
    return [np.asarray(s.X, dtype=np.float32) for s in selections]


def _panel(a: list[Selection], b: list[Selection] | None, rows: list[str], columns: list[str],
           progress: ProgressFn | None, steps: tuple[int, ...] | None = None) -> CcaPanel:
    reps_a = _reps(a)
    sv, pw = cca_matrices(reps_a, None if b is None else _reps(b), keep=CCA_KEEP, names_a=rows,
                          names_b=None if b is None else columns, progress=progress)
    return CcaPanel(svcca=sv, pwcca=pw, rows=tuple(rows), columns=tuple(columns),
                    n_samples=int(reps_a[0].shape[0]), steps=steps)


def cca_layers(selection: Selection, *, progress: ProgressFn | None = None) -> CcaPanel:
    """Layer x layer SVCCA and PWCCA of the selection's run at its checkpoint, on its rows."""
    run = _run_of(selection)
    return _panel([selection.at_layer(layer) for layer in run.layers], None, list(run.layers), list(run.layers),
                  progress)


def cca_runs(selection_a: Selection, selection_b: Selection, *, progress: ProgressFn | None = None) -> CcaPanel:
    """Layers of run A x layers of run B, each at its selection's checkpoint, on the same rows."""
    run_a, run_b = _run_of(selection_a), _run_of(selection_b)
    if selection_a.n_samples != selection_b.n_samples:
        raise ValueError(f"A has {selection_a.n_samples:,} rows and B {selection_b.n_samples:,}: CCA compares "
                         "the same inputs in both. Build B with same_rows(A, run_b).")
    return _panel([selection_a.at_layer(la) for la in run_a.layers],
                  [selection_b.at_layer(la) for la in run_b.layers],
                  list(run_a.layers), list(run_b.layers), progress)


def cca_checkpoints(selection: Selection, *, progress: ProgressFn | None = None) -> CcaPanel:
    """Checkpoint x checkpoint SVCCA and PWCCA of the selection's layer, on its rows."""
    run = _run_of(selection)
    steps = tuple(int(s) for s in run.steps)
    labels = [step_label(s) for s in steps]
    return _panel([selection.at(s) for s in steps], None, labels, labels, progress, steps=steps)


# ---------------------------------------------------------------------------------------------------- matching
@dataclass(frozen=True, eq=False)
class MatchingPanel:
    """Units of run A's layer matched to units of run B's same layer (Li et al. 2015).

    Attributes
    ----------
    matching : NeuronMatching
        One-to-one (Hungarian) and many-to-one matches on the same inputs.
    chance : NeuronMatching
        The same, with B's rows shuffled: what matching finds in unrelated units.
    layer : str
    step : int
    n_samples : int
    """

    matching: NeuronMatching
    chance: NeuronMatching
    layer: str
    step: int
    n_samples: int

    def note(self) -> str:
        m = self.matching
        strong = int(np.count_nonzero(m.matched >= 0.8))
        return (f"{strong} of {m.matched.size} units of A have a one-to-one partner in B correlated at 0.8 or "
                f"more; the mean matched correlation is {m.mean_matched:.2f}, the many-to-one mean "
                f"{m.mean_max:.2f}, and shuffled rows give {self.chance.mean_matched:.2f}. Where the two curves "
                "part, several units of A share one best partner in B: the feature is learnt by both networks "
                "but spread over different units (Li et al. 2015). Try this: pick the first hidden layer, then "
                "the last; and compare with CCA, which ignores how a shared subspace is split into units.")


def neuron_matching_panel(run_a: Run, run_b: Run, *, layer: str, step: int | None = None,
                          seed: int = 0) -> MatchingPanel:
    """`neuron_matching` of `layer` in two runs of the same inputs (all rows), at `step` (default the last).

    The chance level matches A against B with B's rows permuted (`seed`), so
    no unit of B describes the same input as A's.
    """
    if run_a.n_samples != run_b.n_samples:
        raise ValueError(f"the two runs have {run_a.n_samples:,} and {run_b.n_samples:,} inputs: neuron matching "
                         "needs the same inputs in the same order.")
    for run in (run_a, run_b):
        if layer not in run.layers:
            raise ValueError(f"{run.name or 'a run'} has no layer {layer!r}; its layers are {list(run.layers)}.")
    step = run_a.steps[-1] if step is None else int(step)
    X = np.asarray(run_a.activations[(layer, step)], dtype=np.float32)
    Y = np.asarray(run_b.activations[(layer, step)], dtype=np.float32)
    shuffled = Y[np.random.default_rng(seed).permutation(Y.shape[0])]
    return MatchingPanel(matching=neuron_matching(X, Y), chance=neuron_matching(X, shuffled), layer=layer,
                         step=int(step), n_samples=int(X.shape[0]))
