"""The Collapse page's class-level sections: minority collapse over training, and new (held-out) classes.

`minority_history` measures the classifier rows of a run at every checkpoint
(`analysis.metrics.minority_collapse`, Fang et al. 2021); `new_classes_history`
the held-out classes of a lab run (split ``"held_out"``) at one layer and every
checkpoint (`analysis.metrics.transfer_collapse`, Galanti et al. 2022). Both
depend on the run only (plus the layer for the second), not on the sidebar's
rows: minority collapse is a property of the classifier and of the training
counts, and the held-out rows are a split of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.data import Run
from analysis.metrics.minority_collapse import MinorityCollapse, minority_collapse_over_steps
from analysis.metrics.transfer_collapse import DEFAULT_SHOTS, TransferCollapse, transfer_collapse

__all__ = [
    "HELD_OUT",
    "MinorityHistory",
    "NewClassesHistory",
    "has_held_out",
    "is_imbalanced",
    "minority_history",
    "minority_text",
    "new_classes_history",
    "new_classes_text",
]

HELD_OUT = "held_out"  # the lab's split of the classes it does not train on


@dataclass(frozen=True, eq=False)
class MinorityHistory:
    """`minority_collapse` of the classifier at every checkpoint of a run.

    Attributes
    ----------
    steps : tuple of int
    results : tuple of MinorityCollapse
        One per step.
    class_names : list of str
        Names of the classifier's rows.
    """

    steps: tuple[int, ...]
    results: tuple[MinorityCollapse, ...]
    class_names: list[str]

    def series(self) -> dict[str, list[float]]:
        """minority / majority / between cosines against step."""
        return {name: [getattr(r, name) for r in self.results]
                for name in ("minority_cosine", "majority_cosine", "between_cosine")}

    @property
    def last(self) -> MinorityCollapse:
        return self.results[-1]


def _train_counts(run: Run, n_rows: int) -> np.ndarray:
    if run.labels is None:
        raise ValueError("Minority collapse needs the run's labels (the training count of every class).")
    rows = run.rows("train") if "train" in run.splits() else None
    labels = run.labels if rows is None else run.labels[rows]
    labels = labels[labels < n_rows]  # held-out classes have no classifier row
    return np.bincount(labels, minlength=n_rows).astype(np.int64)


def is_imbalanced(run: Run, *, ratio: float = 1.1) -> bool:
    """Whether the run's training counts (classes with a classifier row) differ by more than `ratio`."""
    if not run.classifier or run.labels is None:
        return False
    counts = _train_counts(run, next(iter(run.classifier.values()))[0].shape[0])
    return bool(counts.min() == 0 or counts.max() > ratio * counts.min())


def minority_history(run: Run, *, n_minority: int | None = None) -> MinorityHistory:
    """Minority collapse of the run's classifier at every checkpoint; counts from its train rows.

    Raises ValueError when the run has no classifier or its classes are too
    balanced for a minority group (see `class_groups`).
    """
    if not run.classifier:
        raise ValueError("This run stores no classifier weights, so minority collapse cannot be measured.")
    steps = [s for s in run.steps if s in run.classifier]
    n_rows = run.classifier[steps[0]][0].shape[0]
    counts = _train_counts(run, n_rows)
    results = minority_collapse_over_steps({s: run.classifier[s] for s in steps}, counts, n_minority=n_minority)
    names = list(run.label_names or [])[:n_rows] or [str(c) for c in range(n_rows)]
    return MinorityHistory(steps=tuple(results), results=tuple(results.values()), class_names=names)


def minority_text(history: MinorityHistory) -> str:
    """One sentence: the groups, and where the minority cosine stands against the ETF at the end."""
    last = history.last
    peak = int(np.argmax([r.minority_cosine for r in history.results]))
    names = history.class_names

    def group(codes: tuple[int, ...]) -> str:
        return ", ".join(names[c] for c in codes)

    return (f"Minority classes {group(last.minority_classes)}, majority {group(last.majority_classes)} "
            f"({last.rule}, by training count). At the last checkpoint the minority rows' mean cosine is "
            f"{last.minority_cosine:+.3f} and the majority's {last.majority_cosine:+.3f}, against the ETF's "
            f"{last.etf_cosine:+.3f}; the minority peaked at {history.results[peak].minority_cosine:+.3f} "
            f"(step {history.steps[peak]:,}). Minority collapse (Fang et al. 2021) is the minority curve climbing "
            "towards 1 while the majority stays at the ETF line: the network can no longer tell those classes apart.")


# ---------------------------------------------------------------------------- new classes
def has_held_out(run: Run | None) -> bool:
    """Whether the run records classes it was not trained on (split "held_out")."""
    return run is not None and HELD_OUT in run.splits()


@dataclass(frozen=True, eq=False)
class NewClassesHistory:
    """`transfer_collapse` of the held-out classes at one layer, every checkpoint.

    Attributes
    ----------
    layer : str
    steps : tuple of int
    results : tuple of TransferCollapse
    class_names : list of str
        The held-out classes' names.
    """

    layer: str
    steps: tuple[int, ...]
    results: tuple[TransferCollapse, ...]
    class_names: list[str]

    @property
    def shots(self) -> tuple[int, ...]:
        return self.results[0].shots

    def accuracy_series(self) -> dict[int, list[float | None]]:
        """Few-shot accuracy against step, per number of shots."""
        return {m: [r.accuracy(m) for r in self.results] for m in self.shots}

    def at(self, step: int) -> TransferCollapse:
        return self.results[self.steps.index(int(step))]


def new_classes_history(run: Run, layer: str, *, shots: tuple[int, ...] = DEFAULT_SHOTS,
                        n_draws: int = 20, seed: int = 0) -> NewClassesHistory:
    """CDNV, NC1 and few-shot accuracy of the held-out classes at `layer`, every checkpoint (same draws' seed)."""
    if not has_held_out(run) or run.labels is None:
        raise ValueError("This run has no held-out classes: train the lab with 'Hold out classes' above 0.")
    rows = run.rows(HELD_OUT)
    labels = run.labels[rows]
    results = tuple(
        transfer_collapse(run.activations[(layer, s)][rows], labels, shots=shots, n_draws=n_draws, seed=seed)
        for s in run.steps)
    names = list(run.label_names or [])
    held = [names[c] if c < len(names) else str(c) for c in np.unique(labels).tolist()]
    return NewClassesHistory(layer=layer, steps=tuple(int(s) for s in run.steps), results=results, class_names=held)


def new_classes_text(history: NewClassesHistory, step: int) -> str:
    """One sentence on the held-out classes at `step` against initialisation."""
    now, init = history.at(step), history.results[0]
    accs = ", ".join(f"{m}-shot {100 * a:.0f}%" for m, a in zip(now.shots, now.few_shot_accuracy, strict=True)
                     if a is not None)
    trend = "lower" if now.cdnv < init.cdnv else "higher"
    return (f"Held-out classes {', '.join(history.class_names)} ({now.n_samples:,} samples, never trained on) at "
            f"**{history.layer}**, step {step:,}: CDNV {now.cdnv:.3g} ({trend} than {init.cdnv:.3g} at "
            f"initialisation), NC1 {now.nc1:.3g}; nearest-class-mean accuracy from a few examples per class: "
            f"{accs} (chance {100 * now.chance:.0f}%, mean of {now.n_draws} random draws, seed {now.seed}). "
            "Galanti et al. (2022): when the CDNV of new classes falls with training, a few examples suffice.")
