"""The latent explorer page, driven headless with streamlit.testing.v1.AppTest's public API.

Each map is a components-v2 element: AppTest lists it (``at.get("bidi_component")``) as an
element of type ``bidi_component`` whose proto carries the per-run JSON payload the browser
receives, beside the data elements of its shared parts (points, decoder: sent once), which
:func:`_maps` merges with it as the browser does. The component's state is what the browser
reports, ``{"probe": ..., "view": ...}``, each report with a fresh string ``id``; the page
reads new reports at the top of its run. So :func:`_send` does what the browser does, through
the public API only: it writes the component's state with one report replaced
(``at.session_state[key] = ...``) and reruns.
Drawing, dragging and in-browser decoding are covered by tests/test_browser.py.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aelab import checkpoint, explore, jobs, layouts, pretrained, projection
from aelab.app import maps, payload, resources
from aelab.app.components import latent_map
from aelab.train import TrainConfig

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PROBE = re.compile(r"Probe at \((-?[\d.]+), (-?[\d.]+)\): ")
SHARED = "free position, the same coordinates as on {} (which may decode to another digit there)."
_ids = itertools.count()


# ---- helpers ---------------------------------------------------------------------------------


def _open(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def _components(at: AppTest) -> dict:
    """The latent-map elements by key (not their data elements)."""
    return {c.key: c for c in at.get("bidi_component") if c.proto.component_name == latent_map.MAP}


def _maps(at: AppTest) -> dict[str, dict]:
    """The latent maps by key, each with the payload the browser draws: its shared parts (sent once,
    in data elements of their own) with its per-run payload over them."""
    return latent_map.drawn_payloads(at.get("bidi_component"))


def _key(at: AppTest, model: str) -> str:
    """The component key of a model's map (one per model and plane: map-<name>-<plane>)."""
    keys = [key for key in _components(at) if key.startswith(f"map-{model}-")]
    assert len(keys) == 1, f"no single map for {model}: {keys}"
    return keys[0]


def _captions(at: AppTest) -> list[str]:
    """The caption under each map that says where its probe is."""
    return [c.value for c in at.caption if PROBE.match(c.value)]


def _probes(at: AppTest) -> list[tuple[float, float]]:
    """The probe of each map, from its caption."""
    return [(float(m.group(1)), float(m.group(2))) for m in map(PROBE.match, _captions(at))]


def _send(at: AppTest, model: str, field: str, report) -> AppTest:
    """What the browser does on setStateValue(field, report): set the component's state with
    that field replaced, then rerun."""
    key = _key(at, model)
    state = dict(at.session_state[key]) if key in at.session_state else {"probe": None, "view": None}
    at.session_state[key] = state | {field: report}
    return at.run()


def _release(at: AppTest, model: str, x: float, y: float, picked=None) -> AppTest:
    """Let go of the probe at (x, y) (``picked``: the digit clicked there, if any)."""
    return _send(at, model, "probe", {"x": x, "y": y, "picked": picked, "nearest": None, "view": None,
                                      "id": f"t{next(_ids)}"})


def _pick(at: AppTest, model: str, index: int) -> AppTest:
    """Click data point ``index``: the browser snaps the probe to it and reports the pick."""
    return _release(at, model, *_point(at, model, index), picked=index)


def _pan(at: AppTest, model: str, bounds) -> AppTest:
    return _send(at, model, "view", {"bounds": bounds, "id": f"t{next(_ids)}"})


def _point(at: AppTest, model: str, index: int) -> tuple[float, float]:
    """Where data point ``index`` lies on a model's map, from its payload."""
    points = _maps(at)[_key(at, model)]["points"]
    n = len(points["label"])
    return (float(payload.from_b64(points["x"], (n,))[index]), float(payload.from_b64(points["y"], (n,))[index]))


def _label(at: AppTest, model: str, index: int) -> int:
    return _maps(at)[_key(at, model)]["points"]["label"][index]


def _on_digit(at: AppTest, model: str, index: int) -> str:
    """The caption of a map whose probe is on digit ``index``, at the digit's own position."""
    x, y = _point(at, model, index)
    return f"Probe at ({x:.3f}, {y:.3f}): digit #{index} (label {_label(at, model, index)})."


def _strips(at: AppTest) -> list[str]:
    return [c for image in at.image for c in image.captions if "A to B" in c]


