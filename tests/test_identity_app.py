"""The identity-trap page, driven headless with AppTest: every control, the URL, bad links, and every
sentence it states checked against figures computed here from the shipped models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from apptest_pages import APP, assert_ok, open_page
from streamlit.testing.v1 import AppTest

from aelab import checkpoint, data, pretrained
from aelab.labs import identity

PAGE = "aelab/app/pages/identity_trap.py"
SHIPPED = {e["name"]: e for e in pretrained.read_index()}
LARGEST = max(pretrained.IDENTITY_UNITS)
ROLES = {"small": f"ae-linear-{min(pretrained.IDENTITY_UNITS)}u", "large": f"ae-linear-{LARGEST}u",
         "under": f"ae-linear-{max(u for u in pretrained.IDENTITY_UNITS if u < 784)}u",
         "dae": f"dae-linear-{LARGEST}u", "sae": f"sae-linear-{LARGEST}u"}
VERSUS = re.compile(r"\(([-+0-9.e]+) against ([-+0-9.e]+); difference ([-+0-9.e]+), 95% interval ([-+0-9.e]+) to "
                    r"([-+0-9.e]+)\)")


def _table(at: AppTest) -> str:
    [table] = [h.proto.body for h in at.get("html") if 'data-table="identity"' in h.proto.body]
    return table


def _sentences(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("- With "))


def _overall(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Across the probe sets**"))


@pytest.fixture(scope="module")
def at() -> AppTest:
    return open_page(PAGE)


@pytest.fixture(scope="module")
def expected() -> dict:
    """Each role's per-image errors on each full probe set, computed here the library's way."""
    splits = data.load_splits("mnist5k")
    models = {role: checkpoint.load(SHIPPED[name]["path"]).model for role, name in ROLES.items()}
    found = {}
    for probe in identity.PROBES:
        images = identity.probe_images(probe, splits.train.images, splits.val.images)
        found[probe] = identity.errors(models, images) | {"images": images}
    return found


def test_page_shows_the_trap_the_formulas_and_every_model(at):
    assert [t.value for t in at.title] == ["The identity trap"]
    assert any("W_d W_e = I" in latex.value and "d \\ge 784" in latex.value for latex in at.latex)
    assert any("R^2 = 1 -" in latex.value for latex in at.latex)
    table = _table(at)
    assert table.count("<img") == 4  # the input, the AE, the DAE and the SAE
    assert len(re.findall(r"<span>\d\.\d{4}</span>", table)) == 3 * 8  # an error under every reconstruction
    for name in (ROLES["large"], ROLES["dae"], ROLES["sae"]):
        assert name in table
    assert at.query_params["inputs"] == "rotated" and at.query_params["units"] == str(LARGEST)
    assert len(at.get("vega_lite_chart")) == 1
    frame = at.table[0].value
    assert list(frame.columns) == [p.title for p in identity.PROBES.values()]
    assert len(frame) == len(pretrained.IDENTITY_RECIPES)


def test_every_control_at_every_setting(at):
    before = _table(at)
    for probe in identity.PROBES:
        at.radio(key="id_probe").set_value(probe).run()
        assert_ok(at)
        assert identity.PROBES[probe].title in _table(at)
        for units in (min(pretrained.IDENTITY_UNITS), LARGEST):
            at.select_slider(key="id_units").set_value(units).run()
            assert_ok(at)
            assert f"ae-linear-{units}u" in _table(at)
    at.radio(key="id_probe").set_value("rotated").run()
    at.button(key="do_id_redraw").click().run()
    assert_ok(at)
    assert at.query_params["draw"] == "1" and at.query_params["inputs"] == "rotated"
    assert _table(at) != before


def test_a_link_restores_the_view():
    at = open_page(PAGE, inputs="letters", units="64", draw="3")
    assert at.radio(key="id_probe").value == "letters"
    assert at.select_slider(key="id_units").value == 64
    assert "ae-linear-64u" in _table(at) and "letters" in _table(at)
    assert not at.warning
    assert dict(at.query_params) == {"inputs": "letters", "units": "64", "draw": "3"}


@pytest.mark.parametrize("params", [{"inputs": "faces"}, {"units": "100"}, {"units": "x"}, {"draw": "-1"},
                                    {"units": "1e400"}, {"inputs": "<b>x</b>"}])
def test_a_bad_link_gets_a_notice_and_the_default(params):
    at = open_page(PAGE, **params)
    assert any("not one this page offers" in w.value for w in at.warning)
    assert at.radio(key="id_probe").value == "rotated"
    assert at.select_slider(key="id_units").value == LARGEST


def _check_versus(match: re.Match, a: np.ndarray, b: np.ndarray) -> None:
    """A sentence's "(A against B; difference D, 95% interval L to H)" is the paired comparison of a and b."""
    c = identity.compare(a, b)
    for shown, value in zip(match.groups(), (c.mean_a, c.mean_b, c.mean_a - c.mean_b, c.low, c.high), strict=True):
        assert float(shown) == pytest.approx(value, rel=0.06, abs=1e-6), (shown, value)


