"""Faults (issue 12): the server killed mid-training and a save killed mid-way leave nothing half-written
listed or loaded, the models saved before intact, and the killed run shown as interrupted; a damaged
shipped or workspace model is skipped with a note while everything else works."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
import torch

from aelab import _files, checkpoint, models, pretrained, workspaces
from tests.apptest_pages import open_page
from tools.devtools import ROOT, free_port
from tools.stclient import Session

TRAIN = "aelab/app/pages/training.py"


# ---- the server killed mid-training --------------------------------------------------------------


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen, str, object]:
    """``streamlit run app.py`` in a process group of its own (its Dask workers are in it too)."""
    port = free_port()
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ | env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            return server, url, log
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                _kill(server)
                raise RuntimeError(f"streamlit did not start:\n{log.read().decode(errors='replace')}") from None
            time.sleep(0.2)


def _kill(server: subprocess.Popen) -> list[psutil.Process]:
    """SIGKILL the server's whole process group; returns the processes it had."""
    try:
        family = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait(30)
    return family


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE  # killed; its new parent reaps it
    except psutil.NoSuchProcess:
        return True


def _record(store: Path, name: str) -> dict | None:
    for path in store.glob("workspaces/*/jobs/*.json"):
        record = json.loads(path.read_text())
        if record["name"] == name:
            return record
    return None


def _wait(condition, timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


async def _train_two(url: str, store: Path) -> str:
    """Train "before" to the end, then start "killed" (200 epochs) and return once it trains."""
    s = Session(url, timeout=120)
    try:
        await s.connect("/train")
        await s.set("tr_data", "scikit-learn digits (8x8 pixels)")
        await s.set("tr_epochs", 2)
        await s.set("tr_name", "before")
        await s.click("do_train")  # starts the workers first
        deadline = time.monotonic() + 90
        while not any(t.startswith("Trained before") for t in s.texts()):
            assert time.monotonic() < deadline, s.texts()
            await asyncio.sleep(0.3)
            await s.poll()
        token = dict(p.split("=", 1) for p in s.query_string.split("&"))["ws"]
        await s.set("tr_epochs", 200)
        await s.set("tr_name", "killed")
        await s.click("do_train")
        _wait(lambda: (_record(store, "killed") or {}).get("status") == "running", what="the second run")
        return token
    finally:
        await s.close()


async def _reopen(url: str, token: str) -> dict:
    s = Session(url, timeout=120)
    try:
        train = await s.connect("/train", f"ws={token}")
        seen = {"train": train, "texts": s.texts()}
        seen["explorer"] = await s.open("/", f"ws={token}&models=before")
        seen["widgets"] = set(s.widgets)
        return seen
    finally:
        await s.close()


def test_a_server_killed_mid_training_keeps_what_was_saved_and_says_the_run_was_interrupted(tmp_path):
    store = tmp_path / "store"
    env = {"AELAB_WORKSPACES": str(store), "AELAB_WORKERS": "1"}
    server, url, log = _serve(env)
    try:
        token = asyncio.run(_train_two(url, store))
        time.sleep(1.0)  # a few epochs in
    finally:
        family = _kill(server)
        log.close()
    assert len(family) >= 3  # the server, and its Dask scheduler's workers (nanny and worker processes)
    _wait(lambda: all(_gone(p) for p in family), 30, "the killed processes")
    [folder] = (store / "workspaces").iterdir()
    before = folder / "models" / "before"
    weights = (before / checkpoint.WEIGHTS_NAME).read_bytes()
    assert not (folder / "models" / "killed").exists()  # a run saves only at its end, all at once
    leftover = folder / "models" / ".before.tmp-abcd1234"  # what a save killed before its swap leaves
    shutil.copytree(before, leftover)

    server, url, log = _serve(env)
    try:
        seen = asyncio.run(_reopen(url, token))
    finally:
        _kill(server)
        log.close()
    assert seen["train"].ok and seen["explorer"].ok, (seen["train"].errors, seen["explorer"].errors)
    texts = seen["texts"]
    assert any(t.startswith("**before**: ") for t in texts), texts
    assert not any("killed**" in t or ".before" in t or "tmp-" in t for t in texts), texts
    interrupted = [t for t in texts if t.startswith("The training of killed was interrupted")]
    assert len(interrupted) == 1 and "nothing of it was kept" in interrupted[0], texts
    assert "map-before-latent" in seen["widgets"], seen["widgets"]  # the earlier model loads in the explorer
    assert (before / checkpoint.WEIGHTS_NAME).read_bytes() == weights
    assert checkpoint.load(before).info["training"]["epochs"] == 2
    assert _record(store, "killed")["status"] == "interrupted"


# ---- a save killed mid-way -----------------------------------------------------------------------


def _tiny(seed: int) -> models.Model:
    torch.manual_seed(seed)
    return models.build("ae", image_shape=(8, 8), latent_dim=2, hidden=[16])


def _die(*args, **kwargs):
    os._exit(9)  # as SIGKILL would: no cleanup, no finally


def _save_and_die(folder: str, point: str) -> None:
    """In a child process: save a new model over ``folder``, killed at ``point``."""
    if point == "writing the weights":
        def half(tensors, path, metadata=None):
            Path(path).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
            _die()
        checkpoint.save_file = half
    elif point == "between writing and swapping":
        _files._swap_into_place = _die
    else:  # swapped in, the old folder not yet removed
        _files._fsync_dir = _die
    checkpoint.save(_tiny(1), folder, {"data": {"spec": "digits"}, "description": "the new one"})
    os._exit(0)


@pytest.mark.parametrize("point", ["writing the weights", "between writing and swapping",
                                   "after swapping, before cleaning up"])
def test_a_save_killed_mid_way_leaves_the_old_or_the_new_model_and_its_leftovers_are_removed(tmp_path, point):
    workspace = workspaces.Store(tmp_path).create()
    folder = checkpoint.save(_tiny(0), workspace.models_dir / "m", {"data": {"spec": "digits"}})
    workspace.add(folder, "ae", 2, "digits", "the old one")
    old = _tiny(0).state_dict()
    child = multiprocessing.get_context("fork").Process(target=_save_and_die, args=(str(folder), point))
    child.start()
    child.join(60)
    assert child.exitcode == 9
    found, problems = workspace.models()
    assert [m.name for m in found] == ["m"] and not problems  # the leftover is not listed
    expected = _tiny(1).state_dict() if point.startswith("after") else old
    loaded = checkpoint.load(found[0].path).model.state_dict()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)
    hidden = [p for p in workspace.models_dir.iterdir() if p.name.startswith(".m.")]
    assert len(hidden) == 1  # the staging folder (or the old model swapped out)
    assert workspace.store.prune() == [] and hidden[0].exists()  # a save this recent may still be going
    stale = time.time() - _files.LEFTOVER_AGE_S - 60
    for path in [hidden[0], *hidden[0].iterdir()]:
        os.utime(path, (stale, stale))
    workspace.store.prune()
    assert not hidden[0].exists() and [p.name for p in workspace.models_dir.iterdir()] == ["m"]
    assert [m.name for m in workspace.models()[0]] == ["m"]


