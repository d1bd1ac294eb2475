"""AppTest: the Sphere & spectrum page's "Remedies: whitening" tab on the sample and on an embedding with counts."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data import Embedding
from analysis.metrics import zipfian_whitening
from analysis.metrics.whitening import compare_whitening
from tests.app.pages import open_page
from ui.geometry import REMEDIES_TAB, TABS_KEY
from ui.state import Source

PAGE = "app_pages/geometry.py"


def _remedies_table(at):
    return next(df.value for df in at.dataframe if "IsoScore" in df.value.columns)


def test_the_sample_gets_a_before_after_table_and_a_try_this() -> None:
    at = open_page(PAGE)
    assert not at.exception, at.exception
    # Closed, the tab measures nothing (no table, no try-this); opened, it does.
    assert not any("IsoScore" in df.value.columns for df in at.dataframe)
    at.session_state[TABS_KEY] = REMEDIES_TAB
    at.run()
    assert not at.exception, at.exception
    view = at.session_state["view"]
    table = _remedies_table(at)
    assert list(table[""]) == ["original", "ZCA whitening", "all-but-the-top (D = 1)"]  # d = 32: D = 32/100 -> 1
    # The original row reuses the Geometry tab's numbers and the shared graph: it equals a fresh measurement.
    fresh = compare_whitening(view.embedding.X, view.embedding.labels, methods=("none", "zca", "abtt"))
    for shown, expected in zip(table.to_dict("records"), fresh.table.to_dicts(), strict=True):
        assert shown["IsoScore"] == pytest.approx(expected["iso_score"], abs=1e-4)
        assert shown["uniformity"] == pytest.approx(expected["uniformity"], abs=1e-4)
        assert shown["kNN accuracy (k = 10, cosine)"] == pytest.approx(expected["knn_accuracy"], abs=1e-4)
        assert shown["effective rank"] == pytest.approx(expected["effective_rank"], abs=1e-4)
    assert table["IsoScore"].iloc[1] == pytest.approx(1.0)  # whitened: every direction has unit variance
    assert any(m.value.startswith("**Try this:**") and "kNN accuracy" in m.value for m in at.markdown)
    # The sample has no count column: the frequency choice is off and Zipfian says it is PCA whitening.
    assert at.selectbox(key="geo_whiten_freq").disabled
    assert at.selectbox(key="geo_whiten_fit").options == ["every row shown", "'test' rows only", "'train' rows only"]
    at.multiselect(key="geo_whiten_methods").select("zipfian").run()
    assert not at.exception, at.exception
    assert any("plain PCA whitening" in c.value for c in at.caption)


def test_zipfian_whitening_weights_by_a_count_column() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    X = (3.0 * rng.normal(size=(3, 8))[labels] + rng.normal(size=(120, 8)) * np.linspace(2, 0.1, 8)).astype(np.float32)
    counts = np.floor(1000.0 / np.arange(1, 121)).astype(np.int64)  # Zipf's law
    embedding = Embedding(X=X, labels=labels, metadata=pl.DataFrame({"id": np.arange(120), "count": counts}))
    source = Source(key="test:zipf", label="zipf words", origin="upload", embedding=embedding)
    at = open_page(PAGE, uploads={source.key: source}, source_key=source.key, **{TABS_KEY: REMEDIES_TAB})
    assert not at.exception, at.exception
    assert at.selectbox(key="geo_whiten_freq").options == ["none: equal weights", "count"]  # not the id column
    at.multiselect(key="geo_whiten_methods").set_value(["zipfian"]).run()
    at.selectbox(key="geo_whiten_freq").set_value("count").run()
    assert not at.exception, at.exception
    row = _remedies_table(at).iloc[1]
    assert row[""] == "Zipfian whitening"
    Z = zipfian_whitening(X, counts).transformed
    U = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    assert row["mean cosine"] == pytest.approx((np.sum(U.sum(axis=0) ** 2) - 120) / (120 * 119), abs=1e-4)
    assert any("'count'" in c.value for c in at.caption)
    # The Formulas tab gives each remedy's formula.
    assert {"**PCA whitening**", "**ZCA whitening**", "**All-but-the-top**", "**Zipfian whitening**"} <= {
        m.value.split(" — ")[0] for m in at.markdown}