def _warnings(at: AppTest) -> list[str]:
    """The notices as a reader sees them: markdown escapes and the invisible autolink breakers removed."""
    return [w.value.replace("\\", "").replace("\u2060", "") for w in at.warning]


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@functools.cache
def _model(name: str):
    return checkpoint.load({e["name"]: e for e in pretrained.read_index()}[name]["path"]).model


def _to_latent(data: dict):
    """Map positions -> codes, from the payload's own inverse (exact ones only)."""
    inverse = data["inverse"]
    if inverse["kind"] == "identity":
        return None
    assert inverse["kind"] == "linear", inverse["kind"]
    d = data["latent_dim"]
    mean, components = payload.from_b64(inverse["mean"], (d,)), payload.from_b64(inverse["components"], (2, d))
    return lambda points: mean + points @ components


def _assert_server_decodes(at: AppTest, session_models: dict | None = None) -> None:
    """Every map's payload carries the Python model's own decode of that map's probe (models not
    shipped, a session's own, are given by name)."""
    for key, data in _maps(at).items():
        server = data["server"]
        assert server["probe"] == data["probe"], key
        image = payload.from_b64(server["image"], tuple(server["shape"]))
        name = data["model"].split(":")[0]
        model = session_models[name] if session_models and name in session_models else _model(name)
        expected = explore.decode_at(model, np.array([data["probe"]]), _to_latent(data))[0]
        np.testing.assert_allclose(image, expected, atol=1e-6, err_msg=key)


# ---- default page ----------------------------------------------------------------------------


def test_default_run_shows_one_map_of_the_2d_vae_with_its_server_decode():
    at = _open()
    _ok(at)
    assert list(_maps(at)) == ["map-vae-2d-latent"]
    data = _maps(at)["map-vae-2d-latent"]
    assert data["latent_dim"] == 2 and data["inverse"] == {"kind": "identity"}
    assert data["decoder"] is not None and data["sigma"] is not None  # the browser can decode and draw ellipses
    assert data["link"] == {"group": "explorer:mnist5k", "follow": "coords"}
    [caption] = _captions(at)
    assert caption.endswith("): free position.")
    [(x, y)] = _probes(at)
    x0, x1, y0, y1 = data["data_bounds"]
    assert x0 < x < x1 and y0 < y < y1  # the default probe sits among the data
    assert data["probe"] == pytest.approx([x, y], abs=5e-4) and data["view"] == data["data_bounds"]
    _assert_server_decodes(at)  # the server's decode travels inside the map's payload
    assert not at.image  # so no image of its own; no interpolation strip yet
    assert not _warnings(at)


# ---- restoring from the URL ------------------------------------------------------------------


def test_url_restores_models_probe_and_toggles():
    at = _open(models="vae-2d,ae-2d", probe="1,-1", manifold="1")
    _ok(at)
    assert list(_maps(at)) == ["map-vae-2d-latent", "map-ae-2d-latent"]
    # a free position, shared by coordinates by the two 2-D maps, and said to be only that
    assert _captions(at) == ["Probe at (1.000, -1.000): " + SHARED.format("ae-2d"),
                             "Probe at (1.000, -1.000): " + SHARED.format("vae-2d")]
    assert at.toggle(key="ex_manifold").value is True
    assert at.toggle(key="ex_sigma").value is False
    assert all(d["show_manifold"] and d["probe"] == [1.0, -1.0] for d in _maps(at).values())
    assert all(d["link"] == {"group": "explorer:mnist5k", "follow": "coords"} for d in _maps(at).values())
    assert "pick" not in at.query_params
    assert not _warnings(at)


def test_url_view_is_restored_for_the_first_map():
    at = _open(models="vae-2d", view="-1,2,-0.5,1.5")
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
    ({"pick": "seven"}, "pick"),
    ({"pick": "-3"}, "pick"),
    ({"pick": "99999999"}, "not in the data set"),
    ({"models": "vae-2d", "dims": "16", "probe": "1,1", "view": "0,1,0,1", "pick": "3"}, "latent size"),
])
def test_bad_url_input_warns_and_falls_back_to_the_default_scene(query, notice):
    default = _open()
    at = _open(**query)
    _ok(at)
    assert any(notice in w for w in _warnings(at)), _warnings(at)
    assert list(_maps(at)) == ["map-vae-2d-latent"]
    assert at.radio(key="ex_projection").value == "pca"
    assert _probes(at) == _probes(default) and _captions(at) == _captions(default)
    assert _maps(at)["map-vae-2d-latent"]["view"] == _maps(default)["map-vae-2d-latent"]["view"]
    assert dict(at.query_params) == dict(default.query_params)  # no pick: the probe is free


