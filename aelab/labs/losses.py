"""The losses page: what each reconstruction loss makes of the same digits, measured.

Five models share everything but the loss (see :mod:`aelab.losses` for the formulas). Two
facts are measured here rather than asserted: categorical cross-entropy and KL between
normalised images differ by the entropy of the target, a constant, so they train alike; and
the losses that compare normalised images or angles (cce, kl, cosine) leave the overall
brightness of a reconstruction free, while squared error and binary cross-entropy tie it to
the target's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..explore import reconstruct
from ..losses import as_distribution
from ..models import Autoencoder

BRIGHTNESS_FREE = ("cce", "kl", "cosine")  # losses unchanged when a reconstruction is scaled


def ink(images: np.ndarray) -> np.ndarray:
    """Each image's total ink, the sum of its pixels: (N, H, W) -> (N,)."""
    return np.asarray(images, np.float64).reshape(len(images), -1).sum(1)


def ink_ratio(model: Autoencoder, images: np.ndarray) -> np.ndarray:
    """Per image, the reconstruction's ink over the input's: 1 when the brightness is kept. (N,)."""
    return ink(reconstruct(model, images)) / np.maximum(ink(images), 1e-9)


def target_entropy(images: np.ndarray) -> np.ndarray:
    """H(p) = -sum_i p_i log p_i of each image read as a distribution over pixels (nats): (N,).

    KL(p || q) = CE(p, q) - H(p): the two losses differ by this, which depends on the target only.
    """
    p = as_distribution(torch.as_tensor(np.asarray(images, np.float32)))
    return (-(p * p.log()).sum(1)).numpy().astype(np.float64)


def loss_gap(history_a: Sequence[dict], history_b: Sequence[dict], term: str = "recon") -> np.ndarray:
    """Per epoch, model a's validation loss minus model b's: (epochs,), over the epochs both ran."""
    n = min(len(history_a), len(history_b))
    return np.array([history_a[i]["val"][term] - history_b[i]["val"][term] for i in range(n)])


def same_model(a: Autoencoder, b: Autoencoder, images: np.ndarray) -> dict[str, float]:
    """How far apart two models are: the largest weight difference and the mean pixel difference
    of their reconstructions of ``images``."""
    weights = max(float((pa - pb).detach().abs().max()) for pa, pb in zip(a.parameters(), b.parameters(), strict=True))
    pixels = float(np.abs(reconstruct(a, images) - reconstruct(b, images)).mean())
    return {"max_weight_difference": weights, "mean_pixel_difference": pixels}


def brightness_sweep(
    models: Mapping[str, Autoencoder], images: np.ndarray, factors: Sequence[float]
) -> dict[str, np.ndarray]:
    """Mean ink ratio of each model's reconstructions when the inputs are dimmed by each factor.

    {name: (len(factors),)}: the reconstruction's ink over the undimmed digit's ink, so a model
    that gives back exactly what it was shown follows the factor, and one that redraws a
    full-strength digit stays near 1.
    """
    full = ink(images)
    return {name: np.array([float((ink(reconstruct(model, images * f)) / np.maximum(full, 1e-9)).mean())
                            for f in factors]) for name, model in models.items()}
