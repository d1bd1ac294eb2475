"""Capture throughput (issue 20): examples per second of `capture_run` for the tiny BERT at sequence
length 128, against the model's plain forward pass with ``output_hidden_states`` in the same process.

Both sides load the folder, tokenize the same texts in the same batches and run under
``torch.inference_mode()`` on the same thread count; capture also pools every layer, writes the
run file and its metadata. Each side runs `REPEATS` times, alternating; the medians are compared.
Target: capture overhead under 10 %.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

REPEATS = 5
TARGET_OVERHEAD = 0.10


def _texts(n: int) -> list[str]:
    from tests.tiny_models import WORDS

    # 140 words each: every text is truncated to exactly 128 tokens.
    return [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(140)) for i in range(n)]


def _plain(folder: Path, texts: list[str], batch_size: int) -> float:
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # capture_run loads quietly too
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval()
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=128,
                              return_tensors="pt")
            model(**batch, output_hidden_states=True)
    return time.perf_counter() - start


def run(quick: bool = False) -> list[dict]:
    import torch

    from analysis.capture_run import capture_run
    from analysis.models._threads import torch_threads
    from tests.tiny_models import tiny_bert

    n, batch_size = (128, 32) if quick else (512, 32)
    texts = _texts(n)
    threads = 1  # the trainers' setting; more threads on a shared 2-core machine measure the load
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = tiny_bert(root / "bert")
        inputs = root / "texts.txt"
        inputs.write_text("\n".join(texts) + "\n", encoding="utf-8")
        plain, captured = [], []
        with torch_threads(threads):
            _plain(folder, texts[:batch_size], batch_size)  # warm-up: imports, first-call allocations
            for repeat in range(REPEATS):
                plain.append(_plain(folder, texts, batch_size))
                start = time.perf_counter()
                capture_run([folder], inputs, root / f"run{repeat}.safetensors", batch_size=batch_size,
                            max_length=128, threads=threads)
                captured.append(time.perf_counter() - start)
        size = (root / "run0.safetensors").stat().st_size
    t_plain, t_capture = statistics.median(plain), statistics.median(captured)
    overhead = t_capture / t_plain - 1.0
    return [dict(case=f"tiny BERT (2 layers, d=32), {n} x 128 tokens, batch {batch_size}, {threads} thread(s)",
                 plain_eps=n / t_plain, capture_eps=n / t_capture, overhead=overhead, run_mb=size / 1e6,
                 best_overhead=min(captured) / min(plain) - 1.0,
                 torch=torch.__version__, ok=overhead < TARGET_OVERHEAD)]


def report(quick: bool = False) -> None:
    print("\n== capture from a model (replens capture) ==", flush=True)
    print(f"{'case':<70} {'forward ex/s':>12} {'capture ex/s':>12} {'overhead':>9} {'(fastest)':>9}  "
          "target  result")
    for r in run(quick=quick):
        print(f"{r['case']:<70} {r['plain_eps']:12.0f} {r['capture_eps']:12.0f} {r['overhead']:9.1%} "
              f"{r['best_overhead']:9.1%}  < {TARGET_OVERHEAD:.0%}   {'PASS' if r['ok'] else 'FAIL'}", flush=True)


if __name__ == "__main__":
    import sys

    report(quick="--quick" in sys.argv)
