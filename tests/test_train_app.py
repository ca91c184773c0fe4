"""The Train page, driven headless with streamlit.testing.v1.AppTest (public API only)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from aelab import checkpoint, i18n, models
from aelab.app.pages import training
from aelab.train import TrainConfig

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "aelab/app/pages/training.py"


@pytest.fixture
def at(tmp_path, monkeypatch):
    monkeypatch.setenv("AELAB_CACHE_DIR", str(tmp_path))  # session folders land here, never in pretrained/
    at = AppTest.from_file(APP, default_timeout=120).run()
    return at.switch_page(PAGE).run()


def _train(at: AppTest, timeout: float = 120) -> AppTest:
    """Press Train, wait for the job on the worker processes, and rerun to show the outcome."""
    at.button(key="do_train").click().run()
    job = at.session_state["train_job"]
    job.join(timeout)
    assert not job.active, "training did not finish in time"
    return at.run()


def _widget_keys(at: AppTest) -> set[str]:
    kinds = ("slider", "select_slider", "radio", "selectbox", "text_input", "number_input")
    return {w.key for kind in kinds for w in at.get(kind) if w.key}


def test_every_kind_shows_a_widget_for_each_of_its_options(at):
    """The widgets are generated from the models' option declarations: one per option, none of another kind's."""
    assert not at.exception
    for kind in models.KINDS:
        at.radio(key="tr_kind").set_value(kind).run()
        assert not at.exception
        keys = _widget_keys(at)
        for option in models.REGISTRY[kind].options:
            assert any(k == f"tr_{option.name}" or k.startswith(f"tr_{option.name}_") for k in keys), (kind, option)
        others = {o.name for cls in models.REGISTRY.values() for o in cls.options} - \
            {o.name for o in models.REGISTRY[kind].options}
        assert not any(k.removeprefix("tr_").split("_1")[0] in others for k in keys if k.startswith("tr_")), kind
    at.radio(key="tr_kind").set_value("sae").run()
    at.radio(key="tr_penalty").set_value("l1").run()
    assert at.select_slider(key="tr_target_rho").disabled  # rho only matters for the KL penalty
    at.radio(key="tr_penalty").set_value("kl").run()
    assert not at.select_slider(key="tr_target_rho").disabled


def test_the_noise_slider_takes_its_range_from_the_dae_declaration(at):
    at.radio(key="tr_kind").set_value("dae").run()
    assert at.slider(key="tr_noise_level_1").max == 1.0
    at.radio(key="tr_corruption").set_value("mask").run()
    assert at.slider(key="tr_noise_level_0.95").max == 0.95  # masking every pixel leaves nothing to learn from
    assert not at.exception


def test_latent_sizes_reach_overcomplete_and_the_help_explains_it(at):
    """Bug 9: the help spoke of sizes above 784 while the slider stopped at 256."""
    slider = at.select_slider(key="tr_latent_dim")
    assert max(slider.options, key=float) == "1024" and "784" in slider.options
    assert "784" in slider.help and "overcomplete" in slider.help


def test_no_help_text_points_to_a_source_file(at):
    """Bug 10: help texts pointed to aelab/losses.py and bench/...; a user needs the meaning."""
    for kind in models.KINDS:
        at.radio(key="tr_kind").set_value(kind).run()
        for element in (w for k in ("slider", "select_slider", "radio", "selectbox", "text_input", "number_input")
                        for w in at.get(k)):
            help_text = element.help or ""
            assert ".py" not in help_text and "aelab/" not in help_text and "bench/" not in help_text, element.key


def test_a_short_run_trains_saves_and_registers_a_model(at, tmp_path):
    at.radio(key="tr_kind").set_value("vae").run()
    at.radio(key="tr_data").set_value("digits").run()
    at.slider(key="tr_epochs").set_value(3).run()
    at.text_input(key="tr_hidden").set_value("64").run()
    _train(at)
    assert not at.exception
    assert any("It is now in the latent explorer" in s.value for s in at.success)
    [entry] = at.session_state["session_models"]
    assert entry.kind == "vae" and entry.data == "digits" and "trained here" in entry.description
    loaded = checkpoint.load(entry.path)
    assert loaded.info["training"]["epochs"] == 3
    assert loaded.info["metrics"]["n"] == loaded.info["data"]["n_val"] == 179  # digits' stratified held-out split
    assert str(tmp_path) in entry.path  # this session's folder, not pretrained/
    [replay] = [spec for spec in _plotly_specs(at) if spec.get("frames")]  # replay the map over the 3 epochs
    assert [f["name"] for f in replay["frames"]] == ["1", "2", "3"]
    assert replay["layout"]["updatemenus"][0]["buttons"][0]["args"][0] is None  # Play: every frame
    assert any("Download" in b.label for b in at.get("download_button"))


@pytest.mark.parametrize(("kind", "arch", "epochs", "words"), [
    ("ae", "mlp", 1, ["plain autoencoder, 2-D latent; 1 epoch on digits (trained here)"]),
    ("dae", "conv", 2, ["denoising autoencoder, 2-D latent, conv, corruption gaussian, noise level 0.3; 2 epochs"]),
])
def test_descriptions_say_what_was_trained(at, kind, arch, epochs, words):
    """Bug 2: "plain autoencoder, 2-D, , 3 epochs", "1 epochs", conv models not marked as conv."""
    at.radio(key="tr_kind").set_value(kind).run()
    at.radio(key="tr_arch").set_value(arch).run()
    at.radio(key="tr_data").set_value("digits").run()
    at.slider(key="tr_epochs").set_value(epochs).run()
    at.text_input(key="tr_hidden").set_value("32").run()
    _train(at)
    [entry] = at.session_state["session_models"]
    for word in words:
        assert word in entry.description, entry.description
    assert ", ," not in entry.description


def test_a_stopped_run_is_described_by_the_epochs_it_ran(at):
    """Bug 2: a run stopped at epoch 2 of 30 was described as "30 epochs"."""
    at.radio(key="tr_data").set_value("digits").run()
    at.slider(key="tr_epochs").set_value(30).run()
    at.button(key="do_train").click().run()
    job = at.session_state["train_job"]
    while job.active and len(job.history) < 2:
        job.join(0.05)
    job.stop()
    job.join(120)
    at.run()
    [entry] = at.session_state["session_models"]
    ran = len(checkpoint.load(entry.path).info["history"])
    assert ran < 30 and f"; {ran} epoch{'s' if ran > 1 else ''} on digits" in entry.description


def test_the_stop_notice_is_gone_once_training_has_stopped(at):
    """Bug 11: the toast "Stopping after this batch..." stayed up after the run had ended."""
    at.radio(key="tr_data").set_value("digits").run()
    at.slider(key="tr_epochs").set_value(200).run()
    at.button(key="do_train").click().run()
    job = at.session_state["train_job"]
    while job.status == "queued":  # until a worker has taken it
        job.join(0.05)
    at.run().button(key="do_stop").click().run()
    assert any("Stopping" in c.value for c in at.caption) and not at.toast
    job.join(120)
    at.run()
    assert not any("Stopping" in c.value for c in at.caption) and not at.toast


def test_a_huge_learning_rate_is_reported_as_failed_and_no_model_is_offered(at):
    """Bug 1: lr 10 gave a green "Trained ..." for a model worse than an untrained one, whose codes
    had collapsed to one point."""
    at.radio(key="tr_data").set_value("mnist5k").run()
    at.slider(key="tr_epochs").set_value(3).run()
    at.select_slider(key="tr_lr").set_value(10.0).run()
    _train(at)
    assert not at.exception
    assert not at.success
    messages = " ".join(e.value for e in at.error)
    assert "not kept" in messages and "smaller learning rate" in messages
    assert "session_models" not in at.session_state or not at.session_state["session_models"]
    assert not any(c.key and c.key.startswith("do_download") for c in at.get("download_button"))


def test_bad_hidden_widths_get_a_message_and_no_training(at):
    at.text_input(key="tr_hidden").set_value("256, lots").run()
    assert not at.exception
    assert any("hidden widths" in e.value.lower() for e in at.error)
    assert not any(b.key == "do_train" for b in at.button)  # no Train button to press


def _plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_the_page_reads_in_chinese(tmp_path, monkeypatch):
    """Issue 13: every text in Chinese with lang=zh; the numbers' meanings in tooltips."""
    monkeypatch.setenv("AELAB_CACHE_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "zh"
    at.run().switch_page(PAGE).run()
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == ["训练模型"]
    assert any("个参数（权重）" in c.value for c in at.caption)
    assert at.slider(key="tr_epochs").label == "训练轮数" and "验证损失" in at.slider(key="tr_epochs").help
    assert at.button(key="do_train").label == "训练"


def _snapshots(epochs: int = 4, n: int = 50) -> tuple[list[np.ndarray], np.ndarray]:
    """Latent snapshots that spread out epoch by epoch, as a map forming does."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(n, 2)).astype(np.float32)
    return [base * (e + 1) + e for e in range(epochs)], np.arange(n) % 10


def test_the_replay_plays_every_epoch_on_fixed_axes():
    """Issue 13: the epoch replay after training has a play button and fixed axes."""
    snapshots, labels = _snapshots()
    figure = training.replay_figure(snapshots, labels)
    assert [f.name for f in figure.frames] == ["1", "2", "3", "4"]
    assert all(len(f.data) == 10 for f in figure.frames)  # one trace per digit, as the figure's own
    for frame, points in zip(figure.frames, snapshots, strict=True):  # each frame is its epoch's points
        assert np.allclose(np.concatenate([t.x for t in frame.data]), points[np.argsort(labels, kind="stable"), 0])
    [buttons] = figure.layout.updatemenus
    play, pause = buttons.buttons
    assert play.method == pause.method == "animate" and "Play" in play.label and "Pause" in pause.label
    assert play.args[0] is None and play.args[1]["fromcurrent"]  # from the start, or on from a pause
    [slider] = figure.layout.sliders
    assert [list(step.args[0]) for step in slider.steps] == [["1"], ["2"], ["3"], ["4"]] and slider.active == 3
    every = np.concatenate(snapshots)
    for axis, column in ((figure.layout.xaxis, 0), (figure.layout.yaxis, 1)):
        assert axis.autorange is False  # fixed: the points move, not the axes
        low, high = axis.range
        assert low < every[:, column].min() and high > every[:, column].max()  # every epoch's points fit


def test_the_replay_speaks_the_session_language():
    snapshots, labels = _snapshots(2)
    i18n.set_language("zh")
    try:
        figure, plane = training.replay_figure(snapshots, labels), training._plane(16)
    finally:
        i18n.set_language("en")
    play, pause = figure.layout.updatemenus[0].buttons
    assert play.label == "▶ 播放" and pause.label == "❚❚ 暂停"
    assert figure.layout.title.text == "逐轮的隐空间图" and plane == "16 维编码的前两个主成分"
    assert figure.layout.sliders[0].currentvalue.prefix == "轮次："


def test_log_scale_loss_curves_tick_at_powers_of_ten():
    """Bug 11: plotly's default log ticks read "2, 100, 5, 2, 10, 5"."""

    class History:
        def __init__(self, epoch, value):
            self.epoch, self.train, self.val = epoch, {"loss": value}, {"loss": value}

    class Job:
        history = [History(1, 5000.0), History(2, 40.0), History(3, 3.0)]

    figure = training._loss_figure(Job())
    assert figure.layout.yaxis.type == "log" and figure.layout.yaxis.dtick == 1
    flat = training._loss_figure(type("J", (), {"history": [History(1, 5.0), History(2, 4.0)]})())
    assert flat.layout.yaxis.type in (None, "linear")


def test_a_diverging_run_is_caught_and_explained(at):
    at.radio(key="tr_data").set_value("digits").run()
    at.slider(key="tr_epochs").set_value(4).run()
    at.select_slider(key="tr_lr").set_value(10.0).run()
    _train(at)
    assert not at.exception
    messages = " ".join(e.value for e in at.error)
    assert "diverged" in messages and "smaller learning rate" in messages


# ---- uploaded models are untrusted (issue 9) ---------------------------------------------------


def _model_zip(tmp_path, change, image_shape=(28, 28)) -> bytes:
    """A tiny model's zip, its config edited by ``change`` (as a hostile student would)."""
    import io
    import json
    import zipfile

    torch.manual_seed(0)
    folder = checkpoint.save(models.build("ae", image_shape=image_shape, latent_dim=2, hidden=[8]), tmp_path / "m",
                             {"data": {"spec": "mnist5k"}, "description": "tiny"})
    config = json.loads((folder / "config.json").read_text())
    change(config)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.safetensors", (folder / "model.safetensors").read_bytes())
    return buffer.getvalue()


@pytest.mark.parametrize(("change", "note"), [
    (lambda c: c.update(data={"spec": "npz:/etc/passwd"}), "does not read from an upload"),
    (lambda c: c.update(data="npz:/etc/passwd"), "does not read from an upload"),
    (lambda c: c.update(data={"spec": 12}), "does not read from an upload"),
    (lambda c: c.update(data={"spec": "digits"}), "does not read from an upload"),  # 8x8 data for a 28x28 model
])
def test_an_uploaded_config_never_names_the_data_it_is_shown_on(at, tmp_path, monkeypatch, change, note):
    """Issue 9: `data.spec = "npz:/etc/passwd"` in an upload made the server read that path; a `data` that
    was not a dict crashed the registration and left an unregistered folder."""
    from aelab import data

    real = data.load_splits
    monkeypatch.setattr(data, "load_splits", lambda spec, **k: real(spec, **k) if spec in ("mnist5k", "digits")
                        else pytest.fail(f"read {spec!r} from an upload's config"))
    at.file_uploader(key="do_upload_model").upload("evil.zip", _model_zip(tmp_path, change), "application/zip").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [entry] = at.session_state["session_models"]
    assert entry.data == "mnist5k"  # the built-in data of its image size
    message = " ".join(s.value for s in at.success).replace("\\", "")
    assert ("Its config names other data" in message) == (note is not None)
    at.switch_page("aelab/app/pages/explorer.py").run()
    at.multiselect(key="ex_models").set_value([entry.name]).run()
    assert not at.exception and at.get("bidi_component")  # it opens in the explorer


def test_an_upload_whose_description_is_not_text_is_refused(at, tmp_path):
    at.file_uploader(key="do_upload_model").upload("odd.zip", _model_zip(tmp_path, lambda c: c.update(
        description=["not", "text"])), "application/zip").run()
    assert not at.exception
    assert any("description" in e.value and "must be text" in e.value for e in at.error)
    assert "session_models" not in at.session_state or not at.session_state["session_models"]


def test_an_upload_with_no_data_of_its_size_is_refused_and_removed(at, tmp_path):
    at.file_uploader(key="do_upload_model").upload("odd.zip", _model_zip(tmp_path, lambda c: None, (12, 12)),
                                                   "application/zip").run()
    assert not at.exception
    assert any("12x12" in e.value for e in at.error)
    assert "session_models" not in at.session_state or not at.session_state["session_models"]
    folders = list((tmp_path / "sessions").glob("*/models/*"))
    assert not folders  # nothing of it stays on the server


def test_the_page_states_the_size_limits_and_refuses_a_huge_model(at):
    """Issue 9: the Train page built a 953M-parameter model (3.55 GiB) to validate 8 layers of 8192 units."""
    assert any("parameters (weights); the server trains models of up to 20 million" in c.value for c in at.caption)
    at.text_input(key="tr_hidden").set_value(",".join(["8192"] * 8)).run()
    assert not at.exception
    assert any("million parameters; models are limited to 20 million" in e.value.replace("\\", "") for e in at.error)
    assert "train_job" not in at.session_state


def test_a_queued_run_shows_its_place_and_can_be_cancelled(at, tmp_path):
    """Issue 12: a run waits for a worker; the page says where it stands and what a closed tab does,
    and Cancel takes it off the queue."""
    from aelab import jobs
    from aelab.app import labkit

    engine = labkit.engine()
    spec = jobs.JobSpec("ae", {"hidden": [16], "latent_dim": 2}, "digits", TrainConfig(epochs=500), tmp_path / "x")
    blockers = [engine.submit(spec, f"another session {i}") for i in range(engine.slots)]  # every worker busy
    try:
        deadline = time.monotonic() + 60  # a worker may still be winding down an earlier test's run
        while not all(b.status == "running" for b in blockers) and time.monotonic() < deadline:
            time.sleep(0.1)
        at.radio(key="tr_data").set_value("digits").run()
        at.button(key="do_train").click().run()
        job = at.session_state["train_job"]
        assert job.status == "queued" and not at.exception
        texts = [p.proto.text for p in at.get("progress")]
        assert all(b.status == "running" for b in blockers)  # so this run is the first one waiting
        assert any(f"{job.out.name} is waiting for a worker: number 1 in the queue" in t
                   for t in texts), texts
        assert any("If you close this tab, its run is stopped" in c.value for c in at.caption)
        at.button(key="do_stop").click().run()
        assert job.status == "cancelled" and not at.exception
        assert any("cancelled" in i.value.lower() for i in at.info)
        assert "session_models" not in at.session_state or not at.session_state["session_models"]
    finally:
        for blocker in blockers:
            blocker.stop()


# ---- a reload finds its run (issue 12) -----------------------------------------------------------


def _reload(page: str, token: str) -> AppTest:
    """A new browser session on ``page`` with the workspace link, as a reload makes."""
    again = AppTest.from_file(APP, default_timeout=120)
    again.query_params["ws"] = token
    again.run()
    return again.switch_page(page).run()


def test_a_reload_shows_the_run_still_training_and_can_stop_it(at):
    """Issue 12: a reload made a new session that had lost its run: the page offered a new training while
    the old one went on unseen, and its model was never listed."""
    at.radio(key="tr_data").set_value("digits").run()
    at.slider(key="tr_epochs").set_value(200).run()
    at.button(key="do_train").click().run()
    job = at.session_state["train_job"]
    while job.active and not job.history:
        job.join(0.05)
    again = _reload(PAGE, at.query_params["ws"])
    assert not again.exception and again.session_state["train_job"] is job
    assert any(f"Training {job.out.name}: epoch" in p.proto.text for p in again.get("progress"))
    assert not any(b.key == "do_train" for b in again.button)  # the live run, not a new form
    again.button(key="do_stop").click().run()
    job.join(60)
    again.run()
    assert job.status == "stopped" and not again.exception
    assert any(f"Trained {job.out.name} (stopped early" in s.value for s in again.success)
    assert [e.name for e in again.session_state["session_models"]] == [job.out.name]


def test_a_reload_shows_a_labs_run_still_training(at):
    """The labs' one-click training is found again too, by the page that started it."""
    from aelab import jobs, workspaces
    from aelab.app import labkit

    workspace = workspaces.Store().create()
    spec = jobs.JobSpec("dae", {"hidden": [16], "latent_dim": 16}, "digits", TrainConfig(epochs=500),
                        workspace.models_dir / "dae-lab")
    job = labkit.engine().submit(spec, str(workspace.folder), tag="dn_job", records=workspace.jobs_dir)
    try:
        lab = _reload("aelab/app/pages/denoising.py", workspace.token)
        assert not lab.exception and lab.session_state["dn_job"] is job
        assert any("dae-lab" in p.proto.text for p in lab.get("progress"))
        assert "train_job" not in _reload(PAGE, workspace.token).session_state  # the Train page's own runs only
    finally:
        job.stop()
        job.join(60)
