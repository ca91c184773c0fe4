"""Tests for aelab.models: the shared interface, the registry, and each kind's own term."""

import json
import math

import pytest
import torch

from aelab import losses, models
from aelab.errors import ConfigError
from aelab.models import KINDS, REGISTRY, VAE
from aelab.models.dae import CORRUPTIONS, corrupt
from aelab.models.sae import PENALTIES, kl_rho_penalty, l1_penalty
from aelab.models.vae import kl_to_standard_normal

SETTINGS_28 = {"image_shape": (28, 28), "hidden": (32,)}
# Kinds whose code is a point, not a sample (the VAE has its own tests below).
POINT_KINDS = [kind for kind in KINDS if not issubclass(REGISTRY[kind], VAE)]


def test_registry_lists_every_kind_once():
    assert KINDS == tuple(REGISTRY)
    assert set(KINDS) >= {"ae", "dae", "sae", "vae"}
    for kind, cls in REGISTRY.items():
        assert cls.kind == kind
        assert cls.description  # shown in the app and the CLI
        assert type(models.build(kind, **SETTINGS_28)) is cls


@pytest.mark.parametrize("latent_dim", [2, 300])  # under- and overcomplete for 784 pixels
@pytest.mark.parametrize("kind", KINDS)
def test_shapes_on_28x28(kind, latent_dim, mnist_batch):
    model = models.build(kind, latent_dim=latent_dim, **SETTINGS_28)
    with torch.no_grad():
        z = model.encode(mnist_batch)
        x_hat = model.decode(z)
        assert z.shape == (16, latent_dim)
        assert model.decode_logits(z).shape == (16, 28, 28)
        assert x_hat.shape == (16, 28, 28)
        assert model(mnist_batch).shape == (16, 28, 28)
    assert x_hat.min() >= 0 and x_hat.max() <= 1


@pytest.mark.parametrize("kind", KINDS)
def test_decode_stays_in_unit_interval_for_extreme_codes(kind, tiny_model):
    model = tiny_model(kind)
    with torch.no_grad():
        x_hat = model.decode(1e4 * torch.randn(64, model.latent_dim))
    assert torch.isfinite(x_hat).all()
    assert x_hat.min() >= 0 and x_hat.max() <= 1


