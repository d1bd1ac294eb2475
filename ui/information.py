"""Information-plane page: estimator controls, trajectories per run, the estimator check and the 12-bit lab."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analysis.data import Run
from analysis.panels import information as panel
from analysis.panels import information_compare as compare
from analysis.panels.information import (
    ADAPTIVE_RANGE_LABELS,
    ESTIMATOR_LABELS,
    RANGE_LABELS,
    RANGE_MODES,
    EstimatorSettings,
)
from analysis.views.information import (
    accuracy_curves,
    information_curves,
    information_plane_figure,
    validation_figure,
)
from ui.cache import RESULTS_TTL, SHARED_TTL
from ui.errors import USER_ERRORS, show_error
from ui.state import Source, sources
from ui.train_lab import train_and_add
from ui.widgets import plot_config, progress_bar

NOISE_VARIANCES = (0.001, 0.01, 0.05, 0.1, 0.5, 1.0)
SHIPPED_PAIR = ("ib_tanh", "ib_relu")
ACTIVATION_NAMES = {"tanh": "tanh", "relu": "ReLU"}
MAX_RUNS = 3
_RUNS_KEY = "ip_runs"
_PENDING_RUN = "_ip_pending_run"


def labelled_runs() -> dict[str, Source]:
    """Every loaded run with labels: the information plane needs I(T;Y)."""
    return {k: s for k, s in sources().items() if s.is_run and s.run.labels is not None}


def _default_runs(runs: dict[str, Source]) -> list[str]:
    """The shipped tanh / ReLU pair when loaded, else the most recently loaded labelled run."""
    pair = [k for name in SHIPPED_PAIR for k, s in runs.items() if s.run.name == name]
    return pair or list(runs)[-1:]


def run_picker(runs: dict[str, Source]) -> list[str]:
    """Up to three runs side by side; a run just trained on this page joins them."""
    if _RUNS_KEY not in st.session_state or any(k not in runs for k in st.session_state[_RUNS_KEY]):
        st.session_state[_RUNS_KEY] = _default_runs(runs)
    pending = st.session_state.pop(_PENDING_RUN, None)
    if pending in runs and pending not in st.session_state[_RUNS_KEY]:
        st.session_state[_RUNS_KEY] = [*st.session_state[_RUNS_KEY], pending][-MAX_RUNS:]
    chosen = st.multiselect("Runs, side by side", list(runs), key=_RUNS_KEY, max_selections=MAX_RUNS,
                            format_func=lambda k: runs[k].label,
                            help="Any run with labels works; the shipped ib_tanh and ib_relu are the 12-bit task "
                                 "of Shwartz-Ziv & Tishby with tanh and ReLU units.")
    st.caption("Every layer, every checkpoint and every input (train and test rows alike) of each run, so this page "
               "has no dataset sidebar: its layer, checkpoint and split would not apply. Pick the runs here.")
    return chosen


def estimator_controls() -> tuple[EstimatorSettings, str]:
    """The estimator and its settings (shared by the plane and the estimator check)."""
    cols = st.columns([1.3, 1, 1, 1])
    estimator = cols[0].radio("Estimator", list(ESTIMATOR_LABELS), key="ip_estimator",
                              format_func=ESTIMATOR_LABELS.get, horizontal=False)
    range_mode, n_bins, bin_width, noise, k = "run", 30, None, 0.1, 3
    if estimator == "binning":
        kind = cols[1].radio("Bins", ["count", "width"], key="ip_bin_kind",
                             format_func=lambda x: "fixed number" if x == "count" else "fixed width")
        if kind == "count":
            n_bins = cols[2].slider("Number of bins", 2, 100, 30, key="ip_bins",
                                    help="Shwartz-Ziv & Tishby used 30 bins over [-1, 1] for tanh units.")
        else:
            bin_width = cols[2].number_input("Bin width", 0.001, 10.0, 0.1, format="%.3f", key="ip_width",
                                             help="Fixed-width bins suit unbounded units such as ReLU "
                                                  "(Saxe et al. 2018).")
        range_mode = cols[3].radio("Bins cover", RANGE_MODES, key="ip_range", format_func=RANGE_LABELS.get,
                                   help="Values outside the range go to the edge bins.")
    elif estimator == "adaptive_binning":
        n_bins = cols[1].slider("Bins per unit", 2, 100, 30, key="ip_ab_bins",
                                help="Each unit's edges sit at quantiles of its activations, so every bin holds "
                                     "the same share (Chelombiev et al. 2019); tied values share a bin.")
        range_mode = cols[2].radio("Edges from the", RANGE_MODES, key="ip_ab_range",
                                   format_func=ADAPTIVE_RANGE_LABELS.get,
                                   help="All checkpoints: the edges stay put while the layer trains, so a unit "
                                        "that concentrates shows it. Each checkpoint: every unit's bins are "
                                        "equally full at every checkpoint; only how the units combine can change.")
    elif estimator == "adaptive_kde":
        noise = cols[1].select_slider("Noise variance × max|t|²", NOISE_VARIANCES, value=0.1, key="ip_anoise",
                                      help="The noise variance is this factor times the square of the layer's "
                                           "largest activation at that checkpoint (Chelombiev et al. 2019), so "
                                           "a layer whose activity grows is measured on its own scale.")
    else:
        noise = cols[1].select_slider("Noise variance", NOISE_VARIANCES, value=0.1, key="ip_noise",
                                      help="Both estimators measure the layer plus Gaussian noise of this variance "
                                           "(Saxe et al. used 0.1).")
        if estimator == "ksg":
            k = cols[2].slider("Neighbours k", 1, 10, 3, key="ip_k",
                               help="Kraskov et al. recommend k = 2 to 4.")
    settings = EstimatorSettings(estimator=estimator, n_bins=int(n_bins), bin_width=bin_width,
                                 noise_variance=float(noise), k=int(k))
    return settings, range_mode


# Keyed by the run's source key (content-derived: a sample's file, a trained run's settings) and the options.
@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def plane(source_key: str, _run: Run, settings: EstimatorSettings, range_mode: str) -> panel.PlanePanel:
    bar, progress = progress_bar(f"{ESTIMATOR_LABELS[settings.estimator]}: every layer and checkpoint…")
    result = panel.plane_panel(_run, settings=settings, range_mode=range_mode, progress=progress)
    bar.empty()
    return result


@st.cache_data(max_entries=16, ttl=SHARED_TTL, show_spinner=False)
def validation(settings: EstimatorSettings) -> panel.ValidationPanel:
    bar, progress = progress_bar("Estimating every validation case…")
    result = panel.validation_panel(settings, progress=progress)
    bar.empty()
    return result


def plane_view() -> tuple[EstimatorSettings, str]:
    """The information plane of the chosen runs, I against time, and accuracy."""
    runs = labelled_runs()
    if not runs:
        st.info("No loaded run has labels. Train the 12-bit network in the **Train** tab.")
        return estimator_controls()
    chosen = run_picker(runs)
    settings, range_mode = estimator_controls()
    if not chosen:
        st.info("Pick at least one run above.")
        return settings, range_mode
    panels = {runs[k].label: plane(k, runs[k].run, settings, range_mode) for k in chosen}
    tables = {label: p.table for label, p in panels.items()}
    st.plotly_chart(information_plane_figure(tables), key="ip_plane", config=plot_config())
    st.caption(f"{ESTIMATOR_LABELS[settings.estimator]}, {panel.describe_settings(settings, range_mode)}. Each path "
               "is one layer (hidden layers, then the softmax output), from initialisation (dark markers) to the end "
               "of training (yellow). Up = more about the label; left = less about the input (compression).")
    clipped = panel.clipping_note(panels, settings)  # KSG: raw and clipped readings, and why they differ
    if clipped:
        st.caption(clipped)
    note = panel.saturation_note(panels)
    if note:
        st.info(note)
    st.plotly_chart(information_curves(tables), key="ip_curves", config=plot_config())
    curves = {runs[k].label: runs[k].run.curves for k in chosen if runs[k].run.curves.get("train_acc")}
    if curves:
        st.plotly_chart(accuracy_curves(curves), key="ip_accuracy", config=plot_config())
    with st.expander("The numbers"):
        st.dataframe(panel.combined_table(panels), hide_index=True)
    compare_view(runs, chosen, settings, range_mode, panels)
    return settings, range_mode


@st.cache_data(max_entries=64, ttl=RESULTS_TTL, show_spinner=False)
def compression(source_key: str, _run: Run, settings: EstimatorSettings) -> pl.DataFrame:
    bar, progress = progress_bar(f"{ESTIMATOR_LABELS[settings.estimator]}: the last hidden layer…")
    result = compare.compression_table(_run, settings=settings, progress=progress)
    bar.empty()
    return result


def compare_view(runs: dict[str, Source], chosen: list[str], settings: EstimatorSettings, range_mode: str,
                 panels: dict[str, panel.PlanePanel]) -> None:
    """Fixed and adaptive estimators side by side on the chosen runs' last hidden layer, with the verdicts in words."""
    st.subheader("Estimators side by side")
    with_kde = st.toggle("Add KDE and adaptive KDE (about 10 s per run the first time)", key="ip_compare_kde",
                         help="The noisy estimators use every pair of the 4,096 inputs at every checkpoint.")
    estimators = ["binning", "adaptive_binning"] + (["kde", "adaptive_kde"] if with_kde else [])
    tables = {}
    for estimator in estimators:
        wanted = compare.COMPARED_SETTINGS[estimator]
        for k in chosen:
            label = runs[k].label
            layer = compare.last_hidden_layer(runs[k].run)
            if wanted == settings and range_mode == "run":  # the plane above already has it: reuse
                tables[(estimator, label)] = panels[label].table.filter(pl.col("layer") == layer)
            else:
                tables[(estimator, label)] = compression(k, runs[k].run, wanted)
    result = compare.compression_panel(tables, labels=ESTIMATOR_LABELS, estimators=estimators)
    for sentence in result.sentences:
        st.markdown(f"- {sentence}")
    st.caption(f"Each estimator at its paper's setting (30 bins, or equal-mass bins from all checkpoints; noise "
               f"variance 0.1, or 0.1 × max|t|²) on each run's last hidden layer. Compression here means I(X;T) "
               f"ends at least {compare.COMPRESSION_MIN_BITS:g} bits below its peak. Saxe et al. (2018) saw it with "
               "tanh only; Chelombiev et al. (2019), with adaptive estimators, saw it with ReLU too, by an amount "
               "that varied with the initialisation.")
    st.dataframe(result.table.with_columns(pl.col("estimator").replace(ESTIMATOR_LABELS)), hide_index=True,
                 key="ip_compare_table")


