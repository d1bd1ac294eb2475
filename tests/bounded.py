"""Run one call in a child process under a hard address-space limit and measure it.

The hostile-input tests ask two things of a loader or metric: that it refuses
the input with a clear ValueError, and that it does so *before* allocating
out of proportion. The second is only testable from outside: the child sets
``RLIMIT_AS`` to what it has mapped after its imports plus an allowance, so an
allocation of gigabytes fails there (MemoryError) instead of swapping the
machine, and the parent reads the child's peak resident memory and time.

Usage::

    result = run_bounded("analysis.data.classifier_io:load_classifier", data, "c.npz",
                         allowance_bytes=512 * 2**20)
    assert result.error_type == "ValueError" and result.peak_rss_growth < 256 * 2**20

The target is a ``"module:function"`` string (the child imports it; nothing is
pickled but the arguments, which are test-made bytes, arrays and strings). The
child is started with ``spawn``, so it shares no threads or locks with pytest.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import resource
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BoundedResult:
    """What the bounded call did.

    error_type is None when it returned, else the exception's class name;
    message is str(exception) (or repr of a short return value); seconds is
    the call's wall time in the child; peak_rss_growth is the child's peak
    resident memory minus its resident memory just before the call, in bytes.
    """

    error_type: str | None
    message: str
    seconds: float
    peak_rss_growth: int
    value: Any = None


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")  # pragma: no cover


def _reset_peak_rss() -> None:
    # ru_maxrss of a spawned child starts at the parent's size when it forked the
    # spawn server (hundreds of MiB once pytest has grown); writing 5 to
    # clear_refs resets VmHWM to the current RSS, so the peak is this call's own.
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _child(target: str, args: tuple, kwargs: dict, allowance: int, preload: tuple, conn) -> None:
    for name in preload:
        importlib.import_module(name)
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    # Every thread pool numpy/torch may start is created lazily; start them now
    # so their stacks count before the limit, not against the allowance.
    import numpy as np

    np.ones((64, 64)) @ np.ones((64, 64))
    resource.setrlimit(resource.RLIMIT_AS, (_status_bytes("VmSize") + allowance, resource.RLIM_INFINITY))
    _reset_peak_rss()
    before = _status_bytes("VmRSS")
    start = time.perf_counter()
    error_type, message, value = None, "", None
    try:
        value = func(*args, **kwargs)
        message = repr(value)[:400]
    except BaseException as exc:  # noqa: BLE001 - the test inspects any failure
        error_type, message = type(exc).__name__, str(exc)[:4000]
        value = None
    seconds = time.perf_counter() - start
    peak = _status_bytes("VmHWM")
    try:
        conn.send(BoundedResult(error_type, message, seconds, max(0, peak - before), None))
    finally:
        conn.close()


def run_bounded(
    target: str,
    *args: Any,
    allowance_bytes: int = 1024 * 2**20,
    timeout_s: float = 120.0,
    preload: tuple[str, ...] = ("numpy",),
    **kwargs: Any,
) -> BoundedResult:
    """Call ``target(*args, **kwargs)`` in a spawned child limited to its imports + allowance.

    ``preload`` modules are imported before the limit is set (e.g. "torch",
    whose import maps gigabytes of address space it never touches).
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child, args=(target, args, kwargs, allowance_bytes, preload, child), daemon=True
    )
    process.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise TimeoutError(f"{target} did not finish within {timeout_s} s")
        return parent.recv()
    except EOFError:
        process.join(5)
        raise RuntimeError(f"{target}: the child died (exit code {process.exitcode})") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        parent.close()
