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
    """Remove session folders whose contents have not changed for ``max_age_days``; returns them."""
    cutoff = time.time() - max_age_days * 86400
    removed = []
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
    """Register a saved model folder (already validated) as one of this session's models."""
    info = checkpoint.read_config(folder)
    entry = resources.ModelEntry(
        name=folder.name, path=str(folder), kind=info["kind"], latent_dim=int(info["model"]["latent_dim"]),
        data=info.get("data", {}).get("spec", "mnist5k"), description=description,
    )
    st.session_state.session_models = [*models(), entry]
    return entry
