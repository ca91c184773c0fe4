"""The "VAE vs AE" page, driven headless with streamlit.testing.v1.AppTest.

app.py registers the page with ``st.navigation`` from a callable (url_path "compare").
``AppTest.switch_page`` only takes page *files*, so :func:`_open` does what a click in the
navigation does: after a first run has registered the pages, it requests the compare
page's script hash (from AppTest's ``_registered_pages``; a private attribute, like the
``_tree`` / ``_run`` used by ``_report``, which simulates a components-v2 report as in
tests/test_explorer_app.py). What the page measures is asserted elsewhere; here: what it
shows, and that its controls and the linked probes do what they say.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from aelab import checkpoint, data, pretrained, regularity
from aelab.app import payload
from aelab.judge import judge_for

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SHIPPED = {e["name"]: e for e in pretrained.read_index()}
SAMPLE_GRIDS = ["VAE: N(0, I) prior", "AE: Gaussian fitted to its codes", "AE: uniform over its codes' box"]


# ---- helpers ---------------------------------------------------------------------------------


def _open() -> AppTest:
    """Run the app, then go to the compare page the way the navigation does."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    hashes = [h for h, page in at._registered_pages.items() if page.get("url_pathname") == "compare"]
    assert len(hashes) == 1, at._registered_pages
    at._page_hash = hashes[0]
    at.run()
    _ok(at)
    assert [t.value for t in at.title] == ["VAE versus plain AE"]
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _elements(node, kind: str) -> list:
    found = [node] if getattr(node, "type", None) == kind else []
    for child in getattr(node, "children", {}).values():
        found += _elements(child, kind)
    return found


def _components(at: AppTest) -> dict:
    return {c.key: c for c in _elements(at.main, "bidi_component")}


def _maps(at: AppTest) -> dict[str, dict]:
    """The latent-map components by key, each with the payload the browser receives."""
    return {key: json.loads(c.proto.json) for key, c in _components(at).items()}


def _captions(at: AppTest) -> list[str]:
    return [image.proto.imgs[0].caption for image in _elements(at.main, "image")]


def _points(data: dict) -> np.ndarray:
    """A payload's data points, (N, 2)."""
    n = len(data["points"]["label"])
    return np.stack([payload.from_b64(data["points"]["x"], (n,)), payload.from_b64(data["points"]["y"], (n,))], 1)


def _report(at: AppTest, key: str, name: str, value) -> AppTest:
    """What the browser does on setStateValue(name, value): send the merged state, rerun."""
    state = dict(at.session_state[key] or {}) | {name: value}
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=_components(at)[key].proto.id, json_value=json.dumps(state)))
    return at._run(states)


def _probe(at: AppTest, key: str) -> list[float]:
    return _maps(at)[key]["probe"]


AE_MAP, VAE_MAP = "cmp-ae-2d-latent", "cmp-vae-2d-latent"


# ---- the default page ------------------------------------------------------------------------


def test_the_page_shows_linked_maps_of_ae_2d_and_vae_2d_with_hole_maps():
    at = _open()
    maps = _maps(at)
    assert list(maps) == [AE_MAP, VAE_MAP]
    assert [s.value for s in at.subheader][:2] == ["ae-2d", "vae-2d"]
    for key, model in ((AE_MAP, "ae-2d"), (VAE_MAP, "vae-2d")):
        data = maps[key]
        assert data["model"] == f"{model}:latent" and data["latent_dim"] == 2
        assert data["link"] == {"group": "compare", "mode": "digits"}
        holes = data["holes"]
        r = holes["resolution"]
        grid = payload.from_b64(holes["grid"], (r, r))
        assert grid.min() >= 0 and grid.max() <= 1 and grid.min() == 0 and grid.max() == 1
        x0, x1, y0, y1 = data["data_bounds"]
        assert holes["x_range"][0] < x0 < x1 < holes["x_range"][1]  # the hole map reaches past the data
        assert holes["y_range"][0] < y0 < y1 < holes["y_range"][1]
        assert x0 < data["probe"][0] < x1 and y0 < data["probe"][1] < y1
    assert maps[AE_MAP]["prior"] is None and maps[VAE_MAP]["prior"]["center"] == [0.0, 0.0]
    assert at.toggle(key="cmp_holes").value is True and not at.toggle(key="cmp_holes").proto.disabled


def test_both_probes_start_on_the_same_digit():
    at = _open()
    maps = _maps(at)
    ae_points = _points(maps[AE_MAP])
    index = int(np.argmin(np.linalg.norm(ae_points - maps[AE_MAP]["probe"], axis=1)))
    assert ae_points[index] == pytest.approx(maps[AE_MAP]["probe"], abs=1e-6)
    assert _points(maps[VAE_MAP])[index] == pytest.approx(maps[VAE_MAP]["probe"], abs=1e-6)


