"""The library's shown texts in Chinese: model option widgets, upload errors, shipped model descriptions.

The library writes its texts in English inside ``_()`` (translated where a message is made, in the
language of the session's run) or ``N_()`` (translated where it is shown); these tests switch to
Chinese and check that what a user sees is Chinese, and that English stays the default.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

from aelab import checkpoint, data, i18n, jobs, losses, pretrained
from aelab.errors import CheckpointError, ConfigError, DataError
from aelab.models import base, build
from aelab.train import TrainConfig


@pytest.fixture
def chinese():
    i18n.set_language("zh")
    try:
        yield
    finally:
        i18n.set_language("en")


def test_a_file_that_is_not_an_npz_is_refused_in_chinese(tmp_path, chinese):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))  # a PNG's first bytes, named .npz
    with pytest.raises(DataError) as refused:
        data.load_splits(f"npz:{path}")  # what the app's data loader calls for an uploaded .npz
    message = str(refused.value)
    assert "bad.npz 不是 NumPy .npz 文件" in message and "看起来是 PNG 图像" in message
    assert "numpy.savez_compressed" in message  # code stays as it is


def test_a_zip_of_images_with_too_few_images_is_refused_in_chinese(tmp_path, chinese):
    path = tmp_path / "few.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "no images here")
    with pytest.raises(DataError, match="few.zip 中没有 PNG 或 JPEG 图像"):
        data.read_image_zip(path)


def test_a_library_failure_inside_a_reader_is_explained_in_chinese(tmp_path, chinese, monkeypatch):
    def fail(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(checkpoint, "_model_members", fail)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("config.json", "{}")
    with pytest.raises(CheckpointError) as refused:
        checkpoint.import_model(archive.getvalue(), tmp_path / "m")
    assert "上传的模型 无法读取" in str(refused.value) and "内存" in str(refused.value)


def test_an_uploaded_model_that_is_not_a_zip_is_refused_in_chinese(tmp_path, chinese):
    with pytest.raises(CheckpointError, match="上传的文件不是 zip，所以不是 aelab 模型"):
        checkpoint.import_model(b"not a zip at all", tmp_path / "m")


def test_english_stays_the_default(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"hello")
    with pytest.raises(DataError, match="bad.npz is not a NumPy .npz file"):
        data.read_npz_images(path)


def test_a_setting_out_of_range_is_refused_in_chinese(chinese):
    with pytest.raises(ConfigError, match="未知的模型类型"):
        build("xyz")
    with pytest.raises(ConfigError, match="beta 的取值范围：>= 0；收到的是 -1"):
        build("vae", beta=-1.0)


def _sae_settings():  # an AppTest script: its own imports, no names from outside
    from aelab import i18n
    from aelab.app import widgets
    from aelab.models import SAE

    i18n.set_language("zh")
    widgets.model_settings(SAE, "t_")


def test_the_model_option_widgets_show_chinese_labels_help_and_choices():
    at = AppTest.from_function(_sae_settings).run()
    assert not at.exception
    labels = {w.label for kind in ("radio", "selectbox", "select_slider", "text_input") for w in at.get(kind)}
    assert {"隐空间维数", "隐藏层宽度", "重构损失", "网络结构", "稀疏惩罚项", "稀疏权重", "目标激活率 ρ",
            "编码激活函数"} <= labels
    penalty = at.radio(key="t_penalty")
    assert penalty.options == ["对编码施加 L1", "与目标激活率 ρ 的 KL 散度"] and penalty.value == "l1"
    assert "推向零" in penalty.help
    assert at.selectbox(key="t_recon_loss").options == ["平方误差", "二元交叉熵", "类别交叉熵", "KL 散度", "余弦距离"]


def _sae_settings_in_the_chosen_language():
    import streamlit as st

    from aelab import i18n
    from aelab.app import widgets
    from aelab.models import SAE

    i18n.set_language(st.session_state.get("lang", "en"))
    widgets.model_settings(SAE, "t_")


def test_switching_language_keeps_the_settings_chosen():
    at = AppTest.from_function(_sae_settings_in_the_chosen_language).run()
    at.radio(key="t_penalty").set_value("kl").run()
    at.select_slider(key="t_target_rho").set_value(0.2).run()
    assert at.radio(key="t_penalty").label == "Sparsity penalty"
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.radio(key="t_penalty").label == "稀疏惩罚项" and at.radio(key="t_penalty").value == "kl"
    assert at.select_slider(key="t_target_rho").value == 0.2


def test_every_option_of_every_kind_is_translated():
    zh = i18n.catalog("zh")
    for kind in base.REGISTRY.values():
        assert zh.get(kind.description), kind
        for option in kind.options:
            assert all(zh.get(text) for text in (option.label, option.help, *option.choice_labels)), option.name


def test_the_loss_labels_say_what_aelab_losses_says():
    """The reconstruction loss option writes the loss names and summaries out (to translate them)."""
    option = next(o for o in base.SHARED_OPTIONS if o.name == "recon_loss")
    assert option.choice_labels == tuple(losses.NAMES[name] for name in losses.RECON_LOSSES)
    assert option.help.endswith(" ".join(f"{name}: {summary}." for name, summary in losses.SUMMARIES.items()))


def test_shipped_descriptions_are_shown_in_chinese_and_kept_in_english(chinese):
    recipe = next(r for r in pretrained.RECIPES if r.name == "dae-2d")
    assert recipe.description == "denoising AE, Gaussian noise sigma=0.3, 2-D latent"  # the manifest's words
    assert pretrained.shown_description("dae-2d", recipe.description) == "去噪自编码器，高斯噪声 σ=0.3，2 维隐空间"
    assert pretrained.shown_description("dae-2d", "my own words") == "my own words"  # not the recipe's: as it is
    assert pretrained.shown_description("my-model", "plain AE, 2-D latent") == "plain AE, 2-D latent"


def test_a_job_speaks_the_language_it_was_made_in(chinese):
    spec = jobs.JobSpec("ae", {}, "digits", None, "out")
    assert spec.language == "zh"
    assert jobs.in_language("en", lambda: i18n._("cancelled before it started")) == "cancelled before it started"
    assert i18n.language() == "zh"  # the thread's own language is left as it was


def test_a_run_reports_why_it_failed_in_its_own_language(tmp_path):
    spec = jobs.JobSpec("ae", {}, "npz:", TrainConfig(epochs=1), tmp_path / "out", language="zh")
    outcome = jobs.run(spec)
    assert outcome["status"] == "failed" and "没有给出文件" in outcome["message"]
    assert i18n.language() == "en"
