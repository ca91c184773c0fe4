"""Workspaces: a user's own models in a folder named by an unguessable token, shared one model at a time.

A workspace is opened by its token (the ``ws=`` of a link), never listed or created from one:
tokens are minted here (:func:`new_token`, 192 random bits), and folders are named by a hash of
the token, so the store's own folder names give no token away. A teacher shares one model as a
read-only link: a separate share token, looked up in ``shares/``, opens that model and nothing
else (neither the workspace's token nor its other models can be had from it). Every token is
checked against :data:`TOKEN` before anything touches the file system, and every name read back
from the store is checked again before a path is built from it.

The store is a folder tree (``$AELAB_WORKSPACES``, else ``workspaces/`` in aelab's cache dir);
several app replicas share it by pointing at one shared folder::

    workspaces/<key>/models/<name>/     config.json + model.safetensors, saved atomically
                    /entries/<name>.json what the pickers show; written last, so a model is listed once complete
                    /data/               uploaded data sets
                    /jobs/<id>.json      a training run's record (aelab.jobs), kept while it runs and,
                                         when its server stopped mid-run, until its note is dismissed
                    /touched             its time is the workspace's last use
    shares/<key>.json                    {"workspace": <key>, "model": <name>}

Limits per workspace (models, bytes) and the days after which an unused workspace is pruned
come from the environment (:meth:`Limits.from_env`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import checkpoint, data, job_records
from ._files import MiB, atomic_write, atomic_write_json, clean_leftovers, human_size, read_small_json, scrub
from .errors import AelabError
from .i18n import _
from .models import REGISTRY

TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24): 192 random bits
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # a model's folder name
_KEY = re.compile(r"[0-9a-f]{64}")  # a workspace's or share's folder/file name: sha256 of its token
TOUCH_EVERY_S = 3600  # a workspace's last use is recorded at most this often
PRUNE_EVERY_S = 3600  # the store is swept for unused workspaces at most this often
_MAX_RECORD_BYTES = 64 * 1024  # an entry or share record is a few hundred bytes
RUN_NOTE_DAYS = 7.0  # an interrupted run is mentioned this long, unless its note is dismissed first
_RUN_ID = re.compile(r"[0-9a-f]{12}")
_log = logging.getLogger("aelab")


class WorkspaceError(AelabError):
    """A workspace or share link cannot be opened, or a workspace cannot take a model."""


class QuotaError(WorkspaceError):
    """A workspace is full (models or bytes)."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _key(kind: str, token: str) -> str:
    return hashlib.sha256(f"aelab-{kind}:{token}".encode()).hexdigest()


@dataclass(frozen=True)
class Limits:
    """What one workspace may hold, and how long an unused one is kept."""

    max_models: int = 20
    max_bytes: int = 500 * MiB  # a few of the largest models (80 MB each) or many small ones, plus data uploads
    max_age_days: float = 30.0  # a term's worth of weeks between two uses of a course's models

    @classmethod
    def from_env(cls) -> Limits:
        """$AELAB_WORKSPACE_MODELS, $AELAB_WORKSPACE_MIB and $AELAB_WORKSPACE_DAYS, else the defaults."""
        default = cls()
        return cls(int(_env_number("AELAB_WORKSPACE_MODELS", default.max_models)),
                   int(_env_number("AELAB_WORKSPACE_MIB", default.max_bytes / MiB) * MiB),
                   _env_number("AELAB_WORKSPACE_DAYS", default.max_age_days))

    def sentence(self) -> str:
        """The limits in a user's words, for the page that lists the models."""
        return _("A workspace holds up to {models} models and {size} (models and uploaded data together); {pruning}",
                 models=self.max_models, size=human_size(self.max_bytes), pruning=self.pruning())

    def pruning(self) -> str:
        if self.max_age_days == 1:
            return _("one unused for 1 day is deleted, with its share links.")
        return _("one unused for {days:g} days is deleted, with its share links.", days=self.max_age_days)


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        _log.warning("%s=%r is not a positive number; using %g", name, text, default)
        return default
    return value


@dataclass(frozen=True)
class Model:
    """A model in a workspace, as the pickers show it."""

    name: str
    path: Path
    kind: str
    latent_dim: int
    data: str
    description: str
    share: str | None = None  # its share token, once shared (only the owner's listing has it)
    added: float = 0.0


def default_root() -> Path:
    """$AELAB_WORKSPACES, else ``workspaces`` in aelab's cache dir."""
    override = os.environ.get("AELAB_WORKSPACES", "").strip()
    return Path(override).expanduser() if override else data.cache_dir() / "workspaces"


