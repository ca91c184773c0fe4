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

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from aelab import checkpoint, data, i18n, jobs
from aelab._files import MiB, atomic_write, human_size
from aelab.app import labkit, resources, session, widgets
from aelab.app.pages import Page
from aelab.app.pages.explorer import PAGE as EXPLORER
from aelab.errors import AelabError
from aelab.i18n import N_, _
from aelab.models import KINDS, MAX_PARAMETERS, REGISTRY, SHARED_OPTIONS, check_size
from aelab.models.options import validate
from aelab.train import TrainConfig

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0, 10.0]
BUILT_IN_DATA = {"mnist5k": N_("5,000 MNIST digits (28x28 pixels)"), "digits": N_("scikit-learn digits (8x8 pixels)")}
KIND_HELP = {
    "ae": N_("**AE**: a plain autoencoder; it only learns to give back its input through the code."),
    "sae": N_("**SAE**: a sparse autoencoder; a penalty on the code pushes most of its units toward zero."),
    "dae": N_("**DAE**: a denoising autoencoder; it sees a corrupted digit and learns to give back the clean one."),
    "vae": N_("**VAE**: a variational autoencoder; the encoder gives a distribution over codes, which a KL term "
              "pulls toward the prior N(0, I), so new digits can be sampled."),
}
# The loss terms a model reports each epoch (aelab.models' loss()), as the curves name them.
TERMS = {"recon": N_("reconstruction error"), "kl": N_("KL term"), "sparsity": N_("sparsity penalty"),
         "loss": N_("total loss")}
# The held-out measures saved with a model (aelab.metrics.evaluate), each with its unit and meaning.
METRICS = {
    "recon_bce": N_("cross-entropy {value:.4g} nats per image (the reconstruction error; lower is better)"),
    "recon_mse_per_pixel": N_("mean squared error {value:.4g} per pixel, pixels running from 0 to 1 (lower is "
                              "better)"),
    "kl": N_("KL term {value:.4g} nats per image (how far the encoder's distributions are from the prior)"),
    "neg_elbo": N_("negative ELBO {value:.4g} nats per image (cross-entropy plus KL term; lower is better)"),
}
REPLAY_KEY = "train_replay"  # session state: the latest replay figure, kept while its job is shown

PAGE = Page(N_("Train"), ":material/model_training:", "train", prefix="tr_", order=30)


def render() -> None:
    st.title(_("Train a model"))
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
    st.subheader(_("Settings"), anchor=False)
    model_col, reg_col, train_col = st.columns(3)
    shared = [o.name for o in SHARED_OPTIONS]
    with model_col:
        kind = st.radio(_("Model"), KINDS, key="tr_kind", horizontal=True, format_func=lambda k: k.upper(),
                        help="\n\n".join(_(KIND_HELP[k]) if k in KIND_HELP else k.upper() for k in KINDS))
        settings = widgets.model_settings(REGISTRY[kind], "tr_", shared)
    with reg_col:
        own = [o.name for o in REGISTRY[kind].options if o.name not in shared]
        settings |= widgets.model_settings(REGISTRY[kind], "tr_", own)
        if not own:
            st.caption(_("A plain AE has no regularizer (no extra term in its loss): it only learns to "
                         "reconstruct."))
    with train_col:
        config_fields = _training_fields()
    spec, data_note = _data_choice()
    try:
        settings = validate(REGISTRY[kind].options, settings, kind)
        shape = data.BUILT_IN_SHAPES.get(spec) or (resources.load_data(spec).train.image_shape if spec else None)
        count = check_size(kind, image_shape=shape, **settings) if shape else None
    except AelabError as exc:
        st.error(_("These settings cannot be trained: {why}.", why=resources.plain(str(exc), 600)))
        return
    if count is not None:
        st.caption(_("This model has {count:,} parameters (weights); the server trains models of up to {limit:g} "
                     "million, one per session at a time, with up to {queued} more waiting their turn.",
                     count=count, limit=MAX_PARAMETERS / 1e6, queued=jobs.MAX_QUEUED))
    default_name = REGISTRY[kind].default_name(settings)
    name = st.text_input(_("Name"), key="tr_name", placeholder=default_name,
                         help=_("The model's name in the other pages' model pickers. Letters, digits, '.', '_' "
                                "and '-'; any other character becomes '-'. Empty: the name shown greyed.")) \
        or default_name
    if st.button(_("Train"), type="primary", key="do_train", disabled=spec is None):
        _start(kind, settings, spec, config_fields, name, data_note)


