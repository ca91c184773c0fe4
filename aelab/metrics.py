"""Evaluation metrics: pure functions of a model and a batch of images."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .models import VAE, Autoencoder
from .models.vae import kl_to_standard_normal
from .train import as_tensor


@torch.no_grad()
def evaluate(
    model: Autoencoder,
    images: np.ndarray | torch.Tensor,
    *,
    samples: int = 16,
    seed: int = 0,
    batch_size: int = 500,
) -> dict[str, float]:
    """Per-image reconstruction metrics on clean images, averaged over the set.

    - ``recon_bce``: -sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)], nats per image
      (the Bernoulli negative log-likelihood, whatever loss the model trained with).
    - ``recon_mse``: mean over pixels of (x_i - x_hat_i)^2.
    - VAE only: ``kl`` = KL(q(z|x) || N(0, I)) in nats, and ``neg_elbo`` = recon_bce + kl,
      where recon_bce is averaged over ``samples`` draws z ~ q(z|x) from a generator
      seeded with ``seed``, so the figures are repeatable. For the VAE recon_mse uses the
      same draws.
    - ``n``: the number of images.
    """
    model.eval()
    device = next(model.parameters()).device
    x_all = as_tensor(images, torch.device("cpu"))  # batches move to the model's device below
    generator = torch.Generator(device=device).manual_seed(seed)
    sums = {"recon_bce": 0.0, "recon_mse": 0.0, "kl": 0.0}
    for start in range(0, len(x_all), batch_size):
        x = x_all[start : start + batch_size].to(device)
        bce, mse, kl = _batch_terms(model, x, samples, generator)
        sums["recon_bce"] += float(bce.sum())
        sums["recon_mse"] += float(mse.sum())
        sums["kl"] += float(kl.sum())
    n = len(x_all)
    result = {"recon_bce": sums["recon_bce"] / n, "recon_mse": sums["recon_mse"] / n}
    if isinstance(model, VAE):
        result["kl"] = sums["kl"] / n
        result["neg_elbo"] = result["recon_bce"] + result["kl"]
    return result | {"n": n}


def _batch_terms(model, x, samples, generator):
    """Per-image (bce, mse, kl) for one batch; the KL is 0 for non-variational models."""
    if isinstance(model, VAE):
        mu, logvar = model.encode_dist(x)
        kl = kl_to_standard_normal(mu, logvar)
        zs = [model.reparameterize(mu, logvar, generator) for _ in range(samples)]
    else:
        kl = torch.zeros(len(x), device=x.device)
        zs = [model.encode(x)]
    bce = torch.zeros(len(x), device=x.device)
    mse = torch.zeros(len(x), device=x.device)
    for z in zs:
        logits = model.decode_logits(z)
        bce += F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        mse += (torch.sigmoid(logits) - x).pow(2).flatten(1).mean(1)
    return bce / len(zs), mse / len(zs), kl
