"""The Train page, driven headless with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from aelab import checkpoint


def _page_script():
    from aelab.app import train_page

    train_page.render()


@pytest.fixture
def at(tmp_path, monkeypatch):
    monkeypatch.setenv("AELAB_CACHE_DIR", str(tmp_path))  # session folders land here, never in pretrained/
    return AppTest.from_function(_page_script, default_timeout=120).run()


def _train(at: AppTest, timeout: float = 120) -> AppTest:
    """Press Train, wait for the background job, and rerun to show the outcome."""
    at.button(key="do_train").click().run()
    job = at.session_state["train_job"]
    job.join(timeout)
    assert not job.running, "training did not finish in time"
    return at.run()


def test_every_kind_shows_its_own_settings(at):
    assert not at.exception
    expected = {"dae": ["tr_noise_gaussian"], "sae": ["tr_sparsity", "tr_rho"], "vae": ["tr_beta"], "ae": []}
    for kind, sliders in expected.items():
        at.radio(key="tr_kind").set_value(kind).run()
        assert not at.exception
        keys = {s.key for s in at.slider} | {s.key for s in at.select_slider}
        assert set(sliders) <= keys, kind
    at.radio(key="tr_kind").set_value("sae").run()
    at.radio(key="tr_penalty").set_value("l1").run()
    assert at.slider(key="tr_rho").disabled  # rho only matters for the KL penalty
    at.radio(key="tr_penalty").set_value("kl").run()
    assert not at.slider(key="tr_rho").disabled


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
    assert at.slider(key=f"tr_replay_{entry.name}").max == 3  # replay the map over the 3 epochs
    assert any("Download" in b.label for b in at.get("download_button"))


def test_a_huge_learning_rate_is_caught_and_explained(at):
    at.radio(key="tr_data").set_value("digits").run()
    at.slider(key="tr_epochs").set_value(4).run()
    at.select_slider(key="tr_lr").set_value(10.0).run()
    _train(at)
    assert not at.exception
    messages = " ".join(e.value for e in at.error)
    assert "diverged" in messages and "smaller learning rate" in messages


def test_bad_hidden_widths_get_a_message_and_no_training(at):
    at.text_input(key="tr_hidden").set_value("256, lots").run()
    assert not at.exception
    assert any("Hidden widths" in e.value for e in at.error)
    assert not at.button  # no Train button to press