def test_a_far_away_url_probe_is_clamped_with_a_notice():
    at = _open(probe="1e9,-1e9")
    _ok(at)
    assert any("far outside" in w for w in _warnings(at)), _warnings(at)
    [(x, y)] = _probes(at)
    x0, x1, y0, y1 = _maps(at)["map-vae-2d-latent"]["data_bounds"]
    assert math.isfinite(x) and math.isfinite(y)
    assert x1 < x <= x1 + 2 * (x1 - x0) + 1e-3  # pushed to the edge of the reachable area, on its side
    assert y0 - 2 * (y1 - y0) - 1e-3 <= y < y0
    assert abs(x) < 100 and abs(y) < 100


def test_the_url_keeps_at_most_four_models():
    at = _open(models="vae-2d,ae-2d,dae-2d,sae-2d,ae-16d")
    _ok(at)
    shown = {"map-vae-2d-latent", "map-ae-2d-latent", "map-dae-2d-latent", "map-sae-2d-latent"}
    assert set(_maps(at)) == shown  # in two columns
    assert at.query_params["models"] == "vae-2d,ae-2d,dae-2d,sae-2d"


def test_a_url_with_more_than_four_models_says_some_were_dropped():
    at = _open(models="vae-2d,ae-2d,dae-2d,sae-2d,ae-16d")
    assert any("ae-16d" in w for w in _warnings(at)), _warnings(at)


def test_an_unknown_model_does_not_shift_the_latent_sizes_onto_the_others():
    at = _open(models="ghost,vae-2d", dims="16,2", probe="1,-1")
    _ok(at)
    assert not any("latent size" in w for w in _warnings(at)), _warnings(at)
    assert _probes(at) == [(1.0, -1.0)]  # vae-2d's dims (2) match, so its probe is kept


# ---- the model picker ------------------------------------------------------------------------


def test_the_model_picker_shows_names_only():
    # Bug 11 (part): the picker's chips read "vae-2d: VAE, beta=1, 2-D latent"; the descriptions
    # now live in its help and in a caption under each map's subheader.
    at = _open(models="vae-2d,ae-16d")
    _ok(at)
    names = [e["name"] for e in pretrained.read_index()]
    picker = at.multiselect(key="ex_models")
    assert picker.options == names
    assert picker.value == ["vae-2d", "ae-16d"]
    descriptions = {e["name"]: resources.plain(e["description"]) for e in pretrained.read_index()}
    assert all(f"**{name}**: {descriptions[name]}" in picker.help for name in names)
    assert [s.value for s in at.subheader][:2] == ["vae-2d", "ae-16d"]
    captions = [c.value for c in at.caption]
    assert descriptions["vae-2d"] in captions and descriptions["ae-16d"] in captions


# ---- projected maps --------------------------------------------------------------------------


def test_a_16d_model_is_drawn_through_pca_with_an_exact_decode():
    at = _open()
    at.multiselect(key="ex_models").set_value(["vae-16d"]).run()
    _ok(at)
    data = _maps(at)["map-vae-16d-pca"]
    assert data["latent_dim"] == 16 and data["inverse"]["kind"] == "linear"
    assert "PCA" in data["note"]
    assert data["sigma"] is None  # 16-D sigmas have no meaning on the plane
    assert data["link"] == {"group": "explorer:mnist5k", "follow": None}  # its coordinates mean nothing on another map
    [caption] = _captions(at)
    assert caption.endswith("free position.") and "Approximate" not in caption
    _assert_server_decodes(at)  # decoded through PCA's exact inverse
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
    monkeypatch.setattr(pretrained, "layouts_dir", lambda directory=None: tmp_path / "no-shipped-layouts")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))  # restored afterwards
    caches = (maps._model_map, maps._pca, maps._umap_layout)
    for cache in caches:
        cache.clear()
    yield StandIn
    for cache in caches:
        cache.clear()


