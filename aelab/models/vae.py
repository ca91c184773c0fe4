"""The variational autoencoder: each image is encoded as a Gaussian, not a point."""

from __future__ import annotations

import torch

from ..i18n import N_
from .base import SHARED_OPTIONS, Autoencoder
from .options import Option


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(sigma^2)) || N(0, I)) per row, in nats.

    KL = -1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)
    (Kingma & Welling, "Auto-Encoding Variational Bayes", 2014, appendix B).
    """
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


class VAE(Autoencoder):
    """Variational autoencoder with a beta weight on the KL term (Higgins et al., 2017).

    Loss: E_q[L(x, g(z))] + beta * KL(q(z|x) || N(0, I)), with z = mu + sigma * eps.
    With the BCE loss and beta = 1 this is the negative ELBO, in nats per image.
    """

    kind = "vae"
    description = N_("variational autoencoder")
    has_prior = True
    options = SHARED_OPTIONS + (
        Option("beta", float, 1.0, N_("Beta"), low=0.0, tag="b", stops=(0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
               help=N_("Weight of the KL term that pulls each image's code distribution toward the prior "
                       "N(0, I). 1 is the standard VAE; 0 drops the pull, larger values strengthen it.")),
    )

    @property
    def code_width(self) -> int:
        return 2 * self.latent_dim

    def encode_dist(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images to the posterior's mean and log-variance: (B, H, W) -> 2 x (B, latent_dim)."""
        mu, logvar = self.encoder(self._encoder_input(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-20.0, 10.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images to the posterior means."""
        return self.encode_dist(x)[0]

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw z = mu + sigma * eps with eps ~ N(0, I), differentiably in mu and sigma."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + (0.5 * logvar).exp() * eps

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior's mean and standard deviation: (B, H, W) -> 2 x (B, latent_dim)."""
        mu, logvar = self.encode_dist(x)
        return mu, (0.5 * logvar).exp()

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n codes from the prior N(0, I)."""
        return torch.randn(n, self.latent_dim, generator=generator)

    def kl_to_prior(self, mean: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """KL(N(mean, sigma^2) || N(0, I)) per image, in nats."""
        return kl_to_standard_normal(mean, 2 * sigma.log())

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One-sample estimate of the (beta-weighted) negative ELBO."""
        mu, logvar = self.encode_dist(x)
        z = self.reparameterize(mu, logvar)
        recon = self.recon_per_image(self.decode_logits(z), x).mean()
        kl = kl_to_standard_normal(mu, logvar).mean()
        return {"recon": recon, "kl": kl, "loss": recon + self.beta * kl}
