"""Compare page: CKA between layers, runs and checkpoints; two spaces side by side; relative representations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import streamlit as st

from analysis.data import Run
from analysis.metrics.seed_agreement import SeedAgreement, seed_agreement
from analysis.metrics.similarity import (
    NeighborAgreement,
    choose_anchors,
    cka_matrices,
    knn_agreement,
)
from analysis.neighbors import kneighbors
from analysis.views import ColorSpec, cka_heatmap, embedding_scatter
from ui import cache
from ui.cache import RESULTS_TTL, SHARED_TTL
from ui.explore import selected_rows
from ui.state import Source, View, add_upload, sources
from ui.training_slots import training_slot
from ui.widgets import PLOT_CONFIG, progress_bar

CKA_MODES = ("Layers of one run", "Two runs", "Checkpoints of one layer")
_PENDING_PAIR = "_cmp_pending_pair"
NEIGHBOURS = 10


def _runs() -> dict[str, Source]:
    return {k: s for k, s in sources().items() if s.is_run}


def _step_label(step: int) -> str:
    return "init" if step == 0 else f"step {step:,}"


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def _cka(key: str, _reps_a: list[np.ndarray], _reps_b: list[np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """(plain, debiased) CKA matrices: one pass serves both, so the switch never recomputes."""
    bar, progress = progress_bar("Linear CKA of every pair…")
    values = cka_matrices(_reps_a, _reps_b, progress=progress)
    bar.empty()
    return values


def _layer_reps(run: Run, step: int) -> list[np.ndarray]:
    return [np.asarray(run.activations[(layer, step)], dtype=np.float32) for layer in run.layers]


def cka_view(view: View) -> None:
    """Layer x layer within a run, across two runs, or checkpoint x checkpoint of one layer."""
    runs = _runs()
    if not runs:
        st.info("CKA compares the layers or checkpoints of a run: pick or train a run first.")
        return
    pair = st.session_state.pop(_PENDING_PAIR, None)
    if pair and all(k in runs for k in pair):  # a pair just trained: show it (set before the pickers are drawn)
        st.session_state.update(cmp_mode="Two runs", cmp_run_a=pair[0], cmp_run_b=pair[1])
    top = st.columns([2.4, 0.9, 1])
    mode = top[0].radio("Compare", CKA_MODES, key="cmp_mode", horizontal=True)
    debiased = top[1].toggle("Debiased CKA", key="cmp_debiased",
                             help="The unbiased HSIC estimator: near 0 for unrelated representations even with few "
                                  "samples and many features, where the plain estimate is inflated.")
    keys = list(runs)
    default = keys.index(view.source.key) if view.source.key in runs else 0
    key_a = top[2].selectbox("Run", keys, index=default, key="cmp_run_a", format_func=lambda k: runs[k].label)
    run_a = runs[key_a].run
    train_pair = False
    if mode == "Layers of one run":
        step = st.select_slider("Checkpoint", list(run_a.steps), value=run_a.steps[-1], key="cmp_step",
                                format_func=_step_label)
        cache_key, reps_a, reps_b = f"{key_a}|layers|{step}", _layer_reps(run_a, step), None
        rows = columns = list(run_a.layers)
        title, row_title, column_title = f"between layers ({_step_label(step)})", "layer", "layer"
        caption = ("Neighbouring layers are similar; a block of high CKA is a stretch of the network that changes "
                   "the representation little (Kornblith et al. 2019).")
    elif mode == "Two runs":
        others = [k for k in keys if k != key_a and runs[k].run.n_samples == run_a.n_samples]
        if not others:
            st.info(f"No other loaded run has the same {run_a.n_samples:,} inputs. Train two seeds of one network "
                    "here, or train a run on the Neural collapse page and come back.")
            _train_seed_pair_button()
            return
        key_b = st.selectbox("Second run (same inputs)", others, key="cmp_run_b", format_func=lambda k: runs[k].label)
        run_b = runs[key_b].run
        step_a, step_b = run_a.steps[-1], run_b.steps[-1]
        cache_key = f"{key_a}|{key_b}|{step_a}|{step_b}"
        reps_a, reps_b = _layer_reps(run_a, step_a), _layer_reps(run_b, step_b)
        rows, columns = list(run_a.layers), list(run_b.layers)
        title, row_title, column_title = ("between the layers of two runs (last checkpoints)", runs[key_a].label,
                                          runs[key_b].label)
        caption = ("For two seeds of one network the diagonal is high: corresponding layers learn similar "
                   "representations up to rotation, even though their coordinates differ.")
        train_pair = True
    else:
        layer = st.selectbox("Layer", list(run_a.layers), index=len(run_a.layers) - 1, key="cmp_layer")
        cache_key = f"{key_a}|steps|{layer}"
        reps_a = [np.asarray(run_a.activations[(layer, s)], dtype=np.float32) for s in run_a.steps]
        reps_b = None
        rows = columns = [_step_label(s) for s in run_a.steps]
        title, row_title, column_title = f"between checkpoints of {layer}", "checkpoint", "checkpoint"
        caption = "How fast the layer settles: the last column is each checkpoint's CKA with the final one."
    plain, unbiased = _cka(cache_key, reps_a, reps_b)
    values, other = (unbiased, plain) if debiased else (plain, unbiased)
    if mode == "Checkpoints of one layer":
        settled = next((s for s, v in zip(run_a.steps, values[:, -1], strict=True) if v >= 0.95), None)
        caption += f" It passes 0.95 at {_step_label(settled)}." if settled is not None else ""
    name = "Debiased linear CKA" if debiased else "Linear CKA"
    fig = cka_heatmap(values, rows, columns, title=f"{name} {title}", row_title=row_title, column_title=column_title)
    st.plotly_chart(fig, key="cmp_cka", config=PLOT_CONFIG)
    gap = float(np.max(np.abs(values - other)))
    n, widest = run_a.n_samples, max(r.shape[1] for r in [*reps_a, *(reps_b or [])])
    st.caption(f"{caption} Plain and debiased CKA differ here by at most {gap:.3f}: "
               + ("with many samples per feature the bias is small; it grows when there are few samples for many "
                  "features." if gap < 0.05 else f"with {n:,} samples for up to {widest:,} features the plain "
                                                   "estimate is inflated; the debiased one is not."))
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


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner="Finding both spaces' nearest neighbours…")
def _neighbours(key: str, _A: np.ndarray, _B: np.ndarray) -> tuple[NeighborAgreement, np.ndarray, np.ndarray]:
    agreement = knn_agreement(_A, _B, k=NEIGHBOURS)
    return agreement, kneighbors(_A, NEIGHBOURS)[1], kneighbors(_B, NEIGHBOURS)[1]


def side_by_side(view: View) -> None:
    """The sidebar's embedding beside another layer, checkpoint or run of the same inputs; linked selection."""
    A = view.embedding
    candidates = {k: s for k, s in _runs().items() if s.run.n_samples == A.n_samples}
    if not candidates:
        st.info("Side by side needs a run with the same inputs as the sidebar's dataset.")
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
    B = np.asarray(run_b.activations[(layer_b, step_b)], dtype=np.float32)
    name_a = f"{view.source.label} · {view.layer or 'embedding'}" + (
        f" · {_step_label(view.step)}" if view.step is not None else "")
    name_b = f"{candidates[key_b].label} · {layer_b} · {_step_label(step_b)}"
    coords_a = cache.projection(f"{view.data_key}|all", A.X, "pca", 2, None).coords
    coords_b = cache.projection(f"{key_b}|{layer_b}|{step_b}|all", B, "pca", 2, None).coords
    colour = (ColorSpec(kind="category", values=A.labels, names=tuple(A.label_names or ()), title="label")
              if A.labels is not None and A.label_names else ColorSpec())
    left, right = st.columns(2)
    with left:
        st.markdown(f"**A:** {name_a}")
        event = st.plotly_chart(embedding_scatter(coords_a, draw_rows=np.arange(A.n_samples), color=colour,
                                                  height=430, uirevision="cmp_a"),
                                key="cmp_side_a", on_select="rerun", selection_mode=("lasso", "box"),
                                config=PLOT_CONFIG)
    selected, _ = selected_rows(event.selection if event else None, coords_a)
    with right:
        st.markdown(f"**B:** {name_b}")
        st.plotly_chart(embedding_scatter(coords_b, draw_rows=np.arange(A.n_samples), color=colour, height=430,
                                          highlight_rows=selected if selected.size else None, uirevision="cmp_b",
                                          highlight_name="selected in A"),
                        key="cmp_side_b", config=PLOT_CONFIG)
    agreement, nn_a, nn_b = _neighbours(f"{view.data_key}|{key_b}|{layer_b}|{step_b}", A.X, B)
    st.caption(f"PCA of each space. Lasso or box-select points in A: they are ringed in B. Mean Jaccard of the "
               f"{NEIGHBOURS} nearest neighbours in A and in B: {agreement.mean_jaccard:.2f} (1 = same neighbours).")
    if selected.size:
        st.markdown(f"**{selected.size:,} selected** · mean neighbour Jaccard {agreement.per_point[selected].mean():.2f}")
        st.dataframe(_neighbour_changes(selected, nn_a, nn_b, agreement.per_point), hide_index=True)