def test_an_approximate_projection_is_marked_and_decodes_through_its_grid(umap_stand_in):
    at = _open(models="ae-16d", proj="umap")
    _ok(at)
    data = _maps(at)["map-ae-16d-umap"]
    assert data["inverse"]["kind"] == "grid" and data["inverse"]["resolution"] == 24
    assert "UMAP" in data["note"] and "approximate" in data["note"]
    [caption] = _captions(at)
    assert caption.endswith("free position. Approximate: through UMAP's inverse.")
    assert data["server"]["probe"] == data["probe"]
    x0, x1, y0, y1 = data["data_bounds"]
    assert x0 > 0 and y0 > 0  # the stand-in's coordinates, shifted by +10: really the "umap" map


def test_a_view_from_the_pca_map_is_not_applied_to_the_umap_map(umap_stand_in):
    at = _open(models="ae-16d")
    _pan(at, "ae-16d", [-1.0, 1.0, -1.0, 1.0])  # pan the PCA map
    assert _maps(at)["map-ae-16d-pca"]["view"] == [-1.0, 1.0, -1.0, 1.0]
    at.radio(key="ex_projection").set_value("umap").run()
    umap_view = _maps(at)["map-ae-16d-umap"]["view"]
    assert umap_view != [-1.0, 1.0, -1.0, 1.0]
    x, y = (umap_view[0] + umap_view[1]) / 2, (umap_view[2] + umap_view[3]) / 2
    _release(at, "ae-16d", x, y)  # drag the probe
    _ok(at)
    assert _maps(at)["map-ae-16d-umap"]["view"] == umap_view


def test_a_map_shown_again_does_not_claim_a_digit_its_probe_left(umap_stand_in):
    # The digit a probe is on was kept per model, its probe per model *and plane*: after a
    # free release on ae-16d's PCA map and a trip through UMAP (whose new map joined vae-2d's
    # digit), the PCA map came back at its free position captioned "digit #7".
    at = _open(models="vae-2d,ae-16d")
    _pick(at, "vae-2d", 7)
    _release(at, "ae-16d", 0.5, 0.5)
    at.radio(key="ex_projection").set_value("umap").run()
    assert _captions(at)[1] == _on_digit(at, "ae-16d", 7) + " Approximate: through UMAP's inverse."
    at.radio(key="ex_projection").set_value("pca").run()
    _ok(at)
    # shown again, it joins the digit the other map is on, and says so truthfully
    assert _captions(at) == [_on_digit(at, "vae-2d", 7), _on_digit(at, "ae-16d", 7)]
    assert _maps(at)["map-ae-16d-pca"]["probe"] == pytest.approx(_point(at, "ae-16d", 7), abs=1e-6)


# ---- reports from the component --------------------------------------------------------------


def test_a_released_probe_is_decoded_by_the_server_and_written_to_the_url():
    at = _open(models="vae-2d,ae-2d")
    _release(at, "vae-2d", 1.5, -0.25)
    _ok(at)
    # shared by coordinates by both 2-D maps, each caption saying so
    assert _captions(at) == ["Probe at (1.500, -0.250): " + SHARED.format("ae-2d"),
                             "Probe at (1.500, -0.250): " + SHARED.format("vae-2d")]
    assert all(d["probe"] == [1.5, -0.25] for d in _maps(at).values())
    _assert_server_decodes(at)
    assert at.query_params["probe"] == "1.5000,-0.2500" and "pick" not in at.query_params


def test_a_clicked_digit_is_named_and_set_a_uses_it():
    at = _open()
    _pick(at, "vae-2d", 7)
    _ok(at)
    assert _captions(at) == [_on_digit(at, "vae-2d", 7)]
    assert _probes(at) == [pytest.approx(_point(at, "vae-2d", 7), abs=5e-4)]
    assert at.button(key="do_set_a").label == "Set A to digit #7"
    _release(at, "vae-2d", 0.0, 0.0)  # dragged off it
    assert _captions(at) == ["Probe at (0.000, 0.000): free position."]
    assert at.button(key="do_set_a").label == "Set A to the probe's position"


def test_a_report_is_applied_once_whatever_reruns_follow():
    at = _open(models="vae-2d,ae-2d")
    _release(at, "vae-2d", 1.5, -0.25)  # stays in vae-2d's component state
    _pick(at, "ae-2d", 3)
    at.toggle(key="ex_manifold").set_value(True).run()  # an unrelated rerun
    _ok(at)
    assert _captions(at) == [_on_digit(at, "vae-2d", 3), _on_digit(at, "ae-2d", 3)]


