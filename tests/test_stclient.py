"""tools/stclient.py against the real app: one protocol session opens the explorer, releases the
probe on its map and moves a lab slider by key, as a browser would (no browser here)."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs

import pytest

from tools import devtools
from tools.stclient import Session

PROBE = re.compile(r"Probe at \((-?[\d.]+), (-?[\d.]+)\)")


@pytest.fixture(scope="module")
def app_url():
    with devtools.serve_app() as url:
        yield url


async def _explore(url: str) -> dict:
    s = Session(url, timeout=60)
    try:
        opened = await s.connect("/", "models=vae-2d")
        seen = {"opened": opened, "texts": s.texts(), "widgets": dict(s.widgets)}
        x0, x1, y0, y1 = s.component_data("map-vae-2d-latent")["view"]
        x, y = x0 + 0.3 * (x1 - x0), y0 + 0.6 * (y1 - y0)
        report = {"x": x, "y": y, "picked": None, "nearest": None, "view": None, "id": "test-1"}
        seen["released"] = await s.set_component("map-vae-2d-latent", "probe", report, {"probe": None, "view": None})
        seen["probe"], seen["caption"] = (x, y), [t for t in s.texts() if PROBE.match(t)]
        seen["lab"] = await s.open("/denoise")
        seen["level_before"] = parse_qs(s.query_string)["level"]
        seen["moved"] = await s.set("dn_level", "0.25")
        seen["level_after"] = parse_qs(s.query_string)["level"]
        return seen
    finally:
        await s.close()


def test_a_protocol_session_explores_and_moves_a_lab_slider(app_url):
    seen = asyncio.run(_explore(app_url))
    # the explorer's elements arrived, with its widgets and its map (the component) by key
    assert seen["opened"].ok and "Latent explorer" in seen["texts"]
    assert {"ex_models", "ex_projection", "map-vae-2d-latent"} <= set(seen["widgets"])
    # the release ran to the end with no exception, and the page now shows the released probe
    released = seen["released"]
    assert released.ok and released.status == 0
    shown = PROBE.match(seen["caption"][0])
    assert (float(shown.group(1)), float(shown.group(2))) == pytest.approx(seen["probe"], abs=1e-3)
    # the lab's slider, moved by its key, changed what the server reports back (the page's URL)
    assert seen["lab"].ok and seen["moved"].ok
    assert seen["level_before"] == ["0.5"] and seen["level_after"] == ["0.25"]
