"""The latent explorer page, driven headless with streamlit.testing.v1.AppTest.

The map is a components-v2 element: AppTest shows it as an ``UnknownElement`` of type
``bidi_component`` whose proto carries the JSON payload, and it has no public way to set
such a component's value. ``_report`` therefore sends what the browser sends: a
WidgetState whose ``json_value`` is the component's whole state with one key replaced
(Streamlit's BidiComponent frontend calls ``setJsonValue(id, {...current, [key]: value})``).
It uses AppTest's private ``_tree.get_widget_states()`` and ``_run``. Drawing, dragging and
in-browser decoding are covered by tests/test_browser.py.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from aelab import explore, projection
from aelab.app import maps, payload

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CAPTION = re.compile(r"Server decode at \((-?[\d.]+), (-?[\d.]+)\)")


# ---- helpers ---------------------------------------------------------------------------------


def _run(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def _elements(node, kind: str) -> list:
    found = [node] if getattr(node, "type", None) == kind else []
    for child in getattr(node, "children", {}).values():
        found += _elements(child, kind)
    return found


def _maps(at: AppTest) -> dict[str, dict]:
    """The latent-map components by key, each with the payload the browser receives."""
    return {c.key: json.loads(c.proto.json) for c in _elements(at.main, "bidi_component")}


def _key(at: AppTest, model: str) -> str:
    """The component key of a model's map (one per model and plane: map-<name>-<plane>)."""
    keys = [c.key for c in _elements(at.main, "bidi_component") if c.key.startswith(f"map-{model}-")]
    assert len(keys) == 1, f"no single map for {model}: {keys}"
    return keys[0]


def _component(at: AppTest, model: str):
    found = [c for c in _elements(at.main, "bidi_component") if c.key == _key(at, model)]
    assert len(found) == 1, f"no map for {model}"
    return found[0]


def _probes(at: AppTest) -> list[tuple[float, float]]:
    """The probe of each map, from the server-decode captions."""
    found = [CAPTION.match(c.value) for c in at.caption]
    return [(float(m.group(1)), float(m.group(2))) for m in found if m]


def _decode_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("Server decode at")]


def _report(at: AppTest, model: str, key: str, value) -> AppTest:
    """What the browser does on setStateValue(key, value): send the merged state, rerun."""
    element = _component(at, model)
    state = dict(at.session_state[_key(at, model)] or {}) | {key: value}
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=element.proto.id, json_value=json.dumps(state)))
    return at._run(states)


def _point(at: AppTest, model: str, index: int) -> tuple[float, float]:
    """Where data point ``index`` lies on a model's map, from its payload."""
    points = _maps(at)[_key(at, model)]["points"]
    n = len(points["label"])
    return (float(payload.from_b64(points["x"], (n,))[index]), float(payload.from_b64(points["y"], (n,))[index]))


def _label(at: AppTest, model: str, index: int) -> int:
    return _maps(at)[_key(at, model)]["points"]["label"][index]


def _strips(at: AppTest) -> list[str]:
    captions = [image.proto.imgs[0].caption for image in _elements(at.main, "image")]
    return [c for c in captions if "A to B" in c]


def _pick(at: AppTest, model: str, index: int) -> AppTest:
    """Click data point ``index``: the browser snaps the probe to it and reports the pick."""
    x, y = _point(at, model, index)
    return _report(at, model, "probe", {"x": x, "y": y, "picked": index, "view": None})


def _warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# ---- default page ----------------------------------------------------------------------------


def test_default_run_shows_one_map_of_the_2d_vae_with_its_server_decode():
    at = _run()
    _ok(at)
    assert list(_maps(at)) == ["map-vae-2d-latent"]
    data = _maps(at)["map-vae-2d-latent"]
    assert data["latent_dim"] == 2 and data["inverse"] == {"kind": "identity"}
    assert data["decoder"] is not None and data["sigma"] is not None  # the browser can decode and draw ellipses
    [caption] = _decode_captions(at)
    assert caption.endswith("free position.")
    [(x, y)] = _probes(at)
    x0, x1, y0, y1 = data["data_bounds"]
    assert x0 < x < x1 and y0 < y < y1  # the default probe sits among the data
    assert data["probe"] == pytest.approx([x, y], abs=5e-4) and data["view"] == data["data_bounds"]
    assert len(_elements(at.main, "image")) == 1  # the server's decode; no interpolation strip yet
    assert not _warnings(at)


