"""Compare page: widgets, one cached call per panel (`analysis.panels.compare`), and drawing.

A is the sidebar's selection (its rows included); B is built on the same rows
(`panel.same_rows`). The side-by-side view searches each space's neighbours
once, cached under that space's own selection key: changing only B does not
search A again (issue 16).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from analysis.data import ALL_SPLITS, Run, Selection
from analysis.panels import compare as panel
from analysis.panels import compare_cca
from analysis.views import ColorSpec, cka_heatmap, embedding_scatter, matching_curves
from ui.cache import RESULTS_TTL, SHARED_TTL
from ui.explore import selected_rows
from ui.state import Source, View, add_upload, sources
from ui.training_slots import training_slot
from ui.widgets import plot_config, progress_bar

CKA_MODES = ("Layers of one run", "Two runs", "Checkpoints of one layer")
MEASURES = ("Linear CKA", *compare_cca.CCA_MEASURES)
_PENDING_PAIR = "_cmp_pending_pair"
NEIGHBOURS = panel.NEIGHBOURS
_step_label = panel.step_label
_CKA = {"layers": panel.cka_layers, "checkpoints": panel.cka_checkpoints}
_CCA = {"layers": compare_cca.cca_layers, "checkpoints": compare_cca.cca_checkpoints}


def _runs() -> dict[str, Source]:
    return {k: s for k, s in sources().items() if s.is_run}


def _on_rows_of(view: View, source: Source) -> Selection:
    """`source`'s run on the sidebar's rows: the sidebar's own selection, the same row ids for a run of the
    same inputs, else the split of that name where the run has it (all rows otherwise)."""
    if source.key == view.source.key:
        return view.selection
    run = source.run
    if run.n_samples == view.selection.source.n_samples:
        return panel.same_rows(view.selection, run, source_key=source.key)
    return Selection(run, split=view.split if view.split in run.splits() else ALL_SPLITS, source_key=source.key)


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def _cka(mode: str, key_a: str, key_b: str | None, _a: Selection, _b: Selection | None) -> panel.CkaPanel:
    """One CKA panel per (mode, selection keys): plain and debiased from one pass, so the switch never recomputes."""
    bar, progress = progress_bar("Linear CKA of every pair…")
    result = panel.cka_runs(_a, _b, progress=progress) if mode == "runs" else _CKA[mode](_a, progress=progress)
    bar.empty()
    return result


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def _cca(mode: str, key_a: str, key_b: str | None, _a: Selection, _b: Selection | None) -> compare_cca.CcaPanel:
    """One SVCCA/PWCCA panel per (mode, selection keys): both measures from one SVD per representation."""
    bar, progress = progress_bar("SVCCA and PWCCA of every pair…")
    result = (compare_cca.cca_runs(_a, _b, progress=progress) if mode == "runs"
              else _CCA[mode](_a, progress=progress))
    bar.empty()
    return result


def _similarity(measure: str, mode: str, key_a: str, key_b: str | None, a: Selection,
                b: Selection | None) -> panel.CkaPanel | compare_cca.CcaPanel:
    return _cka(mode, key_a, key_b, a, b) if measure == MEASURES[0] else _cca(mode, key_a, key_b, a, b)


def cka_view(view: View) -> None:
    """Layer x layer within a run, across two runs, or checkpoint x checkpoint of one layer."""
    runs = _runs()
    if not runs:
        st.info("CKA compares the layers or checkpoints of a run: pick or train a run first.")
        return
    pair = st.session_state.pop(_PENDING_PAIR, None)
    if pair and all(k in runs for k in pair):  # a pair just trained: show it (set before the pickers are drawn)
        st.session_state.update(cmp_mode="Two runs", cmp_run_a=pair[0], cmp_run_b=pair[1])
    measure = st.radio("Measure", MEASURES, key="cmp_measure", horizontal=True,
                       help="Linear CKA (Kornblith et al. 2019) is invariant to rotations; SVCCA (Raghu et al. 2017) "
                            "and PWCCA (Morcos et al. 2018) come from canonical correlations, invariant to any "
                            "invertible linear map.")
    is_cka = measure == MEASURES[0]
    label = "CKA" if is_cka else measure
    top = st.columns([2.4, 0.9, 1])
    mode = top[0].radio("Compare", CKA_MODES, key="cmp_mode", horizontal=True)
    debiased = top[1].toggle("Debiased CKA", key="cmp_debiased", disabled=not is_cka,
                             help="The unbiased HSIC estimator: near 0 for unrelated representations even with few "
                                  "samples and many features, where the plain estimate is inflated.")
    keys = list(runs)
    default = keys.index(view.source.key) if view.source.key in runs else 0
    key_a = top[2].selectbox("Run", keys, index=default, key="cmp_run_a", format_func=lambda k: runs[k].label)
    if not view.source.is_run:
        st.info(f"The sidebar's dataset, {view.source.label}, is a single embedding without layers or checkpoints, "
                f"so CKA shows the run {runs[key_a].label} instead. Pick a run here or in the sidebar.")
    base = _on_rows_of(view, runs[key_a])
    run_a = base.run
    train_pair = False
    if mode == "Layers of one run":
        start = view.step if base is view.selection else run_a.steps[-1]
        step = st.select_slider("Checkpoint", list(run_a.steps), value=start, key="cmp_step", format_func=_step_label)
        sel_a, sel_b = base.at(step).at_layer(run_a.layers[-1]), None  # every layer: the key must not vary with one
        result = _similarity(measure, "layers", sel_a.key, None, sel_a, None)
        title, row_title, column_title = f"between layers ({_step_label(step)})", "layer", "layer"
        caption = (f"Neighbouring layers are similar; a block of high {label} is a stretch of the network that "
                   "changes the representation little" + (" (Kornblith et al. 2019)." if is_cka else "."))
    elif mode == "Two runs":
        others = [k for k in keys if k != key_a and runs[k].run.n_samples == run_a.n_samples]
        if not others:
            st.info(f"No other loaded run has the same {run_a.n_samples:,} inputs. Train two seeds of one network "
                    "here, or train a run on the Neural collapse page and come back.")
            _train_seed_pair_button()
            return
        key_b = st.selectbox("Second run (same inputs)", others, key="cmp_run_b", format_func=lambda k: runs[k].label)
        sel_a = base.at(run_a.steps[-1]).at_layer(run_a.layers[-1])
        sel_b = panel.same_rows(sel_a, runs[key_b].run, source_key=key_b)
        result = _similarity(measure, "runs", sel_a.key, sel_b.key, sel_a, sel_b)
        title, row_title, column_title = ("between the layers of two runs (last checkpoints)", runs[key_a].label,
                                          runs[key_b].label)
        caption = ("For two seeds of one network the diagonal is high: corresponding layers learn similar "
                   "representations up to rotation, even though their coordinates differ." if is_cka else
                   f"For two seeds of one network, {label} finds the directions corresponding layers share whatever "
                   "invertible linear map relates them; it averages over every kept direction, so weakly shared "
                   "ones pull it below CKA.")
        train_pair = True
    else:
        layer = st.selectbox("Layer", list(run_a.layers), index=len(run_a.layers) - 1, key="cmp_layer")
        sel_a = base.at_layer(layer).at(run_a.steps[-1])  # every checkpoint: the key must not vary with one
        result = _similarity(measure, "checkpoints", sel_a.key, None, sel_a, None)
        title, row_title, column_title = f"between checkpoints of {layer}", "checkpoint", "checkpoint"
        caption = f"How fast the layer settles: the last column is each checkpoint's {label} with the final one."
        settled = result.settled_step(debiased) if is_cka else None
        caption += f" It passes {panel.SETTLED_CKA} at {_step_label(settled)}." if settled is not None else ""
    if is_cka:
        name, short = ("Debiased linear CKA" if debiased else "Linear CKA"), "CKA"
        values, note = result.values(debiased), result.bias_note()
    else:
        name = short = measure
        values, note = result.values(measure), result.note(measure)
    fig = cka_heatmap(values, list(result.rows), list(result.columns), title=f"{name} {title}",
                      row_title=row_title, column_title=column_title, measure=short)
    st.plotly_chart(fig, key="cmp_cka", config=plot_config())
    st.caption(f"{caption} {note} Rows: {sel_a.describe()}.")
    if train_pair:
        _train_seed_pair_button()


def _train_seed_pair_button() -> None:
    """Train seeds 0 and 1 of the small digits MLP, add both to the datasets and compare them."""
    if not st.button("Train two seeds of a digits MLP (64-64-32, 60 epochs, about 2 s)", key="cmp_train_pair",
                     icon=":material/model_training:"):
        return
    keys = []
    with st.spinner("Training seeds 0 and 1…"):
        for seed in (0, 1):
            run = replace(_seed_run(seed), name=f"digits MLP seed {seed}")
            key = f"trained:digits-mlp-60-seed-{seed}"
            add_upload(Source(key=key, label=f"digits MLP · seed {seed} (trained)", origin="trained", run=run),
                       select=False)
            keys.append(key)
    st.session_state[_PENDING_PAIR] = tuple(keys)
    st.rerun()


# A resource, not data: a graph's arrays are read-only and shared as they are (st.cache_data would unpickle
# a copy on every read). Keyed by one space's selection, so changing B leaves A's graph in place.
@st.cache_resource(max_entries=8, ttl=RESULTS_TTL, show_spinner="Finding the nearest neighbours…")
def graph(selection_key: str, k_max: int, metric: str, _selection: Selection) -> panel.NeighborGraph:
    return panel.neighbour_graph(_selection, k_max=k_max, metric=metric)


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner="Projecting…")
def _projection(selection_key: str, _selection: Selection) -> np.ndarray:
    return panel.space_projection(_selection)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def _side_by_side(key_a: str, key_b: str, k: int, metric: str, _a: Selection, _b: Selection,
                  _graph_a: panel.NeighborGraph, _graph_b: panel.NeighborGraph) -> panel.SideBySidePanel:
    return panel.side_by_side_panel(_a, _b, graph_a=_graph_a, graph_b=_graph_b, k=k, metric=metric)


def side_by_side(view: View) -> None:
    """The sidebar's selection beside another layer, checkpoint or run of the same inputs; linked selection."""
    A = view.selection
    candidates = {k: s for k, s in _runs().items() if s.run.n_samples == A.source.n_samples}
    if not candidates:
        st.info("Side by side needs a run with the same inputs as the sidebar's dataset.")
        return
    if A.n_samples <= NEIGHBOURS:
        st.info(f"Side by side compares each point's {NEIGHBOURS} nearest neighbours: it needs more than "
                f"{NEIGHBOURS} rows; the sidebar's selection has {A.n_samples}.")
        return
    cols = st.columns(3)
    keys = list(candidates)
    key_b = cols[0].selectbox("Compare with run", keys, key="cmp_side_run", format_func=lambda k: candidates[k].label,
                              index=keys.index(view.source.key) if view.source.key in candidates else 0)
    run_b = candidates[key_b].run
    layers = list(run_b.layers)
    layer_b = cols[1].selectbox("layer", layers, key="cmp_side_layer",
                                index=max(0, layers.index(view.layer) - 1) if view.layer in layers else 0)
    step_b = cols[2].select_slider("checkpoint", list(run_b.steps), value=run_b.steps[-1], key="cmp_side_step",
                                   format_func=_step_label)
    B = panel.same_rows(A, run_b, layer=layer_b, step=step_b, source_key=key_b)
    name_a = f"{view.source.label} · {view.layer or 'embedding'}" + (
        f" · {_step_label(view.step)}" if view.step is not None else "")
    name_b = f"{candidates[key_b].label} · {layer_b} · {_step_label(step_b)}"
    graph_a, graph_b = graph(A.key, NEIGHBOURS, "euclidean", A), graph(B.key, NEIGHBOURS, "euclidean", B)
    result = _side_by_side(A.key, B.key, NEIGHBOURS, "euclidean", A, B, graph_a, graph_b)
    coords_a, coords_b = _projection(A.key, A), _projection(B.key, B)
    emb = A.embedding
    colour = (ColorSpec(kind="category", values=emb.labels, names=tuple(emb.label_names or ()), title="label")
              if emb.labels is not None and emb.label_names else ColorSpec())
    left, right = st.columns(2)
    with left:
        st.markdown(f"**A:** {name_a}")
        event = st.plotly_chart(embedding_scatter(coords_a, draw_rows=np.arange(A.n_samples), color=colour,
                                                  height=430, uirevision="cmp_a"),
                                key="cmp_side_a", on_select="rerun", selection_mode=("lasso", "box"),
                                config=plot_config())
    selected, _ = selected_rows(event.selection if event else None, coords_a)
    with right:
        st.markdown(f"**B:** {name_b}")
        st.plotly_chart(embedding_scatter(coords_b, draw_rows=np.arange(A.n_samples), color=colour, height=430,
                                          highlight_rows=selected if selected.size else None, uirevision="cmp_b",
                                          highlight_name="selected in A"),
                        key="cmp_side_b", config=plot_config())
    st.caption(f"PCA of each space. Lasso or box-select points in A: they are ringed in B. Mean Jaccard of the "
               f"{NEIGHBOURS} nearest neighbours in A and in B: {result.mean_jaccard:.2f} (1 = same neighbours). "
               f"Rows: the sidebar's, {A.describe()}.")
    if selected.size:
        st.markdown(f"**{selected.size:,} selected** · mean neighbour Jaccard {result.selected_jaccard(selected):.2f}")
        st.dataframe(result.changes(selected), hide_index=True)


