"""Quality of the shipped lab models, on held-out digits no model was trained on.

Each claim the labs make about them rests on a test here: a DAE beats the plain AE of its
size at its own noise (the lower end of a bootstrap interval over the digits, not just the
mean), and a heavier sparsity penalty leaves fewer units on and costs reconstruction.
"""

from __future__ import annotations

import numpy as np
import pytest

from aelab import checkpoint, data, metrics, pretrained
from aelab.labs import denoising, sparsity

SHIPPED = {e["name"]: e for e in pretrained.read_index()}
DAES = [r for r in pretrained.DENOISING_RECIPES if r.kind == "dae"]


def _model(name: str):
    return checkpoint.load(SHIPPED[name]["path"]).model


@pytest.fixture(scope="module")
def held_out() -> np.ndarray:
    return data.load_splits("mnist5k").val.images


def test_every_lab_recipe_is_shipped():
    names = {r.name for r in pretrained.DENOISING_RECIPES + pretrained.SPARSITY_RECIPES}
    assert names <= set(SHIPPED)


@pytest.mark.parametrize("recipe", DAES, ids=lambda r: r.name)
def test_each_dae_beats_the_plain_ae_at_its_own_noise(recipe, held_out):
    dae = _model(recipe.name)
    ae = _model(f"ae-{dae.latent_dim}d")
    assert (ae.hidden, ae.arch) == (dae.hidden, dae.arch)
    result = denoising.compare({"ae": ae, "dae": dae}, held_out, dae.corruption, dae.noise_level, seed=1)
    gain = result.psnr["dae"] - result.psnr["ae"]
    assert metrics.bootstrap_interval(gain)[0] > 1.0, f"mean gain {gain.mean():.2f} dB"
    assert result.psnr["dae"].mean() > result.psnr[denoising.NOISY].mean() + 3


def test_noise_moves_dae_codes_less_than_ae_codes(held_out):
    for dim in (16, 64):
        ae, dae = _model(f"ae-{dim}d"), _model(f"dae-{dim}d-gauss0.5")
        noisy = denoising.corrupt_images(held_out, "gaussian", 0.5, seed=1)
        assert denoising.relative_shift(dae, held_out, noisy) < 0.7 * denoising.relative_shift(ae, held_out, noisy)


def _activity(name: str, images: np.ndarray) -> tuple[sparsity.Activity, float]:
    model = _model(name)
    return sparsity.model_activity(model, images), float(metrics.per_image_bce(model, images).mean())


def test_heavier_l1_leaves_fewer_units_on_and_costs_reconstruction(held_out):
    weights = pretrained.L1_WEIGHTS
    runs = [_activity(f"sae-{pretrained.SPARSE_UNITS}u-l1-w{w:g}", held_out) for w in weights]
    on = [stats.active.sum(1).mean() for stats, _ in runs]
    bce = [cost for _, cost in runs]
    assert on[-1] < 0.5 * on[0] and bce[-1] > bce[0] + 5
    assert runs[-1][0].dead.sum() > runs[0][0].dead.sum()  # the sparsest has more dead units
    assert all(a >= b for a, b in zip(on[1:], on[2:], strict=False)), on  # fewer units at every step past 0


def test_heavier_kl_pulls_rates_toward_rho(held_out):
    units = pretrained.SPARSE_UNITS
    for rho in pretrained.KL_RHOS:
        gaps = [abs(_activity(f"sae-{units}u-kl-w{w:g}-rho{rho:g}", held_out)[0].rho_hat.mean() - rho)
                for w in pretrained.KL_WEIGHTS[1:]]
        assert gaps[-1] < gaps[0], (rho, gaps)
    free = _activity(f"sae-{units}u-kl-w0", held_out)[0].rho_hat.mean()
    tight = _activity(f"sae-{units}u-kl-w3-rho0.02", held_out)[0].rho_hat.mean()
    assert tight < 0.5 * free


def test_the_losses_pages_claims_hold_for_the_shipped_models(held_out):
    """Cross-entropy and KL train the same model; squared error and BCE keep a digit's brightness, the
    normalised losses do not (what the losses page states, computed there from these models)."""
    from aelab.labs import losses as lab

    cce, kl = _model("ae-16d-cce"), _model("ae-16d-kl")
    assert lab.same_model(cce, kl, held_out)["max_weight_difference"] == 0.0
    for name in ("ae-16d-mse", "ae-16d"):
        low, high = metrics.bootstrap_interval(lab.ink_ratio(_model(name), held_out))
        assert 0.95 < low and high < 1.05, name
    assert metrics.bootstrap_interval(lab.ink_ratio(cce, held_out))[0] > 1.05


def _recipe_of(name: str) -> tuple[dict, dict, dict]:
    """A shipped model's settings, training settings and data, from its config.json."""
    info = checkpoint.read_config(SHIPPED[name]["path"])
    return info["model"], info["training"], info["data"]


@pytest.mark.parametrize("name", [r.name for r in DAES] + [r.name for r in pretrained.LOSS_RECIPES])
def test_lab_models_differ_from_their_plain_ae_only_where_the_pages_say(name):
    """The denoising page: "a DAE of the same size, trained on the same digits from the same seed"; the losses
    page: five AEs that "share everything except that score"."""
    model, training, data_spec = _recipe_of(name)
    ae_model, ae_training, ae_data = _recipe_of(f"ae-{model['latent_dim']}d")
    assert (training, data_spec) == (ae_training, ae_data)
    differs = {k for k in model if model[k] != ae_model.get(k)}
    assert differs <= ({"corruption", "noise_level"} if name.startswith("dae") else {"recon_loss"})