def _training_fields() -> dict:
    return _step_fields() | _run_fields()


def _step_fields() -> dict:
    """How the weights are stepped: epochs, learning rate and its schedule, batch size, weight decay."""
    defaults = TrainConfig()
    return {
        "epochs": st.slider(_("Epochs"), 1, 200, 30, key="tr_epochs",
                            help=_("One epoch is one pass over all the training images. More epochs take "
                                   "longer; the epoch with the lowest validation loss is the one kept.")),
        "lr": st.select_slider(_("Learning rate"), LEARNING_RATES, value=defaults.lr, key="tr_lr",
                               format_func=lambda v: f"{v:g}",
                               help=_("How large a step the optimizer (Adam) takes on the weights after each "
                                      "batch. Too small learns slowly; too large (1 or 10) can make training "
                                      "fail (diverge). {default:g} is a good start.", default=defaults.lr)),
        "batch_size": st.select_slider(_("Batch size"), [16, 32, 48, 64, 128, 256, 512], value=defaults.batch_size,
                                       key="tr_batch",
                                       help=_("How many images each step of the weights is computed from. "
                                              "Smaller batches make more, noisier steps per epoch.")),
        "lr_schedule": st.radio(_("Schedule"), ["cosine", "constant"], key="tr_schedule", horizontal=True,
                                format_func=lambda v: _(SCHEDULES[v]),
                                help=_("Cosine: the learning rate shrinks smoothly to 0 by the last epoch. "
                                       "Constant: it stays the same throughout.")),
        "weight_decay": st.select_slider(_("Weight decay"), [0.0, 1e-5, 1e-4, 1e-3], value=0.0, key="tr_wd",
                                         format_func=lambda v: f"{v:g}",
                                         help=_("A small pull of every weight toward 0 at each step, which can "
                                                "curb overfitting; 0 turns it off.")),
    }


def _run_fields() -> dict:
    """When to stop early, the seed, and where to train."""
    return {
        "patience": st.number_input(_("Patience (epochs, 0 = off)"), 0, 100, 0, key="tr_patience",
                                    help=_("Early stopping: stop when the validation loss (on held-out images, "
                                           "never trained on) has not improved for this many epochs in a row. "
                                           "0 trains for all the epochs.")) or None,
        "seed": st.number_input(_("Seed"), 0, 2**31 - 1, 0, key="tr_seed",
                                help=_("The number behind every random choice (the starting weights, the order "
                                       "of the images): the same settings and seed repeat a run.")),
        "device": st.radio(_("Device"), ["cpu", "cuda"] if _cuda() else ["cpu"], key="tr_device", horizontal=True,
                           format_func=lambda v: _(DEVICES[v]),
                           help=_("CPU: the server's processor, one thread per run, which leaves room for the "
                                  "other sessions (a second thread made these small models slower on a busy "
                                  "machine). GPU: the server's graphics card, where it has one.")),
    }


