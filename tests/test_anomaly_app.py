"""The anomaly lab page, driven headless with streamlit.testing.v1.AppTest's public API.

What the page computes is tested in test_labs_anomaly.py; here: that every control works
(extremes included) without an exception, that the figures shown are the library's and follow
the threshold, that the page's state survives a link, and that bad input gets words, not errors.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aelab import checkpoint, pretrained
from aelab.labs import anomaly, ood

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "aelab/app/pages/anomaly.py"
SHIPPED = {e["name"]: e for e in pretrained.read_index()}
FIGURES = ("AUC", "Precision", "Recall", "False alarms")
SCORES = {"reconstruction BCE": "bce", "reconstruction MSE": "mse", "-ELBO": "neg_elbo"}  # label -> value


def _open(**query: str) -> AppTest:
    """The page as a link with ``query`` opens it."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(PAGE)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    _ok(at)
    assert [t.value for t in at.title] == ["Anomaly lab"]
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _figures(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _threshold(at: AppTest, value: float) -> AppTest:
    at.select_slider(key="an_threshold").set_value(value).run()
    _ok(at)
    return at


def _stops(at: AppTest) -> list[float]:
    return [float(v) for v in at.select_slider(key="an_threshold").options]


def _scores(name: str, set_name: str, score: str = "bce") -> tuple[np.ndarray, np.ndarray]:
    model = checkpoint.load(SHIPPED[name]["path"]).model
    digits = ood.held_out_digits()
    return (anomaly.anomaly_scores(model, digits.images, score),
            anomaly.anomaly_scores(model, ood.make(set_name, digits).images, score))


def test_the_page_shows_the_libraries_figures_for_the_ae_on_noise():
    at = _open()
    assert at.selectbox(key="an_kind").value == "ae" and at.selectbox(key="an_set").value == "noise"
    inlier, outlier = _scores("ae-16d", "noise")
    threshold = at.select_slider(key="an_threshold").value
    assert threshold == anomaly.default_threshold(inlier, anomaly.threshold_grid(inlier, outlier))
    report = anomaly.at_threshold(inlier, outlier, threshold)
    assert _figures(at) == {"AUC": f"{anomaly.separation_auc(inlier, outlier):.3f}",
                            "Precision": f"{report.precision:.1%}", "Recall": f"{report.recall:.1%}",
                            "False alarms": f"{report.false_positive_rate:.1%}"}
    assert r"\mathrm{score}(x) = -\sum_i" in at.latex[0].value
    assert len(at.get("vega_lite_chart")) == 2  # the histogram and the ROC curve
    assert len(at.image) == 4  # most and least anomalous digits and OOD images, one strip each


def test_the_figures_follow_the_threshold_to_both_ends():
    at = _open(set="letters")
    inlier, outlier = _scores("ae-16d", "letters")
    stops = _stops(at)
    seen = set()
    for stop in (stops[0], stops[len(stops) // 3], stops[len(stops) // 2], stops[-1]):
        figures = _figures(_threshold(at, stop))
        report = anomaly.at_threshold(inlier, outlier, stop)
        assert figures["Recall"] == f"{report.recall:.1%}"
        seen.add((figures["Precision"], figures["Recall"]))
        assert at.query_params["t"] == f"{stop:g}"
    assert len(seen) == 4
    assert _figures(_threshold(at, stops[0]))["Recall"] == "100.0%"  # everything flagged
    figures = _figures(_threshold(at, stops[-1]))
    assert figures["Precision"] == "none flagged" and figures["Recall"] == "0.0%"
    assert any(m.value.startswith(f"At a threshold of {stops[-1]:.3g} (nats per image), the detector flags **0 of the "
                                  "500**") for m in at.markdown)


def test_every_kind_score_and_set_draws_without_an_error():
    at = _open()
    assert at.selectbox(key="an_kind").options == ["AE", "DAE", "SAE", "VAE"]
    for kind in ("ae", "dae", "sae", "vae"):
        at.selectbox(key="an_kind").set_value(kind).run()
        for score in [SCORES[label] for label in at.radio(key="an_score").options]:
            at.radio(key="an_score").set_value(score).run()
            _ok(at)
            _threshold(at, _stops(at)[0])
            _threshold(at, _stops(at)[-1])
    for set_name in ood.OOD_SETS:  # with the VAE's -ELBO, the last score drawn
        at.selectbox(key="an_set").set_value(set_name).run()
        _ok(at)
        assert set(_figures(at)) == set(FIGURES)
        assert at.query_params["set"] == set_name


def test_the_vae_offers_its_negative_elbo_and_the_others_do_not():
    at = _open(kind="vae")
    assert at.radio(key="an_score").options == ["reconstruction BCE", "reconstruction MSE", "-ELBO"]
    at.selectbox(key="an_kind").set_value("dae").run()
    assert at.radio(key="an_score").options == ["reconstruction BCE", "reconstruction MSE"]


def test_the_auc_table_compares_every_kind_on_the_same_sets_and_its_sentences_follow_it():
    at = _open()
    [table] = at.table
    rows = table.value.map(lambda cell: cell.replace("\\", ""))  # model names are escaped for markdown
    assert list(rows.columns) == ["model", "score", *(s.title for s in ood.OOD_SETS.values())]
    for kind in ("ae", "dae", "sae", "vae"):  # each row says which model, in words
        assert any(re.match(rf"{kind}-\S+ \(", m) for m in rows["model"]), kind
    assert list(rows["score"]) == ["BCE"] * 4 + ["\u2212ELBO"]  # a minus sign: the cell never breaks after it
    ae = next(i for i, m in enumerate(rows["model"]) if m.startswith("ae-16d "))
    inlier, outlier = _scores("ae-16d", "rotated")
    assert rows["rotated digits"][ae] == f"{anomaly.separation_auc(inlier, outlier):.3f}"
    auc = {(r["model"], r["score"]): {s.title: float(r[s.title]) for s in ood.OOD_SETS.values()}
           for _, r in rows.iterrows()}
    hardest = min(auc[next(iter(auc))], key=lambda s: np.mean([v[s] for k, v in auc.items() if k[1] == "BCE"]))
    text = "\n".join(m.value for m in at.markdown)
    assert f"Hardest: **{hardest}**" in text
    assert "beyond noise" in text or "Best kind" not in text
    assert re.search(r"-ELBO, against its reconstruction BCE: .*(better|worse|as well, within noise) on", text)


def test_the_mse_table_names_any_set_scored_below_chance():
    at = _open(score="mse")
    rows = at.table[0].value
    below = [(m, s) for _, r in rows.iterrows() for s in rows.columns[2:] if float(r[s]) < 0.5 for m in [r["model"]]]
    text = "\n".join(m.value for m in at.markdown)
    assert ("Below chance:" in text) == bool(below)


def test_a_link_sets_every_control():
    at = _open(kind="vae", set="rotated", score="neg_elbo", t="150")
    assert at.selectbox(key="an_kind").value == "vae" and at.selectbox(key="an_set").value == "rotated"
    assert at.radio(key="an_score").value == "neg_elbo" and at.select_slider(key="an_threshold").value == 150.0
    assert not at.warning
    assert dict(at.query_params) == {"kind": "vae", "set": "rotated", "score": "neg_elbo", "t": "150"}
    at.selectbox(key="an_set").set_value("letters").run()
    assert at.query_params["set"] == "letters" and at.select_slider(key="an_threshold").value == 150.0


@pytest.mark.parametrize("query, notice", [
    ({"kind": "gan"}, "model kind"),
    ({"set": "../../etc"}, "out-of-distribution set"),
    ({"t": "abc"}, "threshold"),
    ({"t": "1e9"}, "threshold"),
    ({"t": "nan"}, "threshold"),
    ({"score": "<b>x</b>"}, "score"),
])
def test_a_bad_link_value_gets_a_notice_and_the_default(query, notice):
    at = _open(**query)
    assert any(f"The link's {notice}" in w.value for w in at.warning), [w.value for w in at.warning]
    assert set(_figures(at)) == set(FIGURES)


def test_a_link_asking_the_ae_for_an_elbo_falls_back_to_its_reconstruction_error():
    at = _open(kind="ae", score="neg_elbo")
    assert at.radio(key="an_score").value == "bce"
    assert any("-ELBO is a VAE's score" in i.value for i in at.info)


def _upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.selectbox(key="an_set").set_value("upload").run()
    at.file_uploader(key="do_an_upload").upload(name, content).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _npz(images: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, images=images)
    return buffer.getvalue()


def test_an_uploaded_set_is_scored_and_joins_the_table():
    at = _open()
    images = np.random.default_rng(0).integers(0, 256, (60, 28, 28), dtype=np.uint8)
    _upload(at, "mine.npz", _npz(images))
    _ok(at)
    assert any("60 of its 28x28 images" in s.value for s in at.success)
    assert "your uploaded set" in at.table[0].value.columns
    assert set(_figures(at)) == set(FIGURES)


@pytest.mark.parametrize("name, content, message", [
    ("broken.npz", b"not a zip at all", "broken.npz cannot be used"),
    ("small.npz", _npz(np.zeros((40, 8, 8), np.uint8)), "the images are 8x8 pixels"),
    ("notes.txt", b"hello", "expected one .npz, one .zip of PNG images, or MNIST-format IDX files"),
])
def test_a_bad_upload_gets_a_message_in_words(name, content, message):
    at = _upload(_open(), name, content)
    errors = [e.value.replace("\\", "") for e in at.error]
    assert len(errors) == 1 and message in errors[0], errors
    assert not at.metric and not at.table  # nothing is scored


def test_missing_and_corrupt_models_leave_the_others_shown(tmp_path, monkeypatch):
    shipped = pretrained.default_dir()
    entries = [dict(e, path=Path(e["path"]).name) for e in pretrained.read_index() if e["name"] != "ae-16d"]
    for entry in entries:
        if entry["name"] == "vae-16d":
            (tmp_path / entry["path"]).mkdir()
            (tmp_path / entry["path"] / "config.json").write_text("{not json")
        else:
            (tmp_path / entry["path"]).symlink_to(shipped / entry["path"])
    (tmp_path / pretrained.INDEX_NAME).write_text(json.dumps({"models": entries}))
    monkeypatch.setenv("AELAB_PRETRAINED", str(tmp_path))
    at = _open()
    notes = [w.value.replace("\\", "") for w in at.warning]
    assert any("vae-16d could not be loaded" in n for n in notes)
    assert any(n.startswith("The lab's AE, ae-16d, is not available; ae-") for n in notes)
    assert any(n.startswith("The lab's VAE, vae-16d, is not available; vae-2d") for n in notes)
    models = [m.replace("\\", "") for m in at.table[0].value["model"]]
    assert not any(m.startswith(("ae-16d ", "vae-16d ")) for m in models) and len(models) == 5


def test_the_page_in_chinese_translates_its_words_and_its_formulas_stay():
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(PAGE)
    at.query_params["lang"] = "zh"
    at.query_params["kind"] = "vae"
    at.run()
    _ok(at)
    assert [t.value for t in at.title] == ["异常检测实验"]
    assert set(_figures(at)) == {"AUC", "精确率", "召回率", "误报率"}
    assert at.radio(key="an_score").options == ["重构 BCE", "重构 MSE", "-ELBO"]
    assert "噪声" in at.table[0].value.columns and "模型" in at.table[0].value.columns
    assert any("最容易与数字区分的" in m.value for m in at.markdown)
    assert any("阈值为" in m.value for m in at.markdown)
    assert len(at.latex) == 4  # the score, the threshold rule, precision and recall, the AUC
