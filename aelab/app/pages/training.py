"""Train a model in the browser: every setting of `python -m aelab train`, live progress,
loss curves and the latent map forming, epoch by epoch.

Training runs as a job on the server's worker processes (aelab.jobs, on Dask), never in the web
server; a fragment polls it once a second, so the page stays responsive and the user can stop
at any time. The result is
saved in this session's own folder and joins the model pickers of the other pages.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from aelab import checkpoint, data, jobs
from aelab._files import MiB, atomic_write, human_size
from aelab.app import labkit, resources, session, widgets
from aelab.app.pages import Page
from aelab.app.pages.explorer import PAGE as EXPLORER
from aelab.errors import AelabError
from aelab.models import KINDS, MAX_PARAMETERS, REGISTRY, SHARED_OPTIONS, check_size
from aelab.models.options import validate
from aelab.train import TrainConfig

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0, 10.0]
BUILT_IN_DATA = {"mnist5k": "5,000 MNIST digits (28x28)", "digits": "scikit-learn digits (8x8)"}

PAGE = Page("Train", ":material/model_training:", "train", prefix="tr_", order=30)


def render() -> None:
    st.title("Train a model")
    session.keep_in_url()  # the workspace's key stays in the address while a run is live, too
    job: jobs.Job | None = st.session_state.get("train_job")
    if job is None and "tr_looked" not in st.session_state:  # a reload: this workspace's run may still be going
        st.session_state.tr_looked = True
        if (job := session.live_job(labkit.engine, "train")) is not None:
            st.session_state.train_job = job
    if job is not None and job.touch().active:
        _live(job)
        return
    if job is not None:
        _finished(job)
    _settings_form()
    _my_models()


# ---- settings ----------------------------------------------------------------------------------


def _settings_form() -> None:
    st.subheader("Settings", anchor=False)
    model_col, reg_col, train_col = st.columns(3)
    shared = [o.name for o in SHARED_OPTIONS]
    with model_col:
        kind = st.radio("Model", KINDS, key="tr_kind", horizontal=True,
                        format_func=lambda k: k.upper(), help="; ".join(f"{k.upper()}: {REGISTRY[k].description}"
                                                                        for k in KINDS))
        settings = widgets.model_settings(REGISTRY[kind], "tr_", shared)
    with reg_col:
        own = [o.name for o in REGISTRY[kind].options if o.name not in shared]
        settings |= widgets.model_settings(REGISTRY[kind], "tr_", own)
        if not own:
            st.caption("A plain AE has no regularizer: it only learns to reconstruct.")
    with train_col:
        config_fields = _training_fields()
    spec, data_note = _data_choice()
    try:
        settings = validate(REGISTRY[kind].options, settings, kind)
        shape = data.BUILT_IN_SHAPES.get(spec) or (resources.load_data(spec).train.image_shape if spec else None)
        count = check_size(kind, image_shape=shape, **settings) if shape else None
    except AelabError as exc:
        st.error(f"These settings cannot be trained: {resources.plain(str(exc), 600)}.")
        return
    if count is not None:
        st.caption(f"This model has {count:,} parameters (weights); the server trains models of up to "
                   f"{MAX_PARAMETERS / 1e6:g} million, one per session at a time, with up to "
                   f"{jobs.MAX_QUEUED} more waiting their turn.")
    default_name = REGISTRY[kind].default_name(settings)
    name = st.text_input("Name", key="tr_name", placeholder=default_name) or default_name
    if st.button("Train", type="primary", key="do_train", disabled=spec is None):
        _start(kind, settings, spec, config_fields, name, data_note)


def _training_fields() -> dict:
    defaults = TrainConfig()
    return {
        "epochs": st.slider("Epochs", 1, 200, 30, key="tr_epochs"),
        "lr": st.select_slider("Learning rate", LEARNING_RATES, value=defaults.lr, key="tr_lr",
                               format_func=lambda v: f"{v:g}"),
        "batch_size": st.select_slider("Batch size", [16, 32, 48, 64, 128, 256, 512], value=defaults.batch_size,
                                       key="tr_batch"),
        "lr_schedule": st.radio("Schedule", ["cosine", "constant"], key="tr_schedule", horizontal=True),
        "weight_decay": st.select_slider("Weight decay", [0.0, 1e-5, 1e-4, 1e-3], value=0.0, key="tr_wd",
                                         format_func=lambda v: f"{v:g}"),
        "patience": st.number_input("Early stopping patience (0 = off)", 0, 100, 0, key="tr_patience") or None,
        "seed": st.number_input("Seed", 0, 2**31 - 1, 0, key="tr_seed"),
        "device": st.radio("Device", ["cpu", "cuda"] if _cuda() else ["cpu"], key="tr_device", horizontal=True,
                           help="On the CPU the app trains with one thread: a second one made these small "
                                "models slower on a busy machine, and one leaves room for other sessions. "
                                "`python -m aelab train --threads N` chooses for itself."),
    }


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _data_choice() -> tuple[str | None, str]:
    options = [*BUILT_IN_DATA, "upload"]
    choice = st.radio("Data", options, key="tr_data", horizontal=True,
                      format_func=lambda o: BUILT_IN_DATA.get(o, "your own (.npz or .zip of PNGs)"))
    if choice != "upload":
        return choice, choice
    upload = st.file_uploader("Images: an .npz with an `images` array (N x H x W, optional `labels`), or a .zip "
                              "of PNG files (optionally one folder per label)", type=["npz", "zip"],
                              key="do_upload_data", max_upload_size=data.UPLOAD_LIMITS.max_bytes // MiB)
    limits = data.UPLOAD_LIMITS
    st.caption(f"Up to {limits.max_images:,} images of at most {limits.max_side}x{limits.max_side} pixels, "
               f"{limits.max_pixel_bytes // MiB} MiB once read; the server keeps {resources.UPLOADS_IN_MEMORY} "
               "uploaded data sets in memory at a time and reads the others again from their files when needed.")
    if upload is None:
        return None, ""
    return _accept_dataset(upload), upload.name


def _accept_dataset(upload) -> str | None:
    """Save an uploaded data set in this session's folder if it reads as images; else say why."""
    known = st.session_state.setdefault("tr_datasets", {})
    if upload.file_id in known:
        return known[upload.file_id]
    suffix = ".npz" if upload.name.lower().endswith(".npz") else ".zip"
    folder = session.session_dir() / "data"
    folder.mkdir(exist_ok=True)
    path = folder / f"{upload.file_id}{suffix}"
    if upload.size > data.UPLOAD_LIMITS.max_bytes:
        st.error(f"{resources.plain(upload.name, 80)} is {upload.size / 2**20:.0f} MiB; uploads are limited to "
                 f"{data.UPLOAD_LIMITS.max_bytes / 2**20:.0f} MiB.")
        return None
    atomic_write(path, upload.getvalue())
    spec = f"{suffix[1:]}:{path}"
    try:
        splits = resources.load_data(spec)
    except AelabError as exc:
        path.unlink(missing_ok=True)
        st.error(f"{resources.plain(upload.name, 80)} cannot be used: {resources.plain(str(exc), 600)}")
        return None
    h, w = splits.train.image_shape
    how = splits.train.source or ("labelled" if splits.train.labels is not None else "no labels")
    count = len(splits.train) + len(splits.val)
    st.success(f"{resources.plain(upload.name, 80)}: {count} images of {h}x{w}; {resources.plain(how, 300)}.")
    known[upload.file_id] = spec
    return spec


