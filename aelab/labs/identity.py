"""The identity trap: an autoencoder whose code is as large as its input can learn to copy.

With a code of d >= 784 numbers for a 784-pixel image, g(f(x)) = x is one way to reach zero
reconstruction error, and a copier has learned nothing about digits: it gives back anything it
is shown (Goodfellow, Bengio & Courville, "Deep Learning", 2016, section 14.1). This module
measures how close a model comes to copying on probe sets that are not digits, by the mean
squared pixel error of each image's reconstruction and by the share of the set's variance that
the reconstructions reproduce.

A probe set's images must lie where the model could have learned to copy: a pixel that no
training digit ever lights has input 0 in every training step, so the encoder's weights from
it get no gradient and keep their random starting values (:func:`first_layer_weights`).
Hence "noise where digits have ink" (:func:`ink_noise`) beside noise on every pixel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from torch import nn

from ..data import ImageSet
from ..explore import reconstruct
from ..i18n import N_
from ..metrics import bootstrap_interval, mse_per_image
from ..models import Autoencoder
from ..train import make_model
from . import ood


def ink_mask(train_images: np.ndarray) -> np.ndarray:
    """The pixels that at least one training image lights (value above 0): (N, H, W) -> (H, W) bool."""
    return np.asarray(train_images).max(axis=0) > 0


def ink_noise(train_images: np.ndarray, n: int = ood.SIZE, seed: int = 0) -> np.ndarray:
    """Uniform noise in [0, 1] on the pixels of :func:`ink_mask`, 0 elsewhere: (n, H, W) float32."""
    noise = ood.uniform_noise(ImageSet(train_images[:1], None, "digits"), n, seed).images
    return (noise * ink_mask(train_images)).astype(np.float32)


@dataclass(frozen=True)
class Probe:
    """A set of images to hand a model, and how to name it."""

    name: str  # a short key, e.g. for a URL
    title: str
    what: str  # one sentence for a reader
    make: Callable[[np.ndarray, np.ndarray, int, int], np.ndarray]  # (train, held-out, n, seed) -> (n, H, W)


def _from_ood(name: str) -> Callable[[np.ndarray, np.ndarray, int, int], np.ndarray]:
    return lambda train, held_out, n, seed: ood.make(name, ImageSet(held_out, None, "held-out digits"), n, seed).images


PROBES: dict[str, Probe] = {p.name: p for p in (  # title and what are shown translated, as _(p.title)
    Probe("rotated", N_("rotated digits"), N_("held-out digits turned 90 degrees anticlockwise"), _from_ood("rotated")),
    Probe("letters", N_("letters"), N_("A-Z and a-z in Pillow's built-in font, random sizes and positions"),
          _from_ood("letters")),
    Probe("ink_noise", N_("noise where digits have ink"),
          N_("every pixel that some training digit lights drawn uniformly from [0, 1], the never-lit border black"),
          lambda train, held_out, n, seed: ink_noise(train, n, seed)),
    Probe("noise", N_("noise on every pixel"), N_("every pixel uniform in [0, 1], the border included"),
          _from_ood("noise")),
    Probe("digits", N_("held-out digits"), N_("digits no model trained on: what every model should reconstruct"),
          lambda train, held_out, n, seed: held_out[np.random.default_rng(seed).permutation(len(held_out))[:n]]),
)}


def probe_images(name: str, train: np.ndarray, held_out: np.ndarray, n: int = ood.SIZE, seed: int = 0) -> np.ndarray:
    """The probe set called ``name`` (a key of PROBES): (n, H, W) in [0, 1], the same for the same seed."""
    if name not in PROBES:
        raise KeyError(f"no probe set called {name!r}; known: {', '.join(PROBES)}")
    return np.asarray(PROBES[name].make(train, held_out, n, seed), np.float32)


def errors(models: Mapping[str, Autoencoder], images: np.ndarray) -> dict[str, np.ndarray]:
    """Each model's per-image reconstruction error: mean_p (x_p - g(f(x))_p)^2, model name -> (N,)."""
    return {name: mse_per_image(images, reconstruct(model, images)) for name, model in models.items()}


def mean_image_error(images: np.ndarray) -> np.ndarray:
    """Each image's error when the answer is the set's own mean image x-bar, whatever the input: (N,).

    A model that has learned nothing about its input but the set's average does this well.
    """
    images = np.asarray(images, np.float64)
    return mse_per_image(images, np.broadcast_to(images.mean(axis=0), images.shape))


def copied_share(images: np.ndarray, model_errors: np.ndarray) -> float:
    """The share of the set's variance the reconstructions reproduce (R^2, the coefficient of determination):

    R^2 = 1 - sum_i ||x_i - x-hat_i||^2 / sum_i ||x_i - x-bar||^2,

    with x-bar the set's mean image. 1: an exact copy of every image; 0: no better than answering
    x-bar for every input; below 0: worse than that.
    """
    baseline = mean_image_error(images).sum()
    return float(1.0 - np.sum(model_errors) / baseline) if baseline > 0 else float("nan")


