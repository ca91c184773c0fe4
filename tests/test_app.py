"""The Streamlit app, driven headless with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aelab import pretrained

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _run() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    return at.run()


def _elements(node, kind: str) -> list:
    found = [node] if getattr(node, "type", None) == kind else []
    for child in getattr(node, "children", {}).values():
        found += _elements(child, kind)
    return found


def _decoded_image(at: AppTest):
    images = _elements(at.main, "image")
    assert len(images) == 1, "the explorer shows exactly one decoded image"
    return images[0].proto.imgs[0]


def test_explorer_shows_every_shipped_model():
    at = _run()
    assert not at.exception
    names = [m["name"] for m in pretrained.read_index()]
    for name in names:
        at.selectbox(key="model").set_value(name).run()
        assert not at.exception, f"{name} raised"
        assert len(_elements(at.main, "plotly_chart")) == 1, f"{name} has no latent map"
        assert _decoded_image(at).caption.startswith("decode(z)")


def test_moving_the_probe_changes_the_decoded_image():
    at = _run()
    before = _decoded_image(at).url
    slider = at.slider(key="z1")
    slider.set_value(slider.min + 0.1 * (slider.max - slider.min)).run()
    assert not at.exception
    assert _decoded_image(at).url != before
    # and back again gives the same image: the decode is deterministic
    at.slider(key="z1").set_value(slider.value).run()


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
