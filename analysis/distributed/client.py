"""Connecting to a dask.distributed scheduler: one place that turns ``scheduler=`` into a Client.

``scheduler`` is accepted everywhere in :mod:`analysis.distributed` as

* ``None``: no cluster; the callers compute in memory with the library's own
  single-machine functions;
* an address string such as ``"tcp://127.0.0.1:8786"`` (what ``dask scheduler``
  prints); one Client per address is kept and reused;
* a :class:`distributed.Client` already connected.

dask and distributed are the ``[scale]`` extra (``pip install replens[scale]``);
they are imported only when a cluster is actually used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from distributed import Client

__all__ = ["get_client", "DEFAULT_TIMEOUT_S"]

# Seconds to wait for a scheduler before calling it unreachable.
DEFAULT_TIMEOUT_S = 5.0

_CLIENTS: dict[str, Client] = {}


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "scheduler= needs dask.distributed, which is not installed. Install the scale extra: "
            "pip install 'replens[scale]' (or `make install`), or pass scheduler=None to compute "
            "in memory."
        ) from exc
    return distributed


def get_client(scheduler: Any, *, timeout: float = DEFAULT_TIMEOUT_S) -> Client | None:
    """The dask.distributed Client for ``scheduler``, or None for in-memory computing.

    Parameters
    ----------
    scheduler : None, str or distributed.Client
        ``None``: no cluster (returns None; callers compute in memory).
        A string: the scheduler's address, ``"tcp://HOST:PORT"`` (e.g.
        ``"tcp://127.0.0.1:8786"``). A Client: returned as is.
    timeout : float, default=5.0
        Seconds to wait for the scheduler to answer.

    Returns
    -------
    distributed.Client or None

    Raises
    ------
    ValueError
        If the address is not a non-empty string of the form ``tcp://HOST:PORT``,
        or no scheduler answers there within ``timeout`` seconds (the message
        says how to start one).
    TypeError
        If ``scheduler`` is neither None, a string nor a Client.
    ImportError
        If a scheduler is named but distributed is not installed.
    """
    if scheduler is None:
        return None
    distributed = _import_distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler
    if not isinstance(scheduler, str):
        raise TypeError(
            f"scheduler must be None, an address string like 'tcp://127.0.0.1:8786' or a "
            f"distributed.Client; got {type(scheduler).__name__}."
        )
    address = scheduler.strip()
    if "://" not in address:
        address = f"tcp://{address}" if address else address
    if not address or address.endswith("://") or ":" not in address.split("://", 1)[1]:
        raise ValueError(
            f"scheduler address {scheduler!r} is not of the form 'tcp://HOST:PORT', e.g. "
            "'tcp://127.0.0.1:8786' (the address `dask scheduler` prints)."
        )
    cached = _CLIENTS.get(address)
    if cached is not None and cached.status == "running":
        return cached
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ValueError(
            f"no dask scheduler answered at {address} within {timeout:g} s ({type(exc).__name__}). "
            "Start one there (`dask scheduler --host 127.0.0.1 --port 8786`, then "
            "`dask worker tcp://127.0.0.1:8786` on each machine), check the address and port, or pass "
            "scheduler=None to compute in memory."
        ) from exc
    _CLIENTS[address] = client
    return client


def worker_threads(client: Client) -> int:
    """Threads of the smallest worker (at least 1): how many OpenMP threads one task may use."""
    counts = list(client.nthreads().values())
    return max(1, min(counts)) if counts else 1