@dataclass(frozen=True)
class Comparison:
    """Two models' errors on the same images, told apart only beyond a paired bootstrap interval."""

    mean_a: float
    mean_b: float
    low: float  # the 95% interval of mean(a - b) over the images
    high: float
    verdict: int  # +1: a's error is larger beyond the interval; -1: smaller; 0: a tie

    @property
    def ratio(self) -> float:
        """How many times b's mean error a's is."""
        return self.mean_a / self.mean_b if self.mean_b > 0 else float("inf")


def compare(a: np.ndarray, b: np.ndarray, level: float = 0.95, seed: int = 0) -> Comparison:
    """Compare per-image errors ``a`` and ``b`` of two models on the same images (paired bootstrap).

    The interval is :func:`aelab.metrics.bootstrap_interval` of the per-image differences a_i - b_i;
    when it holds 0 the two are a tie.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"errors on {len(a)} and {len(b)} images: compare models on the same images")
    low, high = bootstrap_interval(a - b, level, seed=seed)
    return Comparison(float(a.mean()), float(b.mean()), low, high, 1 if low > 0 else -1 if high < 0 else 0)


def summary(errors: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """A model's mean error over a set and its bootstrap interval: {error, low, high}."""
    low, high = bootstrap_interval(errors, level)
    return {"error": float(np.mean(errors)), "low": low, "high": high}


def curve(errors_by_units: Mapping[int, np.ndarray], level: float = 0.95) -> list[dict[str, float]]:
    """Mean error and its bootstrap interval at each code size: [{units, error, low, high}] in size order."""
    return [{"units": units} | summary(errors_by_units[units], level) for units in sorted(errors_by_units)]


@dataclass(frozen=True)
class DigitDirections:
    """The mean training image and the k directions of pixel space along which training images vary most."""

    mean: np.ndarray  # (P,) with P = H * W pixels
    axes: np.ndarray  # (k, P), orthonormal rows, largest variance first
    variance_share: float  # the share of the training images' variance along the k axes


def digit_directions(train_images: np.ndarray, k: int) -> DigitDirections:
    """The top ``k`` principal directions of the training images (their SVD, centred on the mean image)."""
    flat = np.asarray(train_images, np.float64).reshape(len(train_images), -1)
    mean = flat.mean(axis=0)
    _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
    total = np.sum(singular**2)
    return DigitDirections(mean, vt[:k], float(np.sum(singular[:k] ** 2) / total) if total > 0 else 0.0)


def span_share(images: np.ndarray, directions: DigitDirections) -> np.ndarray:
    """Per image, the share of its difference from the mean training image that lies along the directions:

    s(x) = ||A (x - m)||^2 / ||x - m||^2, A the (k, P) orthonormal axes, m the mean: (N, H, W) -> (N,).
    1: the image is the mean digit plus a mix of the directions digits vary along; near k / P: a random one.
    """
    centred = np.asarray(images, np.float64).reshape(len(images), -1) - directions.mean  # (N, P)
    along = centred @ directions.axes.T  # (N, P) -> (N, k)
    energy = np.sum(centred**2, axis=1)
    return np.divide(np.sum(along**2, axis=1), energy, out=np.ones_like(energy), where=energy > 0)


def first_layer_weights(model: Autoencoder) -> np.ndarray | None:
    """The encoder's first linear layer as (outputs, pixels), or None for a model that starts otherwise (conv)."""
    first = next(iter(model.encoder.children()), None)
    return first.weight.detach().numpy() if isinstance(first, nn.Linear) else None


def initial_weight_rms(n_pixels: int) -> float:
    """The root mean square of a freshly initialised torch Linear layer's weights with ``n_pixels`` inputs.

    torch draws them uniformly from [-1/sqrt(n), 1/sqrt(n)], whose RMS is 1/sqrt(3n).
    """
    return float(1.0 / np.sqrt(3.0 * n_pixels))


def weight_rms(model: Autoencoder, mask: np.ndarray) -> tuple[float, float] | None:
    """RMS of the encoder's first-layer weights from the pixels inside ``mask`` and from those outside it."""
    weights = first_layer_weights(model)
    if weights is None:
        return None
    flat = mask.reshape(-1)
    return float(np.sqrt(np.mean(weights[:, flat] ** 2))), float(np.sqrt(np.mean(weights[:, ~flat] ** 2)))


def initial_model(model: Autoencoder, seed: int) -> Autoencoder:
    """The model as training found it: the same kind and settings, initialised from the same ``seed``."""
    settings = {k: v for k, v in model.config().items() if k != "image_shape"}
    return make_model(model.kind, settings, model.image_shape, seed)


def unmoved_share(model: Autoencoder, start: Autoencoder, mask: np.ndarray) -> float | None:
    """The share of the encoder's first-layer weights from the pixels outside ``mask`` that training left
    bit for bit where ``start`` has them (1: none moved); None for a model without such a layer."""
    trained, initial = first_layer_weights(model), first_layer_weights(start)
    if trained is None or initial is None or trained.shape != initial.shape:
        return None
    off = ~mask.reshape(-1)
    return float(np.mean(trained[:, off] == initial[:, off])) if off.any() else None
