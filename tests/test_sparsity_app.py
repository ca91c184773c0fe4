"""The sparsity lab page, driven headless with AppTest's public API: every slider stop, the URL, training a setting."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from apptest_pages import assert_ok, open_in_chinese, open_page
from PIL import Image
from streamlit.testing.v1 import AppTest

from aelab import i18n, pretrained
from aelab.app import labkit

PAGE = "aelab/app/pages/sparsity.py"


def _open(**params) -> AppTest:
    return open_page(PAGE, **params)




@pytest.fixture
def chinese():
    """This thread's texts in Chinese, as a browser session's would be; English again after."""
    i18n.set_language("zh")
    yield
    i18n.set_language("en")


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _captions(at: AppTest) -> str:
    """Every caption, with markdown escapes removed."""
    return " ".join(c.value for c in at.caption).replace("\\", "")


def _units_on(at: AppTest) -> float:
    return float(_metrics(at)["Units on per digit"].split()[0])


def test_formulas_and_figures_are_shown():
    at = _open()
    latex = " ".join(x.value for x in at.latex)
    assert "\\sum_j |z_{ij}|" in latex and "\\mathrm{KL}(\\rho" in latex
    assert "\\hat\\rho_j = \\frac{1}{B}" in latex  # the mean over a training batch, as the penalty computes it
    assert set(_metrics(at)) == {"Units on per digit", "Dead units", "Reconstruction error"}
    assert "sae-128u-l1-w0.1" in _captions(at)


def test_the_page_in_chinese(chinese):
    """lang=zh: the words, the metrics, the digit table (cached per language) and the charts' titles."""
    at = open_in_chinese(PAGE)
    assert [t.value for t in at.title] == ["稀疏实验"]
    assert set(_metrics(at)) == {"每个数字激活的单元数", "死单元", "重构误差"}
    assert "纳特" in _metrics(at)["重构误差"]
    tables = [h.proto.body for h in at.get("html") if 'data-table="sparse"' in h.proto.body]
    assert len(tables) == 1 and "留出数字" in tables[0] and "Held-out digit" not in tables[0]
    specs = " ".join(json.dumps(json.loads(chart.proto.spec), ensure_ascii=False)
                     for chart in at.get("vega_lite_chart"))
    assert "激活值" in specs and "从不激活" in specs and "稀疏权重" in specs
    at.radio(key="sp_penalty").set_value("kl").run()
    assert_ok(at)
    assert "sigmoid" in _captions(at)


def test_every_stop_of_every_slider_has_a_model():
    at = _open()
    on = []
    for weight in pretrained.L1_WEIGHTS:
        at.select_slider(key="sp_weight").set_value(weight).run()
        assert_ok(at)
        assert not at.info  # no "no model at this setting"
        on.append(_units_on(at))
    assert on[-1] < on[0]  # the heaviest penalty leaves fewer units on than none
    at.radio(key="sp_penalty").set_value("kl").run()
    assert_ok(at)
    assert [float(v) for v in at.select_slider(key="sp_weight").options] == list(pretrained.KL_WEIGHTS)
    for weight in pretrained.KL_WEIGHTS[1:]:
        at.select_slider(key="sp_weight").set_value(weight).run()
        for rho in pretrained.KL_RHOS:
            at.select_slider(key="sp_rho").set_value(rho).run()
            assert_ok(at)
            assert not at.info
            assert f"sae-128u-kl-w{weight:g}-rho{rho:g}" in _captions(at)
    assert at.query_params["penalty"] == "kl" and at.query_params["rho"] == f"{pretrained.KL_RHOS[-1]:g}"


def test_a_link_restores_the_setting_and_a_bad_one_gets_a_notice():
    at = _open(penalty="kl", weight="3", rho="0.02")
    assert (at.radio(key="sp_penalty").value, at.select_slider(key="sp_weight").value,
            at.select_slider(key="sp_rho").value) == ("kl", 3.0, 0.02)
    assert not at.warning
    at = _open(penalty="lasso", weight="-1")
    assert sum("not one this page offers" in w.value for w in at.warning) == 2
    assert at.radio(key="sp_penalty").value == "l1"


def test_training_a_new_setting_joins_the_sliders():
    at = _open()
    at.number_input(key="sp_new_weight").set_value(0.5).run()
    at.button(key="do_sp_train_it").click().run()
    assert_ok(at)
    job = at.session_state["sp_job"]
    job.join(timeout=120)
    assert job.status != "failed", job.message
    at.run()
    assert_ok(at)
    assert any("joined this session's models" in s.value for s in at.success)
    assert 0.5 in [float(v) for v in at.select_slider(key="sp_weight").options]
    assert at.select_slider(key="sp_weight").value == 0.5  # the sliders moved to it
    assert "my-sae-128u-l1-w0.5" in _captions(at)


def test_a_setting_already_on_the_sliders_is_not_trained_again():
    at = _open()
    at.number_input(key="sp_new_weight").set_value(0.0).run()
    assert_ok(at)
    assert "Already on the sliders" in _captions(at)
    assert not at.button.values or "do_sp_train_it" not in [b.key for b in at.button]


def test_a_penalty_too_heavy_to_learn_anything_fails_in_words():
    """Weight 100 (the input's maximum) silences every unit: the run is refused, with the reason."""
    at = _open()
    at.number_input(key="sp_new_weight").set_value(100.0).run()
    at.button(key="do_sp_train_it").click().run()
    at.session_state["sp_job"].join(timeout=120)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] and "encodes to the same code" in at.error[0].value
    assert 100.0 not in [float(v) for v in at.select_slider(key="sp_weight").options]


def test_a_link_to_a_setting_without_a_model_says_so_and_shows_the_nearest():
    at = _open(penalty="l1", weight="0.5")
    assert at.select_slider(key="sp_weight").value == 0.3
    assert any("link's 0.5" in i.value and "nearest, 0.3" in i.value for i in at.info)
    at.select_slider(key="sp_weight").set_value(1.0).run()
    assert not any("link's" in i.value for i in at.info)  # said once, when the link is read


def test_the_feature_grid_png_keeps_the_diverging_colours():
    """The palette PNG of the feature grid is within one unit per channel of labkit.diverging's colours."""
    grid = np.random.default_rng(0).uniform(-1.2, 1.2, (60, 90))
    grid[::7] = np.nan
    png = base64.b64decode(labkit.diverging_png_uri(grid).split(",", 1)[1])
    shown = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert np.abs(shown - labkit.diverging(grid, scale=1).astype(int)).max() <= 1
