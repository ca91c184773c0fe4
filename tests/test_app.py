"""The Streamlit app as a whole, driven headless with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aelab import pretrained
from aelab.app import pages

APP = str(Path(__file__).resolve().parent.parent / "app.py")
NAMES = [e["name"] for e in pretrained.read_index()]


def _run() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120).run()


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_model_opens_in_the_explorer(name):
    at = _run()
    at.multiselect(key="ex_models").set_value([name]).run()
    assert not at.exception, f"{name} raised"
    assert any(text.startswith("Probe at (") for text in _captions(at))
    [component] = at.get("bidi_component")
    assert json.loads(component.proto.json)["server"]["image"]  # the server's decode, shown in the map


def test_broken_manifest_shows_a_message_not_a_traceback(tmp_path, monkeypatch):
    (tmp_path / pretrained.INDEX_NAME).write_text("{not json")
    monkeypatch.setenv("AELAB_PRETRAINED", str(tmp_path))
    at = _run()
    assert not at.exception
    assert any("could not be read" in e.value for e in at.error)


def test_missing_model_folder_shows_a_message(tmp_path, monkeypatch):
    entry = {"name": "ghost", "path": "ghost", "kind": "ae", "latent_dim": 2, "data": "mnist5k", "metrics": {}}
    (tmp_path / pretrained.INDEX_NAME).write_text(json.dumps({"models": [entry]}))
    monkeypatch.setenv("AELAB_PRETRAINED", str(tmp_path))
    at = _run()
    assert not at.exception
    assert any("ghost" in e.value for e in at.error)


@pytest.mark.parametrize("page", [p.path.relative_to(Path(APP).parent).as_posix() for p in pages.discover()])
def test_no_page_text_points_to_a_source_file(page):
    """Bug 10: help texts and captions named aelab/losses.py or bench/... where a user needs the meaning."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(page).run()
    assert not at.exception
    texts = [e.value for kind in ("markdown", "caption", "info", "warning", "success") for e in at.get(kind)]
    texts += [w.help or "" for kind in ("slider", "select_slider", "radio", "selectbox", "toggle", "multiselect",
                                        "number_input", "text_input") for w in at.get(kind)]
    texts += [e.value for e in at.get("expander") for e in e.caption] if at.get("expander") else []
    assert len(texts) > 5
    for text in texts:
        assert not re.search(r"\.py\b|\bbench/|\baelab/", text), text


def test_model_descriptions_are_shown_as_plain_text():
    """A description comes from a model's config (an upload's, say): it must not become a link or an image."""
    from aelab.app.resources import plain

    shown = plain("nice model [log in](http://evil.example) ![x](http://evil.example/p.png) *bold*\n# head")
    assert "](" not in shown.replace("\\]\\(", "") and "\n" not in shown
    assert shown.startswith("nice model \\[log in\\]\\(http://evil") and "\\*bold\\*" in shown
    assert len(plain("x" * 10_000)) <= 200