# ---- restoring from the URL ------------------------------------------------------------------


def test_url_restores_models_probe_and_toggles():
    at = _run(models="vae-2d,ae-2d", probe="1,-1", manifold="1")
    _ok(at)
    assert list(_maps(at)) == ["map-vae-2d-latent", "map-ae-2d-latent"]
    assert _decode_captions(at) == ["Server decode at (1.000, -1.000): free position."] * 2
    assert at.toggle(key="ex_manifold").value is True
    assert at.toggle(key="ex_sigma").value is False
    assert all(d["show_manifold"] and d["probe"] == [1.0, -1.0] for d in _maps(at).values())
    assert all(d["link"] == {"group": "explorer-2d", "mode": "coords"} for d in _maps(at).values())  # shared probe
    assert not _warnings(at)


def test_url_view_is_restored_for_the_first_map():
    at = _run(models="vae-2d", view="-1,2,-0.5,1.5")
    _ok(at)
    assert _maps(at)["map-vae-2d-latent"]["view"] == [-1.0, 2.0, -0.5, 1.5]
    assert at.query_params["view"] == "-1.0000,2.0000,-0.5000,1.5000"


@pytest.mark.parametrize(("query", "notice"), [
    ({"models": "ghost"}, "ghost"),
    ({"probe": "nan,1"}, "probe"),
    ({"probe": "1,2,3"}, "probe"),
    ({"view": "5,1,0,1"}, "view"),
    ({"view": "0,1e9,0,1"}, "view"),
    ({"view": "100,101,100,101"}, "shows no data"),
    ({"proj": "tsne"}, "tsne"),
    ({"models": "vae-2d", "dims": "16", "probe": "1,1", "view": "0,1,0,1"}, "latent size"),
])
def test_bad_url_input_warns_and_falls_back_to_the_default_scene(query, notice):
    default = _run()
    at = _run(**query)
    _ok(at)
    assert any(notice in w for w in _warnings(at)), _warnings(at)
    assert list(_maps(at)) == ["map-vae-2d-latent"]
    assert at.radio(key="ex_projection").value == "pca"
    assert _probes(at) == _probes(default)
    assert _maps(at)["map-vae-2d-latent"]["view"] == _maps(default)["map-vae-2d-latent"]["view"]
    assert {k: at.query_params[k] for k in ("models", "proj", "probe", "view")} == \
        {k: default.query_params[k] for k in ("models", "proj", "probe", "view")}


def test_a_far_away_url_probe_is_clamped_with_a_notice():
    at = _run(probe="1e9,-1e9")
    _ok(at)
    assert any("far outside" in w for w in _warnings(at)), _warnings(at)
    [(x, y)] = _probes(at)
    x0, x1, y0, y1 = _maps(at)["map-vae-2d-latent"]["data_bounds"]
    assert math.isfinite(x) and math.isfinite(y)
    assert x1 < x <= x1 + 2 * (x1 - x0) + 1e-3  # pushed to the edge of the reachable area, on its side
    assert y0 - 2 * (y1 - y0) - 1e-3 <= y < y0
    assert abs(x) < 100 and abs(y) < 100


def test_the_url_keeps_at_most_four_models():
    at = _run(models="vae-2d,ae-2d,dae-2d,sae-2d,ae-16d")
    _ok(at)
    shown = {"map-vae-2d-latent", "map-ae-2d-latent", "map-dae-2d-latent", "map-sae-2d-latent"}
    assert set(_maps(at)) == shown  # in two columns
    assert at.query_params["models"] == "vae-2d,ae-2d,dae-2d,sae-2d"


def test_a_url_with_more_than_four_models_says_some_were_dropped():
    at = _run(models="vae-2d,ae-2d,dae-2d,sae-2d,ae-16d")
    assert any("ae-16d" in w for w in _warnings(at)), _warnings(at)


