"""The "Train a model" form and the teachers' guided sequence of the neural-collapse page.

Training runs in the script thread with a progress bar, in one of the
server's training slots (`ui.training_slots`: beyond the limit it waits in
line with its position shown); Streamlit's Stop button (top right) interrupts
it, frees the slot and discards the unfinished run. A finished run joins the
session's datasets and becomes the sidebar's choice. A run whose loss became
NaN or infinite joins cut back to its last finite checkpoint, with a warning
saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import streamlit as st

from analysis.data import Run
from analysis.panels.training import (
    ACTIVATION_NAMES,
    DATASETS,
    LOSSES,
    LR_SCHEDULES,
    OPTIMIZERS,
    PRESETS,
    CollapseLabConfig,
    TrainingDiverged,
    config_from_values,
    config_params,
    form_values,
    train_collapse_lab,
)
from ui.state import Source, add_upload, bytes_key, sources
from ui.training_slots import training_slot
from ui.widgets import progress_bar

_PRESET_KEY = "lab_preset"
DIVERGED_KEY = "lab_diverged"  # the message of the last training whose loss became NaN or infinite
# The form's fields (widget keys are "lab_" + field).
_FIELDS = tuple(form_values(PRESETS["balanced"]))
_DATASET_LABELS = {"digits": "Digits (8×8, 10 classes)", "gaussian_mixture": "Gaussian mixture (synthetic)"}


def _apply_preset() -> None:
    """Fill the form's widgets from the chosen preset (an on_change callback)."""
    values = form_values(PRESETS[st.session_state[_PRESET_KEY]])
    st.session_state.update({f"lab_{name}": value for name, value in values.items()})


def _config_from_widgets() -> CollapseLabConfig:
    """The form's values as a config; ValueError names the field to fix."""
    return config_from_values({name: st.session_state[f"lab_{name}"] for name in _FIELDS})


def train_and_add(config: Any, label: str, trainer: Callable[..., Run] = train_collapse_lab, *,
                  pending_key: str | None = None) -> None:
    """Train with a progress bar, add the run to the session's datasets and select it.

    `trainer(config, progress=..., name=...)` is any lab's trainer (collapse, contrastive).
    With `pending_key`, the new run's source key is also left in
    ``st.session_state[pending_key]`` for a page's own run picker to pick up
    before it draws (its widget cannot be changed once drawn in this run).
    """
    diverged: TrainingDiverged | None = None
    with training_slot():  # beyond the server's limit, wait in line (the page says where)
        _, progress = progress_bar("Starting… (Stop, top right, cancels)")
        try:
            run = trainer(config, progress=progress, name=label)
        except TrainingDiverged as exc:
            diverged = exc
            run = exc.result
    if diverged is not None:
        # Shown by `show_divergence` (app.py, above every page) after the rerun; the kept run's label
        # says it diverged on every page, and its task (the sidebar's "About this run") has the message.
        st.session_state[DIVERGED_KEY] = str(diverged)
        if run is None:  # not even the initialisation was finite: nothing to keep
            st.rerun()
    cut = "" if diverged is None else f", diverged: ends at step {diverged.kept_step}"
    key = bytes_key("trained", config_params(config), cut)
    add_upload(Source(key=key, label=f"{label} (trained{cut})", origin="trained", run=run))
    if pending_key is not None:
        st.session_state[pending_key] = key
    if diverged is None:
        st.session_state["lab_last_trained"] = f"{label}: {run.task}"
    st.rerun()  # the sidebar picks the new run up before the page draws


def show_divergence() -> None:
    """After a rerun: the warning of a training whose loss became NaN or infinite (once)."""
    message = st.session_state.pop(DIVERGED_KEY, None)
    if message:
        st.warning(message, icon=":material/warning:")


