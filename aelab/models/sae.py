"""The sparse autoencoder: reconstruction plus a penalty that keeps code units quiet."""

from __future__ import annotations

import torch

from ..i18n import N_
from .base import SHARED_OPTIONS, Autoencoder
from .options import Option

PENALTIES = ("l1", "kl")
ACTIVATIONS = ("linear", "relu")


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

    With ``penalty="l1"`` Omega is the L1 norm of the code; the code is linear, or with
    ``activation="relu"`` non-negative, so a silent unit is exactly 0. With
    ``penalty="kl"`` the code passes through a sigmoid, so units read as firing rates
    in (0, 1), and Omega is the KL divergence from the target rate ``target_rho``.
    """

    kind = "sae"
    description = N_("sparse autoencoder")
    options = SHARED_OPTIONS + (
        Option("penalty", str, "l1", N_("Sparsity penalty"), choices=PENALTIES,
               choice_labels=(N_("L1 on the code"), N_("KL to a target rate rho")),
               help=N_("L1 adds up the code's absolute values, pushing most of them to zero. KL treats each "
                       "unit as firing with some probability and pulls its average rate toward rho.")),
        Option("sparsity_weight", float, 1.0, N_("Sparsity weight"), low=0.0, tag="s",
               stops=(0.0, 0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
               help=N_("How much the penalty counts against reconstruction; 0 makes it a plain autoencoder.")),
        Option("target_rho", float, 0.05, N_("Target rate rho"), low=0.0, high=1.0, open_low=True, open_high=True,
               stops=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5), applies=lambda s: s.get("penalty") == "kl",
               help=N_("KL penalty only: the average activation each code unit should have over the data "
                       "(0.05: active for about one image in twenty).")),
        Option("activation", str, "linear", N_("Code activation"), choices=ACTIVATIONS,
               choice_labels=(N_("linear (any value)"), N_("ReLU (0 or positive)")),
               applies=lambda s: s.get("penalty") == "l1",
               help=N_("L1 penalty only: a linear code can take any value; a ReLU code is never negative, so the "
                       "penalty can switch a unit fully off (exactly 0) for an image.")),
    )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images to codes: (B, H, W) -> (B, latent_dim); in (0, 1) for the KL penalty, >= 0 for a ReLU code."""
        z = super().encode(x)
        if self.penalty == "kl":
            return torch.sigmoid(z)
        return torch.relu(z) if self.activation == "relu" else z

    def sparsity(self, z: torch.Tensor) -> torch.Tensor:
        """The unweighted sparsity penalty of a batch of codes."""
        return l1_penalty(z) if self.penalty == "l1" else kl_rho_penalty(z, self.target_rho)

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction plus the weighted sparsity penalty."""
        z = self.encode(x)
        recon = self.recon_per_image(self.decode_logits(z), x).mean()
        sparsity = self.sparsity(z)
        return {"recon": recon, "sparsity": sparsity, "loss": recon + self.sparsity_weight * sparsity}
