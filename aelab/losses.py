"""Reconstruction losses, one value per image.

Every function takes the decoder's logits and the target image, both shaped (B, ...)
with pixels of the target in [0, 1], and returns a (B,) tensor. The decoded image is
``x_hat = sigmoid(logits)``. Sums run over the D pixels of one image, so the losses are
on the same per-image scale as a VAE's KL term (nats where the loss is a likelihood).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .errors import ConfigError
from .i18n import N_

_EPS = 1e-7


def mse(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors: sum_i (x_i - x_hat_i)^2.

    Up to a constant this is the negative log-likelihood of a Gaussian decoder with
    variance 1/2 per pixel.
    """
    x_hat = torch.sigmoid(logits)
    return (x_hat - x).pow(2).flatten(1).sum(1)


def bce(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy: -sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)].

    The negative log-likelihood of a Bernoulli decoder, in nats per image (computed from
    logits for numerical stability).
    """
    per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return per_pixel.flatten(1).sum(1)


def as_distribution(img: torch.Tensor) -> torch.Tensor:
    """Normalise each image to sum to 1 over its pixels: p_i = x_i / sum_j x_j."""
    flat = img.flatten(1).clamp_min(0) + _EPS
    return flat / flat.sum(1, keepdim=True)


def cce(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Categorical cross-entropy over pixels: -sum_i p_i log q_i.

    Both images are read as distributions over pixel positions, p = x / sum(x) and
    q = x_hat / sum(x_hat). Only where the ink is matters, not how bright it is.
    """
    p = as_distribution(x)
    q = as_distribution(torch.sigmoid(logits))
    return -(p * q.log()).sum(1)


def kl(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """KL divergence between normalised images: sum_i p_i log(p_i / q_i).

    p and q as in :func:`cce`; this equals cce minus the entropy of p, so it is 0 for a
    perfect reconstruction (up to brightness).
    """
    p = as_distribution(x)
    q = as_distribution(torch.sigmoid(logits))
    return (p * (p.log() - q.log())).sum(1)


def cosine(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Cosine distance: 1 - (x . x_hat) / (||x||_2 ||x_hat||_2), in [0, 2]."""
    x_hat = torch.sigmoid(logits).flatten(1)
    return 1 - F.cosine_similarity(x_hat, x.flatten(1), dim=1, eps=_EPS)


RECON_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": mse,
    "bce": bce,
    "cce": cce,
    "kl": kl,
    "cosine": cosine,
}


# Each loss's name and what it does, in plain words, for menus and help texts.
# Marked with N_(): shown translated, as _(NAMES[name]).
NAMES: dict[str, str] = {"mse": N_("squared error"), "bce": N_("binary cross-entropy"),
                         "cce": N_("categorical cross-entropy"), "kl": N_("KL divergence"),
                         "cosine": N_("cosine distance")}
SUMMARIES: dict[str, str] = {
    "mse": N_("squared error: every pixel's difference, squared and summed"),
    "bce": N_("binary cross-entropy: pixels as probabilities of ink (nats per image)"),
    "cce": N_("categorical cross-entropy: where the ink is, ignoring how bright"),
    "kl": N_("KL divergence: like cce, but 0 for a perfect reconstruction"),
    "cosine": N_("cosine distance: the angle between the two images as vectors"),
}


def get(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Look up a reconstruction loss by name."""
    try:
        return RECON_LOSSES[name]
    except KeyError:
        raise ConfigError(
            f"unknown reconstruction loss {name!r}; choose one of {', '.join(RECON_LOSSES)}"
        ) from None