def form() -> None:
    """Preset picker, the trainer's options, and the Train button."""
    if "lab_dataset" not in st.session_state:
        st.session_state[_PRESET_KEY] = "balanced"
        _apply_preset()
    done = st.session_state.pop("lab_last_trained", None)
    if done:
        st.success(f"Trained and selected in the sidebar — {done}. Open the **Collapse** tab.")
    st.selectbox("Start from a preset", list(PRESETS), key=_PRESET_KEY, on_change=_apply_preset,
                 help="Fills the form below; change anything before pressing Train.")
    with st.form("lab_form"):
        top = st.columns([1.4, 1, 1, 1])
        top[0].radio("Data", DATASETS, key="lab_dataset", format_func=_DATASET_LABELS.get)
        top[1].text_input("Hidden widths", key="lab_hidden", help="e.g. 64-64-32: depth = number of widths.")
        top[2].selectbox("Activation", ACTIVATION_NAMES, key="lab_activation")
        top[3].selectbox("Loss", LOSSES, key="lab_loss", format_func=lambda x: x.replace("_", "-"))
        mid = st.columns(4)
        mid[0].selectbox("Optimiser", OPTIMIZERS, key="lab_optimizer")
        mid[1].number_input("Learning rate", min_value=1e-5, max_value=1.0, format="%.4f", key="lab_lr")
        mid[2].number_input("Weight decay", min_value=0.0, max_value=10.0, format="%.4f", key="lab_wd")
        mid[3].selectbox("LR schedule", LR_SCHEDULES, key="lab_schedule")
        low = st.columns(4)
        low[0].number_input("Epochs", min_value=1, max_value=5_000, step=50, key="lab_epochs",
                            help="Collapse needs training well past zero training error.")
        low[1].number_input("Class-imbalance ratio", min_value=1.0, max_value=100.0, key="lab_imbalance",
                            help="Largest / smallest training class (long-tailed profile); 1 = balanced.")
        low[2].slider("Label noise", 0.0, 0.5, step=0.05, key="lab_noise",
                      help="Share of training labels moved to a random other class.")
        low[3].number_input("Seed", min_value=0, max_value=2**31 - 1, key="lab_seed")
        flags = st.columns(4)
        flags[0].checkbox("Biases", key="lab_bias", help="Bias terms in every linear layer.")
        flags[1].checkbox("Fixed simplex-ETF classifier", key="lab_etf",
                          help="Freeze the last layer at a simplex ETF (Zhu et al. 2021).")
        flags[2].number_input("Hold out classes", min_value=0, max_value=48, key="lab_held",
                              help="The last this-many classes are never trained on; their features are still "
                                   "recorded, so the Collapse tab's 'New classes' section can measure neural "
                                   "collapse on classes the network never saw (Galanti et al. 2022).")
        with st.expander("Gaussian-mixture data"):
            gm = st.columns(4)
            gm[0].number_input("Classes", min_value=2, max_value=50, key="lab_classes")
            gm[1].number_input("Features", min_value=2, max_value=512, key="lab_features")
            gm[2].number_input("Samples per class", min_value=10, max_value=5_000, key="lab_per_class")
            gm[3].number_input("Separation", min_value=0.1, max_value=50.0, key="lab_separation",
                               help="Mean distance between class centres, in noise standard deviations.")
        submitted = st.form_submit_button("Train", type="primary", icon=":material/model_training:")
    if submitted:
        try:
            config = _config_from_widgets()
        except ValueError as exc:
            st.error(str(exc))
            return
        # Runs kept from an earlier session of this workspace (ui.workspace) keep their numbers: go on after them.
        reloaded = [int(m.group(1)) for s in sources().values() if (m := re.match(r"lab #(\d+) ", s.label))]
        count = max([st.session_state.get("lab_count", 0), *reloaded]) + 1
        st.session_state["lab_count"] = count
        train_and_add(config, f"lab #{count} · {st.session_state[_PRESET_KEY]}")


# Each claim below was measured on the preset (numbers in analysis/models/collapse_lab/config.py's comments).
GUIDE: tuple[tuple[str, str], ...] = (
    ("balanced", "Watch collapse form. NC1 of the last hidden layer falls about 80× after the first steps while "
                 "training error goes to 0, NC3 falls too, and the Gram matrix moves towards the ETF pattern. "
                 "Press Play on the 3-D view."),
    ("imbalanced", "Ten times fewer training samples in the last class than in the first. In the Imbalance panel "
                   "the class-mean length grows with class size (Spearman about +0.9), the pattern theory predicts "
                   "for imbalanced data; compare the ETF and orthogonal-frame distances. Below it, the minority "
                   "classes' classifier rows climb above the ETF cosine (peak +0.06 against −0.11) while the "
                   "majority's stay near it: minority collapse (Fang et al. 2021)."),
    ("weight decay", "A ReLU network trained with squared error and strong weight decay: the reference for the next "
                     "run (NC1 ends near 0.0006, ETF distance near 0.33)."),
    ("no weight decay", "The same run without weight decay: NC1 ends about 8× higher, the ETF distance about 0.16 "
                        "higher and NC3 much higher, because nothing pulls the features together once the targets "
                        "are met. Switch between the two in the sidebar's Dataset."),
    ("MSE loss", "Squared error on one-hot targets (with ReLU units) instead of cross-entropy: NC1 still falls by "
                 "three orders of magnitude, so collapse is not a cross-entropy artefact (Han, Papyan & Donoho 2022)."),
    ("fixed ETF head", "The classifier is frozen at a simplex ETF and only the features learn: they move to meet "
                       "it, and the class means end much nearer an ETF than with a learned head (Zhu et al. 2021)."),
    ("label noise 20%", "A fifth of the training labels are wrong. The network memorises them (train accuracy 100 %, "
                        "test about 82 %) and NC1 falls only about 10× instead of 80×."),
)


def try_this() -> None:
    """A teacher's sequence: one button per preset, each trains in seconds and selects the result."""
    st.markdown("A five-minute demo. Each button trains the preset (about 10 s on a laptop CPU), selects it in "
                "the sidebar; then open the **Collapse** tab. Compare two runs by switching the sidebar's dataset.")
    for i, (preset, text) in enumerate(GUIDE, start=1):
        cols = st.columns([0.25, 0.75])
        if cols[0].button(f"{i}. Train '{preset}'", key=f"lab_try_{preset}", width="stretch"):
            train_and_add(PRESETS[preset], f"try {i} · {preset}")
        cols[1].markdown(text)
