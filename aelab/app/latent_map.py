"""The latent-map component: registered once from the JS and CSS files in ``static/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

STATIC = Path(__file__).resolve().parent / "static"

_component = st.components.v2.component(
    "aelab_latent_map",
    js="\n".join((STATIC / name).read_text() for name in ("decoding.js", "latent_map.js")),
    css=(STATIC / "latent_map.css").read_text(),
)


def latent_map(key: str, payload: dict[str, Any], on_probe=None, on_view=None) -> Any:
    """Mount a latent map. ``on_probe`` runs when the user releases the probe or clicks a digit,
    ``on_view`` when they finish panning or zooming; each reads its own value from the state."""
    return _component(
        key=key,
        data=payload,
        default={"probe": None, "view": None},
        on_probe_change=on_probe or (lambda: None),
        on_view_change=on_view or (lambda: None),
    )