def test_an_unknown_model_does_not_shift_the_latent_sizes_onto_the_others():
    at = _run(models="ghost,vae-2d", dims="16,2", probe="1,-1")
    _ok(at)
    assert not any("latent size" in w for w in _warnings(at)), _warnings(at)
    assert _probes(at) == [(1.0, -1.0)]  # vae-2d's dims (2) match, so its probe is kept


# ---- projected maps --------------------------------------------------------------------------


def test_a_16d_model_is_drawn_through_pca_with_an_exact_decode():
    at = _run()
    at.multiselect(key="ex_models").set_value(["vae-16d"]).run()
    _ok(at)
    data = _maps(at)["map-vae-16d-pca"]
    assert data["latent_dim"] == 16 and data["inverse"]["kind"] == "linear"
    assert "PCA" in data["note"]
    assert data["sigma"] is None  # 16-D sigmas have no meaning on the plane
    [caption] = _decode_captions(at)
    assert "Approximate" not in caption
    assert at.query_params["models"] == "vae-16d" and at.query_params["dims"] == "16"


@pytest.fixture()
def umap_stand_in(monkeypatch, tmp_path):
    """A fast stand-in for UMAP: an affine map (a scaled, shifted PCA) marked inexact.

    A real UMAP fit on 5,000 codes plus its inverse grid took over a minute here; the app's
    handling of an approximate projection does not depend on how the map was made. The
    stand-in's layout is written to a cache dir of its own, and the maps' caches are
    cleared around the test, so no other test sees it.
    """

    class StandIn(projection.PCAProjection):
        exact = False

        def transform(self, codes):
            return super().transform(codes) * 0.5 + 10.0

        def inverse_transform(self, points):
            return super().inverse_transform((np.asarray(points, np.float64) - 10.0) / 0.5)

    real = projection.make_projection
    monkeypatch.setattr(projection, "make_projection",
                        lambda method, seed=0: StandIn(seed) if method == "umap" else real(method, seed))
    monkeypatch.setenv("AELAB_CACHE_DIR", str(tmp_path))  # the on-disk layout cache
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))  # restored afterwards
    caches = (maps._model_map, maps._pca, maps._umap_layout)
    for cache in caches:
        cache.clear()
    yield StandIn
    for cache in caches:
        cache.clear()


def test_an_approximate_projection_is_marked_and_decodes_through_its_grid(umap_stand_in):
    at = _run(models="ae-16d", proj="umap")
    _ok(at)
    data = _maps(at)["map-ae-16d-umap"]
    assert data["inverse"]["kind"] == "grid" and data["inverse"]["resolution"] == 24
    assert "UMAP" in data["note"] and "approximate" in data["note"]
    [caption] = _decode_captions(at)
    assert caption.endswith("Approximate: through UMAP's inverse.")
    x0, x1, y0, y1 = data["data_bounds"]
    assert x0 > 0 and y0 > 0  # the stand-in's coordinates, shifted by +10: really the "umap" map


def test_a_view_from_the_pca_map_is_not_applied_to_the_umap_map(umap_stand_in):
    at = _run(models="ae-16d")
    _report(at, "ae-16d", "view", [-1.0, 1.0, -1.0, 1.0])  # pan the PCA map
    assert _maps(at)["map-ae-16d-pca"]["view"] == [-1.0, 1.0, -1.0, 1.0]
    at.radio(key="ex_projection").set_value("umap").run()
    umap_view = _maps(at)["map-ae-16d-umap"]["view"]
    assert umap_view != [-1.0, 1.0, -1.0, 1.0]
    x, y = (umap_view[0] + umap_view[1]) / 2, (umap_view[2] + umap_view[3]) / 2
    _report(at, "ae-16d", "probe", {"x": x, "y": y, "picked": None, "view": umap_view})  # drag the probe
    _ok(at)
    assert _maps(at)["map-ae-16d-umap"]["view"] == umap_view


# ---- reports from the component --------------------------------------------------------------


