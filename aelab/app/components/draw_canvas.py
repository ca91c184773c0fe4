"""The drawing canvas: the student draws a digit with the mouse, a pen or a finger.

When a stroke ends, and when the canvas is cleared, the browser reports the whole drawing
shrunk to OUTPUT_SIDE x OUTPUT_SIDE grey levels (white strokes on black), with a fresh
``id``. A page reads it with :func:`new_drawing` at the top of its run (or the latest one,
new or not, with :func:`last_drawing`) and makes the MNIST-like digit with
:func:`aelab.digit_image.digit_from_drawing`. A report comes from the browser, so it is
checked (sizes, base64, length) and a malformed one is ignored.
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from aelab.i18n import N_, _

STATIC = Path(__file__).resolve().parent / "static"
OUTPUT_SIDE = 56  # the drawing as sent to Python: twice MNIST's side, enough for the 20-pixel box
MAX_SIDE = 256  # a report claiming a larger drawing is not from this canvas
LABEL = N_("Drawing area: draw one digit, 0 to 9, with the mouse, a pen or a finger")
HINT = N_("Draw a digit here")  # shown on the empty canvas
CLEAR = N_("Clear")  # the button that wipes it
_SEEN = "_draw_canvas_reports"  # session-state key: the id of the last drawing read, per canvas
_log = logging.getLogger("aelab")

_component = st.components.v2.component(
    "aelab_draw_canvas",
    js=(STATIC / "draw_canvas.js").read_text(),  # i18n: not shown
    css=(STATIC / "draw_canvas.css").read_text(),  # i18n: not shown
)


def draw_canvas(key: str, *, side: int = 280, label: str | None = None) -> None:
    """Mount a drawing canvas of ``side`` CSS pixels under ``key``, with a Clear button.

    ``label`` is what a screen reader announces for the canvas (default :data:`LABEL`, translated);
    the canvas's words come from here, in the session's language. A canvas mounted afresh
    shows the last drawing Python received from it, if any.
    """
    report = _report(key)
    restore = report if (pixels := _pixels(report)) is not None and pixels.any() else None
    words = {"label": _(LABEL) if label is None else label, "hint": _(HINT), "clear": _(CLEAR)}
    _component(key=key, data={"side": side, "output_side": OUTPUT_SIDE, "restore": restore} | words,
               default={"drawing": None}, on_drawing_change=_ignore)


def new_drawing(key: str) -> np.ndarray | None:
    """The canvas's drawing if it is new since the last call, else None.

    A drawing is uint8 (OUTPUT_SIDE, OUTPUT_SIDE), 0..255, white strokes on black; after
    Clear it is all zeros (``drawing.any()`` is False). Each drawing is returned once.
    """
    report = _report(key)
    pixels = _pixels(report)
    if pixels is None:
        return None
    seen = st.session_state.setdefault(_SEEN, {})
    if seen.get(key) == report["id"]:
        return None
    seen[key] = report["id"]
    return pixels


def last_drawing(key: str) -> np.ndarray | None:
    """The canvas's latest drawing, new or not (as :func:`new_drawing`); None if nothing is drawn."""
    pixels = _pixels(_report(key))
    return pixels if pixels is not None and pixels.any() else None


def _report(key: str) -> Any:
    return (st.session_state.get(key) or {}).get("drawing")


def _pixels(report: Any) -> np.ndarray | None:
    """A report's drawing as uint8 (height, width), or None when there is none or it is malformed."""
    if not isinstance(report, dict) or not isinstance(report.get("id"), str):
        return None
    width, height, encoded = report.get("width"), report.get("height"), report.get("pixels")
    if not (isinstance(width, int) and isinstance(height, int) and isinstance(encoded, str)
            and 1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE and len(encoded) <= 4 * MAX_SIDE**2):
        _log.info("draw canvas: ignored a malformed report")  # i18n: not shown
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        _log.info("draw canvas: ignored a report whose pixels are not base64")  # i18n: not shown
        return None
    if len(raw) != width * height:
        _log.info("draw canvas: ignored a report of %d bytes for %dx%d pixels",  # i18n: not shown
                  len(raw), width, height)
        return None
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width).copy()


def _ignore() -> None:
    """Drawings are read by the page's run itself (new_drawing), not in a callback."""
