"""Models trained or uploaded in a session join the other pages: the explorer and the compare page."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from aelab import data, jobs
from aelab.train import TrainConfig


@pytest.fixture(scope="module")
def one_d_vae(tmp_path_factory):
    """A 1-D VAE trained for two epochs, as the Train page would."""
    splits = data.load_splits("mnist5k")
    out = tmp_path_factory.mktemp("session") / "one-d"
    job = jobs.TrainingJob("vae", {"hidden": [64], "latent_dim": 1}, splits, TrainConfig(epochs=2), out)
    job.start().join()
    assert job.status == "completed", job.message
    assert all(snapshot.shape[1] == 2 for snapshot in job.snapshots)  # the Train page draws a line of codes
    return out


def _explorer():
    import streamlit as st

    from aelab.app import resources
    from aelab.app.pages import explorer

    st.session_state.session_models = [resources.ModelEntry("one-d", st.session_state.path, "vae", 1, "mnist5k",
                                                            "1-D VAE")]
    explorer.render()


def _compare():
    import streamlit as st

    from aelab.app import resources
    from aelab.app.pages import vae_vs_ae

    st.session_state.session_models = [resources.ModelEntry("one-d", st.session_state.path, "vae", 1, "mnist5k",
                                                            "1-D VAE")]
    vae_vs_ae.render()


def test_a_1d_session_model_opens_in_the_explorer_as_a_line(one_d_vae):
    at = AppTest.from_function(_explorer, default_timeout=120)
    at.session_state["path"] = str(one_d_vae)
    at.query_params["models"] = "one-d"
    at.run()
    assert not at.exception
    assert not at.warning  # the link named a model this session has
    captions = [c.value for c in at.caption if c.value.startswith("Probe at (")]
    assert len(captions) == 1  # one map, a line of codes, with its probe's caption
    [component] = at.get("bidi_component")
    assert json.loads(component.proto.json)["server"]["shape"] == [28, 28]  # the server's decode of the probe


def test_the_compare_page_offers_session_models_and_refuses_unfair_pairs(one_d_vae):
    at = AppTest.from_function(_compare, default_timeout=120)
    at.session_state["path"] = str(one_d_vae)
    at.run()
    at.radio(key="cmp_mode").set_value("any").run()
    assert not at.exception
    assert "one-d" in at.selectbox(key="cmp_any_vae").options[-1]
    at.selectbox(key="cmp_any_vae").set_value("one-d").run()  # against the default 2-D AE
    assert not at.exception
    assert any("latent sizes differ (2 and 1)" in w.value for w in at.warning)
    assert not at.dataframe  # nothing is measured for an unfair pair


def test_old_session_folders_are_pruned_and_recent_ones_kept(tmp_path):
    import os
    import time

    from aelab.app import session

    old, recent = tmp_path / "old", tmp_path / "recent"
    for folder in (old, recent):
        (folder / "models").mkdir(parents=True)
        (folder / "models" / "config.json").write_text("{}")
    week_ago = time.time() - 8 * 86400
    for path in (old, old / "models", old / "models" / "config.json"):
        os.utime(path, (week_ago, week_ago))
    assert session.prune(tmp_path) == [old]
    assert not old.exists() and (recent / "models" / "config.json").exists()
    assert session.prune(tmp_path / "missing") == []


def test_a_new_session_cleans_what_interrupted_saves_left(tmp_path):
    """Issue 9: hidden staging folders of interrupted saves were never cleaned up."""
    import os
    import time

    from aelab.app import session

    models = tmp_path / "abc" / "models"
    (models / "keep").mkdir(parents=True)
    stale = [models / ".keep.tmp-x1y2z3w4", models / ".keep.old-1234abcd"]
    fresh = models / ".other.tmp-inprogre"
    for folder in [*stale, fresh]:
        folder.mkdir()
        (folder / "config.json").write_text("{}")
    hour_ago = time.time() - 3600
    for folder in stale:
        for path in (folder / "config.json", folder):
            os.utime(path, (hour_ago, hour_ago))
    session.prune(tmp_path)
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and (models / "keep").exists()  # a save in progress, and the model, are left alone
