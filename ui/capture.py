"""The Data page's "Capture from a model" section: a local model folder over the user's texts or images.

The form names model folder(s) on the server (several: checkpoints, which become the run's steps)
and the inputs (an uploaded .txt / .csv / .parquet, or a path on the server: a file or a folder of
images). Capture runs in the script thread in one of the server's training slots with a progress
bar (`analysis.capture_run`). The Stop button beside it (or Streamlit's own, top right) ends it: a
click reruns the page, which interrupts the capture at its next progress update; its temporary
files are removed and the page says that nothing was kept. A finished run joins the session's
datasets like a trained run (saved in the workspace) and becomes the sidebar's choice.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from analysis.panels.capture import capture_panel
from ui.errors import USER_ERRORS, show_error
from ui.state import Source, add_upload, bytes_key
from ui.training_slots import training_slot
from ui.widgets import progress_bar

_RUNNING = "capture_running"  # set while a capture runs; still set on the next run = it was stopped
_DONE = "capture_done"
POOLINGS = {"default": "Default (text: mean; ViT: CLS; CNN: average pool)", "mean": "Mean over real tokens",
            "cls": "First token (CLS)", "last": "Last real token"}


def _folders(text: str) -> list[Path]:
    return [Path(line.strip()).expanduser() for line in text.splitlines() if line.strip()]


def _stat_key(path: Path) -> str:
    """A model folder's or input path's identity: the path and its weights' size and time."""
    target = path / "model.safetensors" if (path / "model.safetensors").is_file() else path
    try:
        stat = target.stat()
    except OSError:
        return str(path)
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _options() -> dict[str, object]:
    s = st.session_state
    return {"pooling": None if s["capture_pooling"] == "default" else s["capture_pooling"],
            "batch_size": int(s["capture_batch_size"]), "max_length": int(s["capture_max_length"]),
            "text_column": s["capture_text_column"].strip() or "text",
            "label_column": s["capture_label_column"].strip() or None}


def _capture(models: list[Path], inputs_path: str, upload) -> None:
    options = _options()
    if upload is not None:
        inputs_id: bytes | str = upload.getvalue()
        name = upload.name
    else:
        inputs_id = _stat_key(Path(inputs_path.strip()).expanduser())
        name = Path(inputs_path.strip()).name
    key = bytes_key("captured", *(_stat_key(m) for m in models), inputs_id, name, repr(sorted(options.items())))
    st.session_state[_RUNNING] = True  # still set on the next run: the Stop button (a rerun) ended it
    try:
        with training_slot(rerun=False):
            st.button("Stop", key="capture_stop", icon=":material/stop_circle:",
                      help="Ends the capture; nothing is kept.")
            _, progress = progress_bar("Loading the model…")
            run = capture_panel(models, inputs=None if upload is not None else inputs_path,
                                upload_name=None if upload is None else upload.name,
                                upload_bytes=None if upload is None else upload.getvalue(),
                                progress=progress, **options)
    except USER_ERRORS as exc:
        st.session_state.pop(_RUNNING, None)
        show_error(exc, "Capture failed", kept="The data loaded before is still active.")
        return
    st.session_state.pop(_RUNNING, None)
    add_upload(Source(key=key, label=f"{run.name} (captured)", origin="trained", run=run))
    st.session_state[_DONE] = f"{run.name}: {run.task}"
    st.rerun()


def section() -> None:
    """The expander with the form; a capture runs below it when the form is sent."""
    if st.session_state.pop(_RUNNING, None):
        st.warning("The capture was stopped; nothing was kept.", icon=":material/stop_circle:")
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(f"Captured and selected in the sidebar — {done}")
    with st.expander("Capture from a model", expanded=False), st.form("capture_form"):
        st.caption("Every layer of a local Hugging Face transformers model (a folder written by save_pretrained) "
                   "or a timm model (config.json + model.safetensors), run over your texts or images. Weights "
                   "are read only from model.safetensors; no code from the folder runs and nothing is downloaded.")
        st.text_area("Model folder(s) on the server, one per line (several checkpoints become the run's steps)",
                     key="capture_models", height=80, placeholder="/models/my-bert")
        cols = st.columns(2)
        upload = cols[0].file_uploader("Inputs: .txt (one example per line), .csv or .parquet with a text column",
                                       type=["txt", "csv", "parquet"], key="capture_upload")
        cols[1].text_input("…or a path on the server: such a file, or a folder of images (labels: sub-folders)",
                           key="capture_inputs_path")
        opts = st.columns(5)
        opts[0].selectbox("Pooling", list(POOLINGS), format_func=POOLINGS.get, key="capture_pooling",
                          help="How a layer's tokens become one vector per example.")
        opts[1].text_input("Text column", value="text", key="capture_text_column")
        opts[2].text_input("Label column (optional)", key="capture_label_column")
        opts[3].number_input("Batch size", min_value=1, max_value=1024, value=32, key="capture_batch_size")
        opts[4].number_input("Max tokens", min_value=1, max_value=8192, value=128, key="capture_max_length")
        submitted = st.form_submit_button("Capture", type="primary", icon=":material/memory:")
    if not submitted:
        return
    models = _folders(st.session_state["capture_models"])
    if not models:
        st.warning("Name at least one model folder on the server.")
    elif upload is None and not st.session_state["capture_inputs_path"].strip():
        st.warning("Upload the inputs or give their path on the server.")
    else:
        _capture(models, st.session_state["capture_inputs_path"], upload)
