"""The latent-map component: registered once from the JS and CSS files in ``static/``.

A map is drawn from two kinds of data (see :mod:`aelab.app.payload`). What changes only with
the model (points, decoder weights, hole map) goes in data elements of its own, one per
:class:`~aelab.app.payload.Shared` part, mounted just before the map: their data and key are
the same on every run, so Streamlit sends each once and then a reference to it (its message
cache). The map element itself carries only the small per-run payload (probe, view, the
server's decode) and the ids of its parts, plus a small module that mounts the map with the
code the data elements carry. So a probe release resends a few kilobytes, not the model.

The browser reports two things: a released probe (or a clicked digit) and a new view
after a pan or zoom. Each report carries a fresh ``id``; a page reads new reports with
:func:`new_report` at the top of its run, before it draws anything, so every report is
applied exactly once whatever else caused the rerun.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import streamlit as st

from aelab.app.payload import Shared

STATIC = Path(__file__).resolve().parent / "static"
_SEEN = "_latent_map_reports"  # session-state key: the id of the last report applied, per map and field
PART_KEY = "aelab-part-"  # keys of the data elements start with this: static/latent_map_data.css hides them

MAP, PART = "aelab_latent_map", "aelab_latent_map_data"  # the two components' names

_component = st.components.v2.component(
    MAP,
    js=(STATIC / "latent_map_mount.js").read_text(),
    css=(STATIC / "latent_map.css").read_text(),
)
_part = st.components.v2.component(
    PART,
    js="\n".join((STATIC / name).read_text() for name in ("decoding.js", "latent_map.js", "latent_map_data.js")),
    css=(STATIC / "latent_map_data.css").read_text(),  # hides their containers (by PART_KEY)
    isolate_styles=False,
)


def latent_map(key: str, dynamic: dict[str, Any], parts: tuple[Shared, ...]) -> Any:
    """Mount a latent map under ``key``: ``parts`` (what changes only with the model) each in a
    data element sent once, then the map with the per-run ``dynamic`` payload. Its reports are
    read with :func:`new_report`."""
    for i, part in enumerate(parts):
        _part(key=f"{PART_KEY}{key}-{i}", data=part.blob)
    return _component(key=key, data=dynamic | {"shared": [part.id for part in parts]},
                      default={"probe": None, "view": None}, on_probe_change=_ignore, on_view_change=_ignore)


def drawn_payloads(elements: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """What each latent map of a page draws, by key: its parts' fields with its per-run payload over
    them, merged as the browser merges them (``receive`` in static/latent_map.js).

    ``elements`` are a page's components-v2 elements, each with ``key`` and ``proto`` (as
    AppTest lists them: ``at.get("bidi_component")``); for tests and checks.
    """
    parts, maps = {}, {}
    for element in elements:
        if element.proto.component_name == PART:
            part = json.loads(element.proto.bytes)
            parts[part["id"]] = part["fields"]
        elif element.proto.component_name == MAP:
            maps[element.key] = json.loads(element.proto.json)
    return {key: {k: v for part in dynamic["shared"] for k, v in parts[part].items()} | dynamic
            for key, dynamic in maps.items()}


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
