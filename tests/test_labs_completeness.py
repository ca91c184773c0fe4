"""Completeness and likelihood measures on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from aelab import checkpoint, data, metrics, pretrained
from aelab.labs import completeness as cm


def _posteriors(n: int, spread: float, sigma: float, shift: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    mean = shift + spread * rng.standard_normal((n, 2))
    return mean, np.full((n, 2), sigma)


def test_a_prior_matched_aggregate_scores_near_zero_both_ways():
    """Means spread N(0, 1 - s^2) with sigma s: the mixture is N(0, I) up to the sampling of the means."""
    mean, sigma = _posteriors(3000, np.sqrt(1 - 0.3**2), 0.3)
    kl = cm.aggregate_divergences(mean, sigma, samples=3000)
    assert abs(kl["kl_q_p"]) < 0.05 and abs(kl["kl_p_q"]) < 0.05


def test_tiny_sigmas_and_far_means_score_badly_where_the_hole_fraction_would_not():
    """The beta = 0 failure: codes encoded almost as points, spread far: both divergences are large,
    and KL(p || q) (prior mass where no code lives) grows as the codes shrink."""
    matched = cm.aggregate_divergences(*_posteriors(2000, np.sqrt(1 - 0.3**2), 0.3))
    spread_points = cm.aggregate_divergences(*_posteriors(2000, 5.0, 0.001))
    assert spread_points["kl_q_p"] > 2 and spread_points["kl_p_q"] > 2
    assert spread_points["kl_p_q"] > matched["kl_p_q"] + 2
    assert cm.share_inside(_posteriors(2000, 5.0, 0.001)[0]) < 0.15


def test_a_shifted_aggregate_costs_its_known_kl():
    """All codes N(shift, I)-distributed as a whole (sigma alone): KL(N(m, I) || N(0, I)) = |m|^2 / 2."""
    mean, sigma = np.zeros((1, 2)) + 1.5, np.ones((1, 2))
    kl = cm.aggregate_divergences(mean, sigma, samples=20000)
    assert kl["kl_q_p"] == pytest.approx(2 * 1.5**2 / 2, abs=4 * kl["kl_q_p_se"] + 1e-3)
    assert kl["kl_p_q"] == pytest.approx(2 * 1.5**2 / 2, abs=4 * kl["kl_p_q_se"] + 1e-3)


def test_shares_inside_a_radius():
    codes = np.array([[1.0, 0.0], [0.0, 3.0], [0.6, 0.8], [-3.0, 0.0]])
    assert cm.share_inside(codes, 2.0) == 0.5
    assert cm.prior_mass_inside(2.0, 2) == pytest.approx(1 - np.exp(-2))
    assert cm.prior_mass_inside(1.0, 1) == pytest.approx(0.6827, abs=1e-4)
    assert cm.two_sigma_radius(1) == pytest.approx(2.0)
    for dim in (2, 16):
        assert cm.prior_mass_inside(cm.two_sigma_radius(dim), dim) == pytest.approx(0.9545, abs=1e-4)
    prior_draws = np.random.default_rng(0).standard_normal((20000, 16))
    assert cm.share_inside(prior_draws, cm.two_sigma_radius(16)) == pytest.approx(0.9545, abs=0.01)


@pytest.fixture(scope="module")
def vae_and_digits():
    entry = next(e for e in pretrained.read_index() if e["name"] == "vae-2d")
    return checkpoint.load(entry["path"]).model, data.load_splits("mnist5k").val.images[:200]


def test_the_iwae_bound_is_the_elbo_at_one_sample_and_tightens_with_more(vae_and_digits):
    model, images = vae_and_digits
    elbo = -metrics.evaluate(model, images, samples=64)["neg_elbo"]
    one = cm.iwae_bound(model, images, k=1, seed=1).mean()
    assert one == pytest.approx(elbo, abs=1.5)  # one sample per image: the ELBO, up to sampling noise
    many = cm.iwae_bound(model, images, k=256, seed=1)
    assert many.mean() > elbo + 1.0  # the bound tightens: a higher log-likelihood than the ELBO
    assert np.all(np.isfinite(many))


def test_the_shipped_2d_vaes_aggregate_posterior_is_closer_to_its_prior_than_a_point_cloud(vae_and_digits):
    """A known-bad case beside a real model: the same means with sigmas shrunk to nearly points."""
    import torch

    model, images = vae_and_digits
    with torch.no_grad():
        mean, sigma = (t.numpy() for t in model.posterior(torch.as_tensor(images)))
    real = cm.aggregate_divergences(mean, sigma)
    points = cm.aggregate_divergences(mean, sigma * 1e-3)
    assert real["kl_p_q"] < points["kl_p_q"] - 1


def test_a_beta_zero_vae_scores_worst_on_completeness():
    """The article's prediction, as a known answer: without the KL term (beta = 0) a VAE shrinks its
    sigmas and spreads its means, and every completeness measure here says so: the shipped beta = 0 VAE
    against every other shipped 2-D VAE (the hole fraction, which loosens with the codes' spread, scored
    such a model 0.000)."""
    import torch

    held_out = data.load_splits("mnist5k").val.images

    def measures(path):
        model = checkpoint.load(path).model
        with torch.no_grad():
            mean, sigma = (t.numpy() for t in model.posterior(torch.as_tensor(held_out)))
        kl = cm.aggregate_divergences(mean, sigma, samples=2000)
        return kl["kl_q_p"], kl["kl_p_q"], cm.share_inside(mean, cm.two_sigma_radius(2)), float(np.median(sigma))

    vaes = {e["name"]: e["path"] for e in pretrained.read_index() if e["kind"] == "vae" and e["latent_dim"] == 2}
    bad = measures(vaes.pop("vae-2d-beta0"))
    assert len(vaes) >= 5
    for name, path in vaes.items():
        good = measures(path)
        assert bad[0] > good[0] and bad[1] > good[1] and bad[2] < good[2], name
        assert bad[3] < 0.5 * good[3], name  # smaller posterior sigmas than any of them


def test_sensitivity_along_used_dimensions_is_not_diluted_by_ignored_ones():
    """A decoder that reads only the first 2 of 8 dimensions: random moves in all 8 spend most of their
    length where nothing changes, so the all-dimension sensitivity understates the used one's."""
    import torch

    class Reader(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def decode(self, z):
            return z[:, :2].repeat(1, 392).view(-1, 28, 28)

    rng = np.random.default_rng(0)
    codes = rng.standard_normal((400, 8))
    mean_codes = np.column_stack([codes[:, :2], 0.001 * codes[:, 2:]])  # 6 dimensions left at the prior
    used = cm.active_dimensions(mean_codes)
    assert used.tolist() == [True, True] + [False] * 6
    everywhere = cm.sensitivity(Reader(), codes).mean()
    along_used = cm.sensitivity(Reader(), codes, used).mean()
    assert along_used > 1.5 * everywhere
    assert np.allclose(cm.sensitivity(Reader(), codes, np.zeros(8, bool)), 0)
