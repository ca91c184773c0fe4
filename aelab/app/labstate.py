"""A lab page's controls in the URL: read once when the page opens, written back on every run.

A lab declares its controls as :class:`Param` (widget key, query-string name, how to read
the text); :func:`restore` puts the link's values into the widgets' session state before
the widgets are drawn, and :func:`publish` writes the current values back, so a teacher can
copy the address bar and send a prepared view. A value in the link that does not parse or
is out of range is ignored with a notice in the user's terms, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from aelab.app import session
from aelab.app.resources import plain
from aelab.i18n import _


@dataclass(frozen=True)
class Param:
    """One control kept in the URL."""

    key: str  # the widget's session-state key
    url: str  # its name in the query string
    parse: Callable[[str], Any]  # the value for a text from the URL, or None when it is not valid
    label: str = ""  # how the notice names it (marked with N_, translated when shown); the url name when empty
    format: Callable[[Any], str] = str


def choice(options: Sequence[str]) -> Callable[[str], str | None]:
    """A parser accepting exactly one of ``options``."""
    return lambda text: text if text in options else None


def one_of(values: Sequence[float]) -> Callable[[str], float | None]:
    """A parser accepting a number equal (to 1e-9) to one of ``values``, returned as that value."""
    def parse(text: str) -> float | None:
        number = _number(text)
        if number is None:
            return None
        return next((v for v in values if abs(v - number) <= 1e-9 * max(1.0, abs(v))), None)
    return parse


def number_in(low: float, high: float, integer: bool = False) -> Callable[[str], float | int | None]:
    """A parser accepting a number in [low, high] (a whole one when ``integer``)."""
    def parse(text: str) -> float | int | None:
        number = _number(text)
        if number is None or not low <= number <= high or (integer and number != int(number)):
            return None
        return int(number) if integer else number
    return parse


def _number(text: str) -> float | None:
    if len(text) > 24:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def restore(page_key: str, params: Sequence[Param]) -> list[str]:
    """Copy valid URL values into the widgets' state, on the page's first run in this session and
    whenever the app was sent to the page with a link of its own (e.g. a lesson step's), not one the
    app itself wrote: a page's settings follow its link, and a plain page switch keeps them.

    Returns a notice for each value in the link that was not used (empty on other runs).
    """
    flag = f"{page_key}restored"
    if st.session_state.get(flag) and not linked_from_outside([p.url for p in params]):
        return []
    st.session_state[flag] = True
    notices = []
    for param in params:
        text = st.query_params.get(param.url)
        if text is None:
            continue
        value = param.parse(text)
        if value is None:
            notices.append(_("The link's {name} {value} is not one this page offers; using the default.",
                             name=_(param.label) if param.label else param.url, value=plain(repr(text), 40)))
        else:
            st.session_state[param.key] = value
    return notices


# App-wide settings a page's link keeps: the language, presenter mode, the workspace and share tokens.
KEEP = ("lang", "present", session.URL_KEY, session.SHARE_KEY)


def kept() -> dict[str, str]:
    """The app-wide part of the link, for a page that rewrites it: KEEP's values, and the session's
    workspace and share tokens even where a page switch dropped them from the link."""
    return {k: st.query_params[k] for k in KEEP if k in st.query_params} | session.url_params()


def publish(params: Sequence[Param], extra: dict[str, str] | None = None) -> None:
    """Make the query string this page's controls (and ``extra``), dropping another page's leftovers."""
    wanted = kept()
    wanted |= {p.url: p.format(st.session_state[p.key]) for p in params if p.key in st.session_state}
    wanted |= extra or {}
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)
    st.session_state[PUBLISHED] = wanted


PUBLISHED = "lab_published"  # the query string the app wrote last, by any page


def linked_from_outside(names: Sequence[str]) -> bool:
    """Whether the link holds any of ``names`` and is not the query string the app itself wrote last:
    the session was sent here by a link (a page link with its own state), not by its own widgets."""
    def own(query: dict[str, str] | None) -> dict[str, str]:  # the language, workspace... change on their own
        return {k: v for k, v in (query or {}).items() if k not in KEEP}
    current = own(st.query_params.to_dict())
    return any(n in current for n in names) and current != own(st.session_state.get(PUBLISHED))


def fmt_number(value: float) -> str:
    """A number as the shortest text that reads back the same (0.5, 1e-05)."""
    return f"{value:g}" if float(f"{value:g}") == value else repr(value)
