"""The sparsity lab: how often each code unit fires, which never do, and what each one draws.

A sparse autoencoder adds a penalty Omega(f(x)) on the code to its reconstruction loss:
L1, sum_j |z_j|, or, for codes in (0, 1), sum_j KL(rho || rho_hat_j), where rho_hat_j is
unit j's mean activation over the data and rho the target rate (Ng, "Sparse autoencoder",
CS294A lecture notes, 2011). These functions measure what the penalty did to the code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..explore import decode, encode
from ..models import Autoencoder

SIGMOID_THRESHOLD = 0.5  # a sigmoid unit "fires" above one half (Ng's reading: near 1 is active)
LINEAR_THRESHOLD = 0.05  # a linear unit counts as active above 5% of the code's typical large value


@dataclass(frozen=True)
class Activity:
    """Who fires when, for a set of codes (N images x K units)."""

    codes: np.ndarray  # (N, K)
    threshold: float  # a unit is active on an image when its activation (|z| for linear codes) exceeds this
    active: np.ndarray  # (N, K) bool
    rho_hat: np.ndarray  # (K,) each unit's mean activation over the images
    firing_rate: np.ndarray  # (K,) the share of images each unit is active on

    @property
    def active_share(self) -> np.ndarray:
        """(N,) the share of units active for each image."""
        return self.active.mean(1)

    @property
    def dead(self) -> np.ndarray:
        """(K,) units active on none of the images."""
        return ~self.active.any(0)


def code_kind(model: Autoencoder) -> str:
    """How to read a model's code: "sigmoid" (KL penalty), "relu", or "linear"."""
    if getattr(model, "penalty", None) == "kl":
        return "sigmoid"
    return "relu" if getattr(model, "activation", None) == "relu" else "linear"


def threshold_for(kind: str, values: np.ndarray) -> float:
    """The activation above which a unit counts as active.

    ReLU codes: 0 (a silent unit is exactly 0). Sigmoid codes: :data:`SIGMOID_THRESHOLD`.
    Linear codes have no natural zero: :data:`LINEAR_THRESHOLD` times the 99th percentile of |z|.
    """
    if kind == "relu":
        return 0.0
    if kind == "sigmoid":
        return SIGMOID_THRESHOLD
    return LINEAR_THRESHOLD * float(np.percentile(np.abs(values), 99)) if values.size else 0.0


def activity(values: np.ndarray, kind: str = "relu", threshold: float | None = None) -> Activity:
    """Activity statistics of codes (N, K) read as ``kind`` (see :func:`threshold_for`)."""
    values = np.asarray(values, np.float64)
    threshold = threshold_for(kind, values) if threshold is None else threshold
    magnitude = np.abs(values) if kind == "linear" else values
    active = magnitude > threshold
    return Activity(values, threshold, active, values.mean(0), active.mean(0))


def model_activity(model: Autoencoder, images: np.ndarray) -> Activity:
    """Activity statistics of a model's codes for ``images``."""
    return activity(encode(model, images)[0], code_kind(model))


@torch.no_grad()
def features(model: Autoencoder, stats: Activity) -> np.ndarray:
    """What each unit draws: decode(a_j e_j) - decode(0), (K, H, W), pixel changes in [-1, 1].

    e_j switches on unit j alone; a_j is 1 for a sigmoid code and, otherwise, the largest
    activation the unit reached on the images (the median of the others' for a unit that
    never fired), so each feature shows the unit at full strength.
    """
    k = stats.codes.shape[1]
    if code_kind(model) == "sigmoid":
        strength = np.ones(k)
    else:
        peak = np.abs(stats.codes).max(0)
        fired = peak[peak > 0]
        strength = np.where(peak > 0, peak, np.median(fired) if fired.size else 1.0)
    on = np.diag(strength).astype(np.float32)
    off = np.zeros((1, k), np.float32)
    return decode(model, on) - decode(model, off)


def feature_grid(images: np.ndarray, columns: int = 16, pad: int = 1) -> np.ndarray:
    """Tile features (K, H, W) into one (R, C) image, each scaled to [-1, 1] by its own largest |value|.

    Padding between tiles is NaN, so a page can draw it as a neutral colour.
    """
    k, h, w = images.shape
    rows = -(-k // columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad), np.nan, np.float32)
    scale = np.abs(images).reshape(k, -1).max(1)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y : y + h, x : x + w] = image / scale[i] if scale[i] > 0 else 0.0
    return grid


def histogram(values: np.ndarray, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges of every activation in the codes (N, K), over their observed range."""
    flat = np.asarray(values, np.float64).ravel()
    low, high = (float(flat.min()), float(flat.max())) if flat.size else (0.0, 1.0)
    return np.histogram(flat, bins=bins, range=(low, high if high > low else low + 1.0))