SCHEDULES = {"cosine": N_("cosine"), "constant": N_("constant")}
DEVICES = {"cpu": N_("CPU"), "cuda": N_("GPU (CUDA)")}


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _data_choice() -> tuple[str | None, str]:
    options = [*BUILT_IN_DATA, "upload"]
    choice = st.radio(_("Data"), options, key="tr_data", horizontal=True,
                      format_func=lambda o: _(BUILT_IN_DATA[o]) if o in BUILT_IN_DATA else _("your own images"),
                      help=_("The images the model learns from. A part of them is held out for validation: "
                             "the model never trains on it, and the validation loss is measured on it."))
    if choice != "upload":
        return choice, choice
    upload = st.file_uploader(_("Images (.npz or .zip)"), type=["npz", "zip"], key="do_upload_data",
                              max_upload_size=data.UPLOAD_LIMITS.max_bytes // MiB,
                              help=_("An .npz file with an `images` array (N images of H x W pixels, and "
                                     "optionally `labels`), or a .zip of PNG files (optionally one folder "
                                     "per label).") + "\n\n"
                              + labkit.upload_limits(data.UPLOAD_LIMITS.max_bytes // MiB,
                                                     "NPZ, ZIP"))  # i18n: same in every language
    limits = data.UPLOAD_LIMITS
    st.caption(_("Up to {images:,} images of at most {side}x{side} pixels, {mib} MiB once read (1 MiB = "
                 "1,048,576 bytes); the server keeps {kept} uploaded data sets in memory at a time and reads "
                 "the others again from their files when needed.", images=limits.max_images, side=limits.max_side,
                 mib=limits.max_pixel_bytes // MiB, kept=resources.UPLOADS_IN_MEMORY))
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
    shown = resources.plain(upload.name, 80)
    if upload.size > data.UPLOAD_LIMITS.max_bytes:
        st.error(_("{name} is {size:.0f} MiB; uploads are limited to {limit:.0f} MiB.", name=shown,
                   size=upload.size / MiB, limit=data.UPLOAD_LIMITS.max_bytes / MiB))
        return None
    atomic_write(path, upload.getvalue())
    spec = f"{suffix[1:]}:{path}"
    try:
        splits = resources.load_data(spec)
    except AelabError as exc:
        path.unlink(missing_ok=True)
        why = str(exc).replace(str(path), upload.name).replace(path.name, upload.name)  # the user's file name
        st.error(_("{name} cannot be used: {why}", name=shown, why=resources.plain(why, 600)))
        return None
    h, w = splits.train.image_shape
    how = splits.train.source or (_("labelled") if splits.train.labels is not None else _("no labels"))
    count = len(splits.train) + len(splits.val)
    st.success(_("{name}: {count} images of {h}x{w} pixels; {how}.", name=shown, count=count, h=h, w=w,
                 how=resources.plain(how, 300)))
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
        st.warning(_("Not started: {why}.", why=resources.plain(str(exc), 300)))
        return
    except AelabError as exc:
        st.error(_("These settings cannot be trained: {why}", why=resources.plain(str(exc), 600)))
        return
    st.rerun()


# ---- live progress -----------------------------------------------------------------------------


@st.fragment(run_every=1.0)
def _live(job: jobs.Job) -> None:
    if not job.touch().active:
        st.rerun(scope="app")
    if job.status == "queued":
        st.progress(0.0, text=_("{name} is waiting for a worker: {where}.", name=job.out.name,
                                where=labkit.waiting_text(job)))
        if st.button(_("Cancel"), key="do_stop"):
            job.stop()
            st.rerun(scope="app")
        st.caption(labkit.closed_tab())
        return
    st.progress(_done(job), text=_progress_text(job))
    if st.button(_("Stop"), key="do_stop", help=_("Stops after the current batch and keeps the best epoch so far.")) \
            or job.stopping:
        job.stop()
        st.caption(_("Stopping after this batch..."))  # gone with the fragment once the run has ended
    if job.history:
        last = job.history[-1]
        st.caption(_("Epoch {epoch} took {seconds:.1f} s: {speed:,.0f} training images per second.",
                     epoch=last.epoch, seconds=last.seconds, speed=last.images_per_second))
    st.caption(labkit.closed_tab())
    _curves_and_map(job, len(job.snapshots))


def _done(job: jobs.Job) -> float:
    """The share of the run done, 0 to 1."""
    epoch, batch, batches = job.progress
    return min(1.0, max(0.0, (epoch - 1 + batch / max(batches, 1)) / job.config.epochs))


def _progress_text(job: jobs.Job) -> str:
    epoch, total, left = max(job.progress[0], 1), job.config.epochs, job.seconds_left()
    if left is None:
        return _("Training {name}: epoch {epoch} of {total}", name=job.out.name, epoch=epoch, total=total)
    return _("Training {name}: epoch {epoch} of {total}, about {left:.0f} s left", name=job.out.name, epoch=epoch,
             total=total, left=left)


def _curves_and_map(job: jobs.Job, epoch: int) -> None:
    curves, latent = st.columns(2)
    with curves:
        st.plotly_chart(_loss_figure(job), key=f"tr_curves_{len(job.history)}", width="stretch")
        st.caption(_loss_caption(job.settings.get("recon_loss")))
    with latent:
        if epoch >= 1:
            st.plotly_chart(_map_figure(job, epoch), key=f"tr_map_{epoch}_{len(job.snapshots)}", width="stretch")
            st.caption(_("Each point is one of {count} held-out digits (never trained on), placed by {plane} and "
                         "coloured by its label.", count=len(job.snapshots[epoch - 1]),
                         plane=_plane(job.settings["latent_dim"])))
        else:
            st.caption(_("The latent map appears after the first epoch."))


def _loss_caption(recon_loss: str | None) -> str:
    """What the loss curves' numbers are, in words."""
    if recon_loss in (None, "bce"):
        unit = _("the reconstruction error is a cross-entropy summed over an image's pixels, in nats (natural-log "
                 "units of information)")
    elif recon_loss == "mse":
        unit = _("the reconstruction error is the sum of the squared pixel errors of an image")
    else:
        unit = _("the reconstruction error is the model's reconstruction loss ({loss}) of an image", loss=recon_loss)
    return _("Each point is a mean per image: solid lines over the epoch's training batches, dotted lines on the "
             "held-out validation images after the epoch; {unit}. The total loss is what training lowers. Lower is "
             "better; a validation curve that turns up while the training curve goes down means overfitting.",
             unit=unit)


def _loss_figure(job: jobs.Job) -> go.Figure:
    fig = go.Figure()
    history = list(job.history)
    epochs = [h.epoch for h in history]
    for term in (history[0].train if history else {}):
        name = _(TERMS[term]) if term in TERMS else term
        fig.add_trace(go.Scatter(x=epochs, y=[h.train[term] for h in history], mode="lines+markers",
                                 name=_("{term}, training", term=name)))
        fig.add_trace(go.Scatter(x=epochs, y=[h.val[term] for h in history], mode="lines+markers",
                                 name=_("{term}, validation", term=name), line=dict(dash="dot")))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), title=_("Loss per epoch"),
                      xaxis_title=_("epoch"), yaxis_title=_("mean per image (lower is better)"))
    if _spans_decades(history):  # one tick per power of ten: plotly's default log ticks read "2, 100, 5, 2, 10"
        fig.update_yaxes(type="log", dtick=1, exponentformat="power")
    return fig