def test_a_reported_view_is_kept_and_written_to_the_url():
    at = _open()
    _pan(at, "vae-2d", [-0.5, 0.5, -1.0, 1.0])
    _ok(at)
    assert _maps(at)["map-vae-2d-latent"]["view"] == [-0.5, 0.5, -1.0, 1.0]
    assert at.query_params["view"] == "-0.5000,0.5000,-1.0000,1.0000"


@pytest.mark.parametrize(("field", "report"), [
    ("probe", {"x": "1", "y": 0.5, "picked": None}),
    ("probe", {"x": None, "y": 0.5}),
    ("probe", {"x": 1e400, "y": 0.5}),  # json writes Infinity
    ("probe", {"x": float("nan"), "y": 0.5}),
    ("probe", {"y": 0.5, "picked": 3}),
    ("probe", [1, 2]),
    ("probe", {"x": 1.5, "y": 0.5, "picked": None, "id": None}),  # a valid position without an id
    ("probe", {"x": 1.5, "y": 0.5, "picked": None, "id": 17}),  # an id that is not a string
    ("view", {"bounds": [1.0, -1.0, 0.0, 1.0]}),
    ("view", {"bounds": [0.0, 1.0, 0.0]}),
    ("view", {"bounds": [0.0, 1.0, 0.0, "2"]}),
    ("view", {"bounds": "0,1,0,1"}),
    ("view", {}),
    ("view", [0.0, 1.0, 0.0, 1.0]),
    ("view", {"bounds": [-0.5, 0.5, -1.0, 1.0], "id": 5}),
])
def test_malformed_reports_are_ignored(field, report):
    at = _open()
    before = (_captions(at), _maps(at)["map-vae-2d-latent"]["view"], dict(at.query_params))
    if isinstance(report, dict) and "id" not in report:
        report = report | {"id": f"t{next(_ids)}"}  # a new report, with a bad payload
    _send(at, "vae-2d", field, report)
    _ok(at)
    assert (_captions(at), _maps(at)["map-vae-2d-latent"]["view"], dict(at.query_params)) == before


@pytest.mark.parametrize("picked", [10**6, -1, True, "7", 7.0])
def test_a_pick_that_is_not_a_digit_index_is_a_free_position(picked):
    at = _open()
    _release(at, "vae-2d", 0.5, 0.5, picked=picked)
    _ok(at)
    assert _captions(at) == ["Probe at (0.500, 0.500): free position."]


def test_moving_the_2d_probe_keeps_the_digit_picked_on_a_projected_map():
    at = _open(models="ae-16d,vae-2d")
    _pick(at, "ae-16d", 5)
    assert _captions(at) == [_on_digit(at, "ae-16d", 5), _on_digit(at, "vae-2d", 5)]
    _release(at, "vae-2d", 0.5, 0.5)
    _ok(at)
    # ae-16d's probe is still on digit #5; vae-2d's is free, and no other 2-D map shares it
    assert _captions(at) == [_on_digit(at, "ae-16d", 5), "Probe at (0.500, 0.500): free position."]
    assert at.query_params["pick"] == "5"  # the first map's digit


# ---- linked by digits (bug 5) ----------------------------------------------------------------


def test_a_clicked_digit_puts_every_map_on_its_own_code_of_that_digit():
    # Bug 5: the maps were linked by raw coordinates, so clicking digit #10 on vae-2d put
    # ae-2d's probe at vae-2d's coordinates, on some unrelated digit of ae-2d.
    at = _open(models="vae-2d,ae-2d")
    _pick(at, "vae-2d", 10)
    _ok(at)
    probes = {key: data["probe"] for key, data in _maps(at).items()}
    vae_point, ae_point = _point(at, "vae-2d", 10), _point(at, "ae-2d", 10)
    assert np.linalg.norm(np.subtract(vae_point, ae_point)) > 0.1  # the two codes of #10 are apart
    assert probes["map-vae-2d-latent"] == pytest.approx(vae_point, abs=1e-6)
    assert probes["map-ae-2d-latent"] == pytest.approx(ae_point, abs=1e-6)
    label = _label(at, "vae-2d", 10)
    assert _label(at, "ae-2d", 10) == label
    assert _captions(at) == [_on_digit(at, "vae-2d", 10), _on_digit(at, "ae-2d", 10)]
    assert all(f"digit #10 (label {label})." in c for c in _captions(at))
    _assert_server_decodes(at)  # each map decodes its own code of the digit
    assert at.query_params["pick"] == "10"
    # a free release is shared by coordinates only, and the captions say it is not the same digit
    _release(at, "vae-2d", 0.25, -0.75)
    _ok(at)
    assert [d["probe"] for d in _maps(at).values()] == [[0.25, -0.75]] * 2
    assert _captions(at) == ["Probe at (0.250, -0.750): " + SHARED.format("ae-2d"),
                             "Probe at (0.250, -0.750): " + SHARED.format("vae-2d")]
    assert "pick" not in at.query_params


