"""Cached loaders shared by the pages: models once per process, derived arrays once per input."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from .. import checkpoint, data, explore, pretrained
from ..checkpoint import Checkpoint
from ..errors import AelabError
from ..i18n import N_, _
from ..models import model_class
from ..train import configure_cpu


class Shown(str):
    """A text given once, at import time, that Streamlit shows later: a cache decorator's spinner.

    Mark it ``Shown(N_("Loading..."))``. Streamlit turns the spinner's text into a string with
    ``str()`` each time it shows it, in the script run that needs it, so it is translated then,
    into that run's language.
    """

    __slots__ = ()

    def __str__(self) -> str:
        return _(str.__str__(self))


def prepare_thread() -> None:
    """Run torch on one thread, denormals flushed, in the calling thread: every script run calls it,
    since Streamlit runs each in a new thread and these settings are per thread (see configure_cpu)."""
    configure_cpu(threads=1)


# Colours of digit labels 0-9, as static/latent_map.js draws them.
LABEL_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


@dataclass(frozen=True)
class ModelEntry:
    """A model the user can pick: where it lives and what to call it."""

    name: str
    path: str
    kind: str
    latent_dim: int
    data: str
    description: str
    tags: tuple[str, ...] = ()  # a shipped model's groups in the manifest, e.g. ("beta",) or ("denoising",)

    @property
    def shown_description(self) -> str:
        """The description to show, in the session's language where it is a shipped model's own."""
        return pretrained.shown_description(self.name, self.description)

    @property
    def has_prior(self) -> bool:
        """Whether the model's kind samples from a prior (a VAE), from the kind's own declaration."""
        return model_class(self.kind).has_prior


def shipped_models() -> list[ModelEntry]:
    """The pretrained models listed in pretrained/index.json (malformed entries skipped)."""
    return _read_manifest(str(pretrained.default_dir()))[0]


def manifest_problems() -> list[str]:
    """Why entries of pretrained/index.json were skipped, for a page to say."""
    return _read_manifest(str(pretrained.default_dir()))[1]


@st.cache_data(show_spinner=False)
def _read_manifest(directory: str) -> tuple[list[ModelEntry], list[str]]:
    problems: list[str] = []
    entries = [
        ModelEntry(e["name"], e["path"], e["kind"], e["latent_dim"], e.get("data", "mnist5k"), e.get("description", ""),
                   tuple(str(t) for t in e.get("tags", ()) if isinstance(e.get("tags"), list)))
        for e in pretrained.read_index(Path(directory), problems)
    ]
    return entries, problems


@st.cache_resource(show_spinner=Shown(N_("Loading model...")), max_entries=256)  # every shipped model and many more
def load_model(path: str) -> Checkpoint:
    """A model folder, loaded once and shared by every session (read-only use only)."""
    return checkpoint.load(path)


UPLOADS_IN_MEMORY = 3  # server-wide: uploaded data sets held decoded at once (each at most 256 MiB of pixels)


def load_data(spec: str, seed: int = 0) -> data.Splits:
    """A data set's deterministic train/validation split, shared by every session.

    The built-in sets stay in memory; uploaded ones share a few places, the least recently
    used giving way (it is read again from its file when next needed).
    """
    return (_load_built_in if spec in data.BUILT_IN_SHAPES else _load_upload)(spec, seed)


@st.cache_resource(show_spinner=Shown(N_("Loading data...")), max_entries=2 * len(data.BUILT_IN_SHAPES))
def _load_built_in(spec: str, seed: int) -> data.Splits:
    return data.load_splits(spec, seed=seed)


@st.cache_resource(show_spinner=Shown(N_("Loading data...")), max_entries=UPLOADS_IN_MEMORY)
def _load_upload(spec: str, seed: int) -> data.Splits:
    return data.load_splits(spec, seed=seed)


@st.cache_data(show_spinner=Shown(N_("Encoding digits...")), max_entries=64)
def encoded(path: str, spec: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Codes, VAE posterior sigmas (else None) and labels of every image, train then validation."""
    model = load_model(path).model
    splits = load_data(spec)
    codes, sigma = explore.encode(model, np.concatenate([splits.train.images, splits.val.images]))
    parts = [s.labels if s.labels is not None else np.zeros(len(s), np.int64) for s in (splits.train, splits.val)]
    return codes, sigma, np.concatenate(parts)


def plain(text: str, limit: int = 200) -> str:
    """Text from outside (a link, a file name, an upload's config) made safe to show as markdown: one
    line, at most ``limit`` characters, every markdown character escaped, and web and mail addresses
    broken with an invisible word joiner so they are not turned into links."""
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    for trigger in ("://", "www.", "@"):
        text = text.replace(trigger, trigger[0] + _WORD_JOINER + trigger[1:])
    return "".join(f"\\{c}" if c in _MARKDOWN else c for c in text)


_WORD_JOINER = "\u2060"  # invisible; stops GitHub-flavoured markdown from linking "http://..." and "a@b.c"
_MARKDOWN = "\\`*_{}[]()<>#+-.!|~$:"


def loadable(entries: list[ModelEntry]) -> tuple[list[ModelEntry], list[str]]:
    """The entries whose model loads, and a sentence for each that does not (a corrupt folder, say)."""
    ok, problems = [], []
    for entry in entries:
        try:
            load_model(entry.path)
            ok.append(entry)
        except AelabError as exc:
            problems.append(_("{name} could not be loaded and is left out: {why}", name=entry.name, why=exc))
    return ok, problems


def to_png_array(image: np.ndarray, scale: int = 8) -> np.ndarray:
    """An image in [0, 1] as uint8, enlarged by pixel repetition so it stays crisp."""
    pixels = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    return pixels.repeat(scale, axis=0).repeat(scale, axis=1)


def keep_widget_state(prefixes: tuple[str, ...]) -> None:
    """Keep every page's widget values while another page runs.

    Streamlit forgets a widget's value when a run does not draw it, so switching pages
    would reset the explorer's models and toggles. Writing a value back makes it the
    session's own. Buttons, uploaders and download buttons must not be written (Streamlit
    refuses when it draws them), so their keys start with ``do_`` instead.
    """
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(prefixes)]:
        st.session_state[key] = st.session_state[key]


_frozen = False


def freeze_startup_objects() -> None:
    """Once per server process, after the pages are imported: exempt what is alive from garbage collection.

    Streamlit collects garbage after every run. With torch, pandas, altair and scikit-learn
    loaded, about 330,000 objects are alive from start-up, and each collection walked them
    all: about 175 ms per run on a 2-core machine, more than half of a slider's time budget.
    ``gc.freeze`` moves them to a generation that is never collected (they live as long as
    the server anyway); everything made later, by the runs, is collected as before. (Streamlit's
    collection after every run is also turned off in .streamlit/config.toml; this keeps Python's
    own full collections cheap.)
    """
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True
