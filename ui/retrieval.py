"""The Hubness page's Retrieval tab: widgets, one cached panel call (`analysis.panels.retrieval`), and drawing."""

from __future__ import annotations

import streamlit as st

from analysis.panels import hubness as hub_panels
from analysis.panels import retrieval as panels
from analysis.views import format_number, k_occurrence_before_after
from ui.cache import RESULTS_TTL, SHARED_TTL
from ui.state import View
from ui.widgets import plot_config

TEMPERATURES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
ITSELF = "(the same rows)"
PERCENT = st.column_config.NumberColumn(format="percent")


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner="Re-ranking every query's gallery with each method…")
def _panel(data_key: str, _embedding: panels.Embedding, query: str, gallery: str, pairing: str, k: int,
           temperature: float, query_bank: str | None, gallery_bank: str | None) -> panels.RetrievalPanel:
    return panels.retrieval_panel(_embedding, query=query, gallery=gallery, pairing=pairing, k=k,
                                  temperature=temperature, query_bank=query_bank, gallery_bank=gallery_bank)


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
    """Two splits as queries and gallery (cosine), every re-ranking side by side, then the teaching demo."""
    st.markdown("Queries from one split retrieve their nearest rows of another split by **cosine similarity**; "
                "each method re-scores the similarities so that gallery items near *every* query (hubs) lose "
                "their advantage. The data page takes one embedding file, so queries and gallery are two "
                "splits of it (a `split` metadata column), paired by row order or by an id column.")
    emb = view.embedding
    names = hub_panels.split_names(emb)
    if names is None:
        st.info("This selection has fewer than two splits (a metadata column named `split`), so there is nothing "
                "to retrieve from: choose *all* rows in the sidebar, or load data with a split column. The "
                "teaching demo below needs no data.")
    else:
        _data_view(view, names, k)
    st.divider()
    demo()


def _data_view(view: View, names: list[str], k: int) -> None:
    emb = view.embedding
    cols = st.columns([1, 1, 1.2, 1.2])
    query = cols[0].selectbox("Queries", names, index=names.index("test") if "test" in names else 0,
                              key="ret_query")
    gallery = cols[1].selectbox("Gallery", [n for n in names if n != query], key="ret_gallery")
    options = panels.pairing_options(emb)
    pairing = cols[2].selectbox("Query i matches", options, key="ret_pairing",
                                help="Row order: the i-th query row matches the i-th gallery row. A column: the "
                                     "gallery row with the same value (unique in the gallery). None: no recall, "
                                     "hubness only.")
    temperature = cols[3].select_slider("Temperature t", TEMPERATURES, value=panels.DEFAULT_TEMPERATURE,
                                        key="ret_temperature", help="exp(S / t) in the softmaxes; t = 0.05 is "
                                        "QB-Norm's beta = 20.")
    with st.expander("Banks (what the normalisers average over)"):
        st.caption("Wang et al. (2023) and Bogolin et al. (2022) build the banks from training data: a query bank "
                   "of the query modality and, for DBNorm, a gallery bank of the gallery modality.")
        bank_cols = st.columns(2)
        query_bank = bank_cols[0].selectbox("Query bank", [ITSELF, *(n for n in names if n != query)],
                                            key="ret_query_bank")
        gallery_bank = bank_cols[1].selectbox("Gallery bank (DBNorm)", [ITSELF, *(n for n in names if n != gallery)],
                                              key="ret_gallery_bank")
    k = min(k, emb.n_samples)
    result = _panel(view.data_key, emb, query, gallery, pairing, k, float(temperature),
                    None if query_bank == ITSELF else query_bank, None if gallery_bank == ITSELF else gallery_bank)
    what = (f"recall@1/5/10 over {result.n_matched:,} matched queries" if result.recall is not None
            else "no recall (choose how query i matches a gallery row)")
    st.caption(f"{result.n_queries:,} **{query}** queries against {result.n_gallery:,} **{gallery}** rows; gallery "
               f"N_k at k = {k} (the slider above); {what}.")
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
