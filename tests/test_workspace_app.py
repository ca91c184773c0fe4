"""Workspaces in the app (AppTest): a reload keeps a user's models, bad links change nothing, shares are read-only."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from aelab import checkpoint, models, workspaces
from tests.apptest_pages import APP, assert_ok, open_page

TRAIN = "aelab/app/pages/training.py"
LOSSES = "aelab/app/pages/five_losses.py"


@pytest.fixture(autouse=True)
def store_root(tmp_path, monkeypatch) -> Path:
    """Each test's own workspace store."""
    monkeypatch.setenv("AELAB_WORKSPACES", str(tmp_path / "store"))
    return tmp_path / "store"


@pytest.fixture(scope="module")
def model_zip(tmp_path_factory) -> bytes:
    """A tiny 28x28 AE as the Train page's download gives it."""
    torch.manual_seed(0)
    folder = checkpoint.save(models.build("ae", image_shape=(28, 28), latent_dim=2, hidden=[16]),
                             tmp_path_factory.mktemp("zip") / "tiny", {"data": {"spec": "mnist5k"},
                                                                       "description": "a tiny AE"})
    return checkpoint.export_zip(folder)


def _reload(page: str, **params: str) -> AppTest:
    """A new browser session opening ``page`` with the link's ``params`` (as a reload or a bookmark does)."""
    at = AppTest.from_file(APP, default_timeout=180)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    return at.switch_page(page).run()


def _listed(at: AppTest) -> list[str]:
    return [entry.name for entry in at.session_state["session_models"]] if "session_models" in at.session_state else []


def _shared_workspace_model(store_root: Path, name: str = "teachers-ae") -> tuple[workspaces.Workspace, str]:
    store = workspaces.Store(store_root)
    owner = store.create()
    torch.manual_seed(1)
    folder = checkpoint.save(models.build("ae", image_shape=(28, 28), latent_dim=2, hidden=[16]),
                             owner.models_dir / name, {"data": {"spec": "mnist5k"}})
    owner.add(folder, "ae", 2, "mnist5k", "the teacher's AE")
    return owner, owner.share(name)


def test_an_uploaded_model_is_back_after_a_reload_and_the_link_keeps_its_workspace(model_zip):
    at = open_page(TRAIN)
    assert "ws" not in at.query_params  # no workspace until one is needed
    captions = " ".join(c.value for c in at.caption)
    assert "up to 20 models" in captions and "unused for 30 days is deleted" in captions
    at.file_uploader(key="do_upload_model").upload("tiny.zip", model_zip, "application/zip").run()
    assert_ok(at)
    token = at.query_params["ws"]
    assert workspaces.TOKEN.fullmatch(token) and _listed(at) == ["tiny"]
    assert any("1 of its 20 models" in c.value for c in at.caption)
    del at.query_params["ws"]  # a page switch in the browser drops the query string
    at.switch_page(LOSSES).run()
    assert_ok(at)
    assert at.query_params["ws"] == token and "bright" in at.query_params  # kept beside the page's own state

    again = _reload(TRAIN, ws=token)
    assert_ok(again)
    assert _listed(again) == ["tiny"] and any(m.value.startswith("**tiny**") for m in again.markdown)
    assert again.query_params["ws"] == token
    explorer = AppTest.from_file(APP, default_timeout=180)
    explorer.query_params["ws"], explorer.query_params["models"] = token, "tiny"
    explorer.run()
    assert_ok(explorer)
    assert not explorer.warning and explorer.multiselect(key="ex_models").value == ["tiny"]
    assert explorer.query_params["ws"] == token  # the explorer's own link keeps it


@pytest.mark.parametrize(("token", "words"), [("../../etc/passwd", "not one aelab makes"),
                                             ("A" * 32, "No workspace has the link's key")])
def test_a_bad_or_unknown_workspace_token_gets_a_message_and_changes_nothing(store_root, token, words):
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["ws"] = token
    at.run()  # the link opens the explorer: a passing notice there
    assert not at.exception and not at.error
    assert any(words in t.value.replace("\\", "") for t in at.toast), [t.value for t in at.toast]
    at.switch_page(TRAIN).run()  # and a lasting one on the Train page, where the models are listed
    assert not at.exception and not at.error
    assert sum(words in w.value.replace("\\", "") for w in at.warning) == 1, [w.value for w in at.warning]
    assert not list(store_root.rglob("*")) and _listed(at) == []
    assert at.query_params["ws"] == token  # left as it was; a new workspace replaces it on the first upload
    at.run()
    assert sum(words in w.value.replace("\\", "") for w in at.warning) == 1  # still said, once, on the Train page


def test_a_share_link_opens_one_model_read_only(store_root):
    owner, share = _shared_workspace_model(store_root)
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["share"], at.query_params["models"] = share, "teachers-ae"
    at.run()
    assert_ok(at)
    assert not at.warning and at.multiselect(key="ex_models").value == ["teachers-ae"]
    assert at.get("bidi_component")  # its map is drawn
    assert at.query_params["share"] == share and "ws" not in at.query_params  # no workspace handed over
    at.switch_page(TRAIN).run()
    assert_ok(at)
    assert _listed(at) == []  # not the student's own model
    assert any("shared with you, read-only" in m.value.replace("\\", "") for m in at.markdown)
    assert not [b for b in at.button if b.key and b.key.endswith("teachers-ae")]  # no Share or Delete for it
    assert (owner.models_dir / "teachers-ae").is_dir()

    wrong = _reload(TRAIN, ws=share)  # a share token does not open its owner's workspace
    assert any("No workspace has" in w.value.replace("\\", "") for w in wrong.warning) and _listed(wrong) == []


def test_the_owner_shares_and_deletes_from_the_train_page(store_root):
    owner, _ = _shared_workspace_model(store_root)
    at = _reload(TRAIN, ws=owner.token)
    assert_ok(at)
    assert _listed(at) == ["teachers-ae"]
    link = next(c.value for c in at.code)
    assert "share=" in link and owner.token not in link and "models=teachers-ae" in link
    at.button(key="do_delete_teachers-ae").click().run()
    assert_ok(at)
    assert _listed(at) == [] and not (owner.models_dir / "teachers-ae").exists()


def test_a_damaged_model_in_the_workspace_is_skipped_with_a_note(store_root, model_zip):
    owner, _ = _shared_workspace_model(store_root)
    weights = owner.models_dir / "teachers-ae" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    at = _reload(TRAIN, ws=owner.token)
    assert not at.exception and not at.error
    assert _listed(at) == [] and any("teachers-ae is damaged" in w.value.replace("\\", "") for w in at.warning)
    at.file_uploader(key="do_upload_model").upload("tiny.zip", model_zip, "application/zip").run()
    assert_ok(at)
    assert _listed(at) == ["tiny"] and at.query_params["ws"] == owner.token  # everything else works
