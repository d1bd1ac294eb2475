"""The Neural collapse page's numbers: every view on the sidebar's rows (one `Selection`).

`collapse_panel` measures the chosen layer and checkpoint (the cards, the Gram
matrix, the imbalance view and their sentences), `collapse_history` every
layer and checkpoint of a run on the same rows (the curves and the heatmap),
`collapse_frames` the class means of one layer over the checkpoints (the 3-D
animation). None of them picks rows of its own: the sidebar's split is the
rule for every view (issue 16; the page used to switch "all" to the train rows
for its detail views, so its numbers differed from every other page's).

The metrics follow Papyan, Han & Donoho (2020), "Prevalence of neural collapse
during the terminal phase of deep learning training", PNAS 117(40), with the
conventions of `analysis.metrics.neural_collapse` (DESIGN.md section 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.class_mean_frames import ClassMeanFrames, class_mean_frames
from analysis.data import ALL_SPLITS, Run, Selection
from analysis.data.classifier_io import ClassifierArrays, load_classifier
from analysis.metrics.collapse_centring import CENTRINGS, check_centring
from analysis.metrics.collapse_table import collapse_inputs, neural_collapse_table
from analysis.metrics.neural_collapse import (
    NeuralCollapse,
    check_class_labels,
    check_classifier,
    neural_collapse,
    simplex_etf_gram,
)
from analysis.validation import ProgressFn

__all__ = [
    "CENTRINGS",
    "CENTRING_LABELS",
    "HEADLINE",
    "HEATMAP_METRICS",
    "MEANINGS",
    "ClassMeanFrames",
    "ClassifierArrays",
    "CollapseHistory",
    "CollapsePanel",
    "NeuralCollapse",
    "check_classifier_fits",
    "collapse_frames",
    "comparison_splits",
    "collapse_history",
    "collapse_panel",
    "centring_text",
    "frames_selection",
    "history_selection",
    "imbalance_verdict",
    "load_classifier",
    "measure",
    "reference_step",
    "result_names",
    "rows_label",
    "run_steps",
    "split_selection",
]

# Metric -> (card label, one-line meaning, LaTeX). The page shows all three.
MEANINGS: dict[str, tuple[str, str, str]] = {
    "nc1": ("NC1", "How far samples spread around their class mean, relative to how far the means "
            "are apart. Falls towards 0 as each class collapses to a point.",
            r"\mathrm{NC1}=\tfrac{1}{C}\operatorname{Tr}\big(\Sigma_W\,\Sigma_B^{+}\big)"),
    "nc1_trace_quotient": ("Tr Σ_W / Tr Σ_B", "The same idea without the pseudo-inverse: total "
                           "within-class variance over total between-class variance.",
                           r"\operatorname{Tr}\Sigma_W\,/\,\operatorname{Tr}\Sigma_B"),
    "cdnv": ("CDNV", "Class-distance normalised variance: spread of two classes over their squared "
             "distance, averaged over pairs (Galanti et al. 2022).",
             r"\frac{1}{C(C-1)}\sum_{c\neq c'}\frac{\sigma_c^2+\sigma_{c'}^2}{2\|\mu_c-\mu_{c'}\|^2}"),
    "etf_distance": ("NC2 · ETF distance", "How far the centred class means are from a simplex ETF: "
                     "equal lengths and the widest equal angles C points can have.",
                     r"\Big\|\tfrac{M^\top M}{\|M^\top M\|_F}-\tfrac{I-\mathbf{1}\mathbf{1}^\top/C}{\sqrt{C-1}}\Big\|_F"),
    "nc2_equinorm": ("NC2 · equinorm", "Coefficient of variation of the class-mean lengths: 0 when "
                     "all means are equally long.",
                     r"\operatorname{std}_c\|\mu_c-\mu_G\|\,/\,\operatorname{mean}_c\|\mu_c-\mu_G\|"),
    "nc2_max_angle": ("NC2 · max-angle", "Average gap between each pair's cosine and the ETF's "
                      "−1/(C−1): 0 when every pair is maximally separated.",
                      r"\operatorname{mean}_{c\neq c'}\big|\cos\angle(\mu_c-\mu_G,\mu_{c'}-\mu_G)+\tfrac{1}{C-1}\big|"),
    "nc3": ("NC3", "How well the classifier's rows line up with the class means (self-duality). "
            "0 when W is a scaled copy of the centred means.",
            r"\Big\|\tfrac{W^\top}{\|W\|_F}-\tfrac{M}{\|M\|_F}\Big\|_F^2"),
    "nc4": ("NC4", "Share of samples where 'nearest class mean' and the network disagree: 0 when the "
            "network decides like a nearest-class-centre rule.",
            r"\tfrac{1}{n}\#\{i:\ \arg\min_c\|x_i-\mu_c\|\neq\arg\max_c (Wx_i+b)_c\}"),
    "orthogonal_frame_distance": ("Orthogonal-frame distance", "How far the uncentred class means are "
                                  "from mutually orthogonal, the geometry theory predicts for "
                                  "imbalanced classes (Dang et al. 2023).",
                                  r"\Big\|\tfrac{G}{\|G\|_F}-\tfrac{\operatorname{diag}G}{\|\operatorname{diag}G\|_F}\Big\|_F,\ G_{cc'}=\mu_c^\top\mu_{c'}"),
}
HEADLINE = ("nc1", "etf_distance", "nc3", "nc4")
# neural_collapse's mu_g -> the page's words for it (the switch's options).
CENTRING_LABELS = {"class_means": "Mean of class means", "samples": "Mean of all samples"}
# Largest / smallest class count above which the page says the two centrings differ.
IMBALANCE_NOTE_RATIO = 1.1
HEATMAP_METRICS = {"NC1": "nc1", "Tr Σ_W / Tr Σ_B": "nc1_trace_quotient", "CDNV": "cdnv",
                   "ETF distance": "etf_distance", "NC4": "nc4"}
# Columns of the history table that are not metrics.
_KEYS = ("layer", "step", "split")


def rows_label(selection: Selection) -> str:
    """Which rows the numbers use, for the page: "train rows (1,437)", "all rows (1,797)"."""
    name = "all" if selection.split == ALL_SPLITS else selection.split
    return f"{name} rows ({selection.n_samples:,})"


def result_names(result: NeuralCollapse, names: list[str] | tuple[str, ...]) -> list[str]:
    """The name of each class of `result`, in its order: its classes are the label codes
    present (result.class_labels), so codes {0, 2} are two classes, named "0" and "2"."""
    return [names[c] if 0 <= c < len(names) else str(c) for c in result.class_labels.tolist()]


def _label_names(selection: Selection) -> list[str]:
    names = selection.source.label_names
    if names:
        return list(names)
    labels = selection.source.labels
    return [] if labels is None else [str(c) for c in range(int(np.max(labels)) + 1)]


# ---------------------------------------------------------------------------- one checkpoint
def check_classifier_fits(arrays: ClassifierArrays, selection: Selection) -> None:
    """Raise ValueError unless an uploaded classifier fits the selection's embedding.

    Checked against the whole source (predictions are per source row, sliced
    to the selection's rows when measured), so a bad file is refused before it
    replaces a good one.
    """
    source = selection.source
    n_features = selection.X.shape[1]
    weight, _, _ = check_classifier(arrays.weight, arrays.bias, arrays.predictions,
                                    n_samples=source.n_samples, n_features=n_features)
    check_class_labels(source.labels, source.n_samples, n_classes=None if weight is None else weight.shape[0])


def measure(selection: Selection, *, classifier: ClassifierArrays | None = None,
            mu_g: str = "class_means") -> NeuralCollapse:
    """`neural_collapse` of the selection's rows (layer, checkpoint, split: the sidebar's choice).

    `mu_g` is the centring of the class means (``"class_means"`` or Papyan et
    al.'s ``"samples"``; `analysis.metrics.collapse_centring`).

    For a run the inputs are `collapse_inputs(run, layer, step, selection.row_ids)`:
    the network's predictions serve NC4 at every layer, its classifier NC3 at
    the layer that feeds it. For an embedding, `classifier` is an uploaded
    head (weight, bias and/or per-source-row predictions).
    """
    run = selection.run
    if run is not None:
        return neural_collapse(**collapse_inputs(run, selection.layer, selection.step, selection.row_ids),
                               mu_g=mu_g)
    head = classifier or ClassifierArrays(None, None, None)
    predictions = head.predictions
    if predictions is not None and selection.row_ids is not None:
        predictions = np.asarray(predictions)[selection.row_ids]
    return neural_collapse(selection.X, selection.labels, classifier=head.weight, bias=head.bias,
                           predictions=predictions, mu_g=mu_g)


@dataclass(frozen=True, eq=False)
class CollapsePanel:
    """Everything the Collapse tab draws for one selection (and an uploaded classifier).

    Attributes
    ----------
    result : NeuralCollapse
        `measure(selection)`: the cards, the Gram matrix and the imbalance view.
    reference : NeuralCollapse or None
        The same layer and rows at the first checkpoint after initialisation
        (`selection.at(run.steps[1])`), for the cards' change; None for an
        embedding, a one-checkpoint run, or when that is the chosen checkpoint.
    reference_step : int or None
    rows : str
        Which rows the numbers use (`rows_label`).
    class_names : list of str
        One name per class of `result`, in its order.
    etf_gram : ndarray of shape (C, C)
        The simplex-ETF target beside `result.gram`.
    changes : dict of str to float or None
        Relative change since `reference` of each `HEADLINE` metric
        ((value - before) / before; None when either is undefined or before is 0).
    imbalance_ratio : float
        Largest over smallest class count of the rows measured.
    nearer : str
        "simplex ETF" or "orthogonal frame": which target the class means are nearer.
    imbalance_text : str
        The sentence under the imbalance view.
    centring_text : str
        `centring_text(result)`: with imbalanced classes, which centring the
        numbers use and that the other gives different values; "" when balanced.
    """

    result: NeuralCollapse
    reference: NeuralCollapse | None
    reference_step: int | None
    rows: str
    class_names: list[str]
    etf_gram: np.ndarray
    changes: dict[str, float | None]
    imbalance_ratio: float
    nearer: str
    imbalance_text: str
    centring_text: str = ""


def reference_step(selection: Selection) -> int | None:
    """The checkpoint the cards compare against: the first after initialisation (None if none or chosen)."""
    run = selection.run
    if run is None or len(run.steps) < 2 or run.steps[1] == selection.step:
        return None
    return int(run.steps[1])


def _change(value: float | None, before: float | None) -> float | None:
    if value is None or not before:
        return None
    return (value - before) / before


def imbalance_verdict(result: NeuralCollapse) -> tuple[str, str]:
    """(nearer target, sentence): is the layer nearer the simplex ETF or the orthogonal frame?

    Balanced data collapse to a simplex ETF (Papyan et al. 2020); with imbalanced
    classes the means tend to orthogonal with lengths growing with class size,
    and minority classes collapse together (Fang et al. 2021; Dang et al. 2023).
    """
    nearer = "simplex ETF" if result.etf_distance <= result.orthogonal_frame_distance else "orthogonal frame"
    spearman = ("" if result.size_norm_spearman is None else
                f" Class size and class-mean length have Spearman correlation {result.size_norm_spearman:+.2f}.")
    text = (f"This layer is nearer the **{nearer}**.{spearman} Balanced data collapse towards the ETF; with "
            "imbalanced classes theory predicts orthogonal means whose lengths grow with class size, and "
            "minority classes collapse together (Fang et al. 2021).")
    return nearer, text


def centring_text(result: NeuralCollapse) -> str:
    """One sentence when classes are imbalanced (largest / smallest count > 1.1), else "".

    The mean of the class means and the mean of all samples (Papyan, Han &
    Donoho 2020) are equal for balanced classes only; elsewhere the centred
    quantities (Sigma_B, NC1, NC2, the ETF distance, NC3) depend on the choice.
    """
    counts = result.class_counts
    if counts.max() <= IMBALANCE_NOTE_RATIO * counts.min():
        return ""
    other = next(c for c in CENTRINGS if c != result.mu_g)
    return (f"The classes are imbalanced ({int(counts.max()):,} vs {int(counts.min()):,} samples), so the two "
            "centrings of the class means differ here: these numbers centre on the "
            f"**{CENTRING_LABELS[result.mu_g].lower()}**; the {CENTRING_LABELS[other].lower()} gives other values "
            "of NC1, NC2, the ETF distance and NC3.")


def collapse_panel(selection: Selection, *, result: NeuralCollapse | None = None,
                   reference: NeuralCollapse | None = None,
                   classifier: ClassifierArrays | None = None, mu_g: str = "class_means") -> CollapsePanel:
    """The Collapse tab for `selection`: cards, Gram matrix vs ETF, imbalance, on the selection's rows.

    `result` / `reference` may be passed when already measured (the page caches
    each checkpoint once: `measure(selection)` and `measure(selection.at(reference_step(selection)))`),
    with the same centring `mu_g`.
    """
    mu_g = check_centring(mu_g)
    result = measure(selection, classifier=classifier, mu_g=mu_g) if result is None else result
    ref_step = reference_step(selection)
    if reference is None and ref_step is not None:
        reference = measure(selection.at(ref_step), mu_g=mu_g)
    if ref_step is None:
        reference = None
    changes = {name: None if reference is None else _change(getattr(result, name), getattr(reference, name))
               for name in HEADLINE}
    counts = result.class_counts
    nearer, text = imbalance_verdict(result)
    return CollapsePanel(
        result=result, reference=reference, reference_step=ref_step, rows=rows_label(selection),
        class_names=result_names(result, _label_names(selection)), etf_gram=simplex_etf_gram(result.n_classes),
        changes=changes, imbalance_ratio=float(counts.max() / counts.min()), nearer=nearer, imbalance_text=text,
        centring_text=centring_text(result))


# ---------------------------------------------------------------------------- every layer and step
def history_selection(selection: Selection) -> Selection:
    """The selection's rows at the run's first layer and checkpoint: its `.key` names the rows, not the cell.

    The history covers every layer and checkpoint, so its cache key must not
    change with the sidebar's layer or checkpoint (moving them re-reads it).
    """
    run = selection.run
    if run is None:
        raise ValueError("The history over layers and checkpoints needs a run, not a single embedding.")
    return selection.at_layer(run.layers[0]).at(run.steps[0])


@dataclass(frozen=True, eq=False)
class CollapseHistory:
    """Every scalar of `neural_collapse` at every layer and checkpoint of a run, on one set of rows.

    Attributes
    ----------
    table : polars.DataFrame
        `neural_collapse_table(run, split=..., rows=selection.row_ids)`.
    layers, steps : tuple
    split : str
        The rows' name ("all", "train", ...), the curves' legend.
    """

    table: pl.DataFrame
    layers: tuple[str, ...]
    steps: tuple[int, ...]
    split: str

    def series(self, layer: str) -> dict[str, list[float | None]]:
        """Each metric column against step at `layer` (None where undefined), in step order."""
        rows = self.table.filter(pl.col("layer") == layer).sort("step")
        return {c: rows[c].to_list() for c in rows.columns if c not in _KEYS}

    def grid(self, column: str) -> np.ndarray:
        """(layers x steps) float array of one metric column; NaN where undefined."""
        wide = {(la, int(st)): v for la, st, v in self.table.select("layer", "step", column).iter_rows()}
        return np.array([[np.nan if wide.get((la, st)) is None else float(wide[(la, st)]) for st in self.steps]
                         for la in self.layers], dtype=np.float64)


def collapse_history(selection: Selection, *, progress: ProgressFn | None = None,
                     mu_g: str = "class_means") -> CollapseHistory:
    """NC metrics at every layer and checkpoint of the selection's run, on the selection's rows.

    The rows are the selection's own (`selection.row_ids`), whatever its
    layer and step; see `history_selection` for a cache key. `mu_g` is the
    centring of the class means (`neural_collapse`).
    """
    run = selection.run
    if run is None:
        raise ValueError("The history over layers and checkpoints needs a run, not a single embedding.")
    table = neural_collapse_table(run, split=selection.split, rows=selection.row_ids, progress=progress, mu_g=mu_g)
    return CollapseHistory(table=table, layers=tuple(run.layers), steps=tuple(int(s) for s in run.steps),
                           split=selection.split)


def comparison_splits(selection: Selection) -> list[str]:
    """The run's splits other than the selection's, for the curves' optional comparison (train vs test)."""
    return [s for s in selection.splits() if s != selection.split]


def split_selection(selection: Selection, split: str) -> Selection:
    """The same source, layer and checkpoint on the rows of another split."""
    return Selection(selection.source, selection.layer, selection.step, split, source_key=selection.source_key)


# ---------------------------------------------------------------------------- class means in 3-D
def frames_selection(selection: Selection) -> Selection:
    """The selection at the run's first checkpoint: the animation covers every step, so its key is per layer."""
    run = selection.run
    return selection if run is None else selection.at(run.steps[0])


def collapse_frames(selection: Selection) -> ClassMeanFrames:
    """The selection's rows at its layer, projected on the class means' top directions at every checkpoint.

    One frame for an embedding. See `analysis.class_mean_frames.class_mean_frames`.
    """
    run = selection.run
    if run is None:
        return class_mean_frames([selection.X], selection.labels)
    rows = selection.row_ids
    labels = run.labels if rows is None else run.labels[rows]
    layer = selection.layer

    def load(i: int) -> np.ndarray:
        X = run.activations[(layer, run.steps[i])]
        return X if rows is None else X[rows]

    return class_mean_frames(load, labels, n_frames=len(run.steps))


def run_steps(selection: Selection) -> list[int]:
    """Checkpoints of the selection's run ([0] for an embedding: one frame)."""
    run: Run | None = selection.run
    return [0] if run is None else [int(s) for s in run.steps]
