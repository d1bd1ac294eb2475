"""Benchmark neural collapse (`analysis.metrics.neural_collapse` and the Run table).

Run:  python -m tests.bench.bench_collapse [--quick]

Rows:

* ``in memory``: ``neural_collapse`` on a float32 Gaussian mixture of
  n = 100,000 rows, d = 512, C = 100, with a (C, d) classifier (so NC3 and NC4
  are computed too). Best of ``repeats`` runs. Target < 3 s.
* ``memory-mapped``: the same on n = 1,000,000 x 512 float32 read from a
  ``.npy`` memory map (written to a temporary folder first, not timed). Run
  once, with two memory measures taken during the call: the peak of numpy's
  own allocations (tracemalloc; numpy reports its buffers to it, a memory map's
  pages are not allocations) and the peak growth of the process's anonymous
  resident memory (``RssAnon`` of /proc/self/status, sampled every 20 ms;
  file-backed pages of the map do not count). Both are also shown as a
  fraction of the array's size. Target (full size only): neither reaches
  0.25 of the array, i.e. the features are never loaded whole, let alone
  twice (the chunks are about 64 MiB, so a small array would not show this).
* ``digits table``: ``neural_collapse_table`` of the shipped
  ``sample_data/digits_mlp.safetensors`` (3 layers x 10 checkpoints) for the
  train split and then the test split; loading is not timed. Target: both
  tables together < 2 s.

``--quick`` shrinks the two synthetic sizes (20,000 and 200,000 rows).

Everything is accumulated in float64: one call costs about ``n d^2`` flops
(Sigma_W, via syrk) plus ``2 n d (2C + C - 1)`` (second pass: nearest mean,
classifier scores, whitened residuals), 57 GFLOP at the in-memory size. The
report prints this machine's float64 matmul throughput for comparison, and
the load average (other busy processes slow every row).
This file is a script, not a pytest module (no ``test_`` prefix).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    # Allow `python tests/bench/bench_collapse.py` from a checkout without install.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.data import load_run  # noqa: E402
from analysis.metrics import neural_collapse  # noqa: E402
from analysis.metrics.collapse_table import neural_collapse_table  # noqa: E402
from tests.bench.common import script_main  # noqa: E402

D, C = 512, 100
IN_MEMORY_N, MAPPED_N = 100_000, 1_000_000
QUICK_IN_MEMORY_N, QUICK_MAPPED_N = 20_000, 200_000
TARGET_IN_MEMORY_S = 3.0
TARGET_TABLE_S = 2.0
TARGET_MAPPED_FRACTION = 0.25
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "digits_mlp.safetensors"


def float64_gflops(repeats: int = 3, shape: tuple[int, int, int] = (2048, 512, 2048)) -> float:
    """Median float64 matmul throughput of this machine right now, GFLOP/s."""
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2.0 * m * k * n / float(np.median(times)) / 1e9


def call_gflop(n: int, d: int = D, n_classes: int = C) -> float:
    """Flops of one `neural_collapse` call with a classifier (see module docstring), in GFLOP."""
    return (n * d * d + 2.0 * n * d * (3 * n_classes - 1)) / 1e9


def _mixture_rows(rng: np.random.Generator, centres: np.ndarray, labels: np.ndarray) -> np.ndarray:
    X = rng.standard_normal((labels.size, centres.shape[1]), dtype=np.float32)
    X += centres[labels]
    return X


def _problem(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=0.5, size=(C, D)).astype(np.float32)
    labels = rng.integers(0, C, size=n)
    labels[:C] = np.arange(C)  # every class present
    W = rng.normal(size=(C, D))
    return centres, labels, W, rng.normal(size=C)


def _rss_anon_bytes() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class _RssSampler:
    """Peak of RssAnon above its value at start, sampled in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.start_bytes = _rss_anon_bytes()
        self.peak_bytes = self.start_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = _rss_anon_bytes()
            if now is not None and self.peak_bytes is not None:
                self.peak_bytes = max(self.peak_bytes, now)
            self._stop.wait(self.interval)

    def __enter__(self) -> _RssSampler:
        if self.start_bytes is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def growth(self) -> int | None:
        if self.start_bytes is None or self.peak_bytes is None:
            return None
        return self.peak_bytes - self.start_bytes