@pytest.mark.parametrize("latent_dim", [2, 300])
@pytest.mark.parametrize("kind", KINDS)
def test_loss_and_gradients_are_finite(kind, latent_dim, mnist_batch):
    model = models.build(kind, latent_dim=latent_dim, **SETTINGS_28)
    terms = model.loss(mnist_batch)
    assert {"loss", "recon"} <= set(terms)
    for name, value in terms.items():
        assert value.shape == (), name  # batch means, not per-image values
        assert torch.isfinite(value), name
    assert terms["recon"] > 0
    terms["loss"].backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f"{name} gets no gradient"
        assert torch.isfinite(param.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("kind", KINDS)
def test_config_round_trips_through_json(kind, tiny_model, digits_batch):
    model = tiny_model(kind, custom=True)
    cfg = model.config()
    rebuilt = models.build(kind, **json.loads(json.dumps(cfg)))
    assert rebuilt.config() == cfg
    assert type(rebuilt) is type(model)
    with torch.no_grad():
        assert not torch.equal(rebuilt(digits_batch), model(digits_batch))  # fresh weights
        rebuilt.load_state_dict(model.state_dict())
        torch.testing.assert_close(rebuilt(digits_batch), model(digits_batch), rtol=0, atol=0)
        torch.testing.assert_close(rebuilt.encode(digits_batch), model.encode(digits_batch), rtol=0, atol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_config_holds_every_constructor_argument(kind, tiny_model):
    model = tiny_model(kind, custom=True)
    cfg = model.config()
    assert cfg["image_shape"] == [8, 8] and cfg["hidden"] == [32] and cfg["latent_dim"] == 8
    for name, value in cfg.items():
        assert value == json.loads(json.dumps(value)), name  # JSON-ready as it is
    assert type(model)(**cfg).config() == cfg


@pytest.mark.parametrize("recon_loss", list(losses.RECON_LOSSES))
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_takes_every_recon_loss(kind, recon_loss, tiny_model, digits_batch):
    model = tiny_model(kind, recon_loss=recon_loss)
    terms = model.loss(digits_batch)
    assert torch.isfinite(terms["loss"]) and torch.isfinite(terms["recon"])
    assert terms["recon"] >= -1e-6
    logits = model.decode_logits(model.encode(digits_batch))
    assert model.recon_per_image(logits, digits_batch).shape == (len(digits_batch),)


@pytest.mark.parametrize("kind", POINT_KINDS)
def test_recon_is_the_batch_mean_of_the_per_image_loss(kind, tiny_model, digits_batch):
    model = tiny_model(kind, **({"noise_level": 0.0} if kind == "dae" else {}))
    with torch.no_grad():
        terms = model.loss(digits_batch)
        logits = model.decode_logits(model.encode(digits_batch))
        expected = losses.bce(logits, digits_batch).mean()
    torch.testing.assert_close(terms["recon"], expected)


# --- SAE ---------------------------------------------------------------------------


@pytest.mark.parametrize("penalty", PENALTIES)
def test_sae_penalty_changes_the_loss(penalty, tiny_model, digits_batch):
    quiet = tiny_model("sae", penalty=penalty, sparsity_weight=0.0)
    weighted = tiny_model("sae", penalty=penalty, sparsity_weight=0.7)
    weighted.load_state_dict(quiet.state_dict())
    with torch.no_grad():
        off, on = quiet.loss(digits_batch), weighted.loss(digits_batch)
    torch.testing.assert_close(off["loss"], off["recon"])
    torch.testing.assert_close(on["recon"], off["recon"])
    assert on["sparsity"] > 1e-3
    assert on["loss"] > off["loss"] + 1e-4
    torch.testing.assert_close(on["loss"] - on["recon"], 0.7 * on["sparsity"])


def test_sae_l1_penalty_is_the_mean_l1_norm_of_the_code(tiny_model, digits_batch):
    model = tiny_model("sae", penalty="l1")
    with torch.no_grad():
        z = model.encode(digits_batch)
        expected = z.abs().sum(1).mean()
        torch.testing.assert_close(model.loss(digits_batch)["sparsity"], expected)
    torch.testing.assert_close(l1_penalty(torch.tensor([[1.0, -2.0], [0.0, 3.0]])), torch.tensor(3.0))


def test_sae_kl_penalty_codes_are_rates(tiny_model, digits_batch):
    with torch.no_grad():
        z = tiny_model("sae", penalty="kl").encode(digits_batch)
    assert z.min() > 0 and z.max() < 1


@pytest.mark.parametrize("rho", [0.05, 0.2, 0.5])
def test_kl_rho_penalty_is_zero_at_rho_and_grows_away_from_it(rho):
    def penalty(rate: float) -> float:
        return float(kl_rho_penalty(torch.full((10, 3), rate), rho))

    assert abs(penalty(rho)) < 1e-6
    above = [penalty(min(rho + d, 0.99)) for d in (0.02, 0.1, 0.3)]
    below = [penalty(rho * f) for f in (0.8, 0.5, 0.1)]
    for side in (above, below):
        assert side[0] > 0
        assert side == sorted(side) and len(set(side)) == 3  # strictly increasing
    # the formula from the docstring, per unit, summed over 3 units
    rate = 0.3
    expected = 3 * (rho * math.log(rho / rate) + (1 - rho) * math.log((1 - rho) / (1 - rate)))
    assert penalty(rate) == pytest.approx(expected, rel=1e-5)


def test_kl_rho_penalty_uses_the_mean_over_the_batch():
    """Units whose *mean* rate is rho cost nothing, however their rates spread."""
    z = torch.tensor([[0.0, 0.1], [0.2, 0.1]])
    assert float(kl_rho_penalty(z, 0.1)) == pytest.approx(0.0, abs=1e-6)


# --- VAE ---------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 4.0])
def test_vae_loss_is_recon_plus_beta_kl(beta, tiny_model, digits_batch):
    model = tiny_model("vae", beta=beta)
    with torch.no_grad():
        terms = model.loss(digits_batch)
    assert terms["kl"] > 0
    torch.testing.assert_close(terms["loss"], terms["recon"] + beta * terms["kl"])


def _zero_encoder_head(model: VAE) -> None:
    """Make the encoder output mu = 0, logvar = 0 for every input."""
    head = model.encoder[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()


def test_vae_kl_is_zero_for_the_prior(tiny_model, digits_batch):
    model = tiny_model("vae")
    _zero_encoder_head(model)
    with torch.no_grad():
        mu, logvar = model.encode_dist(digits_batch)
        assert mu.abs().max() == 0 and logvar.abs().max() == 0
        assert float(model.loss(digits_batch)["kl"]) == pytest.approx(0.0, abs=1e-6)


def test_vae_kl_closed_form_matches_a_monte_carlo_estimate():
    gen = torch.Generator().manual_seed(5)
    mu = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    logvar = 0.8 * torch.randn(4, 3, generator=gen, dtype=torch.float64)
    closed = kl_to_standard_normal(mu, logvar)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(closed, torch.distributions.kl_divergence(q, p).sum(1))
    torch.manual_seed(6)
    z = q.sample((100_000,))  # (S, 4, 3)
    estimate = (q.log_prob(z) - p.log_prob(z)).sum(2).mean(0)
    torch.testing.assert_close(estimate, closed, rtol=0.02, atol=0.02)


def test_vae_encode_is_the_posterior_mean(tiny_model, digits_batch):
    model = tiny_model("vae", latent_dim=8)
    with torch.no_grad():
        mu, logvar = model.encode_dist(digits_batch)
        assert mu.shape == logvar.shape == (len(digits_batch), 8)
        torch.testing.assert_close(model.encode(digits_batch), mu, rtol=0, atol=0)
        torch.testing.assert_close(model(digits_batch), model.decode(mu), rtol=0, atol=0)
        assert not torch.equal(mu, logvar)


def test_vae_reparameterize_draws_from_the_posterior():
    mu = torch.tensor([[2.0, -1.0]]).expand(50_000, 2)
    logvar = torch.tensor([[0.0, math.log(0.25)]]).expand(50_000, 2)
    z = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(7))
    torch.testing.assert_close(z.mean(0), torch.tensor([2.0, -1.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 0.5]), atol=0.02, rtol=0)
    again = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(7))
    assert torch.equal(z, again)


# --- DAE ---------------------------------------------------------------------------


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_corruption_changes_the_input_and_stays_in_range(corruption, digits_batch):
    gen = torch.Generator().manual_seed(8)
    noisy = corrupt(digits_batch, corruption, 0.3, gen)
    assert noisy.shape == digits_batch.shape
    assert (noisy != digits_batch).float().mean() > 0.05
    assert noisy.min() >= 0 and noisy.max() <= 1
    heavy = corrupt(digits_batch, corruption, 1.0 if corruption == "gaussian" else 0.95, gen)
    assert heavy.min() >= 0 and heavy.max() <= 1


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_zero_noise_is_the_identity(corruption, digits_batch, tiny_model):
    assert torch.equal(corrupt(digits_batch, corruption, 0.0), digits_batch)
    model = tiny_model("dae", corruption=corruption, noise_level=0.0)
    assert torch.equal(model.corrupt(digits_batch), digits_batch)


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_corruption_is_repeatable_with_a_generator(corruption, digits_batch):
    first = corrupt(digits_batch, corruption, 0.3, torch.Generator().manual_seed(9))
    second = corrupt(digits_batch, corruption, 0.3, torch.Generator().manual_seed(9))
    other = corrupt(digits_batch, corruption, 0.3, torch.Generator().manual_seed(10))
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("level", [0.1, 0.5])
def test_mask_hits_about_noise_level_of_pixels(level):
    ones = torch.ones(4, 100, 100)
    masked = corrupt(ones, "mask", level, torch.Generator().manual_seed(11))
    assert set(masked.unique().tolist()) <= {0.0, 1.0}
    assert float((masked == 0).float().mean()) == pytest.approx(level, abs=0.01)


def test_salt_pepper_sets_about_noise_level_of_pixels_to_0_or_1():
    grey = torch.full((4, 100, 100), 0.5)
    noisy = corrupt(grey, "salt_pepper", 0.2, torch.Generator().manual_seed(12))
    hit = noisy != 0.5
    assert float(hit.float().mean()) == pytest.approx(0.2, abs=0.01)
    assert set(noisy[hit].unique().tolist()) == {0.0, 1.0}
    assert float((noisy[hit] == 1).float().mean()) == pytest.approx(0.5, abs=0.03)


def test_gaussian_noise_has_the_given_std():
    grey = torch.full((4, 100, 100), 0.5)
    noisy = corrupt(grey, "gaussian", 0.1, torch.Generator().manual_seed(13))
    assert float((noisy - grey).std()) == pytest.approx(0.1, rel=0.03)
    assert abs(float((noisy - grey).mean())) < 0.005


def test_dae_trains_on_corrupted_input_but_scores_against_the_clean_one(tiny_model, digits_batch):
    noisy_model = tiny_model("dae", corruption="mask", noise_level=0.5)
    clean_model = tiny_model("dae", corruption="mask", noise_level=0.0)
    clean_model.load_state_dict(noisy_model.state_dict())
    with torch.no_grad():
        clean = clean_model.loss(digits_batch)["recon"]
        torch.manual_seed(14)
        noisy = noisy_model.loss(digits_batch)["recon"]
        torch.manual_seed(14)
        corrupted = noisy_model.corrupt(digits_batch)
        expected = losses.bce(noisy_model.decode_logits(noisy_model.encode(corrupted)), digits_batch).mean()
    assert not torch.allclose(noisy, clean)
    torch.testing.assert_close(noisy, expected)


# --- bad settings ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "settings, words",
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"latent_dim": -3}, "latent_dim"),
        ({"latent_dim": 100_000}, "latent_dim"),
        ({"hidden": (32, 0)}, "hidden"),
        ({"image_shape": (28,)}, "image_shape"),
        ({"recon_loss": "l2"}, "unknown reconstruction loss"),
        ({"no_such_setting": 1}, "bad settings"),
    ],
)
def test_bad_shared_settings_raise_config_error(kind, settings, words):
    with pytest.raises(ConfigError, match=words):
        models.build(kind, **(SETTINGS_28 | settings))