class Store:
    """The folder tree of every workspace and share record."""

    def __init__(self, root: str | Path | None = None, limits: Limits | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.limits = limits or Limits.from_env()

    def create(self) -> Workspace:
        """A new, empty workspace under a fresh token."""
        token = new_token()
        folder = self.root / "workspaces" / _key("workspace", token)
        for part in ("models", "entries", "data"):
            (folder / part).mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "touched", b"")
        return Workspace(self, token, folder)

    def open(self, token: str) -> Workspace:
        """The workspace of ``token``; WorkspaceError for a malformed or unknown one (nothing is created)."""
        if not isinstance(token, str) or not TOKEN.fullmatch(token):
            raise WorkspaceError(_("The link's workspace key (ws=) is not one aelab makes: it is 32 letters, digits, "
                                   "'-' or '_'. Check that the whole link was copied."))
        folder = self.root / "workspaces" / _key("workspace", token)
        if not (folder / "entries").is_dir():
            raise WorkspaceError(_("No workspace has the link's key (ws=): it was mistyped, or the workspace was "
                                   "deleted after {days:g} days unused. Models you train or upload now go to a new "
                                   "workspace.", days=self.limits.max_age_days))
        workspace = Workspace(self, token, folder)
        workspace.touch()
        return workspace

    def open_share(self, token: str) -> Model:
        """The one model a share token opens, read-only; WorkspaceError when there is none."""
        gone = _("The share link (share=) opens no model: it was mistyped, or the model was deleted or no longer "
                 "shared, or its workspace was deleted after {days:g} days unused. Ask whoever shared it for a new "
                 "link.", days=self.limits.max_age_days)
        if not isinstance(token, str) or not TOKEN.fullmatch(token):
            raise WorkspaceError(_("The share link's key (share=) is not one aelab makes: it is 32 letters, digits, "
                                   "'-' or '_'. Check that the whole link was copied."))
        record = _read_record(self.root / "shares" / f"{_key('share', token)}.json")
        if not (isinstance(record, dict) and isinstance(record.get("workspace"), str)
                and _KEY.fullmatch(record["workspace"]) and isinstance(record.get("model"), str)
                and NAME.fullmatch(record["model"])):
            raise WorkspaceError(gone)
        owner = Workspace(self, None, self.root / "workspaces" / record["workspace"])
        model, problem = owner._entry(record["model"])
        if model is None or model.share != token:
            raise WorkspaceError(problem or gone)
        owner.touch()  # a model in use keeps its workspace from being pruned
        return Model(model.name, model.path, model.kind, model.latent_dim, model.data, model.description)

    def prune(self, now: float | None = None) -> list[Path]:
        """Delete workspaces unused for ``limits.max_age_days``, their share records, and what interrupted
        saves left in the others; returns the workspace folders deleted."""
        cutoff = (now or time.time()) - self.limits.max_age_days * 86400
        removed = []
        for folder in _children(self.root / "workspaces"):
            if not _KEY.fullmatch(folder.name) or not folder.is_dir() or folder.is_symlink():
                continue
            if _last_use(folder) < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
            else:
                for part in ("models", "entries", "data", "jobs"):
                    clean_leftovers(folder / part)
        for record in _children(self.root / "shares"):
            target = _read_record(record)
            folder = self.root / "workspaces" / str(target.get("workspace", "")) if isinstance(target, dict) else None
            name = target.get("model") if isinstance(target, dict) else None
            if (folder is None or not _KEY.fullmatch(folder.name) or not isinstance(name, str)
                    or not NAME.fullmatch(name) or not (folder / "entries" / f"{name}.json").is_file()):
                record.unlink(missing_ok=True)
        return removed

    def prune_now_and_then(self) -> list[Path]:
        """:meth:`prune`, at most once every PRUNE_EVERY_S seconds across every replica sharing the store."""
        stamp = self.root / ".pruned"
        try:
            if time.time() - stamp.stat().st_mtime < PRUNE_EVERY_S:
                return []
        except OSError:
            pass
        atomic_write(stamp, b"")
        return self.prune()


