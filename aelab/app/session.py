"""This browser session's own models: trained or uploaded here, never shared with other sessions.

They live in a folder of their own under aelab's cache dir (never in pretrained/), and
join the shipped models in the pickers of every page of this session.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from pathlib import Path

import streamlit as st

from .. import checkpoint, data
from .._files import clean_leftovers
from ..errors import AelabError
from . import resources

MAX_AGE_DAYS = 7  # session folders untouched this long are removed when a new session starts


def session_dir() -> Path:
    """A folder for this session's models and uploaded data, made on first use."""
    root = data.cache_dir() / "sessions"
    if "session_id" not in st.session_state:
        st.session_state.session_id = uuid.uuid4().hex[:12]
        prune(root)
    folder = root / st.session_state.session_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def prune(root: Path, max_age_days: float = MAX_AGE_DAYS) -> list[Path]:
    """Remove session folders whose contents have not changed for ``max_age_days``, and what
    interrupted saves left in the others' model folders; returns the session folders removed."""
    cutoff = time.time() - max_age_days * 86400
    removed = []
    for folder in [*root.glob("*/models"), *root.glob("*/data")] if root.is_dir() else []:
        clean_leftovers(folder)  # hidden half-saved folders and files older than a few minutes
    for folder in root.glob("*") if root.is_dir() else []:
        newest = max((p.stat().st_mtime for p in folder.rglob("*")), default=folder.stat().st_mtime)
        if folder.is_dir() and newest < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def models() -> list[resources.ModelEntry]:
    return list(st.session_state.get("session_models", []))


def unique_name(wanted: str) -> str:
    """A file-system-safe model name not yet used by a shipped or session model."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", wanted).strip("-.") or "model"
    taken = {m.name for m in resources.shipped_models()} | {m.name for m in models()}
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def add(folder: Path, description: str) -> resources.ModelEntry:
    """Register a model folder this session trained (its config was written here) as one of its models."""
    info = checkpoint.read_config(folder)
    return _register(folder, info["kind"], int(info["model"]["latent_dim"]), info["data"]["spec"], description)


def add_upload(loaded: checkpoint.Checkpoint) -> tuple[resources.ModelEntry, str]:
    """Register an uploaded model (already validated by checkpoint.import_model); returns the entry and
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
        raise AelabError(f"it works on {h}x{w} images, and aelab has no data of that size to show it on "
                         f"(built in: {', '.join(f'{a}x{b}' for a, b in data.BUILT_IN_SHAPES.values())}). Train it "
                         "here on your own images instead")
    spec = named if named in fits else fits[0]
    note = "" if named in (spec, None) else (f"Its config names other data ({resources.plain(str(named), 60)}), "
                                             f"which aelab does not read from an upload; it is shown on {spec}.")
    text = info.get("description")
    description = text[:200] if isinstance(text, str) and text.strip() else model.describe()
    entry = _register(loaded.path, info["kind"], model.latent_dim, spec, f"{description} (uploaded)")
    return entry, note


def _register(folder: Path, kind: str, latent_dim: int, spec: str, description: str) -> resources.ModelEntry:
    entry = resources.ModelEntry(name=folder.name, path=str(folder), kind=kind, latent_dim=latent_dim, data=spec,
                                 description=description)
    st.session_state.session_models = [*models(), entry]
    return entry