def _spans_decades(history) -> bool:
    values = [v for h in history for v in h.train.values() if v > 0]
    return bool(values) and max(values) / max(min(values), 1e-12) > 100


def _plane(latent_dim: int) -> str:
    """What the map's two axes are, in words."""
    if latent_dim == 1:
        return _("the 1-D code along x")
    if latent_dim == 2:
        return _("the 2-D code itself")
    return _("the first two principal components of the {dim}-D code", dim=latent_dim)


def _map_figure(job: jobs.Job, epoch: int) -> go.Figure:
    points = job.snapshots[epoch - 1]
    fig = go.Figure(_label_traces(points, job.snapshot_labels, gl=True))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), legend_title_text=_("digit"),
                      title=_("Latent map after epoch {epoch}", epoch=epoch))
    return fig


def _label_traces(points: np.ndarray, labels: np.ndarray, gl: bool = False) -> list:
    """One scatter trace of ``points`` per digit label, in the labels' colours."""
    colours = resources.LABEL_COLOURS
    kind = go.Scattergl if gl else go.Scatter
    return [kind(x=points[labels == label, 0], y=points[labels == label, 1], mode="markers", name=str(label),
                 marker=dict(size=4, color=colours[label % len(colours)]))
            for label in sorted(set(labels.tolist()))]


# ---- the replay after training -----------------------------------------------------------------


