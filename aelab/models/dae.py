"""The denoising autoencoder: reconstruct the clean image from a corrupted copy."""

from __future__ import annotations

import torch

from .base import Autoencoder, _check

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


class DAE(Autoencoder):
    """Denoising autoencoder (Vincent et al., 2008): loss L(x, g(f(corrupt(x))))."""

    kind = "dae"
    description = "denoising autoencoder"

    def __init__(
        self,
        image_shape: tuple[int, int] = (28, 28),
        latent_dim: int = 2,
        hidden: tuple[int, ...] = (512, 256),
        recon_loss: str = "bce",
        arch: str = "mlp",
        corruption: str = "gaussian",
        noise_level: float = 0.3,  # std of the Gaussian, or the fraction of pixels hit
    ) -> None:
        super().__init__(image_shape, latent_dim, hidden, recon_loss, arch)
        _check(corruption in CORRUPTIONS, f"corruption must be one of {CORRUPTIONS}, got {corruption!r}")
        limit = 1.0 if corruption == "gaussian" else 0.95
        _check(0 <= noise_level <= limit, f"noise_level for {corruption} must be in [0, {limit}], got {noise_level}")
        self.corruption = corruption
        self.noise_level = float(noise_level)

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Apply this model's corruption at its noise level."""
        return corrupt(x, self.corruption, self.noise_level, generator)

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruct the clean batch from its corrupted copy."""
        logits = self.decode_logits(self.encode(self.corrupt(x)))
        recon = self.recon_per_image(logits, x).mean()
        return {"recon": recon, "loss": recon}
