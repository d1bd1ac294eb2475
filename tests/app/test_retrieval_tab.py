"""AppTest: the Hubness page's Retrieval tab on the sample (splits as queries and gallery) and its teaching demo."""

from __future__ import annotations

import numpy as np

from analysis.metrics.hubness import hubness_between
from analysis.panels.retrieval import retrieval_demo
from tests.app.pages import open_page
from ui.retrieval import demo_sentence

PAGE = "app_pages/hubness.py"


def _retrieval_table(at):
    return next(df.value for df in at.dataframe if "queries re-normalised" in df.value.columns)


def test_retrieval_tab_compares_methods_pairs_splits_and_runs_the_demo() -> None:
    at = open_page(PAGE)
    assert not at.exception, at.exception
    table = _retrieval_table(at)
    assert len(table) == 5 and "recall@1" not in table.columns  # the sample's splits have no pairing by default
    emb = at.session_state["view"].embedding
    X = np.asarray(emb.X)
    expected = hubness_between(X[emb.rows("test")], X[emb.rows("train")], k=10, metric="cosine")
    assert abs(table["skewness of N_k"].iloc[0] - expected.skewness) < 1e-9
    assert any("450 **test** queries against 1,347 **train** rows" in c.value for c in at.caption)

    at.selectbox(key="ret_pairing").set_value("row order").run()
    assert not at.exception, at.exception
    assert {"recall@1", "recall@5", "recall@10"} <= set(_retrieval_table(at).columns)

    at.toggle(key="ret_demo").set_value(True).run()
    assert not at.exception, at.exception
    sentence = demo_sentence(retrieval_demo())
    assert any(m.value == sentence for m in at.markdown)
    at.selectbox(key="ret_demo_hist_after").set_value("csls").run()
    assert not at.exception, at.exception


def test_an_uploaded_gallery_pairs_by_id_with_the_librarys_recall_and_refuses_other_widths() -> None:
    """Captions (the sidebar's upload) retrieve images (a second upload, shuffled, an "item" id in both)."""
    import polars as pl

    from analysis.data import Embedding
    from analysis.metrics.retrieval import METHOD_NAMES, rerank_retrieval, retrieval_recall
    from ui.state import Source

    rng = np.random.default_rng(0)
    captions = rng.standard_normal((80, 16)).astype(np.float32)
    order = rng.permutation(80)  # image row j shows item order[j]
    images = (captions[order] + 0.9 * rng.standard_normal((80, 16))).astype(np.float32)
    uploads = {
        "upload:captions": Source(key="upload:captions", label="captions", origin="upload", embedding=Embedding(
            X=captions, metadata=pl.DataFrame({"item": [f"i{j}" for j in range(80)]}), name="captions")),
        "upload:images": Source(key="upload:images", label="images", origin="upload", embedding=Embedding(
            X=images, metadata=pl.DataFrame({"item": [f"i{j}" for j in order]}), name="images")),
        "upload:wide": Source(key="upload:wide", label="wide vectors", origin="upload",
                              embedding=Embedding(X=rng.standard_normal((80, 24)).astype(np.float32))),
    }
    at = open_page(PAGE, uploads=uploads, source_key="upload:captions")
    assert not at.exception, at.exception
    assert any("another dataset" in i.value for i in at.info)  # the captions have no splits: the default says so
    at.selectbox(key="ret_gallery_from").set_value("upload:images").run()
    at.selectbox(key="ret_x_pairing").set_value("item").run()
    assert not at.exception, at.exception
    table = _retrieval_table(at).set_index("method")

    def unit(X):
        return X / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)

    S = unit(captions) @ unit(images).T
    truth = np.argsort(order)  # caption i's image is the row showing item i
    for method in ("none", "inverted_softmax"):  # the queries as their own bank: no panel-built bank needed
        expected = retrieval_recall(rerank_retrieval(S, method=method, k=10).indices, truth).as_dict()
        shown = table.loc[METHOD_NAMES[method]]
        for column, value in expected.items():
            assert abs(shown[column] - value) < 1e-12, (method, column, shown[column], value)
    assert any("80 queries" in c.value and "of images" in c.value for c in at.caption)

    at.selectbox(key="ret_gallery_from").set_value("upload:wide").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any("16 features" in e and "24" in e and "shared space" in e for e in errors), errors
    assert at.toggle(key="ret_demo") is not None  # the teaching demo stays below the message