def replay_figure(snapshots: list[np.ndarray], labels: np.ndarray) -> go.Figure:
    """The latent map epoch by epoch as one animation: a frame per epoch, Play and Pause buttons, a slider,
    and axes fixed over every epoch's points, so the points move and the axes stay put.

    It opens on the last epoch; Play runs from the first (or on from where it was paused)."""
    labels = np.asarray(labels)
    last = len(snapshots)
    frames = [go.Frame(name=str(epoch), data=[dict(x=s[labels == label, 0], y=s[labels == label, 1])
                                              for label in sorted(set(labels.tolist()))])
              for epoch, s in enumerate(snapshots, start=1)]
    fig = go.Figure(_label_traces(snapshots[-1], labels), frames=frames)
    xs, ys = _fixed_range([s[:, 0] for s in snapshots]), _fixed_range([s[:, 1] for s in snapshots])
    fig.update_xaxes(range=xs, autorange=False)
    fig.update_yaxes(range=ys, autorange=False)
    fig.update_layout(
        height=440, margin=dict(l=40, r=10, t=40, b=10), legend_title_text=_("digit"),
        title=_("Latent map, epoch by epoch"),
        updatemenus=[dict(type="buttons", direction="left", showactive=False, x=0, y=0, xanchor="left",
                          yanchor="top", pad=dict(t=60), buttons=[
                              dict(label=_("▶ Play"), method="animate", args=[None, _PLAY]),
                              dict(label=_("❚❚ Pause"), method="animate", args=[[None], _PAUSE])])],
        sliders=[dict(active=last - 1, x=0.32, len=0.68, y=0, yanchor="top", pad=dict(t=40),
                      currentvalue=dict(prefix=_("Epoch: ")),
                      steps=[dict(label=str(epoch), method="animate",
                                  args=[[str(epoch)], dict(mode="immediate", frame=dict(duration=0, redraw=False),
                                                           transition=dict(duration=0))])
                             for epoch in range(1, last + 1)])])
    return fig


_PLAY = dict(frame=dict(duration=500, redraw=False), transition=dict(duration=300), fromcurrent=True,
             mode="immediate")
_PAUSE = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")


def _fixed_range(values: list[np.ndarray]) -> list[float]:
    """An axis range holding every value of every epoch, with a 5% margin each side."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    margin = 0.05 * (high - low) or 0.5
    return [low - margin, high + margin]


def _replay(job: jobs.Job) -> None:
    """The loss curves and the replay of the latent map, built once per job and language."""
    lang = i18n.language()
    key = (job.id, len(job.snapshots), lang)
    kept = st.session_state.get(REPLAY_KEY)
    if kept is None or kept[0] != key:
        kept = (key, replay_figure(job.snapshots, job.snapshot_labels))
        st.session_state[REPLAY_KEY] = kept
    curves, latent = st.columns(2)
    with curves:
        st.plotly_chart(_loss_figure(job), key="tr_curves_done", width="stretch")
        st.caption(_loss_caption(job.settings.get("recon_loss")))
    with latent:
        st.plotly_chart(kept[1], key=f"tr_replay_{job.out.name}", width="stretch")
        st.caption(_("Each point is one of {count} held-out digits (never trained on), placed by {plane} and "
                     "coloured by its label. Press Play to watch the map form, epoch by epoch, or drag the slider "
                     "to an epoch. The axes hold every epoch's points, so what moves is the digits, not the scale.",
                     count=len(job.snapshots[-1]), plane=_plane(job.settings["latent_dim"])))


# ---- after training ------------------------------------------------------------------------------


def _finished(job: jobs.Job) -> None:
    if job.info is not None and not getattr(job, "registered", False):
        session.add(job.out, _("{description} (trained here)", description=job.description))
        job.registered = True
    _outcome(job)
    if job.info is not None:
        st.caption(_metrics_text(job.info["metrics"]))
    if job.snapshots:
        _replay(job)
    st.divider()


def _outcome(job: jobs.Job) -> None:
    """What became of the run, in one message."""
    name = job.out.name
    if job.status == "cancelled":
        st.info(_("{name} was cancelled before it started.", name=name))
    elif job.status == "diverged":
        kept = " " + _("The last good model was kept.") if job.info else ""
        st.error(resources.plain(job.message, 600) + kept)
    elif job.status == "failed" or job.info is None:
        st.error(resources.plain(job.message, 600) or _("Training produced no model."))
    elif job.status == "stopped":
        st.success(_("Trained {name} (stopped early: the best epoch so far was kept). It is now in the latent "
                     "explorer's model picker.", name=name))
    else:
        st.success(_("Trained {name}. It is now in the latent explorer's model picker.", name=name))


def _metrics_text(metrics: dict) -> str:
    """The held-out measures in a sentence, each with its unit."""
    parts = [_(METRICS[k], value=v) if k in METRICS else f"{k.replace('_', ' ')} {v:.4g}"
             for k, v in metrics.items() if k != "n"]
    return _("On {count} held-out images (never trained on): {measures}.",
             count=metrics.get("n", "?"), measures="; ".join(parts))


def _my_models() -> None:
    st.subheader(_("Your models"), anchor=False)
    for notice in session.notices():
        st.warning(resources.plain(notice, 400))
    upload = st.file_uploader(_("Upload a model (.zip)"), type=["zip"], key="do_upload_model",
                              max_upload_size=checkpoint.MAX_UPLOAD_BYTES // MiB,
                              help=_("A .zip with config.json and model.safetensors, as the Download button "
                                     "here makes it. Pickles (.pt, .pkl) are refused: loading one can run code.")
                              + "\n\n" + labkit.upload_limits(checkpoint.MAX_UPLOAD_BYTES // MiB, "ZIP"))
    if upload is not None:
        _accept_model(upload)
    _workspace_caption()
    entries, problems = session.listing()
    for problem in problems:
        st.warning(resources.plain(problem, 400))
    for run_id, note in session.interrupted_runs():
        text, dismiss = st.columns([6, 1])
        text.warning(note, icon=":material/power_off:")
        if dismiss.button(_("Dismiss"), key=f"do_dismiss_{run_id}"):
            session.dismiss_run(run_id)
            st.rerun()
    shares = session.share_tokens()
    for entry in entries:
        _model_row(entry, shares)
    shared = session.shared_models()
    if shared:
        st.markdown(_("**Shared with you** (read-only, in the other pages' pickers for this session):"))
    for entry in shared:
        st.markdown(f"**{entry.name}**: {resources.plain(entry.shown_description)}")


def _model_row(entry: resources.ModelEntry, shares: dict[str, str]) -> None:
    """One of the workspace's models: its description, and its Share, Download and Delete buttons."""
    left, share, download, delete = st.columns([4, 1, 1.4, 1])
    left.markdown(f"**{entry.name}**: {resources.plain(entry.shown_description)}")
    if share.button(_("Share"), key=f"do_share_{entry.name}", help=_("A read-only link to this model alone")):
        shares[entry.name] = session.share(entry.name)
    download.download_button(_("Download"), data=_zip(entry.path, _changed(entry.path)),
                             file_name=f"{entry.name}.zip", mime="application/zip", key=f"do_download_{entry.name}",
                             help=_("The model as a .zip (its settings and weights), to keep or to upload again."))
    if delete.button(_("Delete"), key=f"do_delete_{entry.name}"):
        session.remove(entry.name)
        st.rerun()
    if entry.name in shares:
        st.caption(_("Read-only link to {name}: whoever opens it can explore and download this model (not change "
                     "it, nor see your other models).", name=entry.name))
        st.code(_share_link(shares[entry.name], entry.name), language=None)