def _start(kind: str, settings: dict, spec: str, fields: dict, name: str, data_note: str) -> None:
    try:
        config = TrainConfig(**fields)
        splits = resources.load_data(spec, config.seed)
        check_size(kind, image_shape=splits.train.image_shape, **settings)  # counted, not allocated
        name = session.unique_name(name)
        folder = session.session_dir() / "models" / name
        st.session_state.train_job = labkit.submit(jobs.JobSpec(kind, settings, spec, config, folder, data_note),
                                                   "train")
    except jobs.QueueFull as exc:
        st.warning(f"Not started: {resources.plain(str(exc), 300)}.")
        return
    except AelabError as exc:
        st.error(f"These settings cannot be trained: {resources.plain(str(exc), 600)}")
        return
    st.rerun()


# ---- live progress -----------------------------------------------------------------------------


@st.fragment(run_every=1.0)
def _live(job: jobs.Job) -> None:
    if not job.touch().active:
        st.rerun(scope="app")
    if job.status == "queued":
        st.progress(0.0, text=f"{job.out.name} is waiting for a worker: {labkit.waiting_text(job)}.")
        if st.button("Cancel", key="do_stop"):
            job.stop()
            st.rerun(scope="app")
        st.caption(labkit.CLOSED_TAB)
        return
    epoch, batch, batches = job.progress
    total = job.config.epochs
    done = min(1.0, max(0.0, (epoch - 1 + batch / max(batches, 1)) / total))
    left = job.seconds_left()
    st.progress(done, text=f"Training {job.out.name}: epoch {max(epoch, 1)} of {total}"
                + (f", about {left:.0f} s left" if left is not None else ""))
    if st.button("Stop (keeps the best model so far)", key="do_stop") or job.stopping:
        job.stop()
        st.caption("Stopping after this batch...")  # gone with the fragment once the run has ended
    st.caption(labkit.CLOSED_TAB)
    _curves_and_map(job, len(job.snapshots))


