"""This browser session's workspace: the models trained or uploaded here, kept across reloads.

The workspace is named by the token in the link (``ws=``), so a reload or a bookmark brings its
models back; it is made on first need (the first training or upload) and its token then put in
the link. A share link (``share=``) adds one model of someone else's workspace, read-only. Both
are kept in the session too, so a page that rewrites the link puts them back (see
:func:`url_params`). The store itself is :mod:`aelab.workspaces`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from .. import checkpoint, data, job_records, jobs, workspaces
from ..errors import AelabError
from ..i18n import N_, _
from ..workspaces import WorkspaceError
from . import resources
from .resources import plain

URL_KEY = "ws"  # the query-string name of the workspace's token
SHARE_KEY = "share"  # the query-string name of a share token



def available_models() -> list[resources.ModelEntry]:
    """The shipped models, then this session's own (its workspace's, kept across reloads), then the
    models it opened with share links (read-only)."""
    return resources.shipped_models() + models() + shared_models()

def store() -> workspaces.Store:
    return workspaces.Store()


def workspace(create: bool = False) -> workspaces.Workspace | None:
    """This session's workspace: the link's (checked once per session), else a new one when ``create``."""
    _read_link()
    token = st.session_state.get("ws_token")
    if token is not None:
        try:
            opened = store().open(token)
        except WorkspaceError as exc:  # pruned, or its folder removed, while the session was open
            del st.session_state["ws_token"]
            st.session_state.session_models = []
            st.session_state.ws_notices = [str(exc)]
            opened = None
        if opened is not None:
            keep_in_url()
            return opened
    if not create:
        return None
    shared_store = store()
    shared_store.prune_now_and_then()
    opened = shared_store.create()
    st.session_state.ws_token = opened.token
    st.session_state.ws_notices = []  # what the link named no longer matters
    keep_in_url()
    return opened


def _read_link() -> None:
    """Open the link's workspace and share tokens when they first appear in it (the session's first run,
    as a rule); a bad one gets a notice, shown here once, and changes nothing."""
    seen = st.session_state.setdefault("ws_seen", {})
    notices = []
    token = st.query_params.get(URL_KEY)
    if token is not None and token != st.session_state.get("ws_token") and seen.get(URL_KEY) != token:
        seen[URL_KEY] = token
        try:
            st.session_state.ws_token = store().open(token).token
        except WorkspaceError as exc:
            notices.append(str(exc))
    share = st.query_params.get(SHARE_KEY)
    opened = st.session_state.get("ws_shares", [])
    if share is not None and share not in opened and seen.get(SHARE_KEY) != share:
        seen[SHARE_KEY] = share
        try:
            store().open_share(share)
            st.session_state.ws_shares = [*opened, share]
        except WorkspaceError as exc:
            notices.append(str(exc))
    if notices:
        st.session_state.ws_notices = notices
    for notice in notices:  # on whichever page the link opens; the Train page keeps saying them
        st.toast(plain(notice, 400), icon=":material/warning:", duration="long")


def notices() -> list[str]:
    """What was wrong with the link's workspace or share tokens, for the page that lists the models."""
    _read_link()
    return list(st.session_state.get("ws_notices", []))


def url_params() -> dict[str, str]:
    """The workspace and share tokens this session holds, for a page that rewrites the link."""
    params = {URL_KEY: st.session_state.get("ws_token"), SHARE_KEY: (st.session_state.get("ws_shares") or [None])[-1]}
    return {k: v for k, v in params.items() if v}


def keep_in_url() -> None:
    """Put the session's tokens back into the link if a page switch or a page's own state dropped them."""
    for key, value in url_params().items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value


def session_dir() -> Path:
    """This session's workspace folder (made on first use), for its models/ and data/."""
    return workspace(create=True).folder


def listing() -> tuple[list[resources.ModelEntry], list[str]]:
    """This workspace's models as picker entries, and a note for each one skipped (damaged)."""
    opened = workspace()
    if opened is None:  # none yet: only what was put in the session state directly (a test's models)
        return list(st.session_state.get("session_models", [])), []
    cached = st.session_state.get("ws_listing")
    if cached is None or cached[0] != (opened.folder, opened.version()):
        runs_now = opened.runs()  # first: it lists what a closed tab's or a stopped server's run saved
        found, problems = opened.models()
        cached = ((opened.folder, opened.version()), [_entry(m) for m in found], problems, runs_now)
        st.session_state.ws_listing = cached
    st.session_state.session_models = cached[1]  # kept for code that reads the session's models directly
    return list(cached[1]), list(cached[2])


def runs() -> list[dict]:
    """This workspace's unfinished and interrupted training runs (their records, see
    :meth:`aelab.workspaces.Workspace.runs`), as of its latest listing."""
    listing()
    cached = st.session_state.get("ws_listing")
    return list(cached[3]) if cached is not None and workspace() is not None else []


def interrupted_runs() -> list[tuple[str, str]]:
    """(id, a sentence) for each run a stopped server interrupted: which, how far it got, what was kept."""
    notes = []
    for record in runs():
        if record["status"] != "interrupted":
            continue
        notes.append((record["id"], _interrupted_note(record)))
    return notes


# What a stopped server interrupted (see interrupted_runs): (was running with an epoch, was running, was waiting),
# each with its model kept or not.
_INTERRUPTED = {
    ("epoch", True): N_("The training of {name} was interrupted: the server stopped while it was training, at epoch "
                        "{epoch} of {epochs}, but its model had been saved: it is listed below."),
    ("epoch", False): N_("The training of {name} was interrupted: the server stopped while it was training, at "
                         "epoch {epoch} of {epochs}, so nothing of it was kept. Train it again to have it."),
    ("running", True): N_("The training of {name} was interrupted: the server stopped while it was training, but "
                          "its model had been saved: it is listed below."),
    ("running", False): N_("The training of {name} was interrupted: the server stopped while it was training, so "
                           "nothing of it was kept. Train it again to have it."),
    ("waiting", True): N_("The training of {name} was interrupted: the server stopped while it was waiting for a "
                          "worker, but its model had been saved: it is listed below."),
    ("waiting", False): N_("The training of {name} was interrupted: the server stopped while it was waiting for a "
                           "worker, so nothing of it was kept. Train it again to have it."),
}


