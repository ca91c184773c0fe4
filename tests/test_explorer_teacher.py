"""What a teacher expects from the explorer (issue 13): the page in Chinese, the hover panel's
images, presenter mode's flag, and the interpolation's ends A and B kept in the link.

Through AppTest's public API, as tests/test_explorer_app.py drives the page; what the browser
draws with these (the hover panel, the side-by-side layout) is pinned in tests/test_browser.py.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aelab import checkpoint, data, explore, pretrained
from aelab.app import payload
from aelab.app.components import latent_map

APP = str(Path(__file__).resolve().parent.parent / "app.py")
_ids = itertools.count()
LEVEL = 1 / 15 / 2 + 1e-6  # the hover images keep 16 grey levels: off by at most half a level


def _open(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _maps(at: AppTest) -> dict[str, dict]:
    return latent_map.drawn_payloads(at.get("bidi_component"))


def _warnings(at: AppTest) -> list[str]:
    return [w.value.replace("\\", "").replace("\u2060", "") for w in at.warning]


def _strips(at: AppTest) -> list[str]:
    return [c for image in at.image for c in image.captions if "A to B" in c]


def _release(at: AppTest, key: str, x: float, y: float, picked: int | None = None) -> AppTest:
    state = dict(at.session_state[key]) if key in at.session_state else {"probe": None, "view": None}
    at.session_state[key] = state | {"probe": {"x": x, "y": y, "picked": picked, "nearest": None, "view": None,
                                               "id": f"t{next(_ids)}"}}
    return at.run()


def _point(at: AppTest, key: str, index: int) -> tuple[float, float]:
    points = _maps(at)[key]["points"]
    n = len(points["label"])
    return float(payload.from_b64(points["x"], (n,))[index]), float(payload.from_b64(points["y"], (n,))[index])


def _set(at: AppTest, end: str) -> AppTest:
    return at.button(key=f"do_set_{end}").click().run()


# ---- the page in Chinese ---------------------------------------------------------------------


def test_the_explorer_in_chinese_shows_chinese_text_and_no_exception():
    at = _open(lang="zh", models="vae-2d,ae-16d")
    _ok(at)
    assert at.title[0].value == "隐空间探索器"
    captions = [c.value for c in at.caption]
    assert sum(c.startswith("探针位于 (") for c in captions) == 2, captions
    assert at.multiselect(key="ex_models").label == "模型" and at.radio(key="ex_projection").label == "投影"
    drawn = _maps(at)
    texts = drawn["map-vae-2d-latent"]["texts"]  # what the component writes itself comes translated
    assert texts["original"] == "原图" and texts["reconstruction"] == "重构"
    assert texts["readout"] == "探针 ({x}, {y})"
    assert "PCA" in drawn["map-ae-16d-pca"]["note"] and "维隐空间" in drawn["map-ae-16d-pca"]["note"]
    _release(at, "map-vae-2d-latent", 0.5, 0.5)
    _set(at, "a")
    _release(at, "map-vae-2d-latent", -0.5, -0.5)
    _set(at, "b")
    _ok(at)
    assert [c for image in at.image for c in image.captions] == ["vae-2d：从 A 到 B，共 10 步"]


def test_switching_the_language_back_gives_the_english_texts():
    at = _open(lang="zh")
    at.session_state["app_lang"] = "en"
    at.run()
    _ok(at)
    assert at.title[0].value == "Latent explorer"
    assert _maps(at)["map-vae-2d-latent"]["texts"]["original"] == "original"


def test_a_bad_link_value_is_explained_in_chinese():
    at = _open(lang="zh", a="seven")
    _ok(at)
    assert any("插值端点 A" in w and "无效" in w for w in _warnings(at)), _warnings(at)


# ---- the hover panel's images ----------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_all() -> np.ndarray:
    splits = data.load_splits("mnist5k", seed=0)
    return np.concatenate([splits.train.images, splits.val.images])


def test_the_hover_panel_gets_each_digit_and_its_reconstruction(mnist_all):
    at = _open(models="vae-2d,ae-16d")
    _ok(at)
    vae, ae = _maps(at)["map-vae-2d-latent"], _maps(at)["map-ae-16d-pca"]
    assert vae["originals"] is ae["originals"] or vae["originals"] == ae["originals"]  # one sheet, sent once
    sheet = vae["originals"]
    assert sheet["count"] == len(mnist_all) == len(vae["points"]["label"])
    for index in (0, 7, 4999):
        np.testing.assert_allclose(payload.sprite_image(sheet, index), mnist_all[index], atol=LEVEL)
    # a 2-D map's point is its own code: the browser decodes it (no sheet); a PCA map's is not, so its
    # reconstructions come decoded from each image's own 16-D code
    assert vae["reconstructions"] is None and vae["decoder"] is not None
    model = checkpoint.load(next(e["path"] for e in pretrained.read_index() if e["name"] == "ae-16d")).model
    codes, _ = explore.encode(model, mnist_all[[3, 42]])
    for index, expected in zip((3, 42), explore.decode(model, codes), strict=True):
        np.testing.assert_allclose(payload.sprite_image(ae["reconstructions"], index), expected, atol=LEVEL)


def test_the_data_sets_images_travel_once_for_all_its_maps():
    at = _open(models="vae-2d,ae-2d,dae-2d")
    parts = [c for c in at.get("bidi_component") if c.key.startswith(latent_map.PART_KEY)]
    sheets = [c for c in parts if b'"originals"' in c.proto.bytes[:80]]
    assert len(sheets) == 1 and len(parts) == 4  # the images, then one model part per map


def test_a_sprite_sheet_keeps_every_image_in_place():
    images = np.random.default_rng(0).random((7, 3, 5)).astype(np.float32)
    sheet = payload.sprite(images)
    assert sheet["count"] == 7 and (sheet["height"], sheet["width"]) == (3, 5)
    for index in range(7):
        np.testing.assert_allclose(payload.sprite_image(sheet, index), images[index], atol=LEVEL)
    assert payload.sprite(np.zeros((20_000, 28, 28), np.float32)) is None  # too many to send


# ---- presenter mode --------------------------------------------------------------------------


def test_presenter_mode_is_passed_to_every_map_and_saves_height():
    at = _open(present="1", models="vae-2d,ae-2d")
    _ok(at)
    drawn = _maps(at)
    assert [d["present"] for d in drawn.values()] == [True, True]
    # the maps name their models beside the decoded digit, instead of a heading and a caption above
    assert drawn["map-ae-2d-latent"]["title"] == ["ae-2d", "plain AE, 2-D latent"]
    assert [s.value for s in at.subheader if s.value in ("vae-2d", "ae-2d")] == []
    assert at.multiselect(key="ex_models").value == ["vae-2d", "ae-2d"]  # the controls, in a menu
    at.toggle(key="ex_prior").set_value(True).run()
    _ok(at)
    assert _maps(at)["map-vae-2d-latent"]["prior"] is not None
    at = _open(models="vae-2d")
    assert _maps(at)["map-vae-2d-latent"]["present"] is False and _maps(at)["map-vae-2d-latent"]["title"] is None


# ---- the interpolation's ends in the link ----------------------------------------------------


def test_digits_set_as_a_and_b_are_kept_in_the_link_and_restored():
    at = _open(models="vae-2d,ae-16d")
    key = "map-vae-2d-latent"
    _release(at, key, *_point(at, key, 7), picked=7)
    _set(at, "a")
    _release(at, key, *_point(at, key, 12), picked=12)
    _set(at, "b")
    _ok(at)
    assert at.query_params["a"] == "7" and at.query_params["b"] == "12"
    strips, segments = _strips(at), {k: d["segment"] for k, d in _maps(at).items()}
    again = _open(**dict(at.query_params))  # the bookmark
    _ok(again)
    assert not _warnings(again)
    assert _strips(again) == strips == ["vae-2d: A to B in 10 steps", "ae-16d: A to B in 10 steps"]
    assert {k: d["segment"] for k, d in _maps(again).items()} == segments
    assert at.query_params["a"] == "7" and dict(again.query_params) == dict(at.query_params)


def test_positions_set_as_a_and_b_are_kept_in_the_link_and_restored():
    at = _open(models="vae-2d")
    key = "map-vae-2d-latent"
    _release(at, key, -1.0, 0.5)
    _set(at, "a")
    _release(at, key, 1.0, -0.5)
    _set(at, "b")
    assert (at.query_params["a"], at.query_params["b"]) == ("-1.0000,0.5000", "1.0000,-0.5000")
    again = _open(**dict(at.query_params))
    _ok(again)
    assert not _warnings(again)
    assert _maps(again)[key]["segment"] == {"a": [-1.0, 0.5], "b": [1.0, -0.5]}
    assert _strips(again) == ["vae-2d: A to B in 10 steps"]


def test_a_position_end_is_not_written_for_a_map_of_another_kind():
    at = _open(models="vae-2d,ae-16d")
    _release(at, "map-vae-2d-latent", -1.0, 0.5)
    _set(at, "a")
    assert at.query_params["a"] == "-1.0000,0.5000"
    at.multiselect(key="ex_models").set_value(["ae-16d", "vae-2d"]).run()  # a PCA map comes first
    _ok(at)
    assert "a" not in at.query_params  # a position on vae-2d's plane means nothing on ae-16d's


@pytest.mark.parametrize(("query", "bad", "notice"), [
    ({"a": "seven"}, "a", "interpolation end A"),
    ({"b": "1,2,3"}, "b", "interpolation end B"),
    ({"a": "nan,1"}, "a", "interpolation end A"),
    ({"b": "-4"}, "b", "interpolation end B"),
    ({"a": "99999999", "b": "3"}, "a", "not in the data set"),
])
def test_a_bad_end_in_the_link_is_left_unset_with_a_notice(query, bad, notice):
    at = _open(**query)
    _ok(at)
    assert any(notice in w for w in _warnings(at)), _warnings(at)
    assert not _strips(at) and _maps(at)["map-vae-2d-latent"]["segment"] is None
    assert bad not in at.query_params
    if "b" in query and bad == "a":
        assert at.query_params["b"] == query["b"]  # the good end is kept


def test_a_far_away_end_is_moved_to_the_data_with_a_notice():
    at = _open(a="1e9,0", b="0,0")
    _ok(at)
    assert any("interpolation end A" in w and "far outside" in w for w in _warnings(at)), _warnings(at)
    segment = _maps(at)["map-vae-2d-latent"]["segment"]
    assert segment is not None and abs(segment["a"][0]) < 100 and segment["b"] == [0.0, 0.0]
    assert _strips(at) == ["vae-2d: A to B in 10 steps"]
