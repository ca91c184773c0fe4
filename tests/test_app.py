"""The Streamlit app as a whole, driven headless with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from aelab import pretrained
from aelab.app import pages
from aelab.app.components import latent_map

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
    [component] = [c for c in at.get("bidi_component") if c.proto.component_name == latent_map.MAP]
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
    assert not re.search(r"(?<!\\)[\[\]()!*#]", shown) and "\n" not in shown  # every markdown character escaped
    assert "http://" not in shown and "http\\:\u2060//" in shown  # no autolink either
    assert shown.replace("\\", "").replace("\u2060", "").startswith("nice model [log in](http://evil.example)")
    assert len(plain("x" * 10_000)) <= 200


def test_the_server_never_sends_tracebacks_to_browsers():
    """Issue 9: `client.showErrorDetails` was left at "full", so every crash showed its traceback and paths."""
    import tomllib

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


def test_a_manifest_entry_without_a_path_is_skipped_with_a_note(tmp_path, monkeypatch):
    """Issue 9: an index.json entry without "path" gave a KeyError traceback on every page."""
    shipped = pretrained.default_dir()
    good = [dict(e, path=Path(e["path"]).name) for e in pretrained.read_index()]
    raw = [*good, {"name": "pathless", "kind": "ae", "latent_dim": 2}, {"name": "up", "path": "../x", "kind": "ae",
                                                                          "latent_dim": 2}, "junk"]
    for entry in good:
        (tmp_path / entry["path"]).symlink_to(shipped / entry["path"])
    (tmp_path / pretrained.INDEX_NAME).write_text(json.dumps({"models": raw}))
    monkeypatch.setenv("AELAB_PRETRAINED", str(tmp_path))
    problems = []
    assert [e["name"] for e in pretrained.read_index(tmp_path, problems)] == [e["name"] for e in good]
    assert len(problems) == 3 and "has no path" in problems[0] and "outside" in problems[1]
    for page in [p.path.relative_to(Path(APP).parent).as_posix() for p in pages.discover()]:
        at = AppTest.from_file(APP, default_timeout=120).run()
        at.switch_page(page).run()
        assert not at.exception, page
        if "training" not in page:
            assert any("has no path" in w.value for w in at.warning), page


def test_a_corrupt_shipped_model_leaves_the_compare_page_working(tmp_path, monkeypatch):
    """Issue 9: one corrupt shipped model made the whole compare page fail."""
    shipped = pretrained.default_dir()
    entries = [dict(e, path=Path(e["path"]).name) for e in pretrained.read_index()]
    for entry in entries:
        if entry["name"] == "vae-2d-beta4":
            (tmp_path / entry["path"]).mkdir()
            (tmp_path / entry["path"] / "config.json").write_text("{not json")
        else:
            (tmp_path / entry["path"]).symlink_to(shipped / entry["path"])
    (tmp_path / pretrained.INDEX_NAME).write_text(json.dumps({"models": entries}))
    (tmp_path / pretrained.JUDGE_DIR).symlink_to(shipped / pretrained.JUDGE_DIR)
    monkeypatch.setenv("AELAB_PRETRAINED", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("aelab/app/pages/vae_vs_ae.py").run()
    assert not at.exception and not at.error
    assert any("vae-2d-beta4 could not be loaded" in w.value.replace("\\", "") for w in at.warning)
    assert 4.0 not in [float(b) for b in at.select_slider(key="cmp_beta_2").options]
    assert at.get("bidi_component")  # the maps are there


def test_the_libraries_objects_are_exempt_from_each_runs_garbage_collection():
    """Streamlit collects garbage after every run; walking the ~330,000 objects torch, pandas and
    altair leave alive took about 175 ms a run, so the app freezes them once (gc.freeze)."""
    import gc

    AppTest.from_file(APP, default_timeout=120).run()
    assert gc.get_freeze_count() > 100_000


def test_every_run_sets_torch_up_in_its_own_thread(monkeypatch):
    """Torch's thread count and the denormal flag are per thread, and Streamlit runs each script in a new
    thread: without this, a 6-digit forward pass (0.6 ms) took about 40 ms in the server."""
    import threading

    from aelab.app import resources

    seen = []
    monkeypatch.setattr(resources, "configure_cpu", lambda threads: seen.append((threads, threading.get_ident())))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.run()
    assert len(seen) == 2 and all(threads == 1 for threads, _ in seen)
    assert all(ident != threading.get_ident() for _, ident in seen)  # in the run's thread, not the test's
