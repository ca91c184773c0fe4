"""The denoising autoencoder: reconstruct the clean image from a corrupted copy."""

from __future__ import annotations

import torch

from ..i18n import N_
from .base import SHARED_OPTIONS, Autoencoder
from .options import Option

CORRUPTIONS = ("gaussian", "mask", "salt_pepper")


def corrupt(
    x: torch.Tensor, corruption: str, noise_level: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Corrupt images with pixels in [0, 1]; the result stays in [0, 1].

    - ``gaussian``: x + N(0, noise_level^2), clipped to [0, 1].
    - ``mask``: each pixel set to 0 with probability ``noise_level``.
    - ``salt_pepper``: each pixel, with probability ``noise_level``, set to 0 or 1 (even odds).
    """
    if noise_level <= 0:
        return x
    if corruption == "gaussian":
        noise = torch.randn(x.shape, generator=generator, device=x.device)
        return (x + noise_level * noise).clamp(0, 1)
    hit = torch.rand(x.shape, generator=generator, device=x.device) < noise_level
    if corruption == "mask":
        return x.masked_fill(hit, 0.0)
    salt = torch.rand(x.shape, generator=generator, device=x.device) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)


def max_noise_level(settings) -> float:
    """A Gaussian's sigma may reach 1; masking every pixel would leave nothing to learn from."""
    return 1.0 if settings.get("corruption") == "gaussian" else 0.95


class DAE(Autoencoder):
    """Denoising autoencoder (Vincent et al., 2008): loss L(x, g(f(corrupt(x))))."""

    kind = "dae"
    description = N_("denoising autoencoder")
    options = SHARED_OPTIONS + (
        Option("corruption", str, "gaussian", N_("Corruption"), choices=CORRUPTIONS,
               choice_labels=(N_("Gaussian noise"), N_("masking"), N_("salt and pepper")),
               help=N_("How each training image is damaged before the encoder sees it: Gaussian noise added to "
                       "every pixel, some pixels set to black (masking), or some set to black or white at random "
                       "(salt and pepper).")),
        Option("noise_level", float, 0.3, N_("Noise level"), low=0.0, high=max_noise_level, step=0.05, tag="n",
               help=N_("For Gaussian noise, its standard deviation (pixels run from 0 to 1); for masking and "
                       "salt and pepper, the fraction of pixels hit.")),
    )

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Apply this model's corruption at its noise level."""
        return corrupt(x, self.corruption, self.noise_level, generator)

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruct the clean batch from its corrupted copy."""
        logits = self.decode_logits(self.encode(self.corrupt(x)))
        recon = self.recon_per_image(logits, x).mean()
        return {"recon": recon, "loss": recon}
