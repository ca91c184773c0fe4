"""The latent-map component: registered once from the JS and CSS files in ``static/``.

The browser reports two things: a released probe (or a clicked digit) and a new view
after a pan or zoom. Each report carries a fresh ``id``; a page reads new reports with
:func:`new_report` at the top of its run, before it draws anything, so every report is
applied exactly once whatever else caused the rerun.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

STATIC = Path(__file__).resolve().parent / "static"
_SEEN = "_latent_map_reports"  # session-state key: the id of the last report applied, per map and field

_component = st.components.v2.component(
    "aelab_latent_map",
    js="\n".join((STATIC / name).read_text() for name in ("decoding.js", "latent_map.js")),
    css=(STATIC / "latent_map.css").read_text(),
)


def latent_map(key: str, payload: dict[str, Any]) -> Any:
    """Mount a latent map under ``key``; its reports are read with :func:`new_report`."""
    return _component(key=key, data=payload, default={"probe": None, "view": None},
                      on_probe_change=_ignore, on_view_change=_ignore)


def new_report(key: str, field: str) -> dict | None:
    """The map's ``field`` ("probe" or "view") report if it is new since the last call, else None.

    A report is a dict with a string ``id``; anything else is ignored.
    """
    report = (st.session_state.get(key) or {}).get(field)
    if not isinstance(report, dict) or not isinstance(report.get("id"), str):
        return None
    seen = st.session_state.setdefault(_SEEN, {})
    if seen.get((key, field)) == report["id"]:
        return None
    seen[(key, field)] = report["id"]
    return report


def _ignore() -> None:
    """Reports are read by the page's run itself (new_report), not in a callback."""