def _curves_and_map(job: jobs.Job, epoch: int) -> None:
    curves, latent = st.columns(2)
    with curves:
        st.plotly_chart(_loss_figure(job), key=f"tr_curves_{len(job.history)}", width="stretch")
    with latent:
        if epoch >= 1:
            st.plotly_chart(_map_figure(job, epoch), key=f"tr_map_{epoch}_{len(job.snapshots)}", width="stretch")
        else:
            st.caption("The latent map appears after the first epoch.")


def _loss_figure(job: jobs.Job) -> go.Figure:
    fig = go.Figure()
    history = list(job.history)
    epochs = [h.epoch for h in history]
    for term in (history[0].train if history else {}):
        fig.add_trace(go.Scatter(x=epochs, y=[h.train[term] for h in history], name=f"train {term}",
                                 mode="lines+markers"))
        fig.add_trace(go.Scatter(x=epochs, y=[h.val[term] for h in history], name=f"validation {term}",
                                 mode="lines+markers", line=dict(dash="dot")))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), title="Loss terms per epoch",
                      xaxis_title="epoch")
    if _spans_decades(history):  # one tick per power of ten: plotly's default log ticks read "2, 100, 5, 2, 10"
        fig.update_yaxes(type="log", dtick=1, exponentformat="power")
    return fig


def _spans_decades(history) -> bool:
    values = [v for h in history for v in h.train.values() if v > 0]
    return bool(values) and max(values) / max(min(values), 1e-12) > 100


def _map_figure(job: jobs.Job, epoch: int) -> go.Figure:
    points = job.snapshots[epoch - 1]
    labels = job.snapshot_labels
    fig = go.Figure()
    colours = resources.LABEL_COLOURS
    for label in sorted(set(labels.tolist())):
        mask = labels == label
        fig.add_trace(go.Scattergl(x=points[mask, 0], y=points[mask, 1], mode="markers", name=str(label),
                                   marker=dict(size=4, color=colours[label % len(colours)])))
    plane = "latent" if job.settings["latent_dim"] == 2 else "first two principal components"
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), title=f"Latent map after epoch {epoch} "
                      f"({plane}, {len(points)} held-out digits)")
    return fig


# ---- after training ------------------------------------------------------------------------------


