"""Measures of completeness and likelihood a sceptic accepts (the compare page's prior figures, the CLI's eval).

- :func:`aggregate_divergences`: how far the prior p(z) is from the aggregate posterior
  q(z) = 1/N sum_i q(z | x_i), in both directions, by Monte Carlo. A VAE whose codes fill
  the prior scores near 0; one whose codes crowd into a few small regions (beta = 0: tiny
  sigmas, means spread far) scores high on KL(p || q), the direction that punishes holes
  (prior mass where no code lives), and the hole fraction cannot do that.
- :func:`share_inside` and :func:`prior_mass_inside`: the plain-language companion, the share
  of codes within a radius against the prior's own share.
- :func:`active_dimensions` and :func:`sensitivity`: continuity measured only along the latent
  dimensions the model uses (a VAE leaves some at its prior; moving along them changes
  nothing, which would make the decoder look smoother than it is), at data codes or at
  codes sampled the way a user samples.
- :func:`iwae_bound`: a held-out log-likelihood estimate by importance sampling with K
  samples per image (Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders",
  2016), tighter than the ELBO (K = 1) as K grows.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import logsumexp
from scipy.stats import chi2

from ..explore import decode
from ..models import Autoencoder
from ..train import as_tensor

_LOG_2PI = math.log(2 * math.pi)


def _log_normal(z: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """log N(z; mean, diag(sigma^2)) for every z (M, D) against every component (N, D): (M, N)."""
    diff = (z[:, None, :] - mean[None]) / sigma[None]
    return -0.5 * (diff**2).sum(-1) - np.log(sigma).sum(-1)[None] - 0.5 * z.shape[1] * _LOG_2PI


def _log_mixture(z: np.ndarray, mean: np.ndarray, sigma: np.ndarray, chunk: int = 256) -> np.ndarray:
    """log q(z) of the equal-weight mixture of N(mean_i, sigma_i^2) at each z: (M,)."""
    out = np.empty(len(z))
    for start in range(0, len(z), chunk):
        out[start : start + chunk] = logsumexp(_log_normal(z[start : start + chunk], mean, sigma), axis=1)
    return out - math.log(len(mean))


def aggregate_divergences(mean: np.ndarray, sigma: np.ndarray, samples: int = 4000, seed: int = 0) -> dict[str, float]:
    """KL(q || p) and KL(p || q) in nats between the aggregate posterior q and the prior p = N(0, I).

    ``mean`` and ``sigma`` (N, D) are each image's posterior; q is their equal-weight mixture.
    KL(q || p) = E_q[log q - log p] is large when codes sit where the prior has little mass;
    KL(p || q) = E_p[log p - log q] is large when the prior has mass where no code lives
    (the holes a sample from the prior falls into). Monte Carlo with ``samples`` draws each;
    the estimate's standard error is returned too (``*_se``).
    """
    mean, sigma = np.asarray(mean, np.float64), np.asarray(sigma, np.float64)
    rng = np.random.default_rng(seed)
    n, d = mean.shape
    zeros, ones = np.zeros((1, d)), np.ones((1, d))
    pick = rng.integers(0, n, size=samples)
    from_q = mean[pick] + sigma[pick] * rng.standard_normal((samples, d))
    from_p = rng.standard_normal((samples, d))
    q_terms = _log_mixture(from_q, mean, sigma) - _log_normal(from_q, zeros, ones)[:, 0]
    p_terms = _log_normal(from_p, zeros, ones)[:, 0] - _log_mixture(from_p, mean, sigma)
    return {"kl_q_p": float(q_terms.mean()), "kl_q_p_se": float(q_terms.std() / math.sqrt(samples)),
            "kl_p_q": float(p_terms.mean()), "kl_p_q_se": float(p_terms.std() / math.sqrt(samples))}


def share_inside(codes: np.ndarray, radius: float = 2.0) -> float:
    """The share of codes (N, D) within ``radius`` of the origin."""
    return float((np.linalg.norm(np.asarray(codes, np.float64), axis=1) <= radius).mean())


def two_sigma_radius(dim: int) -> float:
    """The radius holding as much of N(0, I) in ``dim`` dimensions as +-2 sigma holds in one (95.45%)."""
    return float(np.sqrt(chi2.ppf(chi2.cdf(4.0, 1), dim)))


def prior_mass_inside(radius: float, dim: int) -> float:
    """The share of N(0, I) in ``dim`` dimensions within ``radius`` of the origin (chi-squared CDF)."""
    return float(chi2.cdf(radius**2, dim))


def active_dimensions(mean: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """The dimensions whose posterior mean varies across the data: Var_x(E[z_d | x]) > ``threshold``
    (the "active units" of Burda, Grosse & Salakhutdinov, 2016). (D,) bool."""
    return np.var(np.asarray(mean, np.float64), axis=0) > threshold


def sensitivity(model: Autoencoder, codes: np.ndarray, dims: np.ndarray | None = None, epsilon: float = 0.01,
                seed: int = 0, scale: float | None = None) -> np.ndarray:
    """Pixel change per unit of the codes' spread, for a move of ``epsilon`` of it in a random direction
    within ``dims`` (all dimensions when None), at each code: (N,).

    ||decode(z + d u) - decode(z)|| / (d / s), u a random unit vector in the chosen dimensions, s the
    root mean variance of the codes over those dimensions (or ``scale`` when given: measuring at
    sampled codes, pass the data codes' spread), d = epsilon * s.
    """
    codes = np.asarray(codes, np.float32)
    dims = np.ones(codes.shape[1], bool) if dims is None else np.asarray(dims, bool)
    if not dims.any():
        return np.zeros(len(codes))
    spread = float(np.sqrt(np.mean(np.var(codes[:, dims], axis=0)))) if scale is None else float(scale)
    direction = np.zeros_like(codes)
    direction[:, dims] = np.random.default_rng(seed).normal(size=(len(codes), int(dims.sum())))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    moved = decode(model, codes + epsilon * spread * direction).reshape(len(codes), -1)
    here = decode(model, codes).reshape(len(codes), -1)
    return np.linalg.norm(moved - here, axis=1) / epsilon


@torch.no_grad()
def iwae_bound(model: Autoencoder, images: np.ndarray, k: int = 256, seed: int = 0, batch: int = 50) -> np.ndarray:
    """Per image, log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x), z_k ~ q(z | x): a lower bound on
    log p(x) in nats, equal to the ELBO in expectation at K = 1 and tighter as K grows. (N,).

    The decoder is read as Bernoulli over pixels (the binary cross-entropy the models report),
    the prior and posterior as the model's Gaussians.
    """
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    x_all = as_tensor(images, torch.device("cpu"))
    out = []
    for start in range(0, len(x_all), batch):
        x = x_all[start : start + batch].to(device)
        mean, sigma = model.posterior(x)  # (B, D) each
        eps = torch.randn((k, *mean.shape), generator=generator, device=device)
        z = mean + sigma * eps  # (K, B, D)
        logits = model.decode_logits(z.reshape(-1, mean.shape[1])).view(k, len(x), -1)
        log_px_z = -F.binary_cross_entropy_with_logits(logits, x.flatten(1).expand(k, -1, -1), reduction="none").sum(-1)
        log_pz = (-0.5 * z.pow(2) - 0.5 * _LOG_2PI).sum(-1)
        log_qz = (-0.5 * eps.pow(2) - sigma.log() - 0.5 * _LOG_2PI).sum(-1)
        out.append((torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) - math.log(k)).cpu())
    return torch.cat(out).numpy().astype(np.float64)
