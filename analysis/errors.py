"""What a user is told when their input cannot be read or measured.

The library raises `ValueError` with a message that names the file, the
problem and the fix (DESIGN.md section 5). Hostile or extreme input can still
surface as another exception from the parsers and numerics underneath (a JSON
header nested 100,000 deep -> RecursionError, integers beyond int64 ->
OverflowError, huge label codes -> MemoryError, values near 1e160 ->
LinAlgError, a container of the wrong shape -> AttributeError). The app and
the CLI catch `USER_ERRORS` at their boundary and show `user_message(exc)`:
one plain sentence with what went wrong and how to fix it, never a traceback.

This module imports nothing from the rest of RepLens (and never Streamlit), so
`ui/` and `analysis/cli.py` can both use it.
"""

from __future__ import annotations

import numpy as np

# The exceptions bad input can raise. Anything else is a bug and stays loud.
# Order matters only for readers: `user_message` tests the specific ones first
# (LinAlgError and UnicodeDecodeError are ValueErrors, RecursionError is a
# RuntimeError that is deliberately not caught as a whole).
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # includes numpy.linalg.LinAlgError, UnicodeDecodeError, json.JSONDecodeError
    np.linalg.LinAlgError,
    ArithmeticError,  # OverflowError, ZeroDivisionError, FloatingPointError
    RecursionError,
    MemoryError,
    AttributeError,
    TypeError,
    LookupError,  # KeyError, IndexError
)

# The CLI also reads paths given on the command line.
CLI_ERRORS: tuple[type[BaseException], ...] = (*USER_ERRORS, OSError)


def _prefix(what: str | None) -> str:
    return f"{what}: " if what else ""


def user_message(exc: BaseException, what: str | None = None) -> str:
    """One sentence for the user: what went wrong with `what` (a file or a task) and how to fix it.

    A `ValueError` raised by RepLens already says both, so its text is kept
    as it is (`what` is not added). Other exceptions get a message by kind,
    prefixed with `what`, with the exception's type in brackets for a bug
    report (the internal text, e.g. a recursion-limit note, would mean
    nothing to the user).
    """
    pre = _prefix(what)
    kind = type(exc).__name__
    if isinstance(exc, RecursionError):
        return (f"{pre}the file structure is nested too deeply to read (a header or container nested "
                "thousands of levels deep). Save the arrays as a flat .npy, .npz or .safetensors file. "
                f"[{kind}]")
    if isinstance(exc, MemoryError):
        task = what or "this data"
        return (f"not enough memory for {task}; use fewer rows or raise REPLENS_MEMORY_BUDGET (the per-array "
                f"limit checked before allocating) on a machine with more memory. [{kind}]")
    if isinstance(exc, np.linalg.LinAlgError):
        return (f"{pre}the linear algebra failed on these values ({exc}): they are too large, too small "
                "or degenerate for float64. Rescale the vectors (e.g. standardise them or divide by their "
                f"norm) and drop constant or duplicate columns. [{kind}]")
    if isinstance(exc, OverflowError):
        return (f"{pre}a number is too large to represent (beyond 64-bit integers or the float range). Labels "
                "must be class ids or names and values must fit in float32; check the file for corrupt "
                f"or misparsed values. [{kind}]")
    if isinstance(exc, ArithmeticError):
        return (f"{pre}the values make the arithmetic fail ({exc}): check for constant, zero or extreme "
                f"values. [{kind}]")
    if isinstance(exc, AttributeError | TypeError | LookupError):
        return (f"{pre}the file's structure is not what its format requires (an entry of the wrong type or "
                "missing). Check that it was written by the library its extension names, or save the "
                f"arrays again as .npy or .safetensors. [{kind}]")
    # A ValueError from RepLens (and an OSError's "[Errno 2] No such file ...: 'x'") already names
    # the file and the problem: kept as it is.
    return str(exc).strip() or kind
