"""AppTest: the Data page's "Capture from a model" section turns a tiny BERT over a labelled CSV into
the selected run, kept in the workspace, and every page works on it."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from tests.app.pages import open_page  # noqa: E402
from tests.tiny_models import sentences, tiny_bert  # noqa: E402

# Every page that reads the selected dataset (Superposition and Information have their own data).
PAGES = ["app_pages/explore.py", "app_pages/report.py", "app_pages/hubness.py", "app_pages/geometry.py",
         "app_pages/collapse.py", "app_pages/codebook.py", "app_pages/compare.py", "app_pages/data.py"]


def _send(at, models: str, inputs: str, label_column: str = "topic"):
    at.text_area(key="capture_models").set_value(models)
    at.text_input(key="capture_inputs_path").set_value(inputs)
    at.text_input(key="capture_label_column").set_value(label_column)
    at.button(key="FormSubmitter:capture_form-Capture").click()
    return at.run()


def test_capture_selects_the_run_and_every_page_works_on_it(tmp_path: Path) -> None:
    bert = tiny_bert(tmp_path / "bert")
    table = tmp_path / "reviews.csv"
    n = 60
    pl.DataFrame({"text": sentences(n, seed=5), "topic": ["pets", "food", "sky"] * (n // 3)}).write_csv(table)

    at = open_page("app_pages/data.py")
    at = _send(at, "", str(table))
    assert any("at least one model folder" in w.value for w in at.warning)

    at = _send(at, str(bert), str(table))
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    source = at.session_state["view"].source
    assert source.label == "bert on reviews.csv (captured)"
    assert source.run.layers == ("embeddings", "layer_1", "layer_2")
    assert any(s.value.startswith("Captured and selected") for s in at.success)
    assert {m.label: m.value for m in at.metric}["samples (n)"] == "60"
    assert [o.split()[0] for o in at.sidebar.selectbox(key="layer").options] == list(source.run.layers)
    ws = at.query_params["ws"]
    assert any((Path(os.environ["REPLENS_WORKSPACE"]) / ws).iterdir())  # kept like a trained run

    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])


def test_a_stopped_capture_is_said_and_a_refused_model_folder_is_one_error(tmp_path: Path) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "pytorch_model.bin").write_bytes(b"x")
    texts = tmp_path / "t.txt"
    texts.write_text("the cat\n")
    # A capture still marked running when the page runs again was ended by Stop (a rerun): say so once.
    at = open_page("app_pages/data.py", capture_running=True)
    assert [w.value for w in at.warning] == ["The capture was stopped; nothing was kept."]
    before = at.session_state["view"].source.key
    at = _send(at, str(folder), str(texts), "")
    assert not at.warning
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "safe_serialization=True" in at.error[0].value
    assert at.session_state["view"].source.key == before