def _finished(job: jobs.Job) -> None:
    if job.info is not None and not getattr(job, "registered", False):
        session.add(job.out, f"{job.description} (trained here)")
        job.registered = True
    if job.status == "cancelled":
        st.info(f"{job.out.name} was cancelled before it started.")
    elif job.status == "diverged":
        st.error(resources.plain(job.message, 600) + (" The last good model was kept." if job.info else ""))
    elif job.status == "failed" or job.info is None:
        st.error(resources.plain(job.message, 600) or "Training produced no model.")
    else:
        stopped = " (stopped early: the best epoch so far was kept)" if job.status == "stopped" else ""
        st.success(f"Trained {job.out.name}{stopped}. It is now in the latent explorer's model picker.")
    if job.info is not None:
        metrics = job.info["metrics"]
        st.caption("Held-out: " + ", ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in metrics.items()))
    if job.snapshots:
        epoch = st.slider("Replay the latent map, epoch by epoch", 1, len(job.snapshots), len(job.snapshots),
                          key=f"tr_replay_{job.out.name}") if len(job.snapshots) > 1 else 1
        _curves_and_map(job, epoch)
    st.divider()


def _my_models() -> None:
    st.subheader("Your models", anchor=False)
    for notice in session.notices():
        st.warning(resources.plain(notice, 400))
    upload = st.file_uploader("Upload a model: a .zip with config.json and model.safetensors (as downloaded "
                              "here). Pickles (.pt, .pkl) are refused: loading one can run code.",
                              type=["zip"], key="do_upload_model",
                              max_upload_size=checkpoint.MAX_UPLOAD_BYTES // MiB)
    if upload is not None:
        _accept_model(upload)
    _workspace_caption()
    entries, problems = session.listing()
    for problem in problems:
        st.warning(resources.plain(problem, 400))
    for run_id, note in session.interrupted_runs():
        text, dismiss = st.columns([6, 1])
        text.warning(note, icon=":material/power_off:")
        if dismiss.button("Dismiss", key=f"do_dismiss_{run_id}"):
            session.dismiss_run(run_id)
            st.rerun()
    shares = session.share_tokens()
    for entry in entries:
        left, share, download, delete = st.columns([4, 1, 1.4, 1])
        left.markdown(f"**{entry.name}**: {resources.plain(entry.description)}")
        if share.button("Share", key=f"do_share_{entry.name}", help="A read-only link to this model alone"):
            shares[entry.name] = session.share(entry.name)
        download.download_button("Download", data=_zip(entry.path, _changed(entry.path)),
                                 file_name=f"{entry.name}.zip", mime="application/zip",
                                 key=f"do_download_{entry.name}")
        if delete.button("Delete", key=f"do_delete_{entry.name}"):
            session.remove(entry.name)
            st.rerun()
        if entry.name in shares:
            st.caption(f"Read-only link to {entry.name}: whoever opens it can explore and download this model "
                       "(not change it, nor see your other models).")
            st.code(_share_link(shares[entry.name], entry.name), language=None)
    shared = session.shared_models()
    if shared:
        st.markdown("**Shared with you** (read-only, in the other pages' pickers for this session):")
    for entry in shared:
        st.markdown(f"**{entry.name}**: {resources.plain(entry.description)}")


def _workspace_caption() -> None:
    """Where the models are kept, for how long, and how many fit."""
    limits = session.store().limits
    opened = session.workspace()
    if opened is None:
        st.caption("Models you train or upload go to a workspace of your own, named by a key that is then added "
                   "to this page's address (ws=...): bookmark that address to come back to them. "
                   + limits.sentence())
        return
    count, size = opened.usage()
    st.caption(f"Your workspace holds {count} of its {limits.max_models} models and {human_size(size)} of its "
               f"{limits.max_bytes / MiB:g} MiB (models and uploaded data together); a workspace "
               f"{limits.pruning()} Its key is in this page's address (ws=...): "
               "bookmark the address to come back to your models, and keep it to yourself, since anyone with it can "
               "add and delete models here. To share one model, use its Share button: that link is read-only.")


def _share_link(token: str, name: str) -> str:
    """The explorer's address with the model's share token, on the address the user sees when known."""
    here = str(st.context.url or "").split("?")[0].rstrip("/")
    base = here.removesuffix(f"/{PAGE.url_path}") if here.endswith(f"/{PAGE.url_path}") else ""
    return f"{base}/{EXPLORER.url_path}?share={token}&models={name}"


def _changed(path: str) -> int:
    try:
        return (Path(path) / checkpoint.CONFIG_NAME).stat().st_mtime_ns
    except OSError:
        return 0


@st.cache_data(show_spinner=False, max_entries=64)
def _zip(path: str, changed: int) -> bytes:
    """A model folder's zip (``changed``, its config's time, keys a model saved again at the same path)."""
    return checkpoint.export_zip(path)


def _accept_model(upload) -> None:
    done = st.session_state.setdefault("tr_model_uploads", {})
    if upload.file_id in done:
        return
    folder = None
    try:
        session.workspace(create=True).check_room(upload.size)
        name = session.unique_name(upload.name.rsplit(".", 1)[0])
        folder = session.session_dir() / "models" / name
        loaded = checkpoint.import_model(upload.getvalue(), folder)
        entry, note = session.add_upload(loaded)
    except AelabError as exc:
        if folder is not None and folder.is_dir():  # installed, but it cannot be shown: nothing of it stays
            shutil.rmtree(folder, ignore_errors=True)
        st.error(f"{resources.plain(upload.name, 80)} was not loaded: {resources.plain(str(exc), 600)}")
        done[upload.file_id] = None
        return
    done[upload.file_id] = name
    st.success(f"Loaded {name}: {resources.plain(entry.description)}. It is now in the explorer's model picker."
               + (f" {note}" if note else ""))


if __name__ == "__main__":  # run by Streamlit as a page
    render()
