"""The Hubness page's Retrieval tab: widgets, one cached panel call (`analysis.panels.retrieval`), and drawing."""

from __future__ import annotations

import streamlit as st

from analysis.data import Selection
from analysis.panels import hubness as hub_panels
from analysis.panels import retrieval as panels
from analysis.views import format_number, k_occurrence_before_after
from ui.cache import RESULTS_TTL, SHARED_TTL
from ui.errors import USER_ERRORS, show_error
from ui.state import Source, View, selection_of, sources
from ui.widgets import plot_config

TEMPERATURES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
ITSELF = "(the same rows)"
THIS_DATASET = "a split of this dataset"
PERCENT = st.column_config.NumberColumn(format="percent")


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner="Re-ranking every query's gallery with each method…")
def _panel(data_key: str, gallery_key: str, _embedding: panels.Embedding, _gallery: Selection | None, query: str,
           gallery: str, pairing: str, k: int, temperature: float, query_bank: str | None,
           gallery_bank: str | None) -> panels.RetrievalPanel:
    """Keyed by both datasets' selection keys (the same key twice for two splits of the sidebar's data); the
    gallery's float32 matrix is read only on a miss."""
    return panels.retrieval_panel(_embedding, query=query, gallery=gallery, pairing=pairing, k=k,
                                  temperature=temperature, query_bank=query_bank, gallery_bank=gallery_bank,
                                  gallery_embedding=None if _gallery is None else _gallery.embedding)


@st.cache_data(max_entries=2, ttl=SHARED_TTL, show_spinner="Generating two modalities and re-ranking…")
def _demo(k: int, temperature: float) -> panels.RetrievalDemo:
    return panels.retrieval_demo(k=k, temperature=temperature)


def _table(table: panels.pl.DataFrame) -> None:
    config = {c: PERCENT for c in table.columns if c.startswith("recall@") or c == "antihubs"}
    config["skewness of N_k"] = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(table, hide_index=True, width="stretch", column_config=config)


def _histogram(k_occurrence: dict, k: int, key: str, default: str = "dbnorm") -> None:
    methods = [m for m in panels.METHODS if m != "none"]
    after = st.selectbox("Histogram after", methods, index=methods.index(default), key=key,
                         format_func=panels.METHOD_NAMES.get)
    st.plotly_chart(k_occurrence_before_after(k_occurrence["none"], k_occurrence[after], k,
                                              after_name=panels.METHOD_NAMES[after]),
                    key=f"{key}_chart", config=plot_config())
    st.caption(f"How many queries list each gallery item in their top {k}: grey before re-ranking, blue after "
               f"{panels.METHOD_NAMES[after]}. Hubs sit right of the red line; N_k = 0 are items nobody retrieves.")


def retrieval_view(view: View, k: int) -> None:
    """Queries and gallery by cosine (two splits, or the sidebar's data and another dataset), every re-ranking
    side by side, then the teaching demo."""
    st.markdown("Queries retrieve their nearest gallery rows by **cosine similarity**; each method re-scores the "
                "similarities so that gallery items near *every* query (hubs) lose their advantage. The queries "
                "are the sidebar's selection; the gallery is another split of it (a `split` metadata column) or "
                "another loaded dataset, e.g. image embeddings uploaded beside caption embeddings. Pair them by "
                "row order or by an id column.")
    others = {key: source for key, source in sources().items() if key != view.source.key}
    gallery_from = st.selectbox("Gallery from", [THIS_DATASET, *others], key="ret_gallery_from",
                                format_func=lambda c: c if c == THIS_DATASET else others[c].label,
                                help="Another upload, trained run or sample: its rows are the gallery, the "
                                     "sidebar's rows the queries (same number of features).")
    if gallery_from != THIS_DATASET:
        _dataset_view(view, others[gallery_from], k)
    elif (names := hub_panels.split_names(view.embedding)) is None:
        st.info("This selection has fewer than two splits (a metadata column named `split`), so there is no second "
                "split to retrieve from: take the gallery from another dataset above (upload it on the Data page), "
                "choose *all* rows in the sidebar, or load data with a split column. The teaching demo below "
                "needs no data.")
    else:
        _split_view(view, names, k)
    st.divider()
    demo()