def test_a_link_with_a_digit_puts_every_map_on_it_and_keeps_it():
    at = _open(models="vae-2d,ae-2d", pick="10", probe="1,-1")  # the digit wins over the probe
    _ok(at)
    assert not _warnings(at)
    assert _captions(at) == [_on_digit(at, "vae-2d", 10), _on_digit(at, "ae-2d", 10)]
    assert _maps(at)["map-ae-2d-latent"]["probe"] == pytest.approx(_point(at, "ae-2d", 10), abs=1e-6)
    assert at.query_params["pick"] == "10"
    x, y = _point(at, "vae-2d", 10)
    assert at.query_params["probe"] == f"{x:.4f},{y:.4f}"
    again = _open(**dict(at.query_params))  # the bookmark of that scene
    _ok(again)
    assert _captions(again) == _captions(at) and dict(again.query_params) == dict(at.query_params)


def test_a_map_added_later_joins_the_digit_the_others_are_on():
    at = _open(models="vae-2d,ae-2d")
    _pick(at, "ae-2d", 10)
    at.multiselect(key="ex_models").set_value(["vae-2d", "ae-2d", "ae-16d"]).run()
    _ok(at)
    # two columns: vae-2d and ae-16d in the first, ae-2d in the second
    assert _captions(at) == [_on_digit(at, m, 10) for m in ("vae-2d", "ae-16d", "ae-2d")]


