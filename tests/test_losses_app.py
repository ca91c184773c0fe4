"""The five-losses page, driven headless with AppTest's public API."""

from __future__ import annotations

import re

import pytest
from apptest_pages import APP, assert_ok, open_page
from streamlit.testing.v1 import AppTest

PAGE = "aelab/app/pages/five_losses.py"


def _open(**params) -> AppTest:
    return open_page(PAGE, **params)


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _inks(at: AppTest) -> list[float]:
    table = next(h.proto.body for h in at.get("html") if 'data-table="losses"' in h.proto.body)
    return [float(v) for v in re.findall(r"ink x(\d+\.\d+)", table)]


@pytest.fixture(scope="module")
def at() -> AppTest:
    return _open()


def test_every_loss_has_its_formula_and_model(at):
    assert len(at.latex) == 5
    assert any("\\mathrm{CE}(p, q) - H(p)" in latex.value for latex in at.latex)
    assert [r for r in at.table[0].value["model"]] == ["ae-16d-mse", "ae-16d", "ae-16d-cce", "ae-16d-kl",
                                                      "ae-16d-cosine"]
    assert "came out identical, bit for bit" in _text(at)


def test_the_brightness_slider_dims_what_the_models_see(at):
    full = _inks(at)
    at.select_slider(key="ls_bright").set_value(0.25).run()
    assert not at.exception
    dim = _inks(at)
    assert len(dim) == len(full) == 5 * 8
    assert sum(dim) < 0.6 * sum(full)  # every model gives back less ink for a dimmer digit
    assert at.query_params["bright"] == "0.25"
    at.button(key="do_ls_redraw").click().run()
    assert at.query_params["digits"] == "1"


def test_the_brightness_sentence_follows_the_table(at):
    text = next(m.value for m in at.markdown if m.value.startswith("Reconstructions keep"))
    for _, row in at.table[0].value.iterrows():
        ink = float(row["ink kept [95% interval]"].split()[0])
        kept = abs(ink - 1) < 0.05
        assert kept == (row["loss"] in text.split("They do not for")[0]), row["loss"]


def test_a_bad_link_gets_a_notice():
    at = _open(bright="2")
    assert any("not one this page offers" in w.value for w in at.warning)
    assert at.select_slider(key="ls_bright").value == 1.0


def test_the_page_in_chinese():
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["lang"] = "zh"  # on the first run, as a Chinese reader's link sets it
    at.run().switch_page(PAGE)
    at.run()
    assert_ok(at)
    assert [t.value for t in at.title] == ["五种重构损失"]
    assert len(at.latex) == 5
    assert list(at.table[0].value.columns) == ["损失", "模型", "每像素平方误差", "保留的墨量 [95% 区间]"]
    assert "平方误差" in list(at.table[0].value["损失"])
    assert "两者的权重逐位完全相同" in _text(at)
    assert "墨量 ×" in next(h.proto.body for h in at.get("html") if 'data-table="losses"' in h.proto.body)
