"""The plain autoencoder: minimise reconstruction error, nothing else."""

from .base import Autoencoder


class AE(Autoencoder):
    """Plain autoencoder, under- or overcomplete depending on ``latent_dim``.

    Loss: L(x, g(f(x))) with the chosen reconstruction loss L.
    """

    kind = "ae"
    description = "plain autoencoder"
