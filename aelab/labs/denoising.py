"""The denoising lab: corrupt clean digits, hand the corrupted copies to each model, score by PSNR.

A denoising autoencoder is trained on L(x, g(f(x~))): the encoder f sees a corrupted copy
x~ of the image x, and the decoder g must give back the clean x (Vincent et al., 2008,
"Extracting and composing robust features with denoising autoencoders"). Here every
model, the plain AE included, gets the same corrupted x~; only the clean x is the target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError
from ..explore import encode, reconstruct
from ..metrics import mse_per_image, psnr
from ..models import Autoencoder
from ..models.dae import CORRUPTIONS, corrupt

MAX_LEVEL = {"gaussian": 1.0, "mask": 1.0, "salt_pepper": 1.0}  # a lab may show any damage, total included
NOISY = "noisy input"  # the row of a PSNR table that scores the corrupted image itself


def corrupt_images(images: np.ndarray, corruption: str, level: float, seed: int = 0) -> np.ndarray:
    """A corrupted copy of ``images`` (N, H, W) in [0, 1], the same for the same seed.

    ``corruption`` is one of gaussian (level = the noise's standard deviation), mask or
    salt_pepper (level = the fraction of pixels hit); see :func:`aelab.models.dae.corrupt`.
    """
    if corruption not in CORRUPTIONS:
        raise ConfigError(f"unknown noise type {corruption!r}; choose one of {', '.join(CORRUPTIONS)}")
    if not (isinstance(level, (int, float)) and 0.0 <= level <= MAX_LEVEL[corruption]):
        raise ConfigError(f"the noise level must be between 0 and {MAX_LEVEL[corruption]:g}, got {level!r}")
    generator = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(np.asarray(images, np.float32))
    return corrupt(x, corruption, float(level), generator).numpy()


@dataclass(frozen=True)
class Comparison:
    """Clean digits, their corrupted copies, and each model's reconstruction of the copies."""

    clean: np.ndarray  # (N, H, W)
    corrupted: np.ndarray  # (N, H, W): what every model was given
    recons: dict[str, np.ndarray]  # model name -> (N, H, W)
    psnr: dict[str, np.ndarray]  # NOISY and each model -> (N,) dB against the clean digits
    mse: dict[str, np.ndarray]  # the same, as mean squared pixel error


def compare(
    models: Mapping[str, Autoencoder], clean: np.ndarray, corruption: str, level: float, seed: int = 0
) -> Comparison:
    """Corrupt ``clean`` once and reconstruct the corrupted copies with every model."""
    corrupted = corrupt_images(clean, corruption, level, seed)
    recons = {name: reconstruct(model, corrupted) for name, model in models.items()}
    scored = {NOISY: corrupted} | recons
    return Comparison(
        clean, corrupted, recons,
        psnr={name: psnr(clean, image) for name, image in scored.items()},
        mse={name: mse_per_image(clean, image) for name, image in scored.items()},
    )


def psnr_curve(
    models: Mapping[str, Autoencoder], clean: np.ndarray, corruption: str, levels: Sequence[float], seed: int = 0
) -> dict[str, np.ndarray]:
    """Mean PSNR (dB) over ``clean`` at each noise level, for the noisy input and each model.

    Every level draws its noise from the same seed, so the curves differ only by the level.
    """
    curves: dict[str, list[float]] = {NOISY: []} | {name: [] for name in models}
    for level in levels:
        result = compare(models, clean, corruption, level, seed)
        for name, values in result.psnr.items():
            curves[name].append(float(np.mean(np.minimum(values, 100.0))))
    return {name: np.asarray(values) for name, values in curves.items()}


def code_shift(
    model: Autoencoder, clean: np.ndarray, corrupted: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of the clean and the corrupted images, and how far noise moved each: (N, D), (N, D), (N,).

    The distance is Euclidean in the latent space, in the units of the codes.
    """
    clean_codes, noisy_codes = encode(model, clean)[0], encode(model, corrupted)[0]
    return clean_codes, noisy_codes, np.linalg.norm(noisy_codes - clean_codes, axis=1)


def trained_level(model: Autoencoder) -> tuple[str, float] | None:
    """The noise a DAE was trained on, as (corruption, level); None for a model trained on clean images."""
    corruption, level = getattr(model, "corruption", None), getattr(model, "noise_level", None)
    return (corruption, float(level)) if corruption and level else None


def relative_shift(model: Autoencoder, clean: np.ndarray, corrupted: np.ndarray, seed: int = 0) -> float:
    """How far noise moves codes, as a share of how far apart two different digits' codes are.

    mean_i ||f(x~_i) - f(x_i)|| / mean_(i,j) ||f(x_i) - f(x_j)|| over random pairs i != j, so
    models whose codes have different scales compare: 1 means noise moves a code as far as
    swapping the digit for another would.
    """
    clean_codes, _, moved = code_shift(model, clean, corrupted)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(clean_codes), size=4 * len(clean_codes))
    j = (i + rng.integers(1, len(clean_codes), size=len(i))) % len(clean_codes)
    apart = np.linalg.norm(clean_codes[i] - clean_codes[j], axis=1).mean()
    return float(moved.mean() / apart) if apart > 0 else float("inf")
