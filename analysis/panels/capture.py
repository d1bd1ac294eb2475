"""The Data page's "Capture from a model": model folders + inputs -> a loaded `Run` (no Streamlit here).

The run is written to a temporary folder by `analysis.capture_run.capture_run` (streamed layer by
layer) and read back with `load_run`: its arrays stay memory-mapped after the folder is removed (on
POSIX a mapped file lives until it is unmapped), so the page holds no second copy.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from analysis.capture_run import POOLINGS, CaptureCancelled, StopFn, capture_run, default_threads
from analysis.data import Run, load_run
from analysis.validation import ProgressFn

__all__ = ["POOLINGS", "CaptureCancelled", "capture_panel", "default_threads"]


def capture_panel(model_dirs: Sequence[str | os.PathLike], *, inputs: str | os.PathLike | None = None,
                  upload_name: str | None = None, upload_bytes: bytes | None = None,
                  pooling: str | None = None, batch_size: int = 32, max_length: int = 128,
                  text_column: str = "text", label_column: str | None = None, threads: int | None = None,
                  progress: ProgressFn | None = None, should_stop: StopFn | None = None) -> Run:
    """Capture every layer of `model_dirs` over `inputs` (a server path) or an uploaded file.

    Parameters
    ----------
    model_dirs : sequence of path-like
        Model folders on the server (several: checkpoints, the run's steps).
    inputs : path-like or None
        A .txt / .csv / .parquet file or a folder of images on the server.
    upload_name, upload_bytes : str and bytes, or None
        An uploaded .txt / .csv / .parquet instead of `inputs` (its name picks the reader).
    pooling, batch_size, max_length, text_column, label_column, threads, progress, should_stop
        As in `analysis.capture_run.capture_run`.

    Returns
    -------
    Run
        Memory-mapped activations, labels and metadata.
    """
    with tempfile.TemporaryDirectory(prefix="replens-capture-") as tmp:
        if upload_bytes is not None:
            source = Path(tmp) / Path(upload_name or "inputs.txt").name
            source.write_bytes(upload_bytes)
        elif inputs is not None and str(inputs).strip():
            source = Path(str(inputs).strip()).expanduser()
        else:
            raise ValueError("Upload the inputs or give their path on the server.")
        out = capture_run(model_dirs, source, Path(tmp) / "capture.safetensors", pooling=pooling,
                          batch_size=batch_size, max_length=max_length, text_column=text_column,
                          label_column=label_column, threads=threads, progress=progress,
                          should_stop=should_stop)
        return load_run(out)
