"""What the latent explorer computes: decodes of points, lines and grids in latent space.

Pure functions of a model and numpy arrays; the app draws what these return.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .models import Autoencoder

# Map coordinates (M, 2) -> latent codes (M, D); None means the map is the latent plane.
ToLatent = Callable[[np.ndarray], np.ndarray] | None


@torch.no_grad()
def decode(model: Autoencoder, codes: np.ndarray) -> np.ndarray:
    """Decode latent codes (M, D) to images (M, H, W) in [0, 1]."""
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32))
    return model.decode(z).numpy()


@torch.no_grad()
def encode(model: Autoencoder, images: np.ndarray, batch_size: int = 2000) -> tuple[np.ndarray, np.ndarray | None]:
    """Codes (N, D) of images, and the posterior's standard deviations (N, D) for a model that
    encodes distributions (None for one that encodes points)."""
    codes, sigmas = [], []
    for start in range(0, len(images), batch_size):
        mean, sigma = model.posterior(torch.as_tensor(np.asarray(images[start : start + batch_size], np.float32)))
        codes.append(mean.numpy())
        if sigma is not None:
            sigmas.append(sigma.numpy())
    return np.concatenate(codes), (np.concatenate(sigmas) if sigmas else None)


def reconstruct(model: Autoencoder, images: np.ndarray) -> np.ndarray:
    """Each image decoded from its code (the posterior mean for a VAE): (N, H, W) -> (N, H, W) in [0, 1]."""
    return decode(model, encode(model, images)[0])


def decode_at(model: Autoencoder, points: np.ndarray, to_latent: ToLatent = None) -> np.ndarray:
    """Decode map positions (M, 2), through the projection's inverse when there is one."""
    points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    return decode(model, points if to_latent is None else to_latent(points))


def tile(images: np.ndarray) -> np.ndarray:
    """Tile a (rows, cols, H, W) array of images into one (rows*H, cols*W) image."""
    rows, cols, h, w = images.shape
    return images.transpose(0, 2, 1, 3).reshape(rows * h, cols * w)


def interpolate(
    model: Autoencoder, start: np.ndarray, end: np.ndarray, steps: int = 10, to_latent: ToLatent = None
) -> tuple[np.ndarray, np.ndarray]:
    """Decodes along the straight line from ``start`` to ``end`` (both ends included).

    ``start`` and ``end`` are latent codes, or map positions when ``to_latent`` is given.
    Returns the positions (steps, dim) and their images (steps, H, W).
    """
    steps = max(2, int(steps))
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    path = (1 - t) * np.asarray(start, np.float32) + t * np.asarray(end, np.float32)
    codes = path if to_latent is None else to_latent(path)
    return path, decode(model, codes)


def data_bounds(points: np.ndarray, pad: float = 0.08) -> list[float]:
    """A view [x0, x1, y0, y1] around the bulk of the points (0.5-99.5 percentiles, padded)."""
    lo = np.percentile(points, 0.5, axis=0)
    hi = np.percentile(points, 99.5, axis=0)
    span = np.maximum(hi - lo, 1e-3)
    lo, hi = lo - pad * span, hi + pad * span
    return [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])]


def mlp_decoder_layers(model: Autoencoder) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The decoder as (weight (out, in), bias) pairs with ReLU between, or None if it is not such an MLP."""
    layers = list(model.decoder.children()) if isinstance(model.decoder, nn.Sequential) else []
    linears = layers[0::2]
    relus = layers[1::2]
    if not linears or not all(isinstance(m, nn.Linear) for m in linears):
        return None
    if len(relus) != len(linears) - 1 or not all(isinstance(m, nn.ReLU) for m in relus):
        return None
    return [(m.weight.detach().numpy().astype(np.float32), m.bias.detach().numpy().astype(np.float32))
            for m in linears]


def parse_pair(text: str | None) -> tuple[float, float] | None:
    """Parse "x,y" from a URL; None for anything that is not two finite numbers."""
    values = _parse_floats(text, 2)
    return (values[0], values[1]) if values else None


def parse_view(text: str | None, max_span: float = 1e4) -> list[float] | None:
    """Parse "x0,x1,y0,y1" from a URL; None unless it is a :func:`valid_view`."""
    return valid_view(_parse_floats(text, 4), max_span)


def valid_view(values, max_span: float = 1e4) -> list[float] | None:
    """[x0, x1, y0, y1] as floats when finite, ordered and of a sane size (from a URL or a browser), else None."""
    if not isinstance(values, (list, tuple)) or len(values) != 4 or not finite_numbers(*values):
        return None
    x0, x1, y0, y1 = values
    ok = 0 < x1 - x0 <= max_span and 0 < y1 - y0 <= max_span and max(map(abs, values)) <= max_span
    return [float(v) for v in values] if ok else None


def finite_numbers(*values) -> bool:
    """True when every value is a real, finite number (not a bool, string, None or NaN)."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def _parse_floats(text: str | None, count: int) -> list[float] | None:
    if not text:
        return None
    try:
        values = [float(part) for part in str(text).split(",")]
    except ValueError:
        return None
    if len(values) != count or not finite_numbers(*values):
        return None
    return values
