"""The identity trap's shipped models, and every direction its page states about them.

The page computes its sentences from these models; the tests here pin which way each one
goes, so a retrained model that tells another story fails here first. Measured on 500 images
per probe set; "beyond noise" means the 95% paired bootstrap interval of the difference
excludes 0, and a tie means it holds 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from aelab import checkpoint, data, pretrained
from aelab.cli import main
from aelab.labs import identity
from aelab.models.base import MAX_LATENT_DIM

SHIPPED = {e["name"]: e for e in pretrained.read_index()}
UNITS = pretrained.IDENTITY_UNITS
LARGEST = max(UNITS)
NOT_DIGITS = ("rotated", "letters", "ink_noise", "noise")


def _load(name: str):
    return checkpoint.load(SHIPPED[name]["path"])


def _ae(units: int) -> str:
    return f"ae-linear-{units}u"


@pytest.fixture(scope="module")
def splits():
    return data.load_splits("mnist5k")


@pytest.fixture(scope="module")
def errors(splits) -> dict[str, dict[str, np.ndarray]]:
    """Per-image errors of every identity model on every probe set (and the images), by set and model name."""
    models = {r.name: _load(r.name).model for r in pretrained.IDENTITY_RECIPES}
    found = {}
    for probe in identity.PROBES:
        images = identity.probe_images(probe, splits.train.images, splits.val.images)
        found[probe] = identity.errors(models, images) | {"images": images}
    return found


def _verdict(errors, probe: str, a: str, b: str) -> int:
    return identity.compare(errors[probe][a], errors[probe][b]).verdict


def _r2(errors, probe: str, name: str) -> float:
    return identity.copied_share(errors[probe]["images"], errors[probe][name])


def test_every_identity_recipe_is_shipped_one_layer_and_within_the_weight_budget():
    total = 0
    for recipe in pretrained.IDENTITY_RECIPES:
        loaded = _load(recipe.name)
        assert loaded.model.hidden == () and loaded.model.arch == "mlp", recipe.name
        assert getattr(loaded.model, "activation", "linear") == "linear"  # the SAE's code is linear like the AE's
        total += sum(f.stat().st_size for f in loaded.path.iterdir())
    assert UNITS[0] < 784 <= UNITS[-1] <= MAX_LATENT_DIM  # from undercomplete to overcomplete
    assert total < 30e6


def test_the_models_differ_only_where_the_page_says():
    """The page: "all trained on the same digits from the same seed"; the DAE and SAE differ from the largest AE
    only in their regularizer."""
    base = checkpoint.read_config(SHIPPED[_ae(LARGEST)]["path"])
    for recipe in pretrained.IDENTITY_RECIPES:
        info = checkpoint.read_config(SHIPPED[recipe.name]["path"])
        assert (info["training"], info["data"]) == (base["training"], base["data"]), recipe.name
        differs = {k for k in info["model"] if info["model"][k] != base["model"].get(k)}
        allowed = {"ae": {"latent_dim"}, "dae": {"corruption", "noise_level"},
                   "sae": {"penalty", "sparsity_weight", "target_rho", "activation"}}[recipe.kind]
        assert differs <= allowed, (recipe.name, differs)


@pytest.mark.parametrize("probe", ["rotated", "letters", "digits"])
def test_a_larger_code_copies_digit_like_images_better(errors, probe):
    """The page: "With 1024 code units instead of 16, the plain AE's error falls N-fold"."""
    assert _verdict(errors, probe, _ae(LARGEST), _ae(UNITS[0])) == -1
    assert errors[probe][_ae(UNITS[0])].mean() > 3 * errors[probe][_ae(LARGEST)].mean()


@pytest.mark.parametrize("probe", ["rotated", "letters"])
def test_going_past_the_784_pixels_adds_nothing_on_non_digits(errors, probe):
    """The page: "Past the 784 pixels: the 1024-unit AE ties with the 256-unit one"."""
    assert _verdict(errors, probe, _ae(LARGEST), _ae(256)) == 0


@pytest.mark.parametrize("probe", ["ink_noise", "noise"])
def test_no_plain_ae_copies_noise_and_the_largest_does_worse_than_the_smallest(errors, probe):
    for units in UNITS:
        assert _r2(errors, probe, _ae(units)) < 0, units  # worse than answering the set's mean image
    assert _verdict(errors, probe, _ae(LARGEST), _ae(UNITS[0])) == 1
    assert _verdict(errors, probe, _ae(LARGEST), _ae(256)) == 1


def test_what_the_largest_ae_copies(errors):
    """The page's words: copies held-out digits, most of rotated digits, letters in part, no noise."""
    r2 = {probe: _r2(errors, probe, _ae(LARGEST)) for probe in identity.PROBES}
    assert r2["digits"] >= 0.95
    assert 0.8 <= r2["rotated"] < 0.95
    assert 0.5 <= r2["letters"] < 0.8
    assert r2["ink_noise"] < 0 and r2["noise"] < 0


