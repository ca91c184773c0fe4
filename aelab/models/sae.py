"""The sparse autoencoder: reconstruction plus a penalty that keeps code units quiet."""

from __future__ import annotations

import torch

from .base import Autoencoder, _check

PENALTIES = ("l1", "kl")


def l1_penalty(z: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of sum_j |z_j|."""
    return z.abs().sum(1).mean()


def kl_rho_penalty(z: torch.Tensor, target_rho: float) -> torch.Tensor:
    """sum_j KL(rho || rho_hat_j) for codes in (0, 1).

    rho_hat_j is unit j's mean activation over the batch, and
    KL(rho || rho_hat) = rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 - rho_hat))
    (Ng, "Sparse autoencoder", CS294A lecture notes, 2011).
    """
    rho_hat = z.mean(0).clamp(1e-6, 1 - 1e-6)
    rho = target_rho
    return (rho * (rho / rho_hat).log() + (1 - rho) * ((1 - rho) / (1 - rho_hat)).log()).sum()


class SAE(Autoencoder):
    """Sparse autoencoder: loss L(x, g(f(x))) + sparsity_weight * Omega(f(x)).

    With ``penalty="l1"`` Omega is the L1 norm of the code (a linear code). With
    ``penalty="kl"`` the code passes through a sigmoid, so units read as firing rates
    in (0, 1), and Omega is the KL divergence from the target rate ``target_rho``.
    """

    kind = "sae"
    description = "sparse autoencoder"

    def __init__(
        self,
        image_shape: tuple[int, int] = (28, 28),
        latent_dim: int = 2,
        hidden: tuple[int, ...] = (512, 256),
        recon_loss: str = "bce",
        arch: str = "mlp",
        penalty: str = "l1",
        sparsity_weight: float = 1.0,
        target_rho: float = 0.05,  # only used by the KL penalty
    ) -> None:
        super().__init__(image_shape, latent_dim, hidden, recon_loss, arch)
        _check(penalty in PENALTIES, f"penalty must be one of {PENALTIES}, got {penalty!r}")
        _check(sparsity_weight >= 0, f"sparsity_weight must be >= 0, got {sparsity_weight}")
        _check(0 < target_rho < 1, f"target_rho must be strictly between 0 and 1, got {target_rho}")
        self.penalty = penalty
        self.sparsity_weight = float(sparsity_weight)
        self.target_rho = float(target_rho)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images to codes; in (0, 1) for the KL penalty."""
        z = super().encode(x)
        return torch.sigmoid(z) if self.penalty == "kl" else z

    def sparsity(self, z: torch.Tensor) -> torch.Tensor:
        """The unweighted sparsity penalty of a batch of codes."""
        return l1_penalty(z) if self.penalty == "l1" else kl_rho_penalty(z, self.target_rho)

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction plus the weighted sparsity penalty."""
        z = self.encode(x)
        recon = self.recon_per_image(self.decode_logits(z), x).mean()
        sparsity = self.sparsity(z)
        return {"recon": recon, "sparsity": sparsity, "loss": recon + self.sparsity_weight * sparsity}
