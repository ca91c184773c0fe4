"""The latent map's data on the wire.

A map's model part (points, labels, decoder weights, hole map) goes in data elements whose key
and data are the same on every run: Streamlit hashes each message, and the browser, which
sends the hashes it holds with every rerun request, then gets only a reference to such an
element. A probe release changes only the map element's small per-run payload. Here through
AppTest (the element protos as they are sent); tests/test_browser.py counts the bytes a real
browser receives.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from aelab.app import payload
from aelab.app.components import latent_map

APP = str(Path(__file__).resolve().parent.parent / "app.py")
_ids = itertools.count()


def _sent(at: AppTest) -> dict[str, bytes]:
    """Each components-v2 element of the page by key, as the bytes of its proto."""
    return {c.key: c.proto.SerializeToString(deterministic=True) for c in at.get("bidi_component")}


def _release(at: AppTest, key: str, dx: float, dy: float) -> tuple[float, float]:
    """Let go of a map's probe (dx, dy) from where it is, as the browser reports it; returns where."""
    x, y = latent_map.drawn_payloads(at.get("bidi_component"))[key]["probe"]
    state = dict(at.session_state[key]) if key in at.session_state else {"probe": None, "view": None}
    at.session_state[key] = state | {"probe": {"x": x + dx, "y": y + dy, "picked": None, "nearest": None,
                                               "view": None, "id": f"t{next(_ids)}"}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return x + dx, y + dy


@pytest.mark.parametrize(("page", "key", "parts"), [(None, "map-vae-2d-latent", 2),
                                                    ("aelab/app/pages/vae_vs_ae.py", "cmp-ae-2d-latent", 4)])
def test_a_release_resends_only_the_maps_small_payload(page, key, parts):
    at = AppTest.from_file(APP, default_timeout=120).run()
    if page:
        at.switch_page(page).run()
    first = _sent(at)
    released = [_release(at, key, 0.05, -0.04), _release(at, key, -0.03, 0.06)]
    last = _sent(at)
    data_keys = [k for k in first if k.startswith(latent_map.PART_KEY)]
    # the explorer: the model's part and the data set's images; the compare page: two maps, each with a hole map
    assert len(data_keys) == parts and set(first) == set(last)
    for k in data_keys:  # the same message on every run, and big enough for the browser to keep it
        assert last[k] == first[k], k
        assert len(last[k]) >= config.get_option("global.minCachedMessageSize")
    for k in set(first) - set(data_keys):  # the map elements carry only the per-run payload
        assert len(last[k]) < 12_000, (k, len(last[k]))
    assert last[key] != first[key]  # the released map's changed (a free position moves no other map)
    drawn = latent_map.drawn_payloads(at.get("bidi_component"))[key]  # what the browser draws is complete
    assert len(drawn["points"]["label"]) == 5000 and drawn["decoder"] is not None
    assert drawn["server"]["probe"] == pytest.approx(list(released[-1]))


def test_a_shared_part_is_named_by_its_content():
    a, same, other = payload.shared({"x": [1, 2]}), payload.shared({"x": [1, 2]}), payload.shared({"x": [1, 3]})
    assert a.blob == same.blob and a.id == same.id and a.id != other.id
    assert a.fields == {"x": [1, 2]}
