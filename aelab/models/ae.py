"""The plain autoencoder: minimise reconstruction error, nothing else."""

from ..i18n import N_
from .base import Autoencoder


class AE(Autoencoder):
    """Plain autoencoder, under- or overcomplete depending on ``latent_dim``.

    Loss: L(x, g(f(x))) with the chosen reconstruction loss L.
    """

    kind = "ae"
    description = N_("plain autoencoder")
