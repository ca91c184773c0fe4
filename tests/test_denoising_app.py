"""The denoising lab page, driven headless with AppTest's public API: every control, the URL, bad links."""

from __future__ import annotations

import json
import re

import pytest
from apptest_pages import assert_ok, open_in_chinese, open_page
from streamlit.testing.v1 import AppTest

from aelab import i18n

PAGE = "aelab/app/pages/denoising.py"
DB = re.compile(r"(\d+\.\d) dB")


def _open(**params) -> AppTest:
    return open_page(PAGE, **params)




def _table(at: AppTest) -> str:
    tables = [h.proto.body for h in at.get("html") if 'data-table="denoise"' in h.proto.body]
    assert len(tables) == 1
    return tables[0]


def _summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith(("On all", "With no noise")))


@pytest.fixture
def chinese():
    """This thread's texts in Chinese, as a browser session's would be; English again after."""
    i18n.set_language("zh")
    yield
    i18n.set_language("en")


@pytest.fixture(scope="module")
def at() -> AppTest:
    return _open()


def test_page_shows_the_models_the_formula_and_scores(at):
    assert [t.value for t in at.title] == ["Denoising lab"]
    assert any("g(f(\\tilde x))" in latex.value for latex in at.latex)
    table = _table(at)
    for row in ("Clean digit", "Corrupted", "Plain AE", "Denoising AE"):
        assert row in table
    assert table.count("<img") == 4 and len(DB.findall(table)) == 3 * 6  # one image per row, a caption per digit
    assert "ae-16d" in table and "dae-16d-gauss0.5" in table  # the nearest DAE to Gaussian 0.5
    assert at.query_params["level"] == "0.5" and at.query_params["noise"] == "gaussian"


def test_each_noise_type_shows_how_the_corrupted_copy_is_made_and_psnr_is_defined(at):
    assert any("\\mathrm{PSNR}" in latex.value and "\\frac{1}{784}" in latex.value for latex in at.latex)
    for corruption, symbol in (("mask", "m_p"), ("salt_pepper", "h_p"), ("gaussian", "\\epsilon_p")):
        at.radio(key="dn_noise").set_value(corruption).run()
        assert_ok(at)
        assert any(symbol in latex.value and "\\tilde x_p" in latex.value for latex in at.latex)
        assert any(symbol in caption.value for caption in at.caption)  # the symbols said in words


def test_the_page_in_chinese(chinese):
    """lang=zh: the words, the digit table (cached per language) and the charts' titles are in Chinese."""
    at = open_in_chinese(PAGE)
    assert [t.value for t in at.title] == ["去噪实验"]
    table = _table(at)
    assert "干净的数字" in table and "去噪自编码器" in table and "Clean digit" not in table
    assert any("平均 PSNR" in m.value for m in at.markdown)
    specs = " ".join(json.dumps(json.loads(chart.proto.spec), ensure_ascii=False)
                     for chart in at.get("vega_lite_chart"))
    assert "噪声强度" in specs and "含噪输入" in specs
    at.radio(key="dn_noise").set_value("salt_pepper").run()
    assert_ok(at)
    assert any("椒盐" in caption.value for caption in at.caption)


def test_every_control_at_every_extreme(at):
    before = _table(at)
    for corruption in ("mask", "salt_pepper", "gaussian"):
        at.radio(key="dn_noise").set_value(corruption).run()
        assert_ok(at)
        for level in (0.0, 1.0, 0.05):
            at.select_slider(key="dn_level").set_value(level).run()
            assert_ok(at)
            assert _summary(at)
    for latent in at.radio(key="dn_latent").options:
        at.radio(key="dn_latent").set_value(int(latent)).run()
        assert_ok(at)
        for option in at.selectbox(key="dn_dae").options:
            at.selectbox(key="dn_dae").set_value(option if option != at.selectbox(key="dn_dae").options[0] else "auto")
            at.run()
            assert_ok(at)
    at.button(key="do_dn_redraw").click().run()
    assert_ok(at)
    assert at.query_params["digits"] == "1"
    assert _table(at) != before


def test_scores_fall_as_noise_rises():
    at = _open()
    means = []
    for level in (0.1, 0.5, 0.9):
        at.select_slider(key="dn_level").set_value(level).run()
        means.append([float(v) for v in re.findall(r"corrupted input (\d+\.\d) dB", _summary(at))][0])
    assert means[0] > means[1] > means[2]


def test_a_link_restores_the_view():
    at = _open(noise="mask", level="0.3", latent="64", digits="7")
    assert at.radio(key="dn_noise").value == "mask"
    assert at.select_slider(key="dn_level").value == 0.3
    assert at.radio(key="dn_latent").value == 64
    assert "ae-64d" in _table(at)
    assert not at.warning


@pytest.mark.parametrize("params", [{"level": "7"}, {"noise": "blur"}, {"latent": "x"}, {"level": "nan"}])
def test_a_bad_link_gets_a_notice_and_the_default(params):
    at = _open(**params)
    assert any("not one this page offers" in w.value for w in at.warning)
    assert at.select_slider(key="dn_level").value == 0.5
    assert at.radio(key="dn_noise").value == "gaussian"


def test_training_a_dae_at_this_noise_joins_the_page():
    at = _open(noise="salt_pepper", level="0.1", latent="16")
    button = at.button(key="do_dn_train")
    assert not button.disabled
    button.click().run()
    assert_ok(at)
    job = at.session_state["dn_job"]
    job.join(timeout=300)
    assert job.status != "failed", job.message
    at.run()
    assert_ok(at)
    assert any("joined this session's models" in s.value for s in at.success)
    assert at.selectbox(key="dn_dae").value == job.out.name  # now compared against it
    assert job.out.name in _table(at)
    assert at.button(key="do_dn_train").disabled  # this noise has its DAE now


@pytest.mark.parametrize("params", [{"level": "0"}, {"level": "1", "noise": "mask"}, {"level": "0.5"}])
def test_no_training_where_there_is_nothing_to_add(params):
    """No noise, a noise level training refuses, and a noise a shipped DAE already has."""
    assert _open(**params).button(key="do_dn_train").disabled


def _png(image) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.asarray(image) * 255).astype("uint8")).resize((140, 140)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_uploaded_picture_is_denoised_by_both_models():
    from aelab import data

    digit = data.load_splits("mnist5k").val.images[0]
    at = _open()
    at.file_uploader(key="do_dn_upload").upload("seven.png", _png(1 - digit)).run()  # dark ink on white paper
    assert_ok(at)
    own = next(h.proto.body for h in at.get("html") if 'data-table="own"' in h.proto.body)
    assert own.count("<img") == 4 and len(DB.findall(own)) == 3


@pytest.mark.parametrize("content", [b"not a picture", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, _png([[0.0] * 8] * 8)])
def test_a_bad_or_blank_picture_gets_a_message_and_changes_nothing(content):
    at = _open()
    at.file_uploader(key="do_dn_upload").upload("bad.png", content).run()
    assert_ok(at)
    assert any("That picture could not be used" in w.value for w in at.warning)
    assert not [h for h in at.get("html") if 'data-table="own"' in h.proto.body]