def _neighbour_changes(rows: np.ndarray, nn_a: np.ndarray, nn_b: np.ndarray, jaccard: np.ndarray) -> pl.DataFrame:
    """Per selected row: its Jaccard and the neighbours it loses and gains from A to B (worst first)."""
    rows = rows[np.argsort(jaccard[rows])][:200]
    lost = [sorted(set(nn_a[r].tolist()) - set(nn_b[r].tolist())) for r in rows]
    gained = [sorted(set(nn_b[r].tolist()) - set(nn_a[r].tolist())) for r in rows]
    return pl.DataFrame({"row": rows, "jaccard": jaccard[rows].round(3),
                         "neighbours only in A": [", ".join(map(str, x)) for x in lost],
                         "neighbours only in B": [", ".join(map(str, x)) for x in gained]})


@st.cache_resource(max_entries=6, ttl=SHARED_TTL, show_spinner=False)
def _seed_run(seed: int) -> Run:
    """A small digits MLP (64-64-32, 60 epochs, about a second): the relative-representation demo's model."""
    from analysis.models.collapse_lab import PRESETS, train_collapse_lab

    base = PRESETS["balanced"]
    with training_slot(rerun=False):  # counts against the server's training limit
        return train_collapse_lab(replace(base, mlp=replace(base.mlp, epochs=60, n_checkpoints=2, seed=seed)))