def test_a_map_shown_again_follows_the_shared_position():
    # A removed map kept its old probe: shown again, it sat at a stale position while the
    # other 2-D map's caption (correctly) named no map sharing its coordinates.
    at = _open(models="vae-2d,ae-2d")
    _release(at, "vae-2d", 1.0, 1.0)
    at.multiselect(key="ex_models").set_value(["vae-2d"]).run()
    _release(at, "vae-2d", -0.5, 0.5)
    at.multiselect(key="ex_models").set_value(["vae-2d", "ae-2d"]).run()
    _ok(at)
    assert [d["probe"] for d in _maps(at).values()] == [[-0.5, 0.5]] * 2
    assert _captions(at) == ["Probe at (-0.500, 0.500): " + SHARED.format("ae-2d"),
                             "Probe at (-0.500, 0.500): " + SHARED.format("vae-2d")]


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory, aelab_cache_dir) -> resources.ModelEntry:
    """A 2-D AE trained briefly, as the Train page would, on other data: scikit-learn's 1,797
    8x8 digits (the shipped models saw mnist5k's 5,000)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AELAB_CACHE_DIR", str(aelab_cache_dir))
        out = tmp_path_factory.mktemp("session") / "digits-ae"
        job = jobs.train_now(jobs.JobSpec("ae", {"hidden": [32], "latent_dim": 2}, "digits", TrainConfig(epochs=5),
                                          out, data_name="digits"))
    assert job.status == "completed", job.message
    return resources.ModelEntry("digits-ae", str(out), "ae", 2, "digits", "plain AE on 8x8 digits")


def test_a_digit_links_only_the_maps_of_the_same_data(digits_model):
    # A clicked digit's index was applied to every map: beside a model trained on other data,
    # picking mnist5k digit #3000 raised an IndexError (that data has 1,797 digits), a smaller
    # index put the probe on an unrelated image, and so did interpolating between picked digits.
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["session_models"] = [digits_model]
    at.query_params["models"] = "vae-2d,digits-ae,ae-2d"
    at.run()
    _ok(at)
    x, y = _maps(at)["map-digits-ae-latent"]["probe"]
    free = f"Probe at ({x:.3f}, {y:.3f}): free position."
    _pick(at, "vae-2d", 3000)
    _ok(at)
    # two columns: vae-2d and ae-2d in the first, digits-ae in the second
    assert _captions(at) == [_on_digit(at, "vae-2d", 3000), _on_digit(at, "ae-2d", 3000), free]
    at.button(key="do_set_a").click().run()
    _pick(at, "digits-ae", 5)  # moves only its own probe
    assert _captions(at) == [_on_digit(at, "vae-2d", 3000), _on_digit(at, "ae-2d", 3000),
                             _on_digit(at, "digits-ae", 5)]
    _pick(at, "ae-2d", 7)
    at.button(key="do_set_b").click().run()
    _ok(at)
    assert _captions(at)[2] == _on_digit(at, "digits-ae", 5)
    assert _strips(at) == ["vae-2d: A to B in 10 steps", "ae-2d: A to B in 10 steps"]
    assert "digits-ae: A or B is a digit of other data; this model was trained on digits." in \
        [c.value for c in at.caption]
    assert _maps(at)["map-digits-ae-latent"]["segment"] is None
    _assert_server_decodes(at, {"digits-ae": checkpoint.load(digits_model.path).model})


# ---- one decoded image per map (bug 7) -------------------------------------------------------


def test_each_map_shows_one_decode_the_servers_of_its_own_probe():
    # Bug 7: the server's decode was an st.image under each map, next to the browser's live
    # decode inside it: two images of one probe. Now the map shows the server's image in
    # place of its own, so it must be the decode of the map's current probe.
    at = _open(models="vae-2d,ae-2d,ae-16d")
    _ok(at)
    assert not at.image
    _assert_server_decodes(at)
    _release(at, "vae-2d", -1.25, 0.75)
    _ok(at)
    assert not at.image
    servers = {key: data["server"]["probe"] for key, data in _maps(at).items()}
    assert servers["map-vae-2d-latent"] == servers["map-ae-2d-latent"] == [-1.25, 0.75]
    _assert_server_decodes(at)
    _pick(at, "ae-16d", 42)
    _ok(at)
    assert not at.image
    _assert_server_decodes(at)
    images = [payload.from_b64(d["server"]["image"], tuple(d["server"]["shape"])) for d in _maps(at).values()]
    assert not np.allclose(images[0], images[2])  # each model's own decode of digit #42, not one shared image


# ---- interpolation ---------------------------------------------------------------------------


def test_interpolating_between_two_picked_digits_shows_a_strip_per_model():
    at = _open(models="vae-2d,ae-2d,ae-16d")
    assert not _strips(at)
    labels = _maps(at)["map-vae-2d-latent"]["points"]["label"]
    a, b = labels.index(0), labels.index(1)
    _pick(at, "vae-2d", a)
    at.button(key="do_set_a").click().run()
    _pick(at, "vae-2d", b)
    at.button(key="do_set_b").click().run()
    _ok(at)
    assert _strips(at) == [f"{m}: A to B in 10 steps" for m in ("vae-2d", "ae-2d", "ae-16d")]
    assert len(at.image) == 3  # the strips are the page's only images
    # the segment is drawn between the same two digits on every map, each in its own coordinates
    for model, data in _maps(at).items():
        name = model.removeprefix("map-").rsplit("-", 1)[0]
        assert data["segment"] == {"a": pytest.approx(list(_point(at, name, a))),
                                   "b": pytest.approx(list(_point(at, name, b)))}
    at.slider(key="ex_steps").set_value(5).run()
    assert _strips(at) == [f"{m}: A to B in 5 steps" for m in ("vae-2d", "ae-2d", "ae-16d")]


def test_interpolating_between_two_probe_positions():
    at = _open(models="vae-2d,ae-2d,ae-16d")
    _release(at, "vae-2d", -1.0, 0.5)
    at.button(key="do_set_a").click().run()
    _release(at, "vae-2d", 1.0, -0.5)
    at.button(key="do_set_b").click().run()
    _ok(at)
    # both 2-D maps take the positions; a free position on a 2-D latent means nothing on a PCA map
    assert _strips(at) == ["vae-2d: A to B in 10 steps", "ae-2d: A to B in 10 steps"]
    assert any("ae-16d: A or B is a free position" in c.value for c in at.caption)
    assert _maps(at)["map-vae-2d-latent"]["segment"] == {"a": [-1.0, 0.5], "b": [1.0, -0.5]}
    assert _maps(at)["map-ae-16d-pca"]["segment"] is None


def test_setting_b_draws_the_segment_on_the_map_in_the_same_run():
    at = _open()
    _release(at, "vae-2d", -1.0, 0.5)
    at.button(key="do_set_a").click().run()
    _release(at, "vae-2d", 1.0, -0.5)
    at.button(key="do_set_b").click().run()
    assert _strips(at) == ["vae-2d: A to B in 10 steps"]
    assert _maps(at)["map-vae-2d-latent"]["segment"] == {"a": [-1.0, 0.5], "b": [1.0, -0.5]}


# ---- writing the URL -------------------------------------------------------------------------


def test_the_query_string_holds_the_scene_and_restores_it():
    at = _open(models="vae-2d,ae-16d")
    _release(at, "vae-2d", 0.75, -1.25)
    _pan(at, "vae-2d", [-2.0, 2.0, -1.5, 1.5])
    at.toggle(key="ex_manifold").set_value(True).run()
    _ok(at)
    query = dict(at.query_params)
    assert {"models", "dims", "proj", "probe", "view"} <= set(query)
    assert query["models"] == "vae-2d,ae-16d" and query["dims"] == "2,16" and query["proj"] == "pca"
    assert explore.parse_pair(query["probe"]) == (0.75, -1.25)
    assert explore.parse_view(query["view"]) == [-2.0, 2.0, -1.5, 1.5]
    assert query["manifold"] == "1" and not {"sigma", "prior", "pick"} & set(query)
    # a bookmark of that URL opens the same scene
    again = _open(**query)
    _ok(again)
    assert not _warnings(again)
    assert _captions(again) == _captions(at)
    assert _maps(again)["map-vae-2d-latent"]["view"] == [-2.0, 2.0, -1.5, 1.5]
    assert again.toggle(key="ex_manifold").value is True
    assert dict(again.query_params) == query


def test_sigma_toggle_explains_itself_for_a_model_without_sigmas():
    at = _open(models="vae-2d,ae-2d", sigma="1", prior="1")
    _ok(at)
    data = _maps(at)
    assert data["map-vae-2d-latent"]["show_sigma"] and data["map-vae-2d-latent"]["prior"] == {"center": [0.0, 0.0],
                                                                                 "radii": [1, 2, 3]}
    assert data["map-ae-2d-latent"]["prior"] is None  # an AE has no prior
    notes = [c.value for c in at.caption if c.value.startswith("Sigma ellipses are for VAEs only")]
    assert len(notes) == 1  # under ae-2d, not under the VAE


# ---- hostile links (issue 9) -----------------------------------------------------------------


@pytest.mark.parametrize("query", [
    {"models": "[log in](http://evil.example),vae-2d"},
    {"proj": "![x](http://evil.example/p.png)"},
    {"probe": "[click](http://evil.example)"},
    {"view": "<img src=http://evil.example/p.png>"},
])
def test_link_values_are_echoed_as_plain_text_not_markdown(query):
    """A shared link must not place a link or a remote image in the app's own notice."""
    at = _open(**query)
    _ok(at)
    [notice] = [w.value for w in at.warning if "evil" in w.value]  # the raw markdown
    assert not re.search(r"(?<!\\)[\[\]()<>!*_`]", notice.split("evil", 1)[0][-40:] + notice.split("evil", 1)[1])