@st.cache_resource(max_entries=6, ttl=SHARED_TTL, show_spinner=False)
def _seed_run(seed: int) -> Run:
    """A small digits MLP (64-64-32, 60 epochs, about a second): the relative-representation demo's model."""
    with training_slot(rerun=False):  # counts against the server's training limit
        return panel.train_seed_run(seed)


@st.cache_data(max_entries=16, ttl=SHARED_TTL, show_spinner=False)
def _agreement(seed_a: int, seed_b: int, n_anchors: int, method: str) -> panel.SeedAgreement:
    return panel.seed_pair_panel(_seed_run(seed_a), _seed_run(seed_b), n_anchors=n_anchors, method=method)


def relative_view() -> None:
    """Two seeds: coordinates disagree, cosines to shared anchors agree (Moschella et al. 2023)."""
    st.markdown("Two trainings of the same MLP on the digits, differing only in the seed (64-64-32, tanh, 60 epochs; "
                "about a second each). Their last hidden layers are compared point by point, first in absolute "
                "coordinates, then as **relative representations**: each input described by its cosines to a "
                "set of anchor inputs, the same anchors in both (Moschella et al. 2023).")
    st.caption("A demonstration on two models trained here, not the sidebar's dataset: it needs two trainings "
               "that differ only in the seed. Two such runs of your own compare under CKA → Two runs.")
    cols = st.columns(4)
    seed_a = int(cols[0].number_input("Seed A", 0, 10_000, 0, key="cmp_seed_a"))
    seed_b = int(cols[1].number_input("Seed B", 0, 10_000, 1, key="cmp_seed_b"))
    method = cols[2].radio("Anchors", ["random", "per_class"], key="cmp_anchor_method",
                           format_func=lambda m: "random inputs" if m == "random" else "one per class")
    n_anchors = int(cols[3].slider("Number of anchors", 10, 300, 100, key="cmp_anchors",
                                   disabled=method == "per_class"))
    if seed_a == seed_b:
        st.warning("Pick two different seeds: one seed against itself agrees trivially.")
        return
    with st.spinner("Training both seeds…"):
        result = _agreement(seed_a, seed_b, n_anchors, method)
    cards = st.columns(3)
    cards[0].metric("Same input, absolute coordinates", f"{result.absolute_cosine:.2f}",
                    help="Mean cosine between an input's vector in seed A and in seed B.")
    cards[1].metric("Same input, relative representation", f"{result.relative_cosine:.2f}",
                    help="Mean cosine between the input's anchor-cosine vectors in A and in B.")
    cards[2].metric("Linear CKA (A, B)", f"{result.linear_cka:.2f}",
                    help="Rotation-invariant similarity of the two spaces as wholes.")
    cards = st.columns(3)
    cards[0].metric("Classifier on A, tested on A", f"{result.accuracy_same:.1%}")
    cards[1].metric("Trained on A, tested on B (absolute)", f"{result.accuracy_stitched_absolute:.1%}",
                    help="Zero-shot stitching with raw coordinates.")
    cards[2].metric("Trained on A, tested on B (relative)", f"{result.accuracy_stitched_relative:.1%}",
                    help="Zero-shot stitching with relative representations.")
    st.caption(f"{result.n_anchors} anchors. The coordinates of one input in the two seeds are unrelated (cosine "
               f"{result.absolute_cosine:.2f}), so a classifier fitted on A fails on B; its cosines to the anchors "
               f"agree ({result.relative_cosine:.2f}), so the same classifier works on B's relative representation.")


