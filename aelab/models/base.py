"""The shared shape of every autoencoder: encode, decode, and a dict of loss terms.

A model's constructor arguments are its config: every argument is stored as an
attribute of the same name, so ``type(model)(**model.config())`` rebuilds it, and a
checkpoint is that config as JSON beside the weights.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from .. import i18n, losses
from ..errors import ConfigError
from ..i18n import N_, _
from .options import Option, validate

REGISTRY: dict[str, type[Autoencoder]] = {}  # the autoencoder kinds a user trains
ALL_MODELS: dict[str, type[Model]] = {}  # every kind a checkpoint can hold (the judge classifier too)
MAX_LATENT_DIM = 1024
MAX_HIDDEN_LAYERS = 8  # bounds what a config (an upload, say) can make aelab allocate
MAX_WIDTH = 8192
ARCHITECTURES = ("mlp", "conv")

# The settings every kind takes. Defaults are the shipped recipes': a (256, 128) MLP beat
# (512, 256), (400, 200) and a small conv net on the 2-D VAE's validation loss.
SHARED_OPTIONS: tuple[Option, ...] = (
    Option("latent_dim", int, 2, N_("Latent size"), low=1, high=MAX_LATENT_DIM,
           stops=(1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512, 784, 1024),
           help=N_("How many numbers the code has. Fewer than the image has pixels (784 for 28x28 digits, 64 "
                   "for 8x8) makes the autoencoder undercomplete: it must compress. More makes it "
                   "overcomplete: it could copy its input unless something stops it.")),
    Option("hidden", "widths", (256, 128), N_("Hidden widths"), low=1, high=MAX_WIDTH, max_items=MAX_HIDDEN_LAYERS,
           help=N_("Widths of the encoder's hidden layers, from the image inward, e.g. 256,128; the decoder "
                   "mirrors them. Empty: a linear autoencoder."), show=False),
    # The labels and the help say in words what aelab.losses.NAMES and SUMMARIES say (a test keeps them in step);
    # written out here so that they can be translated.
    Option("recon_loss", str, "bce", N_("Reconstruction loss"), choices=tuple(losses.RECON_LOSSES), flag="loss",
           choice_labels=(N_("squared error"), N_("binary cross-entropy"), N_("categorical cross-entropy"),
                          N_("KL divergence"), N_("cosine distance")),
           help=N_("How a reconstruction is scored against its input, summed over the pixels of an image. "
                   "mse: squared error: every pixel's difference, squared and summed. "
                   "bce: binary cross-entropy: pixels as probabilities of ink (nats per image). "
                   "cce: categorical cross-entropy: where the ink is, ignoring how bright. "
                   "kl: KL divergence: like cce, but 0 for a perfect reconstruction. "
                   "cosine: cosine distance: the angle between the two images as vectors.")),
    Option("arch", str, "mlp", N_("Architecture"), choices=ARCHITECTURES,
           help=N_("MLP: fully connected layers, which the explorer decodes live in the browser. Conv: two "
                   "stride-2 convolutions before the fully connected layers; needs image sides divisible by 4.")),
)


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


class Model(nn.Module):
    """Anything aelab saves as a checkpoint: a kind, and settings declared as ``options``.

    The constructor takes ``image_shape`` and the declared settings; every setting becomes
    an attribute of the same name, and :meth:`config` gives them back, JSON-ready.
    """

    kind: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            ALL_MODELS[cls.kind] = cls

    def __init__(self, image_shape: tuple[int, int] = (28, 28), **settings: Any) -> None:
        super().__init__()
        self.image_shape = _image_shape(image_shape)
        for name, value in validate(type(self).options, settings, self.kind or "model").items():
            setattr(self, name, tuple(value) if isinstance(value, list) else value)

    def config(self) -> dict[str, Any]:
        """The constructor's arguments, JSON-ready: enough to rebuild this model."""
        cfg = {"image_shape": self.image_shape} | {o.name: getattr(self, o.name) for o in self.options}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}


class Autoencoder(Model):
    """A plain MLP autoencoder; subclasses change the code or the loss, not the interface.

    Images go in as (B, H, W) with pixels in [0, 1]; codes are (B, latent_dim). The
    constructor takes ``image_shape`` and the settings declared in ``options``.
    """

    options: ClassVar[tuple[Option, ...]] = SHARED_OPTIONS
    has_prior: ClassVar[bool] = False  # whether codes can be sampled from a prior (sample_prior)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            REGISTRY[cls.kind] = cls

    def __init__(self, image_shape: tuple[int, int] = (28, 28), **settings: Any) -> None:
        super().__init__(image_shape, **settings)
        self._recon = losses.get(self.recon_loss)
        if self.arch == "conv":
            _check(all(s % 4 == 0 for s in self.image_shape),
                   _("the conv architecture needs image sides divisible by 4, got {shape}", shape=self.image_shape))
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

    @classmethod
    def default_name(cls, settings: dict[str, Any]) -> str:
        """A short name for a model with these settings, e.g. ``my-dae-2d-n0.3``."""
        values = validate(cls.options, settings, cls.kind)
        tags = "".join(o.name_part(values[o.name]) for o in cls.options if o.matters(values))
        return f"my-{cls.kind}-{values['latent_dim']}d{tags}"

    def describe(self) -> str:
        """What this model is, in words: its kind, latent size and what sets it apart."""
        values = self.config()
        shared = {o.name for o in SHARED_OPTIONS}
        parts = [self.description, f"{self.latent_dim}-D latent"]
        parts += ["conv"] if self.arch == "conv" else []
        parts += [f"{self.recon_loss} loss"] if self.recon_loss != "bce" else []
        parts += [o.describe(values[o.name]) for o in self.options
                  if o.name not in shared and o.show and o.matters(values)]
        return ", ".join(parts)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images to codes: (B, H, W) -> (B, latent_dim)."""
        return self.encoder(self._encoder_input(x))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Where images go in latent space: the code (B, latent_dim) and its spread.

        The spread is the posterior's standard deviation (B, latent_dim) for a model that
        encodes distributions, and None for one that encodes points.
        """
        return self.encode(x), None

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` codes from the model's prior: (n, latent_dim). Only for ``has_prior`` models."""
        raise ConfigError(_("a {kind} has no prior to sample codes from", kind=i18n._(self.description)))

    def kl_to_prior(self, mean: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)) per image, in nats, for a posterior (mean, sigma). Only for ``has_prior`` models."""
        raise ConfigError(_("a {kind} has no prior", kind=i18n._(self.description)))

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


def _image_shape(image_shape: Any) -> tuple[int, int]:
    try:
        shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise ConfigError(_("image_shape must be (height, width), got {shape!r}", shape=image_shape)) from None
    _check(len(shape) == 2 and min(shape) >= 1,
           _("image_shape must be (height, width), got {shape!r}", shape=image_shape))
    return shape


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
