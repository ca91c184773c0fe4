"""Out-of-distribution image sets, generated offline and deterministically for a seed.

Each generator returns an `aelab.data.ImageSet` of 28x28 float32 images in [0, 1], drawn
like MNIST (a light shape on black) unless the point is that they are not. The sets that
are made from digits take the held-out digits they are given, normally the validation
split of the built-in mnist5k set (`held_out_digits`): 500 digits no shipped model trained on.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from aelab import data
from aelab._files import atomic_write
from aelab.data import ImageSet
from aelab.errors import DataError
from aelab.i18n import N_, _

SIDE = 28  # MNIST's image side, in pixels
BOX = 20  # MNIST fits each digit in a 20x20 box centred in the 28x28 image
SIZE = 500  # images per set by default, as many as there are held-out digits
LETTERS = string.ascii_uppercase + string.ascii_lowercase


def held_out_digits() -> ImageSet:
    """The 500 validation digits of the built-in mnist5k set (no shipped model trained on them)."""
    return data.load_splits("mnist5k").val


def uniform_noise(digits: ImageSet, n: int = SIZE, seed: int = 0) -> ImageSet:
    """Images whose every pixel is drawn independently and uniformly from [0, 1]."""
    rng = np.random.default_rng(seed)
    return ImageSet(rng.random((n, SIDE, SIDE), dtype=np.float32), None, "uniform noise")


def inverted_digits(digits: ImageSet, n: int = SIZE, seed: int = 0) -> ImageSet:
    """Held-out digits with black and white swapped: 1 - x (a dark digit on a white page)."""
    chosen = _pick(digits, n, seed)
    return ImageSet((1.0 - chosen.images).astype(np.float32), chosen.labels, "inverted digits")


def rotated_digits(digits: ImageSet, n: int = SIZE, seed: int = 0) -> ImageSet:
    """Held-out digits turned 90 degrees anticlockwise (exactly, by moving pixels)."""
    chosen = _pick(digits, n, seed)
    turned = np.ascontiguousarray(np.rot90(chosen.images, k=1, axes=(1, 2)))
    return ImageSet(turned.astype(np.float32), chosen.labels, "digits rotated 90 degrees")


def letters(digits: ImageSet, n: int = SIZE, seed: int = 0) -> ImageSet:
    """Letters A-Z and a-z in Pillow's built-in font, white on black, at random sizes and positions.

    Each image draws one letter (labels: its index in A-Z then a-z) at a font size of 16 to 28
    pixels, with a stroke of 0 or 1 extra pixel (MNIST's pen is 2 to 3 pixels wide), placed
    uniformly where the whole glyph stays inside the 28x28 image.
    """
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(LETTERS), n)
    sizes = rng.integers(16, 29, n)
    strokes = rng.integers(0, 2, n)
    images = np.stack([_letter(LETTERS[i], int(size), int(stroke), rng)
                       for i, size, stroke in zip(which, sizes, strokes, strict=True)])
    return ImageSet(images, which.astype(np.int64), "letters")


def _letter(char: str, size: int, stroke: int, rng: np.random.Generator) -> np.ndarray:
    """One glyph, white on black, at a random position where it fits: (28, 28) in [0, 1]."""
    font = _font(size)
    left, top, right, bottom = font.getbbox(char, stroke_width=stroke)
    x = rng.integers(0, max(SIDE - (right - left), 0) + 1) - left
    y = rng.integers(0, max(SIDE - (bottom - top), 0) + 1) - top
    canvas = Image.new("L", (SIDE, SIDE), 0)
    ImageDraw.Draw(canvas).text((int(x), int(y)), char, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
    return np.asarray(canvas, np.float32) / 255.0


_FONTS: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if size not in _FONTS:
        _FONTS[size] = ImageFont.load_default(size=size)
    return _FONTS[size]


def small_digits(digits: ImageSet, n: int = SIZE, seed: int = 0) -> ImageSet:
    """scikit-learn's 8x8 digits (pixel values 0..16) scaled to 20x20 and centred in 28x28, like MNIST.

    Still digits, but blocky and blurred by the scaling (bilinear), and drawn by other people.
    """
    source = data.sklearn_digits()  # (1797, 8, 8) in [0, 1]
    chosen = _pick(source, n, seed)
    images = np.zeros((len(chosen), SIDE, SIDE), np.float32)
    start = (SIDE - BOX) // 2
    for i, image in enumerate(chosen.images):
        big = Image.fromarray(image.astype(np.float32), mode="F").resize((BOX, BOX), Image.Resampling.BILINEAR)
        images[i, start : start + BOX, start : start + BOX] = np.asarray(big)
    return ImageSet(np.clip(images, 0.0, 1.0), chosen.labels, "scikit-learn 8x8 digits, upscaled")


def _pick(images: ImageSet, n: int, seed: int) -> ImageSet:
    """``n`` of the images in a seeded random order (all of them, shuffled, when there are fewer)."""
    rng = np.random.default_rng(seed)
    return images.subset(rng.permutation(len(images))[: min(n, len(images))])


@dataclass(frozen=True)
class OODSet:
    """A generator of out-of-distribution images and how to name it."""

    name: str  # a short key, e.g. for a URL
    title: str
    what: str  # one sentence for a reader
    make: Callable[[ImageSet, int, int], ImageSet]  # (held-out digits, n, seed) -> images


OOD_SETS: dict[str, OODSet] = {s.name: s for s in (  # title and what are shown translated, as _(s.title)
    OODSet("noise", N_("noise"), N_("every pixel uniform in [0, 1]"), uniform_noise),
    OODSet("inverted", N_("inverted digits"), N_("held-out digits with black and white swapped (1 - x)"),
           inverted_digits),
    OODSet("rotated", N_("rotated digits"), N_("held-out digits turned 90 degrees anticlockwise"), rotated_digits),
    OODSet("letters", N_("letters"), N_("A-Z and a-z in Pillow's built-in font, random sizes and positions"),
           letters),
    OODSet("sklearn", N_("upscaled 8x8 digits"), N_("scikit-learn's 8x8 digits scaled to 20x20 in a 28x28 frame"),
           small_digits),
)}


def make(name: str, digits: ImageSet | None = None, n: int = SIZE, seed: int = 0) -> ImageSet:
    """The OOD set called ``name`` (a key of OOD_SETS), made from ``digits`` (default: the held-out digits)."""
    if name not in OOD_SETS:
        raise KeyError(f"no OOD set called {name!r}; known: {', '.join(OOD_SETS)}")
    return OOD_SETS[name].make(held_out_digits() if digits is None else digits, n, seed)


def from_splits(splits: data.Splits, n: int = SIZE, seed: int = 0) -> ImageSet:
    """At most ``n`` images of a whole data set (training and validation parts), chosen by ``seed``.

    For a data set a user brings as OOD images; DataError unless its images are 28x28 like the digits'.
    """
    if splits.train.image_shape != (SIDE, SIDE):
        h, w = splits.train.image_shape
        raise DataError(_("the images are {h}x{w} pixels; the models read {side}x{side} images, as MNIST's are",
                          h=h, w=w, side=SIDE))
    pooled = ImageSet(np.concatenate([splits.train.images, splits.val.images]), None, splits.train.name)
    return _pick(pooled, n, seed)


def save_upload(files: Sequence[tuple[str, bytes]], folder: Path) -> str:
    """Save uploaded files (name, content) in ``folder`` and return the data spec that reads them.

    One .npz or .zip is read as such ('npz:PATH', 'zip:PATH'); MNIST-format IDX files keep their
    names in one folder ('idx:FOLDER'), t10k files alone standing in for the training files.
    Nothing is parsed here: `aelab.data.load_splits` reads the spec. DataError for anything else.
    """
    names = [re.sub(r"[^A-Za-z0-9._-]", "_", name.rsplit("/", 1)[-1])[-100:] for name, _content in files]
    if len(files) == 1 and names[0].lower().endswith((".npz", ".zip")):
        return f"{names[0][-3:].lower()}:{atomic_write(Path(folder) / names[0], files[0][1])}"
    if not any(name.startswith(("train-images", "t10k-images")) for name in names):
        raise DataError(_("expected one .npz, one .zip of PNG images, or MNIST-format IDX files named like "
                          "train-images-idx3-ubyte.gz or t10k-images-idx3-ubyte.gz"))
    has_train = any(name.startswith("train-") for name in names)
    for name, (_name, content) in zip(names, files, strict=True):
        if name.startswith(("train-", "t10k-")):
            atomic_write(Path(folder) / (name if has_train else name.replace("t10k-", "train-", 1)), content)
    return f"idx:{folder}"