@st.cache_data(max_entries=16, ttl=SHARED_TTL, show_spinner=False)
def _matching(seed_a: int, seed_b: int, layer: str) -> compare_cca.MatchingPanel:
    return compare_cca.neuron_matching_panel(_seed_run(seed_a), _seed_run(seed_b), layer=layer)


def matching_view() -> None:
    """Two seeds: match their units one to one by correlation (Li et al. 2015, convergent learning)."""
    st.markdown("Do two trainings of one network learn the same **units**? Each unit of seed A is matched to one "
                "unit of seed B by the correlation of their activations over all inputs: one to one (Hungarian "
                "assignment) and many to one (each unit's best partner) (Li et al. 2015).")
    st.caption("The two-seed digits MLP of the Relative representations tab (64-64-32, tanh, 60 epochs), trained "
               "here; CKA, SVCCA and PWCCA compare whole spaces, this compares single units.")
    cols = st.columns(3)
    seed_a = int(cols[0].number_input("Seed A", 0, 10_000, 0, key="cmp_nm_seed_a"))
    seed_b = int(cols[1].number_input("Seed B", 0, 10_000, 1, key="cmp_nm_seed_b"))
    if seed_a == seed_b:
        st.warning("Pick two different seeds: one seed matches itself perfectly.")
        return
    with st.spinner("Training both seeds…"):
        layers = list(_seed_run(seed_a).layers)
    layer = cols[2].selectbox("Layer", layers, index=len(layers) - 1, key="cmp_nm_layer")
    with st.spinner("Matching units…"):
        result = _matching(seed_a, seed_b, layer)
    m = result.matching
    cards = st.columns(3)
    cards[0].metric("Mean one-to-one correlation", f"{m.mean_matched:.2f}",
                    help="Hungarian assignment maximising the summed correlation of matched units.")
    cards[1].metric("Mean many-to-one correlation", f"{m.mean_max:.2f}",
                    help="Each unit of A with its most correlated unit of B, which may serve several.")
    cards[2].metric("Chance (rows shuffled)", f"{result.chance.mean_matched:.2f}",
                    help="One-to-one matching after shuffling B's rows: what unrelated units give.")
    fig = matching_curves(m.matched, m.max_correlation, result.chance.matched,
                          title=f"Units of {layer}, seed {seed_a} vs seed {seed_b}, sorted")
    st.plotly_chart(fig, key="cmp_matching", config=plot_config())
    st.caption(f"{result.n_samples:,} inputs, {_step_label(result.step)}. {result.note()}")
