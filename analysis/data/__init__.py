"""Data model, safe loaders and writers (DESIGN.md section 2)."""

from analysis.data.limits import UPLOAD_LIMIT_MB, memory_budget_bytes
from analysis.data.loaders import (
    SUPPORTED_FORMATS,
    LoadReport,
    load_embedding,
    load_embedding_report,
    require_classes,
)
from analysis.data.runs import is_run_bytes, is_run_file, load_run, save_run
from analysis.data.schema import ALL_SPLITS, Embedding, Run, encode_labels
from analysis.data.selection import Selection

__all__ = [
    "ALL_SPLITS",
    "Selection",
    "Embedding",
    "Run",
    "encode_labels",
    "load_run",
    "save_run",
    "is_run_file",
    "is_run_bytes",
    "memory_budget_bytes",
    "UPLOAD_LIMIT_MB",
    "load_embedding",
    "load_embedding_report",
    "LoadReport",
    "require_classes",
    "SUPPORTED_FORMATS",
]