def _options(cols, options: list[str], temperature_col, prefix: str) -> tuple[str, float]:
    """The pairing and temperature pickers (shared by both gallery sources)."""
    pairing = cols.selectbox("Query i matches", options, key=f"{prefix}_pairing",
                             help="Row order: the i-th query row matches the i-th gallery row. A column: the "
                                  "gallery row with the same value (unique in the gallery). None: no recall, "
                                  "hubness only.")
    temperature = temperature_col.select_slider("Temperature t", TEMPERATURES, value=panels.DEFAULT_TEMPERATURE,
                                                key="ret_temperature", help="exp(S / t) in the softmaxes; t = 0.05 "
                                                "is QB-Norm's beta = 20.")
    return pairing, float(temperature)


def _banks(query_splits: list[str], gallery_splits: list[str], prefix: str) -> tuple[str | None, str | None]:
    """The bank pickers: splits of the queries' data and of the gallery's, "(the same rows)" by default."""
    with st.expander("Banks (what the normalisers average over)"):
        st.caption("Wang et al. (2023) and Bogolin et al. (2022) build the banks from training data: a query bank "
                   "of the query modality and, for DBNorm, a gallery bank of the gallery modality.")
        bank_cols = st.columns(2)
        query_bank = bank_cols[0].selectbox("Query bank", [ITSELF, *query_splits], key=f"{prefix}_query_bank")
        gallery_bank = bank_cols[1].selectbox("Gallery bank (DBNorm)", [ITSELF, *gallery_splits],
                                              key=f"{prefix}_gallery_bank")
    return (None if query_bank == ITSELF else query_bank), (None if gallery_bank == ITSELF else gallery_bank)


def _split_view(view: View, names: list[str], k: int) -> None:
    emb = view.embedding
    cols = st.columns([1, 1, 1.2, 1.2])
    query = cols[0].selectbox("Queries", names, index=names.index("test") if "test" in names else 0,
                              key="ret_query")
    gallery = cols[1].selectbox("Gallery", [n for n in names if n != query], key="ret_gallery")
    pairing, temperature = _options(cols[2], panels.pairing_options(emb), cols[3], "ret")
    query_bank, gallery_bank = _banks([n for n in names if n != query], [n for n in names if n != gallery], "ret")
    k = min(k, emb.n_samples)
    result = _panel(view.data_key, view.data_key, emb, None, query, gallery, pairing, k, temperature, query_bank,
                    gallery_bank)
    _results(result, f"**{query}** queries", f"**{gallery}** rows", pairing)


def _rows_name(split: str) -> str:
    return "all rows" if split == panels.ALL_SPLITS else f"split {split}"


def _dataset_view(view: View, source: Source, k: int) -> None:
    """The sidebar's rows (or one of their splits) retrieve rows of another dataset (its layer, last step)."""
    emb = view.embedding
    query_splits = emb.splits() if len(emb.splits()) >= 2 else []
    cols = st.columns([1, 1, 1, 1.2, 1.2] if source.is_run else [1, 1, 1.2, 1.2])
    query = cols[0].selectbox("Queries", [panels.ALL_SPLITS, *query_splits], key="ret_x_query",
                              format_func=_rows_name, disabled=not query_splits,
                              help="The sidebar's selection, or one of its splits.")
    layer = None
    if source.is_run:
        run = source.run
        layer = cols[1].selectbox("Gallery layer", list(run.layers), index=len(run.layers) - 1, key="ret_x_layer",
                                  format_func=lambda la: f"{la}  (d={run.layer_dim(la)})")
        cols = cols[1:]
    data = source.run if source.is_run else source.embedding
    gallery_splits = data.splits()
    gallery = cols[1].selectbox("Gallery rows", [panels.ALL_SPLITS, *gallery_splits], key="ret_x_gallery",
                                format_func=_rows_name, disabled=not gallery_splits)
    pairing, temperature = _options(cols[2], panels.pairing_options(emb, data), cols[3], "ret_x")
    query_bank, gallery_bank = _banks([n for n in query_splits if n != query],
                                      [n for n in gallery_splits if n != gallery], "ret_x")
    target = selection_of(source, layer)  # a run's last step; every row (the split is the panel's, as are banks)
    k = min(k, data.n_samples if gallery == panels.ALL_SPLITS else data.rows(gallery).size)
    try:
        result = _panel(view.data_key, target.key, emb, target, query, gallery, pairing, k, temperature,
                        query_bank, gallery_bank)
    except USER_ERRORS as exc:  # widths or row counts that cannot pair: say so, keep the demo below
        fitting = [la for la in run.layers if run.layer_dim(la) == emb.n_features] if source.is_run else []
        show_error(exc, "Cannot retrieve across these datasets",
                   kept=f"Layers of {source.label} with {emb.n_features:,} features: {', '.join(fitting)}."
                   if fitting and layer not in fitting else None)
        return
    where = f"{source.label}" + (f" · {layer} · step {target.step}" if source.is_run else "")
    _results(result, f"queries (**{_rows_name(query)}** of the sidebar's data)",
             f"gallery rows (**{_rows_name(gallery)}** of {where})", pairing)


