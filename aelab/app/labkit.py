"""Pieces the lab pages share: rows of digits as one HTML table, and the lab models on offer.

A table of small PNGs (inline, crisp when enlarged) is one element for Streamlit to send
and the browser to paint, which keeps a slider move fast; dozens of ``st.image`` calls
would each be a separate element and a separate file request.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image

from aelab import i18n, jobs
from aelab.app import resources, session
from aelab.errors import AelabError
from aelab.i18n import N_, _
from aelab.models import check_size
from aelab.train import TrainConfig

DIGIT_PX = 84  # how wide a 28x28 digit is drawn: 3 screen pixels per image pixel


def png_uri(image: np.ndarray) -> str:
    """A grey image in [0, 1] (H, W) as a PNG data URI (white is 1)."""
    pixels = (np.clip(np.nan_to_num(image), 0, 1) * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()  # i18n: not shown


def png_bytes(pixels: np.ndarray) -> bytes:
    """A uint8 image (H, W) or (H, W, 3) as PNG bytes, for st.image (which then stores them as they are)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def rgb_png_uri(rgb: np.ndarray) -> str:
    """An RGB image (H, W, 3) of uint8 as a PNG data URI."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, np.uint8), mode="RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()  # i18n: not shown


@dataclass(frozen=True)
class Row:
    """One row of a digit table: a heading, its images (N, H, W) and a caption under each."""

    label: str
    images: np.ndarray
    captions: Sequence[str] = ()
    note: str = ""  # under the heading, e.g. the model's description


def strip(images: np.ndarray, gap: int = 1) -> np.ndarray:
    """Images (N, H, W) side by side in one (H, N*W + (N-1)*gap) image, a white gap between them."""
    n, h, w = images.shape
    out = np.ones((h, n * w + (n - 1) * gap), np.float32)
    for i, image in enumerate(images):
        out[:, i * (w + gap) : i * (w + gap) + w] = image
    return out


def digit_table(rows: Sequence[Row], key: str, px: int = DIGIT_PX) -> None:
    """Draw rows of digits as one table: headings on the left, each row's digits as one image, captions under.

    One image per row, not per digit: the browser decodes a handful of PNGs per slider move.
    The rows' labels, notes and captions are shown as given (the page translates them).
    """
    st.html(table_html(tuple(rows), key, px, lang=i18n.language()))


@st.cache_data(show_spinner=False, max_entries=2048)
def table_html(rows: tuple[Row, ...], key: str, px: int = DIGIT_PX, lang: str = i18n.SOURCE) -> str:
    """The digit table's HTML, cached on its rows' content (images by their bytes), so a rerun that shows
    the same digits neither encodes their PNGs again nor makes an element that differs from the last one.
    ``lang`` is the language of its words (the images' alternative text)."""
    body = []
    for row in rows:
        n, h, w = row.images.shape
        scale = px / w
        width = round(n * px + (n - 1) * scale)
        captions = "".join(f"<span>{html.escape(c)}</span>" for c in row.captions)
        note = f'<div class="note">{html.escape(row.note)}</div>' if row.note else ""  # i18n: not shown
        alt = i18n.translate("{label}: 1 image" if n == 1 else "{label}: {count} images", lang)
        body.append(
            f'<tr><th scope="row">{html.escape(row.label)}{note}</th><td>'  # i18n: not shown
            f'<img src="{png_uri(strip(row.images))}" width="{width}" height="{round(h * scale)}" '  # i18n: not shown
            f'alt="{html.escape(alt.format(label=row.label, count=n))}">'
            + (f'<div class="cap" style="grid-template-columns: repeat({n}, {px}px); '  # i18n: not shown
               f'column-gap: {scale:.0f}px">{captions}</div>' if row.captions else "") + "</td></tr>")
    return (f'<div class="aelab-digits" data-table="{html.escape(key)}"><table>'  # i18n: not shown
            f'{"".join(body)}</table></div><style>{_TABLE_CSS}</style>')


_ALT_TEXTS = (N_("{label}: 1 image"), N_("{label}: {count} images"))  # the images' alternative text (table_html)

_TABLE_CSS = """
.aelab-digits { overflow-x: auto; }
.aelab-digits table { border-collapse: collapse; }
.aelab-digits th { text-align: left; font-weight: 600; padding: 4px 12px 4px 0; vertical-align: middle;
  min-width: 9rem; max-width: 14rem; }
.aelab-digits th .note { font-weight: 400; font-size: 0.8rem; opacity: 0.75; }
.aelab-digits td { padding: 3px 0; vertical-align: top; }
.aelab-digits img { image-rendering: pixelated; display: block; }
.aelab-digits .cap { display: grid; font-size: 0.8rem; font-variant-numeric: tabular-nums; text-align: center;
  white-space: nowrap; }
"""  # i18n: not shown


def loaded(entry: resources.ModelEntry):
    """The entry's model, or None when it cannot be loaded (the page says so with :func:`unloadable`)."""
    try:
        return resources.load_model(entry.path).model
    except AelabError:
        return None


def unloadable(entries: Sequence[resources.ModelEntry]) -> list[str]:
    """A sentence for each entry whose model cannot be loaded."""
    notes = []
    for entry in entries:
        try:
            resources.load_model(entry.path)
        except AelabError as exc:
            notes.append(_("{name} could not be loaded and is left out: {why}", name=entry.name,
                           why=resources.plain(str(exc), 300)))
    return notes


def held_out(seed: int, count: int) -> np.ndarray:
    """``count`` held-out digits of the built-in set (never trained on), chosen by ``seed``."""
    images = resources.load_data("mnist5k").val.images
    return images[np.random.default_rng(seed).choice(len(images), size=count, replace=False)]


# ---- one-click training of a lab setting ------------------------------------------------------


@st.cache_resource(show_spinner=resources.Shown(N_("Starting the training workers...")))
def engine() -> jobs.Engine:
    """The server's one job engine: a local cluster of worker processes, started on first use, or the
    scheduler named by AELAB_SCHEDULER."""
    return jobs.Engine.from_env()


CLOSED_TAB = N_("Training runs on the server's worker processes, one session's run at a time. If you close this "
                "tab, its run is stopped about {grace:.0f} s later, keeping its best epoch so far, and its waiting "
                "runs are cancelled.")


def closed_tab() -> str:
    """:data:`CLOSED_TAB` in the session's language, with the server's grace time."""
    return _(CLOSED_TAB, grace=jobs.GRACE_S)


def upload_limits(mib: int, types: str) -> str:
    """What Streamlit prints under an uploader in English (its file types and size limit), in the session's
    language, for the uploader's help (in Chinese that English line is hidden, see chrome.CHINESE_CSS)."""
    return _("Files: {types}; at most {mib} MiB each.", types=types, mib=mib)


def submit(spec: jobs.JobSpec, tag: str) -> jobs.Job:
    """Queue ``spec`` as this workspace's job, submitted by ``tag`` (the page's own name for it), with its
    record in the workspace (QueueFull when it already has enough)."""
    return engine().submit(spec, owner=str(session.session_dir()), tag=tag, records=session.jobs_dir())


def start_training(job_key: str, kind: str, settings: dict, name: str, config: TrainConfig) -> None:
    """Queue one setting's training for this session (a button's callback)."""
    try:
        splits = resources.load_data("mnist5k", config.seed)
        check_size(kind, image_shape=splits.train.image_shape, **settings)
        folder = session.session_dir() / "models" / session.unique_name(name)
        st.session_state[job_key] = submit(jobs.JobSpec(kind, settings, "mnist5k", config, folder, "mnist5k"),
                                           job_key)
    except jobs.QueueFull as exc:
        st.session_state[f"{job_key}_note"] = _("Not started: {why}.", why=resources.plain(str(exc), 300))
    except AelabError as exc:
        st.session_state[f"{job_key}_note"] = _("This setting cannot be trained: {why}",
                                                why=resources.plain(str(exc), 300))


def training_status(job_key: str, on_done=None) -> None:
    """Show the session's lab training, if any: its place in the queue or live progress, then the
    outcome once.

    Call it before the page draws its widgets: ``on_done(job)`` runs when a run has just
    been added to the session's models, and may set widget values (to show the new model).
    """
    note = st.session_state.pop(f"{job_key}_note", None)
    if note:
        st.warning(note)
    job = st.session_state.get(job_key)
    if job is None and f"{job_key}_looked" not in st.session_state:  # a reload: its run may still be going
        st.session_state[f"{job_key}_looked"] = True
        if (job := session.live_job(engine, job_key)) is not None:
            st.session_state[job_key] = job
    if job is None:
        return
    if job.touch().active:
        _progress(job)
        return
    del st.session_state[job_key]
    if job.info is None:
        failed = _("Training {name} was cancelled: {why}") if job.status == "cancelled" else \
            _("Training {name} failed: {why}")
        st.error(failed.format(name=job.out.name, why=resources.plain(job.message, 400)))
        return
    session.add(job.out, job.description)
    st.success(_("Trained {name} ({description}): it joined this session's models and the sliders now reach it.",
                 name=job.out.name, description=resources.plain(job.description, 200)))
    if on_done is not None:
        on_done(job)


def waiting_text(job: jobs.Job) -> str:
    """Where a queued job stands, e.g. "number 2 in the queue, expected to start in about 40 s"."""
    left = job.starts_in()
    if left is None:
        when = _("its start time is known once the run before it has finished an epoch")
    elif left < 1:
        when = _("as soon as a worker is free")
    else:
        when = _("expected to start in about {seconds:.0f} s", seconds=left)
    return _("number {place} in the queue, {when}", place=job.position or 1, when=when)


@st.fragment(run_every=0.5)
def _progress(job) -> None:
    if not job.touch().active:
        st.rerun(scope="app")
    if job.status == "queued":
        st.progress(0.0, text=_("{name} is waiting: {where}.", name=job.out.name, where=waiting_text(job)))
    else:
        epoch, batch, batches = job.progress
        done = min(1.0, max(0.0, (epoch - 1 + batch / max(batches, 1)) / job.config.epochs))
        st.progress(done, text=_("Training {name}: epoch {epoch} of {total}", name=job.out.name,
                                 epoch=max(epoch, 1), total=job.config.epochs))
    st.caption(closed_tab())


_ADD, _REMOVE, _PAD = np.array([232, 89, 12]), np.array([28, 126, 214]), np.array([225, 225, 225])


def diverging_png_uri(grid: np.ndarray, levels: int = 127) -> str:
    """Values in [-1, 1] (NaN: padding) as a PNG data URI coloured like :func:`diverging`, one pixel each.

    A palette image of ``levels`` steps each side of white (at most one unit per colour channel from
    :func:`diverging`'s exact colours): about a third of the RGB PNG's bytes.
    """
    v = np.round(np.clip(np.nan_to_num(grid), -1, 1) * levels).astype(np.int16) + levels  # (H, W) in 0..2*levels
    index = np.where(np.isnan(grid), 2 * levels + 1, v).astype(np.uint8)
    palette = diverging(np.append(np.arange(-levels, levels + 1) / levels, np.nan)[None], scale=1)[0]  # (2L+2, 3)
    image = Image.fromarray(index, mode="P")
    image.putpalette(palette.ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()  # i18n: not shown


def diverging(grid: np.ndarray, scale: int = 4) -> np.ndarray:
    """Values in [-1, 1] (NaN: padding) as RGB uint8: white at 0, orange toward +1, blue toward -1."""
    v = np.clip(np.nan_to_num(grid), -1, 1)[..., None]
    white = np.full(3, 255.0)
    rgb = np.where(v >= 0, white + v * (_ADD - white), white - v * (_REMOVE - white))
    rgb[np.isnan(grid)] = _PAD
    rgb = rgb.round().astype(np.uint8)
    return rgb.repeat(scale, axis=0).repeat(scale, axis=1)