def test_a_model_named_twice_in_a_link_is_shown_once():
    """`?models=vae-2d,vae-2d` raised StreamlitDuplicateElementKey."""
    at = _open(models="vae-2d,vae-2d,ae-2d")
    _ok(at)
    assert list(_maps(at)) == ["map-vae-2d-latent", "map-ae-2d-latent"]


def test_a_shipped_models_umap_layout_ships_with_it(monkeypatch, tmp_path):
    """No UMAP fit in front of a class: the shipped layout is read (fitting would raise here)."""
    def no_umap(method, seed=0):
        assert method != "umap", "UMAP was fitted, though the model's layout ships with it"
        return real(method, seed)
    real = projection.make_projection
    monkeypatch.setattr(projection, "make_projection", no_umap)
    monkeypatch.setenv("AELAB_CACHE_DIR", str(tmp_path))  # an empty disk cache
    caches = (maps._model_map, maps._umap_layout)
    for cache in caches:
        cache.clear()
    try:
        at = _open(models="vae-16d", proj="umap")
        _ok(at)
        data = _maps(at)["map-vae-16d-umap"]
        shipped = np.load(layouts.shipped_path(pretrained.layouts_dir(), pretrained.default_dir() / "vae-16d",
                                               "mnist5k"))
        assert data["inverse"]["kind"] == "grid"
        np.testing.assert_allclose(data["data_bounds"], explore.data_bounds(shipped["points"]), rtol=1e-4)
    finally:
        for cache in caches:
            cache.clear()