def test_what_it_copies_lies_along_the_digits_directions(splits, errors):
    """The page: the sets it copies lie mostly along the 256 leading directions of the training digits, the noise
    sets do not."""
    directions = identity.digit_directions(splits.train.images, 256)
    assert directions.variance_share > 0.97
    span = {p: identity.span_share(errors[p]["images"], directions).mean() for p in identity.PROBES}
    assert min(span["digits"], span["rotated"], span["letters"]) > 0.85
    assert max(span["ink_noise"], span["noise"]) < 0.6


def test_the_sae_copies_less_of_what_the_ae_copies_and_the_dae_does_not(errors):
    sae, dae, ae = f"sae-linear-{LARGEST}u", f"dae-linear-{LARGEST}u", _ae(LARGEST)
    assert [_verdict(errors, p, sae, ae) for p in NOT_DIGITS] == [1, 1, 0, 0]
    assert [_verdict(errors, p, dae, ae) for p in NOT_DIGITS] == [0, -1, -1, -1]
    for name in (sae, dae):
        assert _verdict(errors, "digits", name, ae) == 1  # both pay on digits for what they add


def test_weights_from_pixels_no_training_digit_lights_never_move(splits):
    """The page: in the AE and SAE they are, bit for bit, where training started; the DAE's noise moved them all."""
    mask = identity.ink_mask(splits.train.images)
    assert mask.sum() == 663
    for name in [_ae(u) for u in UNITS] + [f"sae-linear-{LARGEST}u", f"dae-linear-{LARGEST}u"]:
        model = _load(name).model
        unmoved = identity.unmoved_share(model, identity.initial_model(model, 0), mask)
        assert unmoved == (0.0 if name.startswith("dae") else 1.0), name
        assert identity.unmoved_share(model, identity.initial_model(model, 0), ~mask) == 0.0, name  # ink pixels learn
    ink, border = identity.weight_rms(_load(_ae(LARGEST)).model, mask)
    assert border == pytest.approx(identity.initial_weight_rms(784), rel=0.01) and ink > 3 * border


def test_the_cli_takes_latent_sizes_up_to_the_largest(tmp_path, aelab_cache_dir, monkeypatch):
    """The Train page offers 784 and 1024 (tests/test_train_app.py); so does `python -m aelab train`."""
    monkeypatch.setenv("AELAB_CACHE_DIR", str(aelab_cache_dir))
    args = ["train", "--model", "ae", "--data", "digits", "--hidden", "32", "--epochs", "1", "--latent-dim"]
    assert main([*args, str(MAX_LATENT_DIM), "--out", str(tmp_path / "big")]) == 0
    assert checkpoint.load(tmp_path / "big").model.latent_dim == MAX_LATENT_DIM
    assert main([*args, str(MAX_LATENT_DIM + 1), "--out", str(tmp_path / "too-big")]) != 0  # a message, no model
    assert not (tmp_path / "too-big").exists()
