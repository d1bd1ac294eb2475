"""The app's error boundary: bad input becomes an `st.error`, never a traceback.

Every place that loads or measures user data catches `USER_ERRORS` (the named
family in `analysis.errors`, not bare Exception: anything else is a bug) and
calls `show_error`. Nothing is stored before the call succeeds, so the data
loaded before stays selected.
"""

from __future__ import annotations

import streamlit as st

from analysis.panels.common import USER_ERRORS, user_message

__all__ = ["USER_ERRORS", "show_error", "user_message"]


def show_error(exc: BaseException, lead: str | None = None, *, what: str | None = None,
               kept: str | None = None) -> None:
    """Show `exc` as one `st.error`: "lead: what went wrong and how to fix it" plus what is kept.

    `what` names the file or task for messages that are not RepLens's own
    ValueErrors (e.g. "not enough memory for <what>"); `kept` says what stays
    active ("The data loaded before is still active.").
    """
    text = user_message(exc, what)
    if lead and lead not in text:
        text = f"{lead}: {text}"
    if kept:
        text = f"{text}\n\n{kept}"
    st.error(text, icon=":material/block:")