def _workspace_caption() -> None:
    """Where the models are kept, for how long, and how many fit."""
    limits = session.store().limits
    days = _("1 day") if limits.max_age_days == 1 else _("{days:g} days", days=limits.max_age_days)
    opened = session.workspace()
    if opened is None:
        st.caption(_("Models you train or upload go to a workspace of your own, named by a key that is then added "
                     "to this page's address (ws=...): bookmark that address to come back to them. A workspace "
                     "holds up to {models} models and {size} (models and uploaded data together; 1 MiB = 1,048,576 "
                     "bytes); one unused for {days} is deleted, with its share links.", models=limits.max_models,
                     size=human_size(limits.max_bytes), days=days))
        return
    count, size = opened.usage()
    st.caption(_("Your workspace holds {count} of its {models} models and {used} of its {size} (models and uploaded "
                 "data together); a workspace unused for {days} is deleted, with its share links. Its key is in "
                 "this page's address (ws=...): bookmark the address to come back to your models, and keep it to "
                 "yourself, since anyone with it can add and delete models here. To share one model, use its Share "
                 "button: that link is read-only.", count=count, models=limits.max_models, used=human_size(size),
                 size=human_size(limits.max_bytes), days=days))


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
        st.error(_("{name} was not loaded: {why}", name=resources.plain(upload.name, 80),
                   why=resources.plain(str(exc), 600)))
        done[upload.file_id] = None
        return
    done[upload.file_id] = name
    st.success(_("Loaded {name}: {description}. It is now in the explorer's model picker.", name=name,
                 description=resources.plain(entry.shown_description)) + (f" {note}" if note else ""))


if __name__ == "__main__":  # run by Streamlit as a page
    render()