def validation_view(settings: EstimatorSettings) -> None:
    """Estimate against truth on the Gaussian and bit cases, for the settings chosen on the first tab."""
    st.markdown(f"**{ESTIMATOR_LABELS[settings.estimator]}** with the settings of the first tab, on cases whose "
                "mutual information is known exactly: a Gaussian layer T = X with X ~ N(0, I_d) and label "
                "y = [X₁ > 0], and d fair bits with y = the first bit, each at n = 256, 1,024 and 4,096 "
                "samples and d = 1, 2, 5, 10.")
    check = validation(settings)
    st.plotly_chart(validation_figure(check.table), key="ip_validation", config=plot_config())
    st.caption(check.summary)
    st.markdown(check.truth_note)
    with st.expander("The numbers"):
        st.dataframe(check.table, hide_index=True)


def train_view() -> None:
    """The 12-bit lab: tanh or ReLU, the shipped defaults or your own settings."""
    st.markdown("The task of Shwartz-Ziv & Tishby (2017): all 4,096 inputs of 12 bits, a label that is a "
                "symmetric function of the bits, and a 12-10-7-5-4-3-2 network trained with Adam, recording "
                "every layer on every input at log-spaced epochs. The trained run joins the plot above.")
    done = st.session_state.pop("lab_last_trained", None)
    if done:
        st.success(f"Trained — {done}. It now shows on the **Information plane** tab.")
    cols = st.columns(len(panel.INFORMATION_PRESETS))
    for col, (name, config) in zip(cols, panel.INFORMATION_PRESETS.items(), strict=True):
        if col.button(f"Train the {ACTIVATION_NAMES.get(name, name)} network (about 30 s)", key=f"ip_train_{name}",
                      width="stretch",
                      help=config.describe()):
            _train(config, f"12-bit · {name}")
    with st.form("ip_form"):
        base = panel.INFORMATION_PRESETS["tanh"]
        row = st.columns(4)
        activation = row[0].selectbox("Activation", list(panel.INFORMATION_PRESETS), key="ip_lab_activation",
                                      format_func=lambda a: ACTIVATION_NAMES.get(a, a))
        epochs = row[1].number_input("Epochs", 10, 20_000, int(base.epochs), step=100, key="ip_lab_epochs")
        lr = row[2].number_input("Learning rate", 1e-5, 1.0, float(base.lr), format="%.4f", key="ip_lab_lr")
        seed = row[3].number_input("Seed", 0, 2**31 - 1, int(base.seed), key="ip_lab_seed")
        row = st.columns(4)
        batch = row[0].number_input("Batch size", 8, 4096, int(base.batch_size), key="ip_lab_batch")
        fraction = row[1].slider("Training share of the inputs", 0.05, 0.95, float(base.train_fraction), 0.05,
                                 key="ip_lab_fraction")
        checkpoints = row[2].number_input("Checkpoints", 2, 60, int(base.n_checkpoints), key="ip_lab_checkpoints")
        submitted = st.form_submit_button("Train", type="primary", icon=":material/model_training:")
    if submitted:
        try:
            config = panel.lab_config(activation=activation, epochs=epochs, lr=lr, seed=seed, batch_size=batch,
                                      train_fraction=fraction, n_checkpoints=checkpoints)
        except USER_ERRORS as exc:
            show_error(exc)
            return
        _train(config, f"12-bit · {activation}, {int(epochs)} epochs")


