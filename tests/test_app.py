"""The Streamlit app as a whole, driven headless with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aelab import pretrained

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