@pytest.mark.parametrize("probe", list(identity.PROBES))
def test_every_sentence_about_a_probe_set_matches_the_figures(at, expected, probe):
    at.radio(key="id_probe").set_value(probe).run()
    lines = _sentences(at).split("\n")
    errors = expected[probe]
    curve, past, copy, dae, sae = lines
    grow = identity.compare(errors["large"], errors["small"])
    assert {-1: f"error falls {1 / grow.ratio:.1f}-fold", 1: "error rises", 0: "error stays the same within noise"}[
        grow.verdict] in curve
    _check_versus(VERSUS.search(curve), errors["large"], errors["small"])
    verdict = identity.compare(errors["large"], errors["under"]).verdict
    assert {0: "ties with", -1: "beats", 1: "does worse than"}[verdict] in past
    _check_versus(VERSUS.search(past), errors["large"], errors["under"])
    share = identity.copied_share(errors["images"], errors["large"])
    assert f"R^2 on this set is {share:.2f}" in copy
    words = ("copies" if share >= 0.95 else "copies most of" if share >= 0.8 else "in part" if share >= 0.5
             else "barely copies" if share >= 0 else "does not copy")
    assert words in copy
    for line, role in ((dae, "dae"), (sae, "sae")):
        vs = identity.compare(errors[role], errors["large"])
        assert {1: "reconstructs them worse", -1: "reconstructs them better", 0: "ties with the AE"}[vs.verdict] in line
        _check_versus(VERSUS.search(line), errors[role], errors["large"])


def test_the_overall_sentences_match_the_figures(at, expected):
    text = _overall(at)
    for probe, errors in expected.items():
        share = identity.copied_share(errors["images"], errors["large"])
        assert f"{identity.PROBES[probe].title} (R^2 {share:.2f})" in text
    identity_learned = all(identity.copied_share(e["images"], e["large"]) >= 0.95 for e in expected.values())
    assert ("it has learned the identity" in text) == identity_learned
    assert ("has not learned the identity" in text) != identity_learned
    assert re.search(r"(\d+) of the 784 pixels are black in every training digit", text).group(1) == str(
        784 - identity.ink_mask(data.load_splits("mnist5k").train.images).sum())


def test_what_the_page_says_of_the_dae_and_sae_matches_the_figures(at, expected):
    text = _overall(at)
    sets = [p for p in identity.PROBES if p != "digits"]
    copied = [p for p in sets if identity.copied_share(expected[p]["images"], expected[p]["large"]) >= 0.5]
    less = []
    for role in ("dae", "sae"):
        verdicts = {p: identity.compare(expected[p][role], expected[p]["large"]).verdict for p in sets}
        told = re.search(rf"the {role.upper()} does ([^;.]*)[;.]", text).group(1)
        for words, verdict in (("worse on", 1), ("as well, within noise, on", 0), ("better on", -1)):
            named = [identity.PROBES[p].title for p in sets if verdicts[p] == verdict]
            assert (words in told) == bool(named), (role, words, told)
            for title in named:
                assert title in told.split(words)[1], (role, title, told)
        less += [role.upper()] if all(verdicts[p] == 1 for p in copied) else []
    if less == ["SAE"]:
        assert "So the SAE copies less of what the AE copies" in text and "the DAE does not." in text
    else:
        assert f"So {'the ' + ' and '.join(less) if less else 'neither'} copies less" in text


def test_the_border_sentence_matches_the_shipped_weights(at):
    from aelab.labs.identity import initial_model, ink_mask, unmoved_share

    text = _overall(at)
    mask = ink_mask(data.load_splits("mnist5k").train.images)
    shares = {}
    for role in ("large", "dae", "sae"):
        model = checkpoint.load(SHIPPED[ROLES[role]]["path"]).model
        shares[role] = unmoved_share(model, initial_model(model, 0), mask)
    kept = " and ".join(k for k, r in (("AE", "large"), ("SAE", "sae"), ("DAE", "dae")) if shares[r] == 1.0)
    assert f"in the {kept} with {LARGEST} units they are, bit for bit, the random values" in text
    if shares["dae"] < 1:
        assert f"{1 - shares['dae']:.0%} of its weights from them changed" in text


def test_an_unreadable_manifest_or_a_missing_model_gets_a_message_not_a_traceback(tmp_path, monkeypatch):
    shipped, entries = pretrained.default_dir(), [dict(e, path=Path(e["path"]).name) for e in pretrained.read_index()]
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / pretrained.INDEX_NAME).write_text("{not json")
    monkeypatch.setenv("AELAB_PRETRAINED", str(tmp_path / "broken"))
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page(PAGE).run()
    assert not at.exception and any("could not be read" in e.value for e in at.error)

    folder = tmp_path / "no-dae"
    folder.mkdir()
    for entry in entries:
        if entry["name"] != ROLES["dae"]:
            (folder / entry["path"]).symlink_to(shipped / entry["path"])
    (folder / pretrained.INDEX_NAME).write_text(json.dumps({"models": entries}))
    monkeypatch.setenv("AELAB_PRETRAINED", str(folder))
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page(PAGE).run()
    assert_ok(at)
    assert any("could not be loaded" in w.value for w in at.warning)
    assert _table(at).count("<img") == 3 and "The DAE" not in _sentences(at)


def test_the_page_in_chinese():
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["lang"] = "zh"  # on the first run, as a Chinese reader's link sets it
    at.run().switch_page(PAGE)
    at.query_params["inputs"] = "letters"
    at.run()
    assert_ok(at)
    assert [t.value for t in at.title] == ["恒等映射陷阱"]
    assert "字母" in _table(at) and "输入" in _table(at)
    assert at.radio(key="id_probe").options == ["旋转的数字", "字母", "数字有墨迹处的噪声", "所有像素上的噪声",
                                                "留出数字"]
    text = "\n".join(m.value for m in at.markdown)
    assert "**纵观各探测图像集**" in text and "最简单明了的情形" in text
    assert list(at.table[0].value.columns)[1] == "字母"
    assert any("W_d W_e = I" in latex.value for latex in at.latex)
