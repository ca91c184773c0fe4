"""Workspaces (aelab.workspaces): unguessable tokens, read-only shares, quotas, pruning, damaged models skipped."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch

from aelab import checkpoint, models, workspaces
from aelab._files import MiB
from aelab.workspaces import Limits, QuotaError, Store, WorkspaceError


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*")) if root.exists() else []


def _save(workspace: workspaces.Workspace, name: str, seed: int = 0) -> workspaces.Model:
    torch.manual_seed(seed)
    model = models.build("ae", image_shape=(8, 8), latent_dim=2, hidden=[16])
    folder = checkpoint.save(model, workspace.models_dir / name, {"data": {"spec": "digits"}})
    return workspace.add(folder, "ae", 2, "digits", f"{name}, a tiny AE")


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "store", Limits())


def test_a_workspace_reopens_by_its_token_and_its_folder_gives_no_token_away(store):
    workspace = store.create()
    assert workspaces.TOKEN.fullmatch(workspace.token) and len(workspace.token) * 6 >= 128
    _save(workspace, "mine")
    again = store.open(workspace.token)
    assert [m.name for m in again.models()[0]] == ["mine"]
    for path in _files(store.root):
        assert workspace.token not in str(path)
        if path.is_file():
            assert workspace.token.encode() not in path.read_bytes()
    assert store.create().token != workspace.token


@pytest.mark.parametrize("token", ["", "short", "../../etc/passwd", "a" * 31, "a" * 33, "a" * 31 + "/",
                                   "a" * 31 + ".", "é" * 32, "a" * 31 + "\x00", None, 12])
def test_a_malformed_token_is_refused_before_the_file_system_is_touched(store, token):
    store.create()
    before = _files(store.root)
    with pytest.raises(WorkspaceError, match="not one aelab makes"):
        store.open(token)
    with pytest.raises(WorkspaceError, match="not one aelab makes"):
        store.open_share(token)
    assert _files(store.root) == before


def test_an_unknown_token_opens_nothing_and_creates_nothing(store):
    store.create()
    before = _files(store.root)
    unknown = workspaces.new_token()
    with pytest.raises(WorkspaceError, match="No workspace has"):
        store.open(unknown)
    with pytest.raises(WorkspaceError, match="opens no model"):
        store.open_share(unknown)
    assert _files(store.root) == before


def test_a_share_token_opens_one_model_read_only_and_never_the_workspace(store):
    workspace = store.create()
    shared, _ = _save(workspace, "shared"), _save(workspace, "private", seed=1)
    token = workspace.share("shared")
    assert workspace.share("shared") == token and token != workspace.token
    model = store.open_share(token)
    assert (model.name, model.path, model.share) == ("shared", shared.path, None)  # no token handed on
    assert checkpoint.load(model.path).model.latent_dim == 2
    with pytest.raises(WorkspaceError):
        store.open(token)  # a share token is not a workspace token
    reader = workspaces.Workspace(store, None, workspace.folder)  # what a share link's holder could reach
    for write in (lambda: reader.add(shared.path, "ae", 2, "digits", "x"), lambda: reader.share("private"),
                  lambda: reader.remove("shared")):
        with pytest.raises(WorkspaceError, match="read-only"):
            write()
    workspace.remove("shared")
    with pytest.raises(WorkspaceError, match="opens no model"):
        store.open_share(token)  # deleting a model ends its link
    assert not shared.path.exists()
    assert [m.name for m in workspace.models()[0]] == ["private"]
    assert "shared" in workspace.names()  # a deleted name is never given to another model (caches key by path)


def test_half_written_and_unlisted_folders_are_never_listed(store):
    workspace = store.create()
    _save(workspace, "done")
    staging = workspace.models_dir / ".next.tmp-abcd1234"  # an interrupted save
    staging.mkdir()
    (staging / "config.json").write_text("{}")
    torch.manual_seed(0)
    checkpoint.save(models.build("ae", image_shape=(8, 8), latent_dim=2, hidden=[16]), workspace.models_dir / "busy")
    models_found, problems = workspace.models()  # "busy" is saved but not yet added (a job finishing)
    assert [m.name for m in models_found] == ["done"] and not problems


@pytest.mark.parametrize(("damage", "words"), [
    (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:-10]), "truncated"),
    (lambda f: (f / "model.safetensors").write_bytes(b"\x80\x04K\x01."), "safetensors"),
    (lambda f: (f / "config.json").write_text("{not json"), "not valid JSON"),
    (lambda f: (f / "model.safetensors").unlink(), "missing"),
])
def test_a_damaged_model_is_skipped_with_a_note_and_the_others_listed(store, damage, words):
    workspace = store.create()
    _save(workspace, "good")
    bad = _save(workspace, "bad", seed=1)
    damage(bad.path)
    found, problems = workspace.models()
    assert [m.name for m in found] == ["good"]
    assert len(problems) == 1 and problems[0].startswith("bad ") and words in problems[0], problems
    assert str(store.root) not in problems[0]  # no server paths in a user's message


def test_a_damaged_record_is_skipped_with_a_note(store):
    workspace = store.create()
    _save(workspace, "good")
    (workspace.entries_dir / "odd.json").write_text('{"kind": "gan"}')
    found, problems = workspace.models()
    assert [m.name for m in found] == ["good"] and problems == ["odd: its record in the workspace is damaged, "
                                                                "so it is left out."]


def test_quotas_count_models_and_bytes(tmp_path):
    store = Store(tmp_path, Limits(max_models=2, max_bytes=MiB))
    workspace = store.create()
    workspace.check_room()
    _save(workspace, "one")
    _save(workspace, "two")
    with pytest.raises(QuotaError, match="holds 2 models, its limit is 2"):
        workspace.check_room()
    workspace.remove("two")
    workspace.check_room()
    with pytest.raises(QuotaError, match="limit is 1.0 MiB"):
        workspace.check_room(extra_bytes=MiB)
    assert "2 models and 1.0 MiB" in store.limits.sentence() and "30 days" in store.limits.sentence()


def test_limits_and_the_store_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_WORKSPACE_DAYS", "2.5")
    monkeypatch.setenv("AELAB_WORKSPACE_MODELS", "3")
    monkeypatch.setenv("AELAB_WORKSPACE_MIB", "nonsense")
    monkeypatch.setenv("AELAB_WORKSPACES", str(tmp_path / "shared"))
    limits = Limits.from_env()
    assert (limits.max_age_days, limits.max_models, limits.max_bytes) == (2.5, 3, Limits().max_bytes)
    assert Store().root == tmp_path / "shared"
    monkeypatch.delenv("AELAB_WORKSPACES")
    monkeypatch.setenv("AELAB_CACHE_DIR", str(tmp_path / "cache"))
    assert Store().root == tmp_path / "cache" / "workspaces"


def test_unused_workspaces_are_pruned_with_their_share_links(tmp_path):
    store = Store(tmp_path, Limits(max_age_days=7))
    old, recent = store.create(), store.create()
    old_token = (_save(old, "m"), old.share("m"))[1]
    recent_token = (_save(recent, "m"), recent.share("m"))[1]
    leftover = recent.models_dir / ".m.tmp-abcd1234"
    leftover.mkdir()
    week_ago = time.time() - 8 * 86400
    os.utime(old.folder / "touched", (week_ago, week_ago))
    os.utime(leftover, (week_ago, week_ago))
    assert store.prune() == [old.folder]
    assert not old.folder.exists() and not leftover.exists()
    with pytest.raises(WorkspaceError):
        store.open(old.token)
    with pytest.raises(WorkspaceError):
        store.open_share(old_token)
    assert len(list((store.root / "shares").iterdir())) == 1  # the pruned workspace's record is gone
    assert store.open_share(recent_token).name == "m"
    assert Store(tmp_path / "missing").prune() == []


def test_the_store_is_swept_at_most_once_an_hour(tmp_path):
    store = Store(tmp_path, Limits(max_age_days=7))
    first, second = store.create(), store.create()
    week_ago = time.time() - 8 * 86400
    os.utime(first.folder / "touched", (week_ago, week_ago))
    assert store.prune_now_and_then() == [first.folder]
    os.utime(second.folder / "touched", (week_ago, week_ago))
    assert store.prune_now_and_then() == [] and second.folder.exists()  # swept a moment ago, by any replica


def test_opening_a_workspace_or_its_shared_model_counts_as_a_use(tmp_path):
    store = Store(tmp_path, Limits(max_age_days=7))
    workspace = store.create()
    _save(workspace, "m")
    token = workspace.share("m")
    week_ago = time.time() - 8 * 86400
    os.utime(workspace.folder / "touched", (week_ago, week_ago))
    store.open_share(token)  # the class opened the teacher's link
    assert store.prune() == []
    assert json.loads((workspace.entries_dir / "m.json").read_text())["share"] == token


# ---- training runs' records (aelab.jobs) ---------------------------------------------------------


def _run_record(workspace: workspaces.Workspace, name: str, status: str = "running", **server) -> Path:
    """A job's record as its server wrote it, that server's host/pid/boot replaced by ``server``."""
    from aelab import jobs
    from aelab.train import TrainConfig

    job = jobs.Job(jobs.JobSpec("ae", {"latent_dim": 2}, "digits", TrainConfig(epochs=50), workspace.models_dir / name),
                   "owner", tag="train", records=workspace.jobs_dir, status=status)
    job.write_record()
    path = workspace.jobs_dir / f"{job.id}.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps(record | {"server": record["server"] | server}))
    return path


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_run_whose_server_died_is_marked_interrupted_once_and_can_be_dismissed(store):
    from aelab import jobs

    workspace = store.create()
    dead = _run_record(workspace, "dead", pid=_dead_pid(), boot="0" * 12)
    alive = _run_record(workspace, "mine")  # this process's own
    far = _run_record(workspace, "far", "queued", host="elsewhere", boot="1" * 12)
    stale = _run_record(workspace, "stale", host="elsewhere", boot="2" * 12)
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))  # its server stopped writing heartbeats
    runs = {r["name"]: r for r in workspace.runs()}
    assert {n: r["status"] for n, r in runs.items()} == {"dead": "interrupted", "mine": "running",
                                                          "far": "queued", "stale": "interrupted"}
    assert runs["dead"]["was"] == "running" and not runs["dead"]["kept"]
    assert json.loads(dead.read_text())["status"] == "interrupted"  # written back: said once, kept until dismissed
    assert json.loads(alive.read_text())["server"] == jobs.SERVER and far.exists()
    with pytest.raises(WorkspaceError, match="read-only"):
        workspaces.Workspace(store, None, workspace.folder).dismiss_run(runs["dead"]["id"])
    workspace.dismiss_run(runs["mine"]["id"])  # an unfinished run is not dismissed
    workspace.dismiss_run(runs["dead"]["id"])
    assert not dead.exists() and alive.exists()
    later = [r["name"] for r in workspace.runs(now=time.time() + 8 * 86400) if r["status"] == "interrupted"]
    assert later == ["far"]  # "stale"'s note is a week old and gone; "far" sent no heartbeat for a week


def test_a_model_saved_by_a_run_nobody_watched_is_listed_and_a_deleted_one_stays_deleted(store):
    workspace = store.create()
    done = _run_record(workspace, "closed-tab", "completed")
    record = json.loads(done.read_text())
    done.write_text(json.dumps(record | {"kept": True}))
    torch.manual_seed(0)
    checkpoint.save(models.build("ae", image_shape=(8, 8), latent_dim=2, hidden=[16]),
                    workspace.models_dir / "closed-tab", {"data": {"spec": "digits"}, "description": "a tiny AE"})
    saved_late = _run_record(workspace, "late", pid=_dead_pid(), boot="0" * 12)  # saved, its server gone
    checkpoint.save(models.build("ae", image_shape=(8, 8), latent_dim=2, hidden=[16]),
                    workspace.models_dir / "late", {"data": {"spec": "digits"}})
    runs = workspace.runs()
    assert not done.exists() and [(r["name"], r["kept"]) for r in runs] == [("late", True)]
    found = {m.name: m for m in workspace.models()[0]}
    assert set(found) == {"closed-tab", "late"} and found["closed-tab"].description == "a tiny AE (trained here)"
    workspace.remove("late")
    saved_late.write_text(json.dumps(json.loads(saved_late.read_text()) | {"kept": False}))
    workspace.runs()
    assert [m.name for m in workspace.models()[0]] == ["closed-tab"]  # deleted stays deleted