# ---- damaged models among the shipped and the workspace's ----------------------------------------


PICKLE = b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00K\x01."  # a pickle (of 1); loading one can run code
DAMAGES = {
    "truncated": lambda f: (f / checkpoint.WEIGHTS_NAME).write_bytes((f / checkpoint.WEIGHTS_NAME).read_bytes()[:-100]),
    "bad json": lambda f: (f / checkpoint.CONFIG_NAME).write_text('{"kind": "ae", "model": '),
    "a pickle": lambda f: (f / checkpoint.WEIGHTS_NAME).write_bytes(PICKLE),
}
SHIPPED = {"ae-2d": "truncated", "dae-2d": "bad json", "dae-16d-gauss0.5": "a pickle"}


def _damaged_shipped_copy(root: Path) -> None:
    """pretrained/ as links to the shipped models, but three of them copied and damaged one way each."""
    shipped = pretrained.default_dir()
    root.mkdir()
    for item in shipped.iterdir():
        if item.name in SHIPPED:
            shutil.copytree(item, root / item.name)
            DAMAGES[SHIPPED[item.name]](root / item.name)
        else:
            (root / item.name).symlink_to(item)


def test_damaged_models_are_skipped_with_a_note_and_the_others_work(tmp_path, monkeypatch):
    _damaged_shipped_copy(tmp_path / "pretrained")
    monkeypatch.setenv("AELAB_PRETRAINED", str(tmp_path / "pretrained"))
    monkeypatch.setenv("AELAB_WORKSPACES", str(tmp_path / "store"))
    workspace = workspaces.Store(tmp_path / "store").create()
    for name in ["good", *DAMAGES]:
        torch.manual_seed(0)
        folder = checkpoint.save(models.build("ae", image_shape=(28, 28), latent_dim=2, hidden=[16]),
                                 workspace.models_dir / name.replace(" ", "-"), {"data": {"spec": "mnist5k"}})
        workspace.add(folder, "ae", 2, "mnist5k", f"{name}, a tiny AE")
        if name != "good":
            DAMAGES[name](folder)

    at = open_page(TRAIN, ws=workspace.token)
    warnings = [w.value.replace("\\", "") for w in at.warning]
    for name in DAMAGES:
        assert any(w.startswith(f"{name.replace(' ', '-')} is damaged and left out") for w in warnings), warnings
    assert [e.name for e in at.session_state["session_models"]] == ["good"]

    at.switch_page("aelab/app/pages/explorer.py").run()
    at.multiselect(key="ex_models").set_value(["good", "ae-2d", "dae-2d", "vae-2d"]).run()
    assert not at.exception
    notes = [e.value.replace("\\", "") for e in [*at.error, *at.warning]]
    for name in ("ae-2d", "dae-2d"):
        assert any(n.startswith(f"{name} could not be loaded") for n in notes), notes
    maps = {c.proto.id.rsplit("-", 1)[0] for c in at.get("bidi_component")}
    assert any("good" in m for m in maps) and any("vae-2d" in m for m in maps), maps

    at.switch_page("aelab/app/pages/denoising.py").run()
    assert not at.exception and not at.error
    warnings = [w.value.replace("\\", "") for w in at.warning]
    for name in SHIPPED:
        assert any(w.startswith(f"{name} could not be loaded and is left out") for w in warnings), (name, warnings)
    assert "aelab-digits" in " ".join(h.proto.body for h in at.get("html"))  # the lab's digits are drawn
