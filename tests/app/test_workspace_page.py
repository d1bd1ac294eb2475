"""AppTest: uploads and trained runs survive a new session of the same address (`?ws=`), and the
address restores the view (issue 18 item 3). REPLENS_WORKSPACE points at a temporary folder
(tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from analysis.data import load_run
from tests.app.pages import APP, TIMEOUT, npy_bytes

X = npy_bytes(np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32))
LABELS = ("a\nb\n" * 20).encode()


def _fresh(params: dict[str, str] | None = None, page: str | None = None) -> AppTest:
    """A new browser session: a reload or a return visit to an address holding `params`."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(params or {})
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def _upload(at: AppTest) -> AppTest:
    at.file_uploader(key="upload_main").set_value(("mine.npy", X, "application/octet-stream"))
    at.file_uploader(key="upload_labels").set_value(("y.txt", LABELS, "text/plain"))
    at.button(key="FormSubmitter:upload_form-Load").click()
    return at.run()


def _workspace_root() -> Path:
    return Path(os.environ["REPLENS_WORKSPACE"])


def test_every_session_gets_a_workspace_id_in_the_address() -> None:
    first, second = _fresh(), _fresh()
    ids = first.query_params["ws"], second.query_params["ws"]
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids)
    assert ids[0] != ids[1]
    assert first.query_params["dataset"] == "digits_mlp"  # a sample by its name


def test_an_upload_is_found_by_a_new_session_of_the_same_address() -> None:
    at = _upload(_fresh(page="app_pages/data.py"))
    assert not at.exception and not at.error
    key = at.session_state["view"].source.key
    ws = at.query_params["ws"]
    assert at.query_params["dataset"] == key
    saved = list((_workspace_root() / ws).iterdir())
    assert len(saved) == 1 and (saved[0] / "main.bin").read_bytes() == X
    assert (saved[0] / "labels.bin").read_bytes() == LABELS

    again = _fresh(dict(at.query_params))  # the reload: the same address, a new session
    assert not again.exception and not again.error
    view = again.session_state["view"]
    assert view.source.key == key and view.source.label == "mine.npy"
    assert view.embedding.n_samples == 40 and view.embedding.label_names == ("a", "b")  # parsed again, labels too
    # The Data page lists it, with Remove.
    again.switch_page("app_pages/data.py").run()
    assert any(m.value.startswith("**mine.npy** · embedding · saved") for m in again.markdown)
    # Another workspace (a fresh visit) does not see it.
    stranger = _fresh()
    assert key not in stranger.session_state["uploads"]


def test_remove_deletes_it_from_disk_and_from_the_next_session() -> None:
    at = _upload(_fresh(page="app_pages/data.py"))
    key, ws = at.session_state["view"].source.key, at.query_params["ws"]
    slot = key.replace(":", "_")
    at.button(key=f"ws_remove_{slot}").click().run()
    assert not at.exception
    assert key not in at.session_state["uploads"]
    assert not (_workspace_root() / ws).exists()  # its only item gone, the empty workspace folder too
    again = _fresh({"ws": ws})
    assert key not in again.session_state["uploads"]


