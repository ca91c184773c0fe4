"""The shared shape of every autoencoder: encode, decode, and a dict of loss terms.

A model's constructor arguments are its config: every argument is stored as an
attribute of the same name, so ``type(model)(**model.config())`` rebuilds it, and a
checkpoint is that config as JSON beside the weights.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import torch
from torch import nn

from .. import losses
from ..errors import ConfigError

REGISTRY: dict[str, type[Autoencoder]] = {}
MAX_LATENT_DIM = 1024
MAX_HIDDEN_LAYERS = 8  # bounds what a config (an upload, say) can make aelab allocate
MAX_WIDTH = 8192
ARCHITECTURES = ("mlp", "conv")


def mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=False)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions, then an MLP: (B, H, W) -> (B, out), for H and W divisible by 4."""

    def __init__(self, image_shape: tuple[int, int], hidden: tuple[int, ...], out: int, channels: int = 32):
        super().__init__()
        h, w = image_shape
        self.convs = nn.Sequential(
            nn.Conv2d(1, channels, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1), nn.ReLU(),
        )  # (B, 1, H, W) -> (B, 2C, H/4, W/4)
        self.head = mlp([2 * channels * (h // 4) * (w // 4), *hidden, out])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(nn.functional.relu(self.convs(x.unsqueeze(1)).flatten(1)))


class ConvDecoder(nn.Module):
    """The mirror of :class:`ConvEncoder`: an MLP, then two stride-2 transposed convolutions."""

    def __init__(self, image_shape: tuple[int, int], hidden: tuple[int, ...], latent_dim: int, channels: int = 32):
        super().__init__()
        self.grid = (2 * channels, image_shape[0] // 4, image_shape[1] // 4)
        self.head = mlp([latent_dim, *reversed(hidden), self.grid[0] * self.grid[1] * self.grid[2]])
        self.deconvs = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),
        )  # (B, 2C, H/4, W/4) -> (B, 1, H, W)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        grid = nn.functional.relu(self.head(z)).view(-1, *self.grid)
        return self.deconvs(grid).flatten(1)


class Autoencoder(nn.Module):
    """A plain MLP autoencoder; subclasses change the code or the loss, not the interface.

    Images go in as (B, H, W) with pixels in [0, 1]; codes are (B, latent_dim).
    """

    kind: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            REGISTRY[cls.kind] = cls

    def __init__(
        self,
        image_shape: tuple[int, int] = (28, 28),
        latent_dim: int = 2,
        hidden: tuple[int, ...] = (512, 256),
        recon_loss: str = "bce",
        arch: str = "mlp",
    ) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.latent_dim = int(latent_dim)
        self.hidden = tuple(int(h) for h in hidden)
        self.recon_loss = recon_loss
        self.arch = arch
        _check(len(self.image_shape) == 2 and min(self.image_shape) >= 1,
               f"image_shape must be (height, width), got {image_shape}")
        _check(1 <= self.latent_dim <= MAX_LATENT_DIM,
               f"latent_dim must be between 1 and {MAX_LATENT_DIM}, got {latent_dim}")
        _check(len(self.hidden) <= MAX_HIDDEN_LAYERS and all(1 <= h <= MAX_WIDTH for h in self.hidden),
               f"hidden widths must be at most {MAX_HIDDEN_LAYERS} layers of 1 to {MAX_WIDTH} units, got {hidden}")
        _check(arch in ARCHITECTURES, f"arch must be one of {ARCHITECTURES}, got {arch!r}")
        self._recon = losses.get(recon_loss)
        if arch == "conv":
            _check(all(s % 4 == 0 for s in self.image_shape),
                   f"the conv architecture needs image sides divisible by 4, got {self.image_shape}")
            self.encoder = ConvEncoder(self.image_shape, self.hidden, self.code_width)
            self.decoder = ConvDecoder(self.image_shape, self.hidden, self.latent_dim)
        else:
            n_pixels = self.image_shape[0] * self.image_shape[1]
            self.encoder = mlp([n_pixels, *self.hidden, self.code_width])
            self.decoder = mlp([self.latent_dim, *reversed(self.hidden), n_pixels])

    @property
    def code_width(self) -> int:
        """Width of the encoder's last layer (the VAE needs two numbers per latent)."""
        return self.latent_dim

    def config(self) -> dict[str, Any]:
        """The constructor's arguments, JSON-ready: enough to rebuild this model."""
        params = inspect.signature(type(self).__init__).parameters
        cfg = {name: getattr(self, name) for name in params if name != "self"}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images to codes: (B, H, W) -> (B, latent_dim)."""
        return self.encoder(self._encoder_input(x))

    def _encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.arch == "conv" else x.flatten(1)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Codes to pixel logits: (B, latent_dim) -> (B, H, W)."""
        return self.decoder(z).view(-1, *self.image_shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes to images with pixels in [0, 1]: (B, latent_dim) -> (B, H, W)."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct images: decode(encode(x))."""
        return self.decode(self.encode(x))

    def recon_per_image(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The configured reconstruction loss, one value per image: (B,)."""
        return self._recon(logits, x)

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Batch-mean loss terms; ``loss`` is the total that training minimises."""
        recon = self.recon_per_image(self.decode_logits(self.encode(x)), x).mean()
        return {"recon": recon, "loss": recon}


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