def _train(config: panel.InformationLabConfig, label: str) -> None:
    train_and_add(config, label, trainer=panel.train_information_lab, pending_key=_PENDING_RUN)


DEBATE = """
**What the plot is about.** Tishby's information bottleneck asks a layer T to keep what matters about the label Y
while forgetting the rest of the input X. Each layer is a point (I(X;T), I(T;Y)); training moves it.

**Shwartz-Ziv & Tishby (2017)** trained tanh networks on this 12-bit task, binned each layer into 30 bins and saw
two phases: a short *fitting* phase in which I(T;Y) and I(X;T) both rise, then a long *compression* phase in which
I(X;T) falls while the training error barely changes. They tied compression to the noise of stochastic gradient
descent and to generalisation.

**Saxe et al. (2018)** found that compression comes from the saturation of tanh units: binned saturated units fall
into few bins. Networks with ReLU units, which do not saturate, showed no compression under the same binning or
under the KDE estimate; full-batch gradient descent (no SGD noise) compressed too; and networks generalised well
with or without compression.

**Chelombiev, Houghton & O'Donnell (2019)** made the estimators follow the layer: bins holding equal shares of
each unit's activations (entropy-based adaptive binning) and KDE noise scaled to the layer's largest activation.
With them, networks with non-saturating units (ReLU among them) compressed too, by amounts that varied between
initialisations; L2 regularisation increased compression, and only the last layer's compression went with better
generalisation. **Estimators side by side**, under the plane, measures what each estimator says on your runs.

**Why estimators matter.** A deterministic network with continuous inputs has infinite I(X;T); any finite number
is a property of the estimator (Goldfeld et al. 2019; Amjad & Geiger 2019). Binning measures how many bins the
inputs occupy, KDE and KSG measure the layer with added noise. The 12-bit task has only 4,096 inputs, so
I(X;T) is at most 12 bits. Compare runs under one estimator setting, and check that setting's bias on the
**Estimator check** tab before reading a trend as a law.

References: R. Shwartz-Ziv and N. Tishby, arXiv:1703.00810 (2017); A. M. Saxe et al., ICLR 2018; A. Kolchinsky
and B. D. Tracey, Entropy 19(7), 2017; A. Kraskov, H. Stögbauer and P. Grassberger, Phys. Rev. E 69, 2004;
Z. Goldfeld et al., ICML 2019; R. A. Amjad and B. C. Geiger, IEEE TPAMI 2019; I. Chelombiev, C. J. Houghton and
C. O'Donnell, ICLR 2019.
"""