def test_a_trained_run_is_saved_as_a_run_file_and_reloaded() -> None:
    at = _fresh(page="app_pages/collapse.py")
    at.number_input(key="lab_epochs").set_value(3)
    at.text_input(key="lab_hidden").set_value("16-12")
    at.button(key="FormSubmitter:lab_form-Train").click().run()
    assert not at.exception
    trained = at.session_state["view"].source
    assert trained.origin == "trained"
    ws = at.query_params["ws"]
    [folder] = list((_workspace_root() / ws).iterdir())
    on_disk = load_run(folder / "run.safetensors")  # a RepLens run file, read by the ordinary loader
    assert on_disk.layers == trained.run.layers and on_disk.steps == trained.run.steps
    np.testing.assert_array_equal(on_disk.activations[(on_disk.layers[-1], on_disk.steps[-1])],
                                  trained.run.activations[(trained.run.layers[-1], trained.run.steps[-1])])

    again = _fresh(dict(at.query_params), page="app_pages/data.py")
    assert not again.exception
    assert again.session_state["view"].source.key == trained.key
    assert again.session_state["view"].source.label == trained.label
    restored = again.session_state["view"].source.run
    assert restored.splits() == trained.run.splits() and restored.splits()  # the metadata sidecar came back
    # Every trained run has a Download button (the run file) and one for its metadata sidecar.
    slot = trained.key.replace(":", "_")
    labels = {b.key: b.label for b in again.get("download_button")}
    assert labels.get(f"ws_download_{slot}") == "Run file"
    assert labels.get(f"ws_download_meta_{slot}") == "Metadata"
    # The next training in the reloaded session is numbered after the kept one, not "lab #1" again.
    assert trained.label.startswith("lab #1 ")
    again.switch_page("app_pages/collapse.py").run()
    again.number_input(key="lab_epochs").set_value(2)
    again.text_input(key="lab_hidden").set_value("8")
    again.button(key="FormSubmitter:lab_form-Train").click().run()
    assert not again.exception
    assert again.session_state["view"].source.label.startswith("lab #2 ")


def test_the_address_restores_the_view() -> None:
    params = {"dataset": "digits_mlp", "layer": "hidden1", "step": "0", "split": "test", "projection": "LDA",
              "colour": "vector norm", "point": "17"}
    at = _fresh(params)
    assert not at.exception, at.exception
    assert not at.warning, [w.value for w in at.warning]
    assert at.selectbox(key="layer").value == "hidden1"
    assert at.session_state["step"] == 0 and at.session_state["split"] == "test"
    assert at.selectbox(key="explore_method").value == "LDA"
    assert at.selectbox(key="explore_colour").value == "vector norm"
    assert at.number_input(key="explore_focus_input").value == 17
    view = at.session_state["view"]
    assert (view.layer, view.step, view.split) == ("hidden1", 0, "test")
    # ...and the address still says so after the run (written back on every run).
    assert {k: at.query_params[k] for k in params} == params


def test_the_page_parameter_opens_that_page() -> None:
    at = _fresh({"page": "hubness", "dataset": "digits_mlp", "layer": "hidden2"})
    assert not at.exception
    assert at.title[0].value == "Hubness"
    assert at.session_state["layer"] == "hidden2"
    assert at.query_params["page"] == "hubness"


def test_values_the_dataset_lacks_are_dropped_with_a_note() -> None:
    at = _fresh({"dataset": "upload:0000", "layer": "no-such-layer", "projection": "Isomap", "point": "999999"})
    assert not at.exception
    text = " ".join(w.value for w in at.warning)
    assert "'upload:0000'" in text and "does not hold" in text
    assert "'Isomap'" in text and "999999" in text
    assert at.session_state["view"].source.origin == "sample"  # the first dataset
    assert at.session_state["layer"] in at.session_state["view"].source.run.layers
    assert at.selectbox(key="explore_method").value == "PCA"


def test_a_malformed_workspace_id_starts_a_new_workspace() -> None:
    at = _fresh({"ws": "../../etc"})
    assert not at.exception
    assert any("not valid" in w.value for w in at.warning)
    assert at.query_params["ws"] != "../../etc" and len(at.query_params["ws"]) == 32
    assert not (_workspace_root().parent / "etc").exists()


