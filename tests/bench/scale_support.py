"""What `bench_scale` measures with: its data, its memory readings and its fresh processes.

* Data: `lowid` (20 labelled classes, each a 16-dimensional Gaussian mapped
  linearly into d dimensions plus small isotropic noise: the intrinsic
  dimension of real activations is ~10-40) written once per size to a
  ``.npy`` (and its labels) that every measurement memory-maps or reads.
* Memory: Linux keeps a process's peak resident set (``VmHWM`` in
  ``/proc/self/status``, what ``getrusage`` reports as ``ru_maxrss``) and
  lets the process reset it (writing ``5`` to ``/proc/self/clear_refs``,
  Linux >= 4.0). `timed` resets it after the setup (imports, opening the
  data), reads the resident set then (the base), runs the step and reads the
  peak: "peak RSS" is the process's peak during the step, base included;
  "extra" is peak minus base, what the step itself added. Pages of a
  memory-mapped file count in RSS once read (they are page cache, shared
  and reclaimable, but ``ru_maxrss`` counts them too).
* Isolation: `run_isolated` runs each measurement in a fresh spawned
  process, so no step inherits another's heap, caches or compiled code.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

GIB = float(1 << 30)
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


# ---------------------------------------------------------------------------------------------------- data
def lowid(n: int, d: int = 256, classes: int = 20, latent: int = 16, noise: float = 0.05,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 (n, d), labels int64 (n,)): per class, a `latent`-dim Gaussian mapped linearly into d dims.

    Class c: ``x = z A_c + m_c + noise * e`` with ``z ~ N(0, I_latent)``,
    ``A_c ~ N(0, 1/latent)`` of shape (latent, d), ``m_c ~ N(0, 0.25 I_d)``,
    ``e ~ N(0, I_d)``. (Copied from /work/briefs/lowid_generator.py, the
    data issue 17's scale numbers were taken on.)
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    means = rng.standard_normal((classes, d), dtype=np.float32) * 0.5
    maps = rng.standard_normal((classes, latent, d), dtype=np.float32) / np.sqrt(latent)
    X = np.empty((n, d), np.float32)
    for c in range(classes):
        rows = np.flatnonzero(labels == c)
        Z = rng.standard_normal((rows.size, latent), dtype=np.float32)
        X[rows] = Z @ maps[c] + means[c]
    X += noise * rng.standard_normal((n, d), dtype=np.float32)
    return X, labels


def blobs(n: int, d: int = 256, classes: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters (unit noise around centres ~ N(0, 9 I)): an inverted file's worst case."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((classes, d), dtype=np.float32)
    labels = rng.integers(classes, size=n)
    X = rng.standard_normal((n, d), dtype=np.float32)
    X += centres[labels]
    return X, labels


def write_dataset(folder: Path, n: int, d: int, kind: str = "lowid") -> dict[str, Any]:
    """Generate one data set and save it as ``X_<kind>_<n>_<d>.npy`` + labels; returns the job's paths."""
    X, labels = (lowid if kind == "lowid" else blobs)(n, d)
    x_path = folder / f"X_{kind}_{n}_{d}.npy"
    y_path = folder / f"y_{kind}_{n}_{d}.npy"
    np.save(x_path, X)
    np.save(y_path, labels)
    return {"x": str(x_path), "y": str(y_path), "n": n, "d": d, "kind": kind, "folder": str(folder)}


def graph_path(job: dict[str, Any], exact: bool) -> Path:
    """Where a kNN measurement leaves its graph for the hubness rows of the same data."""
    return Path(job["folder"]) / f"graph_{job['kind']}_{job['n']}_{job['d']}_{'exact' if exact else 'approx'}.npz"


# -------------------------------------------------------------------------------------------------- memory
def _status_kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in {_STATUS}: peak memory needs Linux.")


def reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS; False where the kernel refuses."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def timed(step: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run `step` once: its result and ``{"seconds", "peak_gib", "extra_gib", "base_gib"}`` (see module doc)."""
    gc.collect()
    exact_peak = reset_peak()
    base = _status_kib("VmRSS")
    started = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - started
    peak = _status_kib("VmHWM")
    stats = {"seconds": seconds, "peak_gib": peak * 1024 / GIB, "base_gib": base * 1024 / GIB,
             "extra_gib": max(0, peak - base) * 1024 / GIB if exact_peak else float("nan")}
    return result, stats


# ------------------------------------------------------------------------------------------------ processes
def _call_in_child(module: str, name: str, job: dict[str, Any]) -> dict[str, Any]:
    import importlib

    # One BLAS/OpenMP pool per process, as a user's would be: no oversubscription from the parent.
    return getattr(importlib.import_module(module), name)(job)


def run_isolated(fn: Callable[[dict[str, Any]], dict[str, Any]], job: dict[str, Any], *,
                 timeout: float | None = None, isolate: bool = True) -> dict[str, Any]:
    """``fn(job)`` in a fresh spawned process (or here with ``isolate=False``), as a dict.

    A step that raises or outlives `timeout` seconds gives ``{"error": ...}``
    instead, so one failing row never stops the table.
    """
    if not isolate:
        try:
            return fn(job)
        except Exception as exc:  # noqa: BLE001 - the table says what failed
            return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(1)
    finished = False
    try:
        pending = pool.apply_async(_call_in_child, (fn.__module__, fn.__name__, job))
        out = pending.get(timeout)
        finished = True
        return out
    except multiprocessing.TimeoutError:
        return {"error": f"stopped after {timeout:.0f} s"}
    except Exception as exc:  # noqa: BLE001 - the table says what failed
        finished = True
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    finally:
        # A finished child exits by itself (its joblib/loky workers clean up); only a stuck one is killed.
        if finished:
            pool.close()
        else:
            pool.terminate()
        pool.join()


def machine_line() -> str:
    """CPUs, memory and load: which machine the numbers come from."""
    try:
        total = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal:"))) * 1024 / GIB
    except (OSError, StopIteration):
        total = float("nan")
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} CPUs ({model or 'unknown model'}), {total:.0f} GiB RAM, "
            f"load average {os.getloadavg()[0]:.2f}")
