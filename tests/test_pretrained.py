"""The shipped models: present, loadable, and as good as their manifest says."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import pytest

from aelab import checkpoint, data, pretrained
from aelab.metrics import evaluate
from aelab.models import KINDS
from aelab.train import TrainConfig

ENTRIES = pretrained.read_index()


def test_manifest_lists_a_2d_model_of_every_kind_on_real_digits():
    two_d = {e["kind"] for e in ENTRIES if e["latent_dim"] == 2 and e["data"] == "mnist5k"}
    assert two_d >= set(KINDS)
    for entry in ENTRIES:
        assert {"name", "path", "kind", "latent_dim", "data", "metrics"} <= set(entry)


@pytest.fixture(scope="module")
def held_out():
    return data.load_splits("mnist5k").val


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_shipped_model_loads_and_matches_its_manifest(entry, held_out):
    loaded = checkpoint.load(entry["path"])
    assert loaded.model.kind == entry["kind"]
    assert loaded.model.latent_dim == entry["latent_dim"]
    metrics = evaluate(loaded.model, held_out.images)
    assert metrics.keys() == entry["metrics"].keys()
    for name, value in entry["metrics"].items():
        assert metrics[name] == pytest.approx(value, rel=1e-3), name
    # every shipped model reconstructs held-out digits far better than a blank guess
    assert metrics["recon_mse_per_pixel"] < 0.06


def test_shipped_vae_is_a_good_density_model():
    """The 2-D VAE's held-out negative ELBO, in nats; a plain MLP VAE lands near 157."""
    vae = next(e for e in ENTRIES if e["kind"] == "vae" and e["latent_dim"] == 2)
    assert vae["metrics"]["neg_elbo"] < 155


def test_manifest_paths_are_relative_and_inside_pretrained():
    raw = json.loads((pretrained.default_dir() / pretrained.INDEX_NAME).read_text())["models"]
    for entry in raw:
        assert not entry["path"].startswith("/") and ".." not in entry["path"]
        assert (pretrained.default_dir() / entry["path"] / checkpoint.WEIGHTS_NAME).is_file()


def test_recipes_and_manifest_agree():
    """Every recipe is shipped, and trained with exactly the settings the recipe names."""
    assert {r.name for r in pretrained.RECIPES} == {e["name"] for e in ENTRIES}
    shipped = {e["name"]: e for e in ENTRIES}
    for recipe in pretrained.RECIPES:
        # a setting added to TrainConfig after a model was trained is recorded at its default (what it trained with)
        assert asdict(TrainConfig(**shipped[recipe.name]["training"])) == asdict(recipe.training), recipe.name
        assert shipped[recipe.name]["kind"] == recipe.kind


def test_the_readme_counts_the_shipped_models():
    """Bug 12: the README said four trained models ship when ten did (plus the judge)."""
    readme = (pretrained.default_dir().parent / "README.md").read_text()
    words = {"four": 4, "six": 6, "eight": 8, "ten": 10, "twelve": 12}
    said = re.search(r"(\w+) trained models ship", readme)
    assert said and (int(said.group(1)) if said.group(1).isdigit() else words.get(said.group(1))) == len(ENTRIES)
    assert "digit classifier" in readme[said.start():said.start() + 300]  # and the judge beside them