def test_a_released_probe_is_decoded_by_the_server_and_written_to_the_url():
    at = _run(models="vae-2d,ae-2d")
    _report(at, "vae-2d", "probe", {"x": 1.5, "y": -0.25, "picked": None, "view": [-1, 1, -1, 1]})
    _ok(at)
    assert _decode_captions(at) == ["Server decode at (1.500, -0.250): free position."] * 2  # the shared probe
    assert all(d["probe"] == [1.5, -0.25] for d in _maps(at).values())
    assert at.query_params["probe"] == "1.5000,-0.2500"


def test_a_clicked_digit_is_named_and_set_a_uses_it():
    at = _run()
    _pick(at, "vae-2d", 7)
    _ok(at)
    [caption] = _decode_captions(at)
    assert f"digit #7 (label {_label(at, 'vae-2d', 7)})" in caption
    assert _probes(at) == [pytest.approx(_point(at, "vae-2d", 7), abs=5e-4)]
    assert at.button(key="do_set_a").label == "Set A to digit #7"
    _report(at, "vae-2d", "probe", {"x": 0.0, "y": 0.0, "picked": None, "view": None})  # dragged off it
    assert _decode_captions(at)[0].endswith("free position.")
    assert at.button(key="do_set_a").label == "Set A to the probe's position"


def test_a_reported_view_is_kept_and_written_to_the_url():
    at = _run()
    _report(at, "vae-2d", "view", [-0.5, 0.5, -1.0, 1.0])
    _ok(at)
    assert _maps(at)["map-vae-2d-latent"]["view"] == [-0.5, 0.5, -1.0, 1.0]
    assert at.query_params["view"] == "-0.5000,0.5000,-1.0000,1.0000"


@pytest.mark.parametrize(("key", "value"), [
    ("probe", {"x": "1", "y": 0.5, "picked": None}),
    ("probe", {"x": None, "y": 0.5}),
    ("probe", {"x": 1e400, "y": 0.5}),  # json.dumps writes Infinity
    ("probe", [1, 2]),
    ("view", [1.0, -1.0, 0.0, 1.0]),
    ("view", [0.0, 1.0, 0.0]),
    ("view", [0.0, 1.0, 0.0, "2"]),
    ("view", "0,1,0,1"),
])
def test_malformed_reports_are_ignored(key, value):
    at = _run()
    before = (_probes(at), _maps(at)["map-vae-2d-latent"]["view"], dict(at.query_params))
    _report(at, "vae-2d", key, value)
    _ok(at)
    assert (_probes(at), _maps(at)["map-vae-2d-latent"]["view"], dict(at.query_params)) == before


def test_a_pick_outside_the_data_is_a_free_position():
    at = _run()
    _report(at, "vae-2d", "probe", {"x": 0.5, "y": 0.5, "picked": 10**6, "view": None})
    _ok(at)
    assert _decode_captions(at) == ["Server decode at (0.500, 0.500): free position."]


def test_moving_the_2d_probe_keeps_the_digit_picked_on_a_projected_map():
    at = _run(models="ae-16d,vae-2d")
    _pick(at, "ae-16d", 5)
    assert "digit #5" in _decode_captions(at)[0]
    _report(at, "vae-2d", "probe", {"x": 0.5, "y": 0.5, "picked": None, "view": None})
    _ok(at)
    assert "digit #5" in _decode_captions(at)[0]  # ae-16d's probe is still on digit #5


# ---- interpolation ---------------------------------------------------------------------------


def test_interpolating_between_two_picked_digits_shows_a_strip_per_model():
    at = _run(models="vae-2d,ae-2d,ae-16d")
    assert not _strips(at)
    labels = _maps(at)["map-vae-2d-latent"]["points"]["label"]
    a, b = labels.index(0), labels.index(1)
    _pick(at, "vae-2d", a)
    at.button(key="do_set_a").click().run()
    _pick(at, "vae-2d", b)
    at.button(key="do_set_b").click().run()
    _ok(at)
    assert _strips(at) == [f"{m}: A to B in 10 steps" for m in ("vae-2d", "ae-2d", "ae-16d")]
    # the segment is drawn between the same two digits on every map, each in its own coordinates
    at.run()
    for model, data in _maps(at).items():
        name = model.removeprefix("map-").rsplit("-", 1)[0]
        assert data["segment"] == {"a": pytest.approx(list(_point(at, name, a))),
                                   "b": pytest.approx(list(_point(at, name, b)))}
    at.slider(key="ex_steps").set_value(5).run()
    assert _strips(at) == [f"{m}: A to B in 5 steps" for m in ("vae-2d", "ae-2d", "ae-16d")]