def _interrupted_note(record: dict) -> str:
    running = record.get("was") == "running"
    stage = ("epoch" if record.get("epoch") else "running") if running else "waiting"
    return _(_INTERRUPTED[stage, bool(record.get("kept"))], name=resources.plain(record["name"], 100),
             epoch=record.get("epoch"), epochs=record.get("epochs"))


def dismiss_run(run_id: str) -> None:
    """Stop mentioning an interrupted run."""
    workspace(create=True).dismiss_run(run_id)
    st.session_state.pop("ws_listing", None)


def jobs_dir() -> Path:
    """Where this workspace keeps its runs' records (see :mod:`aelab.jobs`)."""
    return workspace(create=True).jobs_dir


def live_job(engine: Callable[[], jobs.Engine], tag: str) -> jobs.Job | None:
    """This workspace's unfinished run submitted with ``tag``, when this server follows it: a reload's
    new session finds the run its old one started. ``engine()`` is only called when this server has
    such a run (so a page that merely opens never starts the workers)."""
    opened = workspace()
    if opened is None or not any(r["status"] in job_records.ACTIVE and r.get("tag") == tag
                                 and r["server"].get("boot") == jobs.SERVER["boot"] for r in runs()):
        return None
    return next(iter(engine().jobs(str(opened.folder), tag)), None)


def models() -> list[resources.ModelEntry]:
    """This workspace's models (the session's own)."""
    return listing()[0]


def shared_models() -> list[resources.ModelEntry]:
    """The models this session opened with share links: read-only, in their owners' workspaces."""
    entries, own = [], {e.path for e in models()}
    taken = {m.name for m in resources.shipped_models()} | {e.name for e in models()}
    for token in st.session_state.get("ws_shares", []):
        try:
            model = store().open_share(token)
        except WorkspaceError:
            continue  # unshared or pruned since; the link's notice was shown when it was opened
        if str(model.path) in own:
            continue
        name = model.name if model.name not in taken else f"shared-{model.name}"
        entries.append(resources.ModelEntry(name, str(model.path), model.kind, model.latent_dim, model.data,
                                            _("{description} (shared with you, read-only)",
                                              description=model.description)))
    return entries


def share_tokens() -> dict[str, str]:
    """The share tokens of this workspace's shared models, by model name."""
    opened = workspace()
    return {m.name: m.share for m in opened.models()[0] if m.share} if opened else {}


def share(name: str) -> str:
    """A read-only share token for one of this workspace's models (the same one each time)."""
    return workspace(create=True).share(name)


def remove(name: str) -> None:
    """Delete one of this workspace's models (its share link stops working)."""
    workspace(create=True).remove(name)


def _entry(model: workspaces.Model) -> resources.ModelEntry:
    return resources.ModelEntry(model.name, str(model.path), model.kind, model.latent_dim, model.data,
                                model.description)


def unique_name(wanted: str) -> str:
    """A file-system-safe name for a new model, not yet used here or by a shipped model.

    The workspace is checked for room first: QuotaError (an AelabError) when it is full.
    """
    opened = workspace(create=True)
    opened.check_room()
    base = (re.sub(r"[^A-Za-z0-9._-]+", "-", wanted).strip("-._") or "model")[:80]
    taken = {m.name for m in resources.shipped_models()} | opened.names()
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def add(folder: Path, description: str) -> resources.ModelEntry:
    """List a model this session trained into its workspace (its config was written here)."""
    info = checkpoint.read_config(folder)
    model = workspace(create=True).add(folder, info["kind"], int(info["model"]["latent_dim"]),
                                       info["data"]["spec"], description)
    return _entry(model)


def add_upload(loaded: checkpoint.Checkpoint) -> tuple[resources.ModelEntry, str]:
    """List an uploaded model (already validated by checkpoint.import_model); returns the entry and
    a sentence on the data it is shown on.

    An upload's config is untrusted: its data spec could name any file on the server. It is
    never read: the model is shown on the built-in data set with its image size (the one its
    config names, when that is built in). Without one, AelabError, and the caller removes it.
    """
    model, info = loaded.model, loaded.info
    raw = info.get("data")
    named = raw.get("spec") if isinstance(raw, dict) else raw
    fits = [spec for spec, shape in data.BUILT_IN_SHAPES.items() if shape == tuple(model.image_shape)]
    if not fits:
        h, w = model.image_shape
        raise AelabError(_("it works on {h}x{w} images, and aelab has no data of that size to show it on "
                           "(built in: {sizes}). Train it here on your own images instead", h=h, w=w,
                           sizes=", ".join(f"{a}x{b}" for a, b in data.BUILT_IN_SHAPES.values())))
    spec = named if named in fits else fits[0]
    note = "" if named in (spec, None) else _("Its config names other data ({named}), which aelab does not read "
                                              "from an upload; it is shown on {spec}.",
                                              named=resources.plain(str(named), 60), spec=spec)
    text = info.get("description")
    description = text[:200] if isinstance(text, str) and text.strip() else model.describe()
    listed = workspace(create=True).add(loaded.path, info["kind"], model.latent_dim, spec,
                                        _("{description} (uploaded)", description=description))
    return _entry(listed), note