def _results(result: panels.RetrievalPanel, queries: str, gallery: str, pairing: str) -> None:
    what = (f"recall@1/5/10 over {result.n_matched:,} matched queries" if result.recall is not None
            else "no recall (choose how query i matches a gallery row)")
    st.caption(f"{result.n_queries:,} {queries} against {result.n_gallery:,} {gallery}; gallery N_k at "
               f"k = {result.k} (the slider above); {what}.")
    if result.recall is None and pairing != panels.NO_PAIRING:
        st.warning(f"No query has a match under {pairing!r}: no recall to show.")
    _table(result.table)
    for note in result.notes:
        st.caption(note)
    st.caption("A method can also raise the skewness: with the queries as their own bank, the inverted softmax "
               "favours gallery items far from every query, which in clustered data (classes) makes new hubs. "
               "Compare temperatures and banks; the demo below is the case these methods were made for.")
    _histogram(result.k_occurrence, result.k, "ret_hist_after")


def demo_sentence(result: panels.RetrievalDemo) -> str:
    """The numbers of the demo in one paragraph."""
    r1 = {m: result.recall[m].at(1) for m in panels.METHODS}
    skew = {m: format_number(s) for m, s in result.skewness.items()}
    return (f"{result.n_hubs} of the {result.n_pairs:,} images lean towards the captions' mean direction and become "
            f"hubs: the raw similarity finds the right image first for **{r1['none']:.1%}** of the captions, against "
            f"{result.recall_without_hubs.at(1):.1%} on the same data without the lean, and the skewness of N_{result.k} "
            f"is {skew['none']}. The inverted softmax wins recall@1 back to **{r1['inverted_softmax']:.1%}** "
            f"(skewness {skew['inverted_softmax']}) and DBNorm to **{r1['dbnorm']:.1%}** (skewness {skew['dbnorm']}); "
            f"QB-Norm reaches {r1['qb_norm']:.1%} and CSLS {r1['csls']:.1%}, but both leave the hubs' N_k skewed "
            f"({skew['qb_norm']}, {skew['csls']}).")


def demo() -> None:
    """Teaching demo: generated captions and images sharing latent vectors, with a few hub images."""
    st.subheader("Teaching demo: hubs cost recall")
    st.markdown("1,000 items, each seen as a caption and an image: both are the item's latent vector (d = 256) plus "
                "their own noise. A few images also lean towards the direction all captions share, so they are "
                "close to every caption. The banks are a second draw of 1,000 captions and images (the training "
                "set), k = 10, t = 0.05.")
    if not st.toggle("Run the demo", key="ret_demo"):
        return
    result = _demo(10, panels.DEFAULT_TEMPERATURE)
    st.markdown(demo_sentence(result))
    _table(result.table)
    _histogram(result.k_occurrence, result.k, "ret_demo_hist_after")
    st.markdown("**Try this.** Switch the histogram between methods: CSLS and QB-Norm shrink the hubs but keep a "
                "long tail; the inverted softmax and DBNorm (which also divides by the gallery bank) bring N_k back "
                "to a bell around k. Wang, Jian & Xue (2023, EMNLP): *Balance Act*; Bogolin et al. (2022, CVPR); "
                "Smith et al. (2017, ICLR); Conneau et al. (2018, ICLR).")