def test_interpolating_between_two_probe_positions():
    at = _run(models="vae-2d,ae-2d,ae-16d")
    _report(at, "vae-2d", "probe", {"x": -1.0, "y": 0.5, "picked": None, "view": None})
    at.button(key="do_set_a").click().run()
    _report(at, "vae-2d", "probe", {"x": 1.0, "y": -0.5, "picked": None, "view": None})
    at.button(key="do_set_b").click().run()
    _ok(at)
    # both 2-D maps take the positions; a free position on a 2-D latent means nothing on a PCA map
    assert _strips(at) == ["vae-2d: A to B in 10 steps", "ae-2d: A to B in 10 steps"]
    assert any("ae-16d: A or B is a free position" in c.value for c in at.caption)
    at.run()
    assert _maps(at)["map-vae-2d-latent"]["segment"] == {"a": [-1.0, 0.5], "b": [1.0, -0.5]}
    assert _maps(at)["map-ae-16d-pca"]["segment"] is None


def test_setting_b_draws_the_segment_on_the_map_in_the_same_run():
    at = _run()
    _report(at, "vae-2d", "probe", {"x": -1.0, "y": 0.5, "picked": None, "view": None})
    at.button(key="do_set_a").click().run()
    _report(at, "vae-2d", "probe", {"x": 1.0, "y": -0.5, "picked": None, "view": None})
    at.button(key="do_set_b").click().run()
    assert _strips(at) == ["vae-2d: A to B in 10 steps"]
    assert _maps(at)["map-vae-2d-latent"]["segment"] == {"a": [-1.0, 0.5], "b": [1.0, -0.5]}


# ---- writing the URL -------------------------------------------------------------------------


def test_the_query_string_holds_the_scene_and_restores_it():
    at = _run(models="vae-2d,ae-16d")
    _report(at, "vae-2d", "probe", {"x": 0.75, "y": -1.25, "picked": None, "view": None})
    _report(at, "vae-2d", "view", [-2.0, 2.0, -1.5, 1.5])
    at.toggle(key="ex_manifold").set_value(True).run()
    _ok(at)
    query = dict(at.query_params)
    assert {"models", "dims", "proj", "probe", "view"} <= set(query)
    assert query["models"] == "vae-2d,ae-16d" and query["dims"] == "2,16" and query["proj"] == "pca"
    assert explore.parse_pair(query["probe"]) == (0.75, -1.25)
    assert explore.parse_view(query["view"]) == [-2.0, 2.0, -1.5, 1.5]
    assert query["manifold"] == "1" and "sigma" not in query and "prior" not in query
    # a bookmark of that URL opens the same scene
    again = _run(**query)
    _ok(again)
    assert not _warnings(again)
    assert _decode_captions(again) == _decode_captions(at)
    assert _maps(again)["map-vae-2d-latent"]["view"] == [-2.0, 2.0, -1.5, 1.5]
    assert again.toggle(key="ex_manifold").value is True
    assert dict(again.query_params) == query


def test_sigma_toggle_explains_itself_for_a_model_without_sigmas():
    at = _run(models="vae-2d,ae-2d", sigma="1", prior="1")
    _ok(at)
    data = _maps(at)
    assert data["map-vae-2d-latent"]["show_sigma"] and data["map-vae-2d-latent"]["prior"] == {"center": [0.0, 0.0],
                                                                                 "radii": [1, 2, 3]}
    assert data["map-ae-2d-latent"]["prior"] is None  # an AE has no prior
    notes = [c.value for c in at.caption if c.value.startswith("Sigma ellipses are for VAEs only")]
    assert len(notes) == 1  # under ae-2d, not under the VAE