def test_the_hole_map_toggle_removes_the_shading():
    at = _open()
    at.toggle(key="cmp_holes").set_value(False).run()
    _ok(at)
    assert all("holes" not in data for data in _maps(at).values())


@pytest.fixture(scope="module")
def shipped_figures(aelab_cache_dir) -> dict[str, dict]:
    """ae-2d's and vae-2d's figures at the page's settings (measure's defaults), measured directly."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AELAB_CACHE_DIR", str(aelab_cache_dir))
        splits = data.load_splits("mnist5k", seed=0)
        judge = judge_for(splits, pretrained.judge_dir())
        return {name: regularity.measure(checkpoint.load(SHIPPED[name]["path"]).model, splits.train.images,
                                         splits.val.images, judge) for name in ("ae-2d", "vae-2d")}


def test_the_table_shows_the_six_measured_figures_and_who_wins(shipped_figures):
    at = _open()
    table = at.dataframe[0].value
    assert list(table.columns) == ["measure", "ae-2d", "vae-2d", "more regular", "what it means"]
    assert list(table["measure"]) == [key.replace("_", " ") for _, key in regularity.COMPARED]
    for row, (group, key) in zip(table.itertuples(index=False), regularity.COMPARED, strict=True):
        ae, vae = (shipped_figures[name][group][key] for name in ("ae-2d", "vae-2d"))
        assert (row[1], row[2]) == (round(ae, 3), round(vae, 3))
        assert row[3] == regularity.winner(ae, vae, ("AE", "VAE"))
        assert row[4]  # every measure says what it means
    settings = inspect.signature(regularity.measure).parameters
    caption = next(c.value for c in at.caption if c.value.startswith("Lower is better"))
    assert f"{settings['pairs'].default} held-out line pairs" in caption
    assert f"{settings['samples'].default:,} samples" in caption


@pytest.mark.parametrize("size", [2, 16])
def test_the_verdict_text_follows_the_table(size):
    at = _open()
    if size != 2:
        at.radio(key="cmp_size").set_value(size).run()
    table = at.dataframe[0].value
    text = "\n".join(m.value for m in at.markdown)
    for who, lead in (("VAE", "The VAE is more regular on:"), ("tie", "No real difference on:"),
                      ("AE", "**The plain AE does better** on:")):
        named = list(table["measure"][table["more regular"] == who])
        if named:
            assert f"{lead} {', '.join(named)}" in text
        else:
            assert lead not in text
    # the 2-D page also says how far one seed's verdict can be trusted (bench/regularity_seeds.py)
    assert ("Retrained with five seeds" in text) == (size == 2)


def test_interpolation_strips_and_sample_grids_are_shown():
    at = _open()
    captions = _captions(at)
    assert captions[:2] == [c for c in captions if c.startswith("Probe, then a tiny circle")]  # under each map
    assert captions[2:] == ["ae-2d", "vae-2d", *SAMPLE_GRIDS]
    labels = data.load_splits("mnist5k", seed=0).val.labels
    digits = next(c.value for c in at.caption if c.value.startswith("A is a"))
    assert digits.startswith(f"A is a {labels[0]}, B is a {labels[7]}.")
    at.number_input(key="cmp_a").set_value(3).run()
    at.slider(key="cmp_steps").set_value(5).run()
    _ok(at)
    assert next(c.value for c in at.caption if c.value.startswith("A is a")).startswith(f"A is a {labels[3]},")
    assert _captions(at)[2:] == ["ae-2d", "vae-2d", *SAMPLE_GRIDS]


# ---- the controls ----------------------------------------------------------------------------


def test_a_16d_latent_compares_ae_16d_and_vae_16d_without_hole_maps():
    at = _open()
    assert at.radio(key="cmp_size").options == ["2-D", "16-D"]
    at.radio(key="cmp_size").set_value(16).run()
    _ok(at)
    maps = _maps(at)
    assert list(maps) == ["cmp-ae-16d-pca", "cmp-vae-16d-pca"]
    assert all(d["latent_dim"] == 16 and "holes" not in d for d in maps.values())
    assert at.toggle(key="cmp_holes").proto.disabled
    assert any("hole map is drawn for 2-D latents only" in c.value for c in at.caption)
    assert list(at.dataframe[0].value.columns)[1:3] == ["ae-16d", "vae-16d"]
    assert _captions(at)[2:] == ["ae-16d", "vae-16d", *SAMPLE_GRIDS]
    assert not at.expander  # one 16-D VAE is shipped: no beta trade-off to show


def test_the_beta_slider_swaps_in_the_vae_of_that_beta():
    at = _open()
    at.select_slider(key="cmp_beta_2").set_value(4.0).run()
    _ok(at)
    assert list(_maps(at)) == [AE_MAP, "cmp-vae-2d-beta4-latent"]
    assert list(at.dataframe[0].value.columns)[1:3] == ["ae-2d", "vae-2d-beta4"]
    assert _captions(at)[2:4] == ["ae-2d", "vae-2d-beta4"]


def test_the_beta_table_lists_every_shipped_beta():
    betas = sorted(float(checkpoint.read_config(Path(e["path"]))["model"]["beta"]) for e in SHIPPED.values()
                   if e["kind"] == "vae" and e["latent_dim"] == 2)
    assert len(betas) >= 2
    at = _open()
    assert [float(b) for b in at.select_slider(key="cmp_beta_2").options] == betas
    assert at.select_slider(key="cmp_beta_2").value == 1.0
    [expander] = at.expander
    [table] = _elements(expander, "dataframe")
    assert list(table.value["beta"]) == betas
    assert set(table.value.columns) == {"beta", "recon bce", "sensitivity median", "jump ratio p90",
                                        "frechet distance", "hole fraction"}
    assert (table.value["hole fraction"].between(0, 1)).all() and (table.value["recon bce"] > 0).all()
    # the caption says which of its claims survived other seeds (bench/regularity_seeds.py --betas)
    [caption] = _elements(expander, "caption")
    assert "retrained with five seeds" in caption.value


# ---- the linked probes -----------------------------------------------------------------------


def test_a_probe_released_on_the_ae_map_moves_the_vae_probe_to_the_same_digit():
    at = _open()
    vae_points = _points(_maps(at)[VAE_MAP])
    index = 1234
    _report(at, AE_MAP, "probe", {"x": 0.3, "y": -0.2, "picked": None, "nearest": index, "view": None})
    _ok(at)
    assert _probe(at, AE_MAP) == [0.3, -0.2]
    assert _probe(at, VAE_MAP) == pytest.approx(vae_points[index].tolist(), abs=1e-6)


def test_a_probe_released_on_the_vae_map_moves_the_ae_probe():
    at = _open()
    ae_points = _points(_maps(at)[AE_MAP])
    _report(at, VAE_MAP, "probe", {"x": 1.0, "y": 0.5, "picked": None, "nearest": 42, "view": None})
    _ok(at)
    assert _probe(at, VAE_MAP) == [1.0, 0.5]
    assert _probe(at, AE_MAP) == pytest.approx(ae_points[42].tolist(), abs=1e-6)


@pytest.mark.parametrize("probe", [
    {"x": 0.3, "y": -0.2, "picked": None, "nearest": None, "view": None},  # no digit named
    {"x": 0.3, "y": -0.2, "picked": None, "nearest": 10**7, "view": None},  # not a digit
    {"x": 0.3, "y": -0.2, "picked": None, "nearest": -1, "view": None},
])
def test_a_probe_without_a_valid_digit_moves_only_its_own_map(probe):
    at = _open()
    before = _probe(at, VAE_MAP)
    _report(at, AE_MAP, "probe", probe)
    _ok(at)
    assert _probe(at, AE_MAP) == [0.3, -0.2]
    assert _probe(at, VAE_MAP) == before


@pytest.mark.parametrize("probe", [{"x": "1", "y": 0.5, "nearest": 3}, {"x": 1e400, "y": 0.5, "nearest": 3},
                                   [1, 2], None])
def test_malformed_probe_reports_are_ignored(probe):
    at = _open()
    before = {key: _probe(at, key) for key in (AE_MAP, VAE_MAP)}
    _report(at, AE_MAP, "probe", probe)
    _ok(at)
    assert {key: _probe(at, key) for key in (AE_MAP, VAE_MAP)} == before


def test_panning_a_map_leaves_both_probes_where_they_are():
    at = _open()
    _report(at, AE_MAP, "probe", {"x": 0.3, "y": -0.2, "picked": None, "nearest": 10, "view": None})
    _report(at, VAE_MAP, "probe", {"x": 1.0, "y": 1.0, "picked": None, "nearest": 20, "view": None})
    before = {key: _probe(at, key) for key in (AE_MAP, VAE_MAP)}
    _report(at, AE_MAP, "view", [-1.0, 1.0, -1.0, 1.0])
    _ok(at)
    assert {key: _probe(at, key) for key in (AE_MAP, VAE_MAP)} == before