class Workspace:
    """One user's models; every method that writes needs the token (a share opens none of them)."""

    def __init__(self, store: Store, token: str | None, folder: Path):
        self.store, self.token, self.folder = store, token, folder
        self.models_dir, self.entries_dir, self.data_dir = folder / "models", folder / "entries", folder / "data"
        self.jobs_dir = folder / "jobs"

    def touch(self) -> None:
        """Record a use (at most once every TOUCH_EVERY_S seconds), so pruning keeps the workspace."""
        stamp = self.folder / "touched"
        try:
            if time.time() - stamp.stat().st_mtime < TOUCH_EVERY_S:
                return
            os.utime(stamp)
        except OSError:
            atomic_write(stamp, b"")

    def version(self) -> tuple:
        """Changes whenever a model is added, removed or shared (cheap: one folder's time and names)."""
        try:
            return self.entries_dir.stat().st_mtime_ns, tuple(sorted(os.listdir(self.entries_dir)))
        except OSError:
            return ()

    def models(self) -> tuple[list[Model], list[str]]:
        """The complete models, oldest first, and a sentence for each one skipped (damaged, half removed)."""
        found, problems = [], []
        for record in sorted(_children(self.entries_dir)):
            name = record.name.removesuffix(".json")
            if record.name.startswith(".") or not record.name.endswith(".json") or not NAME.fullmatch(name):
                continue
            model, problem = self._entry(name)
            if model is not None:
                found.append(model)
            elif problem:
                problems.append(problem)
        return sorted(found, key=lambda m: (m.added, m.name)), problems

    def usage(self) -> tuple[int, int]:
        """(models listed, bytes of every file in the workspace)."""
        size = sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file() and not p.is_symlink())
        return len(self.models()[0]), size

    def check_room(self, extra_bytes: int = 0) -> None:
        """QuotaError unless one more model of ``extra_bytes`` fits."""
        count, size = self.usage()
        limits = self.store.limits
        if count >= limits.max_models:
            raise QuotaError(_("your workspace holds {count} models, its limit is {limit}; delete one "
                               "on the Train page to make room", count=count, limit=limits.max_models))
        if size + extra_bytes > limits.max_bytes:
            raise QuotaError(_("your workspace would hold {size}, its limit is {limit}; delete a model on the Train "
                               "page to make room", size=human_size(size + extra_bytes),
                               limit=human_size(limits.max_bytes)))

    def add(self, folder: Path, kind: str, latent_dim: int, data_spec: str, description: str) -> Model:
        """List a complete model folder of this workspace's ``models/`` (saved there atomically)."""
        self._own()
        folder = Path(folder)
        if folder.parent.resolve() != self.models_dir.resolve() or not NAME.fullmatch(folder.name):
            raise WorkspaceError(_("{name} is not a model folder of this workspace", name=folder.name))
        if kind not in REGISTRY:
            raise WorkspaceError(_("{kind!r} is not a kind of autoencoder aelab knows", kind=kind))
        record = {"kind": kind, "latent_dim": int(latent_dim), "data": str(data_spec),
                  "description": str(description)[:300], "added": time.time()}
        atomic_write_json(self.entries_dir / f"{folder.name}.json", record)
        model, problem = self._entry(folder.name)
        if model is None:
            raise WorkspaceError(problem or _("{name} could not be listed", name=folder.name))
        return model

    def remove(self, name: str) -> None:
        """Delete a model: unlisted first, then its share record and its files (a damaged one too)."""
        self._own()
        if not NAME.fullmatch(name):
            raise WorkspaceError(_("{name!r} is not a model name", name=name))
        record = _read_record(self.entries_dir / f"{name}.json") or {}
        # A tombstone, not nothing: the name is never used again here, since the app caches models by path.
        atomic_write_json(self.entries_dir / f"{name}.json", {"deleted": time.time()})
        share = record.get("share")
        if isinstance(share, str) and TOKEN.fullmatch(share):
            (self.store.root / "shares" / f"{_key('share', share)}.json").unlink(missing_ok=True)
        shutil.rmtree(self.models_dir / name, ignore_errors=True)

    def share(self, name: str) -> str:
        """The share token of a model (made on first call): it opens that model, read-only, and nothing else."""
        self._own()
        if not NAME.fullmatch(name):
            raise WorkspaceError(_("{name!r} is not a model name", name=name))
        model, problem = self._entry(name)
        if model is None:
            raise WorkspaceError(problem or _("there is no model {name} in this workspace", name=name))
        if model.share:
            return model.share
        token = new_token()
        atomic_write_json(self.store.root / "shares" / f"{_key('share', token)}.json",
                          {"workspace": self.folder.name, "model": name})
        record = _read_record(self.entries_dir / f"{name}.json")
        atomic_write_json(self.entries_dir / f"{name}.json", (record or {}) | {"share": token})
        return token

    def names(self) -> set[str]:
        """Every name used here: models (listed, deleted or damaged) and folders (a save in progress)."""
        return {p.name for p in _children(self.models_dir)} | {p.name.removesuffix(".json")
                                                                for p in _children(self.entries_dir)}

    def runs(self, now: float | None = None) -> list[dict]:
        """This workspace's training runs worth a word, oldest first: the unfinished ones and those
        interrupted by a server that stopped (see :func:`aelab.job_records.records`), each its record.

        On the way, a model a finished or interrupted run saved is listed if its page never listed
        it (its tab was closed, or its server stopped between the save and the listing); an
        interrupted record's ``kept`` then says whether a model of it is listed. Finished runs'
        records are removed, and interrupted ones after :data:`RUN_NOTE_DAYS`.
        """
        if self.token is None:
            return []
        now = time.time() if now is None else now
        shown = []
        for record in job_records.records(self.jobs_dir, now):
            path = self.jobs_dir / f"{record['id']}.json"
            if record["status"] in job_records.ACTIVE:
                shown.append(record)
            elif record["status"] != "interrupted":  # ended with its server running: nothing left to say
                if record.get("kept"):
                    self._list_trained(record["name"])
                path.unlink(missing_ok=True)
            elif now - float(record.get("interrupted", now) or now) > RUN_NOTE_DAYS * 86400:
                path.unlink(missing_ok=True)
            else:
                if not record.get("kept") and self._list_trained(record["name"]):  # saved before, or after
                    record["kept"] = True
                    atomic_write_json(path, record)
                shown.append(record)
        return shown

    def dismiss_run(self, run_id: str) -> None:
        """Forget an interrupted run's record (its note is no longer shown)."""
        self._own()
        if isinstance(run_id, str) and _RUN_ID.fullmatch(run_id) and any(
                r["id"] == run_id and r["status"] == "interrupted" for r in job_records.records(self.jobs_dir)):
            (self.jobs_dir / f"{run_id}.json").unlink(missing_ok=True)

    def _list_trained(self, name: str) -> bool:
        """Whether the model a run saved as ``name`` is listed, listing it if it is complete and its
        page did not; a deleted name stays deleted."""
        if not NAME.fullmatch(name):
            return False
        if (self.entries_dir / f"{name}.json").exists():
            return self._entry(name)[0] is not None
        folder = self.models_dir / name
        if _damage(folder):
            return False
        try:
            info = checkpoint.read_config(folder)
            description = info.get("description") if isinstance(info.get("description"), str) else name
            self.add(folder, info["kind"], int(info["model"]["latent_dim"]), str(info["data"]["spec"]),
                     f"{description} (trained here)")
        except (AelabError, KeyError, TypeError, ValueError) as exc:
            _log.warning("aelab: a trained model %s could not be listed: %s", name, exc)
            return False
        return True

    def _own(self) -> None:
        if self.token is None:
            raise WorkspaceError(_("a shared model is read-only"))

    def _entry(self, name: str) -> tuple[Model | None, str | None]:
        """The model ``name`` if its record and its folder are complete, else (None, why it is left out)."""
        record = _read_record(self.entries_dir / f"{name}.json")
        if isinstance(record, dict) and "deleted" in record:
            return None, None
        valid = (isinstance(record, dict) and record.get("kind") in REGISTRY
                 and isinstance(record.get("latent_dim"), int) and isinstance(record.get("data"), str)
                 and isinstance(record.get("description"), str))
        if not valid:
            return None, (_("{name}: its record in the workspace is damaged, so it is left out.", name=name)
                          if record is not None else None)
        folder = self.models_dir / name
        damage = _damage(folder)
        if damage:
            return None, _("{name} is damaged and left out: {damage}.", name=name, damage=damage)
        share = record.get("share")
        return Model(name, folder, record["kind"], record["latent_dim"], record["data"], record["description"],
                     share if isinstance(share, str) and TOKEN.fullmatch(share) else None,
                     float(record.get("added", 0) or 0)), None


