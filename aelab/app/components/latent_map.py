"""The latent-map component: registered once from the JS and CSS files in ``static/``.

A map is drawn from two kinds of data (see :mod:`aelab.app.payload`). What changes only with
the model (points, decoder weights, hole map) goes in data elements of its own, one per
:class:`~aelab.app.payload.Shared` part, mounted just before the map: their data and key are
the same on every run, so Streamlit sends each once and then a reference to it (its message
cache). The map element itself carries only the small per-run payload (probe, view, the
server's decode) and the ids of its parts, plus a small module that mounts the map with the
code the data elements carry. So a probe release resends a few kilobytes, not the model.

The texts the map draws itself (its readout, its tooltip, its axis names) come from Python,
translated (:func:`component_texts`), in the model's part (see :mod:`aelab.app.maps`). A part
several maps share (a data set's images) is mounted once with :func:`mount_part` and named by
each map in ``mounted``.

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
from aelab.i18n import _

STATIC = Path(__file__).resolve().parent / "static"
_SEEN = "_latent_map_reports"  # session-state key: the id of the last report applied, per map and field
PART_KEY = "aelab-part-"  # i18n: not shown (keys of the data elements start with this; the CSS hides them)

MAP, PART = "aelab_latent_map", "aelab_latent_map_data"  # the two components' names
SCRIPTS = ("decoding.js", "latent_map.js", "latent_map_data.js")  # i18n: not shown (the data elements' module)

_component = st.components.v2.component(
    MAP,
    js=(STATIC / "latent_map_mount.js").read_text(),  # i18n: not shown
    css=(STATIC / "latent_map.css").read_text(),  # i18n: not shown
)
_part = st.components.v2.component(
    PART,
    js="\n".join((STATIC / name).read_text() for name in SCRIPTS),
    css=(STATIC / "latent_map_data.css").read_text(),  # i18n: not shown (hides their containers, by PART_KEY)
    isolate_styles=False,
)


def latent_map(key: str, dynamic: dict[str, Any], parts: tuple[Shared, ...], mounted: tuple[Shared, ...] = ()) -> Any:
    """Mount a latent map under ``key``: ``parts`` (what changes only with the model) each in a
    data element sent once, then the map with the per-run ``dynamic`` payload. ``mounted`` are
    parts already on the page (:func:`mount_part`) that the map uses too. Its reports are read
    with :func:`new_report`."""
    for i, part in enumerate(parts):
        _part(key=f"{PART_KEY}{key}-{i}", data=part.blob)
    return _component(key=key, data=dynamic | {"shared": [part.id for part in (*parts, *mounted)]},
                      default={"probe": None, "view": None}, on_probe_change=_ignore, on_view_change=_ignore)


def mount_part(part: Shared) -> None:
    """Put a part that several maps of the page share in a data element of its own, once per page
    run, before those maps (which name it in ``mounted``)."""
    _part(key=f"{PART_KEY}page-{part.id}", data=part.blob)


def component_texts() -> dict[str, Any]:
    """What the map writes itself, in the current language; ``{names}`` are filled in by the browser."""
    return {
        "readout": _("probe ({x}, {y})"),
        "readout_approx": _("probe ({x}, {y}), decoded through an approximate inverse"),
        "source_server": _("decoded by the Python model at this point"),
        "source_browser": _("decoded live in your browser"),
        "source_stale": _("the image at the last released position (dimmed)"),
        "no_browser_decoder": _("Its decoder is convolutional, which your browser does not run: the image is "
                                "decoded by the server when you release the probe."),
        "hover": _("digit {label} · #{index}"),
        "original": _("original"),
        "reconstruction": _("reconstruction"),
        "decoded_title": _("the image the decoder makes at the probe"),
        "axes": {"identity": ["z₁", "z₂"],  # the code's own numbers: symbols, as in the formulas
                 "linear": [_("PCA axis 1"), _("PCA axis 2")],
                 "grid": [_("UMAP axis 1"), _("UMAP axis 2")]},
    }


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