@st.cache_data(max_entries=16, ttl=SHARED_TTL, show_spinner=False)
def _agreement(seed_a: int, seed_b: int, n_anchors: int, method: str) -> SeedAgreement:
    run_a, run_b = _seed_run(seed_a), _seed_run(seed_b)
    layer, step = run_a.layers[-1], run_a.steps[-1]
    split = run_a.metadata["split"].to_numpy()
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    # Anchors are training inputs (the same rows in both seeds).
    anchors = train[choose_anchors(train.size, method=method, n_anchors=None if method == "per_class" else n_anchors,
                                   labels=run_a.labels[train] if method == "per_class" else None, seed=0)]
    return seed_agreement(run_a.activations[(layer, step)], run_b.activations[(layer, step)], run_a.labels,
                          anchors=anchors, train_rows=train, test_rows=test)


def relative_view() -> None:
    """Two seeds: coordinates disagree, cosines to shared anchors agree (Moschella et al. 2023)."""
    st.markdown("Two trainings of the same MLP on the digits, differing only in the seed (64-64-32, tanh, 60 epochs; "
                "about a second each). Their last hidden layers are compared point by point, first in absolute "
                "coordinates, then as **relative representations**: each input described by its cosines to a "
                "set of anchor inputs, the same anchors in both (Moschella et al. 2023).")
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
