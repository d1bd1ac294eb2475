"""Key selection shared by the containers (npz, safetensors, pt)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analysis.data.formats.common import _LABEL_KEYS, _err, _shape_text, _short

# ---- containers (npz, safetensors, pt) share key selection


@dataclass
class _Entry:
    shape: tuple[int, ...]
    kind: str  # numpy dtype kind, 'f' for any float (bfloat16 included)
    dtype: str


def _listing(entries: Mapping[str, _Entry], limit: int = 20) -> str:
    items = [f"{_short(k)} {_shape_text(e.shape)} {e.dtype}" for k, e in list(entries.items())[:limit]]
    more = len(entries) - limit
    return ", ".join(items) + (f", and {more} more" if more > 0 else "")


def _pick_key(entries: Mapping[str, _Entry], key: str | None, fname: str) -> str:
    """Choose the embedding inside a container: `key`, or the only 2-D/3-D array."""
    if not entries:
        raise _err(fname, "holds no arrays. Save the embedding into it first.")
    if key is not None:
        if key not in entries:
            raise _err(fname, f"has no array named {_short(key)}. It holds: {_listing(entries)}.")
        return key

    def candidates(kinds: str) -> list[str]:
        return [
            k
            for k, e in entries.items()
            if len(e.shape) in (2, 3) and e.kind in kinds and k.lower() not in _LABEL_KEYS
        ]

    for kinds in ("f", "biu"):  # floats first: an int matrix beside them is codes, not vectors
        found = candidates(kinds)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise _err(
                fname,
                f"holds several arrays that could be the embedding: "
                f"{_listing({k: entries[k] for k in found})}. Pass key=... (e.g. key={found[0]!r}) "
                "to choose one.",
            )
    if len(entries) == 1:
        return next(iter(entries))  # its shape/dtype check gives the precise error
    raise _err(
        fname,
        f"holds no 2-D or 3-D numeric array to use as the embedding. It holds: "
        f"{_listing(entries)}. Pass key=... or save a (n_samples, n_features) float array.",
    )


def _find_label_key(
    entries: Mapping[str, _Entry], chosen: str, n: int, notes: list[str]
) -> str | None:
    """A key literally named labels/label/y whose length matches is used as the labels."""
    for k, e in entries.items():
        if k == chosen or k.lower() not in _LABEL_KEYS:
            continue
        if len(e.shape) == 1 or (len(e.shape) == 2 and e.shape[1] == 1):
            if e.shape[0] == n:
                return k
            notes.append(f"ignored {k!r}: it has {e.shape[0]} entries but there are {n} samples")
        else:
            notes.append(f"ignored {k!r} as labels: shape {_shape_text(e.shape)} is not (n,)")
    return None


def _ignored_note(entries: Mapping[str, Any], used: set[str]) -> list[str]:
    rest = [k for k in entries if k not in used]
    if not rest:
        return []
    shown = ", ".join(_short(k) for k in rest[:10]) + (f" ... and {len(rest) - 10} more" if len(rest) > 10 else "")
    return [f"other arrays not loaded: {shown}"]
