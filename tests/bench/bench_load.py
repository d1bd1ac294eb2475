"""How many copies loading a large .npy makes (target: at most one).

Copies are counted as peak traced allocation / array size (numpy reports its
buffers to tracemalloc); a memory-mapped load allocates no array buffer at all.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from analysis.data import load_embedding


def _measure(source, name: str | None, nbytes: int) -> tuple[float, float, bool]:
    tracemalloc.start()
    start = time.perf_counter()
    emb = load_embedding(source, name=name) if name else load_embedding(source)
    float(emb.X[::1000].sum())  # touch it
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mapped = not emb.X.flags.owndata
    return seconds, peak / nbytes, mapped


def run(quick: bool = False) -> list[dict]:
    n, d = (20_000, 256) if quick else (100_000, 768)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.npy"
        X = np.random.default_rng(0).standard_normal((n, d), dtype=np.float32)
        np.save(path, X)
        nbytes = X.nbytes
        del X
        seconds, copies, mapped = _measure(path, None, nbytes)
        rows.append(dict(case=f".npy path {n}x{d} float32", seconds=seconds, copies=copies,
                         memory_mapped=mapped, target="<= 1 copy", ok=copies <= 1.05))
        data = path.read_bytes()
        seconds, copies, mapped = _measure(data, "big.npy", nbytes)
        rows.append(dict(case=f".npy upload bytes {n}x{d}", seconds=seconds, copies=copies,
                         memory_mapped=mapped, target="<= 1 copy beyond the upload", ok=copies <= 1.05))
    return rows


def main() -> None:
    print(f"{'case':<34} {'seconds':>8} {'copies':>7} {'no copy':>7}  {'target':<28} result")
    for r in run():
        print(f"{r['case']:<34} {r['seconds']:8.3f} {r['copies']:7.2f} {str(r['memory_mapped']):>7}  "
              f"{r['target']:<28} {'PASS' if r['ok'] else 'FAIL'}")


if __name__ == "__main__":
    main()
