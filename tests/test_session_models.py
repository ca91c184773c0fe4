"""A workspace's models (trained or uploaded) join the other pages: the explorer and the compare page."""

from __future__ import annotations

import json

import pytest
import torch
from streamlit.testing.v1 import AppTest

from aelab import checkpoint, models
from aelab.app.components import latent_map


@pytest.fixture(scope="module")
def one_d_vae(tmp_path_factory) -> tuple[str, str]:
    """A 1-D VAE saved into a workspace, as the Train page saves one: (store folder, token).

    Untrained (seeded): the pages only need a model with a 1-D latent; training is tests/test_train_app.py's.
    """
    from aelab import workspaces

    store = workspaces.Store(tmp_path_factory.mktemp("store"))
    workspace = store.create()
    torch.manual_seed(0)
    out = checkpoint.save(models.build("vae", image_shape=(28, 28), hidden=[64], latent_dim=1),
                          workspace.models_dir / "one-d", {"data": {"spec": "mnist5k"}})
    workspace.add(out, "vae", 1, "mnist5k", "1-D VAE")
    return str(store.root), workspace.token


@pytest.fixture
def workspace_link(one_d_vae, monkeypatch) -> str:
    """The token of the workspace holding the 1-D VAE, its store made the app's."""
    monkeypatch.setenv("AELAB_WORKSPACES", one_d_vae[0])
    return one_d_vae[1]


def _explorer():
    from aelab.app.pages import explorer

    explorer.render()


def _compare():
    from aelab.app.pages import vae_vs_ae

    vae_vs_ae.render()


def test_a_1d_session_model_opens_in_the_explorer_as_a_line(workspace_link):
    at = AppTest.from_function(_explorer, default_timeout=120)
    at.query_params["ws"], at.query_params["models"] = workspace_link, "one-d"
    at.run()
    assert not at.exception
    assert not at.warning  # the link named a model this session has
    captions = [c.value for c in at.caption if c.value.startswith("Probe at (")]
    assert len(captions) == 1  # one map, a line of codes, with its probe's caption
    [component] = [c for c in at.get("bidi_component") if c.proto.component_name == latent_map.MAP]
    assert json.loads(component.proto.json)["server"]["shape"] == [28, 28]  # the server's decode of the probe
    assert at.query_params["ws"] == workspace_link  # the explorer's link keeps the workspace


def test_the_compare_page_offers_session_models_and_refuses_unfair_pairs(workspace_link):
    at = AppTest.from_function(_compare, default_timeout=120)
    at.query_params["ws"] = workspace_link
    at.run()
    at.radio(key="cmp_mode").set_value("any").run()
    assert not at.exception
    assert "one-d" in at.selectbox(key="cmp_any_vae").options[-1]
    at.selectbox(key="cmp_any_vae").set_value("one-d").run()  # against the default 2-D AE
    assert not at.exception
    assert any("latent sizes differ (2 and 1)" in w.value for w in at.warning)
    assert not at.dataframe  # nothing is measured for an unfair pair


# Pruning unused workspaces and what interrupted saves left: tests/test_workspaces.py.