def _damage(folder: Path) -> str | None:
    """What is wrong with a model folder, checked cheaply (its config read, its weights' length), or None."""
    if folder.is_symlink() or not folder.is_dir():
        return _("its folder is missing")
    try:
        checkpoint.read_config(folder)
    except AelabError as exc:
        return scrub(str(exc).replace(str(folder), folder.name), 300)
    weights = folder / checkpoint.WEIGHTS_NAME
    try:
        size = weights.stat().st_size
        with weights.open("rb") as f:
            length = int.from_bytes(f.read(8), "little")
            if size < 8 or length > size - 8:
                return _("model.safetensors is truncated")
            header = json.loads(f.read(length))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except OSError:
        return _("model.safetensors is missing or unreadable")
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError):
        return _("model.safetensors is not a safetensors file")
    return None if 8 + length + end == size else _("model.safetensors is truncated or has bytes added")


def _read_record(path: Path) -> dict | None:
    """A small JSON record written by this module, or None when it is missing, too large or not JSON
    ({} when it is JSON but not an object)."""
    record = read_small_json(path, _MAX_RECORD_BYTES)
    return None if record is None else record if isinstance(record, dict) else {}


def _children(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def _last_use(folder: Path) -> float:
    for path in (folder / "touched", folder):
        try:
            return path.stat().st_mtime
        except OSError:
            continue
    return 0.0
