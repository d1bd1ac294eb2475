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