def test_an_upload_over_the_cap_stays_for_the_session_and_says_it_is_not_saved(monkeypatch, tmp_path) -> None:
    import ui.workspace

    monkeypatch.setenv("REPLENS_WORKSPACE", str(tmp_path))  # its own root: the cap counts every workspace
    monkeypatch.setenv("REPLENS_WORKSPACE_MAX", "1KB")  # smaller than the upload
    ui.workspace._store.clear()  # the store reads its settings once (cached): read them again
    try:
        at = _upload(_fresh(page="app_pages/data.py"))
        assert not at.exception and not at.error
        assert at.session_state["view"].source.label == "mine.npy"  # loaded for this session
        text = " ".join(w.value for w in at.warning)
        assert "mine.npy is loaded for this session but was not saved" in text
        assert "REPLENS_WORKSPACE_MAX" in text and "a reload will not find it" in text
        assert not (_workspace_root() / at.query_params["ws"]).exists() or not any(
            (_workspace_root() / at.query_params["ws"]).iterdir())
        assert any(m.value.startswith("**mine.npy** · embedding · this session only") for m in at.markdown)
    finally:
        monkeypatch.undo()
        ui.workspace._store.clear()


def test_a_save_past_the_cap_removes_the_least_recently_used_and_says_so(monkeypatch, tmp_path) -> None:
    import ui.workspace

    monkeypatch.setenv("REPLENS_WORKSPACE", str(tmp_path))  # its own root: the cap counts every workspace
    monkeypatch.setenv("REPLENS_WORKSPACE_MAX", "2KB")  # room for one of the two uploads below
    ui.workspace._store.clear()
    try:
        at = _upload(_fresh(page="app_pages/data.py"))
        first = at.session_state["view"].source
        other = npy_bytes(np.random.default_rng(1).normal(size=(40, 5)).astype(np.float32))
        at.file_uploader(key="upload_main").set_value(("other.npy", other, "application/octet-stream"))
        at.file_uploader(key="upload_labels").set_value(("y.txt", LABELS, "text/plain"))
        at.button(key="FormSubmitter:upload_form-Load").click().run()
        assert not at.exception and not at.error
        text = " ".join(i.value for i in at.info)
        assert "least recently used datasets were removed (from your workspace: mine.npy)" in text
        [kept] = list((_workspace_root() / at.query_params["ws"]).iterdir())
        assert (kept / "main.bin").read_bytes() == other
        # Still open in this session, and the list says it is no longer saved.
        assert first.key in at.session_state["uploads"]
        assert any(m.value.startswith("**mine.npy** · embedding · this session only") for m in at.markdown)
    finally:
        monkeypatch.undo()
        ui.workspace._store.clear()


def test_an_unusable_workspace_folder_still_opens_every_page_and_says_why(monkeypatch, tmp_path) -> None:
    import ui.workspace

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("REPLENS_WORKSPACE", str(blocker / "workspaces"))  # cannot be created
    ui.workspace._store.clear()
    try:
        at = _upload(_fresh(page="app_pages/data.py"))
        assert not at.exception and not at.error
        assert at.session_state["view"].source.label == "mine.npy"
        [warning] = [w.value for w in at.warning if "was not saved in your workspace" in w.value]
        assert "Not a directory" in warning and "REPLENS_WORKSPACE" in warning
        assert str(tmp_path) not in warning  # no server path shown to a user
    finally:
        monkeypatch.undo()
        ui.workspace._store.clear()


def test_an_earlier_address_brings_its_view_back_and_an_unchanged_one_keeps_the_widgets() -> None:
    """The browser's Back reruns the app with the earlier address (Streamlit's popstate handler)."""
    at = _fresh({"dataset": "digits_mlp", "layer": "hidden1", "projection": "LDA"})
    earlier = dict(at.query_params)
    at.selectbox(key="layer").set_value("hidden2").run()  # a widget change: the address follows
    assert at.query_params["layer"] == "hidden2" and at.session_state["layer"] == "hidden2"
    at.selectbox(key="explore_method").set_value("PCA").run()
    assert at.query_params["projection"] == "PCA" and at.session_state["layer"] == "hidden2"
    at.query_params.clear()
    at.query_params.update(earlier)  # Back, to the first address
    at.run()
    assert not at.exception
    assert at.session_state["layer"] == "hidden1" and at.selectbox(key="explore_method").value == "LDA"
    assert at.query_params["layer"] == "hidden1"