@pytest.mark.parametrize(
    "kind, settings, words",
    [
        ("vae", {"beta": -0.1}, "beta"),
        ("vae", {"beta": float("nan")}, "beta"),
        ("sae", {"target_rho": 0.0}, "target_rho"),
        ("sae", {"target_rho": 1.0}, "target_rho"),
        ("sae", {"target_rho": 1.5}, "target_rho"),
        ("sae", {"sparsity_weight": -1.0}, "sparsity_weight"),
        ("sae", {"penalty": "l2"}, "penalty"),
        ("dae", {"corruption": "blur"}, "corruption"),
        ("dae", {"noise_level": -0.1}, "noise_level"),
        ("dae", {"corruption": "mask", "noise_level": 1.0}, "noise_level"),
        ("dae", {"corruption": "gaussian", "noise_level": 1.5}, "noise_level"),
        ("ae", {"beta": 1.0}, "bad settings"),  # a setting of another kind
    ],
)
def test_bad_kind_settings_raise_config_error(kind, settings, words):
    with pytest.raises(ConfigError, match=words):
        models.build(kind, **(SETTINGS_28 | settings))


@pytest.mark.parametrize("kind", ["", "AE", "gan", "vae2"])
def test_unknown_kind_raises_config_error(kind):
    with pytest.raises(ConfigError, match="unknown model kind") as info:
        models.build(kind)
    assert all(k in str(info.value) for k in KINDS)


@pytest.mark.parametrize("settings", [{"latent_dim": "two"}, {"latent_dim": float("nan")},
                                      {"image_shape": ["a", "b"]}])
def test_unconvertible_settings_raise_config_error(settings):
    with pytest.raises(ConfigError):
        models.build("ae", **(SETTINGS_28 | settings))


@pytest.mark.parametrize("hidden", [(64,) * 9, (10_000,), (0,)])
def test_hidden_layers_are_bounded(hidden):
    """A config cannot make aelab build an absurd network (an uploaded model's, say)."""
    with pytest.raises(ConfigError, match="hidden widths"):
        models.build("ae", image_shape=(8, 8), latent_dim=2, hidden=hidden)


def test_no_hidden_layer_is_a_linear_autoencoder():
    model = models.build("ae", image_shape=(8, 8), latent_dim=2, hidden=())
    assert [type(m).__name__ for m in model.encoder] == ["Linear"]
