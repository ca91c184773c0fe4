"""A small digit classifier, used as a judge of decoded images (see aelab.judge).

It is a model like the autoencoders: declared options, saved as config.json beside
model.safetensors, trained by the same ``fit`` (its ``loss`` takes the labels too).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .base import ARCHITECTURES, Model
from .options import Option

CHANNELS = (32, 64)  # the conv body's two layers


class Judge(Model):
    """Digit classifier (pixels -> body -> features -> classes) with a feature read-out.

    Body (``arch``): an MLP (pixels -> width -> features), or a small conv net: two 3x3
    convolutions (32 and 64 channels), each followed by ReLU and 2x2 max-pooling, then a
    fully connected feature layer. Loss: the cross-entropy of the labels; while training,
    each batch is first shifted by a random offset of up to ``max_shift`` pixels in each
    direction, so the features do not hinge on a digit's exact position.
    """

    kind = "judge"
    description = "digit classifier (the judge of decoded images)"
    options = (
        Option("arch", str, "mlp", "Architecture", choices=ARCHITECTURES,
               help="MLP: one hidden layer of width units. Conv: two convolutions with pooling (sides >= 4 px)."),
        Option("n_classes", int, 10, "Classes", low=2, high=1000, help="How many labels the data has."),
        Option("width", int, 256, "Hidden width", low=1, high=8192, help="Units in the MLP's hidden layer.",
               applies=lambda s: s["arch"] == "mlp"),
        Option("n_features", int, 32, "Features", low=1, high=1024,
               help="Units in the feature layer, whose activations the Frechet distance compares."),
        Option("max_shift", int, 2, "Shift", low=0, high=16,
               help="Largest random shift of a training batch, in pixels (0: none)."),
    )

    def __init__(self, image_shape: tuple[int, int] = (28, 28), **settings) -> None:
        super().__init__(image_shape, **settings)
        h, w = self.image_shape
        if self.arch == "mlp":
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(h * w, self.width), nn.ReLU(),
                                      nn.Dropout(0.3), nn.Linear(self.width, self.n_features), nn.ReLU())
        elif min(h, w) < 4:
            raise ConfigError(f"the conv judge needs image sides of at least 4 pixels, got {self.image_shape}")
        else:
            self.body = nn.Sequential(
                nn.Unflatten(1, (1, h)),  # (B, H, W) -> (B, 1, H, W)
                nn.Conv2d(1, CHANNELS[0], 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # -> (B, 32, H/2, W/2)
                nn.Conv2d(*CHANNELS, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # -> (B, 64, H/4, W/4)
                nn.Flatten(), nn.Dropout(0.3), nn.Linear(CHANNELS[1] * (h // 4) * (w // 4), self.n_features),
                nn.ReLU())  # -> (B, n_features)
        self.head = nn.Linear(self.n_features, self.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, H, W) -> class logits (B, n_classes)."""
        return self.head(self.body(x))

    def loss(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Batch-mean cross-entropy (``loss``) and the share of wrong answers (``error``)."""
        if self.training and self.max_shift:
            shift = torch.randint(-self.max_shift, self.max_shift + 1, (2,)).tolist()
            x = torch.roll(x, shifts=shift, dims=(1, 2))
        logits = self(x)
        error = (logits.argmax(1) != labels).float().mean()
        return {"loss": nn.functional.cross_entropy(logits, labels.long()), "error": error.detach()}

    @torch.no_grad()
    def features(self, images: np.ndarray, batch_size: int = 2000) -> np.ndarray:
        """Penultimate-layer features of images (N, H, W) -> (N, features)."""
        self.eval()
        x = torch.as_tensor(np.asarray(images, np.float32))
        return torch.cat([self.body(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]).numpy()

    @torch.no_grad()
    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        """The share of images whose predicted label is right."""
        self.eval()
        return float((self(torch.as_tensor(images)).argmax(1).numpy() == labels).mean())
