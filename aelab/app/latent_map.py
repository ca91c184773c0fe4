"""The latent-map component: registered once from the JS and CSS files in ``static/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

STATIC = Path(__file__).resolve().parent / "static"

_component = st.components.v2.component(
    "aelab_latent_map",
    js=(STATIC / "latent_map.js").read_text(),
    css=(STATIC / "latent_map.css").read_text(),
)


def latent_map(key: str, payload: dict[str, Any], on_change=None) -> Any:
    """Mount a latent map; returns its state (``probe`` after a drag or click, ``view`` after a pan/zoom)."""
    return _component(
        key=key,
        data=payload,
        default={"probe": None, "view": None},
        on_probe_change=on_change or (lambda: None),
        on_view_change=on_change or (lambda: None),
    )
