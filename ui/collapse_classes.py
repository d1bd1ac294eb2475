"""The Collapse page's class-level sections: minority collapse over training, and new (held-out) classes.

Both are cached per run (and per layer for the new classes); the numbers come
from `analysis.panels.collapse_classes`.
"""

from __future__ import annotations

import streamlit as st

from analysis.panels import collapse_classes as panel
from analysis.panels.common import USER_ERRORS
from analysis.views import minority_collapse_chart, new_classes_chart
from ui.cache import RESULTS_TTL
from ui.state import View
from ui.widgets import plot_config

MINORITY_TRY = ("**Try this:** train the **imbalanced** preset (Train a model tab), then again with the class-imbalance "
                "ratio at 30 and the weight decay at 5: the minority curve peaks near +0.34 instead of +0.06 (measured, "
                "seed 0), as Fang et al. (2021) predict for stronger imbalance, before training far past zero error "
                "pulls it back down.")
NEW_CLASSES_TRY = ("**Try this:** in the Train a model tab set **Hold out classes** to 3 and train; then move the "
                   "sidebar's layer from the first to the last hidden layer and watch whether the new classes' "
                   "CDNV falls (features that transfer) or rises (features specialised to the trained classes).")


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def _minority(source_key: str, _run) -> panel.MinorityHistory:
    return panel.minority_history(_run)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner="Measuring the held-out classes at every checkpoint…")
def _new_classes(source_key: str, layer: str, _run) -> panel.NewClassesHistory:
    return panel.new_classes_history(_run, layer)


def minority_section(view: View) -> None:
    """Minority collapse of the run's classifier over training (imbalanced runs only), with the ETF line."""
    run = view.source.run
    if run is None or not run.classifier:
        return
    st.markdown("**Minority collapse: classifier rows of the smallest vs the largest classes**")
    if not panel.is_imbalanced(run):
        st.caption("This run's training classes are balanced, so there are no minority classes to collapse "
                   "(Fang et al. 2021). " + MINORITY_TRY.replace("**Try this:** ", "Try this: "))
        return
    try:
        history = _minority(view.source.key, run)
    except USER_ERRORS as exc:
        st.caption(f"Not measured: {exc}")
        return
    st.plotly_chart(minority_collapse_chart(list(history.steps), history.series(), history.last.etf_cosine,
                                            marked_step=view.step),
                    key="nc_minority", config=plot_config())
    st.caption(panel.minority_text(history))
    st.markdown(MINORITY_TRY)


def new_classes_section(view: View) -> None:
    """CDNV, NC1 and few-shot accuracy of the held-out classes at the sidebar's layer (runs with held-out classes)."""
    run = view.source.run
    if not panel.has_held_out(run):
        return
    with st.expander("New classes: neural collapse on classes the network never saw", expanded=True):
        try:
            history = _new_classes(view.source.key, view.layer, run)
        except USER_ERRORS as exc:
            st.caption(f"Not measured: {exc}")
            return
        now = history.at(view.step)
        cols = st.columns(2 + len(now.shots))
        cols[0].metric("CDNV (new classes)", f"{now.cdnv:.3g}",
                       help="Class-distance normalised variance of the held-out classes, mean over their pairs: "
                            "(Var_i + Var_j) / (2‖μ_i − μ_j‖²). Lower = tighter, better separated (Galanti et al. 2022).")
        cols[1].metric("NC1 (new classes)", f"{now.nc1:.3g}", help="Tr(Σ_W Σ_B⁺)/C of the held-out classes alone.")
        for col, m, acc in zip(cols[2:], now.shots, now.few_shot_accuracy, strict=True):
            col.metric(f"{m}-shot accuracy", "—" if acc is None else f"{100 * acc:.1f}%",
                       help=f"Class means from {m} random example(s) per new class, nearest mean for the rest; "
                            f"mean of {now.n_draws} draws (seed {now.seed}).")
        st.plotly_chart(new_classes_chart(list(history.steps), [r.cdnv for r in history.results],
                                          history.accuracy_series(), chance=now.chance, marked_step=view.step),
                        key="nc_new_classes", config=plot_config())
        st.caption(panel.new_classes_text(history, view.step))
        st.markdown(NEW_CLASSES_TRY)