def bench_in_memory(n: int, repeats: int) -> dict:
    centres, labels, W, b = _problem(n)
    X = _mixture_rows(np.random.default_rng(1), centres, labels)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = neural_collapse(X, labels, classifier=W, bias=b)
        best = min(best, time.perf_counter() - start)
    return {
        "case": f"in memory {n:,}x{D} C={C}",
        "seconds": best,
        "memory": f"{call_gflop(n) / best:.1f} GFLOP/s",
        "target": f"< {TARGET_IN_MEMORY_S:.0f} s" if n == IN_MEMORY_N else "- (quick size)",
        "ok": best < TARGET_IN_MEMORY_S if n == IN_MEMORY_N else None,
        "nc1": result.nc1,
    }


def bench_memory_mapped(n: int) -> dict:
    centres, labels, W, b = _problem(n, seed=2)
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "features.npy"
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, D))
        for start in range(0, n, 100_000):
            part = slice(start, min(start + 100_000, n))
            out[part] = _mixture_rows(rng, centres, labels[part])
        out.flush()
        del out
        X = np.load(path, mmap_mode="r")
        nbytes = X.nbytes
        tracemalloc.start()
        with _RssSampler() as rss:
            start = time.perf_counter()
            result = neural_collapse(X, labels, classifier=W, bias=b)
            seconds = time.perf_counter() - start
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del X
    fractions = [traced_peak / nbytes]
    memory = f"alloc peak {traced_peak / 2**20:,.0f} MiB ({fractions[0]:.2f}x)"
    if rss.growth is not None:
        fractions.append(rss.growth / nbytes)
        memory += f", RssAnon +{rss.growth / 2**20:,.0f} MiB ({fractions[1]:.2f}x)"
    memory += f" of {nbytes / 2**20:,.0f} MiB; {call_gflop(n) / seconds:.1f} GFLOP/s"
    full = n == MAPPED_N
    return {
        "case": f"memory-mapped {n:,}x{D} C={C}",
        "seconds": seconds,
        "memory": memory,
        "target": f"memory < {TARGET_MAPPED_FRACTION}x array" if full else "- (quick size)",
        "ok": max(fractions) < TARGET_MAPPED_FRACTION if full else None,
        "nc1": result.nc1,
    }


def bench_digits_table() -> dict:
    run = load_run(SAMPLE)
    seconds = {}
    for split in ("train", "test"):
        start = time.perf_counter()
        table = neural_collapse_table(run, split=split)
        seconds[split] = time.perf_counter() - start
    total = sum(seconds.values())
    return {
        "case": f"digits table ({table.height} rows) x 2 splits",
        "seconds": total,
        "memory": f"train {seconds['train']:.3f} s, test {seconds['test']:.3f} s",
        "target": f"< {TARGET_TABLE_S:.0f} s (both)",
        "ok": total < TARGET_TABLE_S,
        "nc1": None,
    }


def run(quick: bool = False, *, repeats: int | None = None) -> list[dict]:
    """Time the three cases; one dict per row.

    Keys: ``case, seconds, memory, target, ok`` (``ok`` None where no target
    applies), ``nc1`` (a sanity value).
    """
    repeats = repeats if repeats is not None else (1 if quick else 2)
    return [
        bench_in_memory(QUICK_IN_MEMORY_N if quick else IN_MEMORY_N, repeats),
        bench_memory_mapped(QUICK_MAPPED_N if quick else MAPPED_N),
        bench_digits_table(),
    ]


def format_table(rows: list[dict]) -> str:
    header = f"{'case':<38} {'seconds':>8}  {'target':<28} {'result':<6} memory / detail"
    lines = [header, "-" * len(header)]
    for r in rows:
        status = "-" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL")
        lines.append(f"{r['case']:<38} {r['seconds']:>8.3f}  {r['target']:<28} {status:<6} {r['memory']}")
    return "\n".join(lines)


def report(quick: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench`; return its rows."""
    print("\n== neural collapse (analysis.metrics.neural_collapse) ==", flush=True)
    print(f"float64 matmul (numpy, median of 3): {float64_gflops():.1f} GFLOP/s; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    rows = run(quick=quick)
    print(format_table(rows), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.split("\n")[0], "small synthetic sizes", argv)


if __name__ == "__main__":
    raise SystemExit(main())
