"""A student's own picture of a digit, made into an MNIST-like 28x28 image.

MNIST's digits were made by scaling each handwritten digit to fit a 20x20 box (keeping its
aspect ratio, antialiased) and placing that box in a 28x28 field so the centre of mass of
the ink sits at the centre (LeCun et al., "Gradient-based learning applied to document
recognition", 1998, and the MNIST page). :func:`digit_from_drawing` does the same to any
picture held in an array (a drawing from the app's canvas, white strokes on black, or any
other), and :func:`digit_from_file` to an uploaded image file (PNG, JPEG, GIF, BMP or WebP;
an animated one gives its first frame). Dark strokes on a light background (told by the
pixels along the border) are inverted, and the background is subtracted, so a photo of ink
on paper works too. Both return float32 (28, 28) in [0, 1], white strokes on black.

An uploaded file is untrusted: its size in bytes and its pixel count (from the header,
before anything is decoded) are checked against `PictureLimits`, and every failure, Pillow's
included, is a DataError that names the file, says what is wrong and what to do.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from aelab._files import MiB, human_size, reader_boundary, scrub
from aelab.errors import DataError
from aelab.i18n import N_, _

DIGIT_SIDE = 28  # the output image, as MNIST's
BOX_SIDE = 20  # the digit's longer side, as MNIST's
CENTRE = 14.0  # where the centre of mass goes, in pixel indices (MNIST's own digits average 14.0, 14.0)
PICTURE_SUFFIXES = ("png", "jpg", "jpeg", "gif", "bmp", "webp")  # for a file picker
_PILLOW_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # never others: EPS, for one, would run Ghostscript
_WORK_SIDE = 1024  # larger pictures are shrunk to this first: the digit ends up 20 pixels tall anyway
_MIN_CONTRAST = 0.15  # the strokes must stand this far (of the full range) from the background
_NOISE_FLOOR = 0.1  # ink fainter than this (after stretching to [0, 1]) is background: paper grain, JPEG noise
_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's convert("L")
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,  # EXIF tag 274 (photos)
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
_ADVICE = N_("Save the picture again as PNG or JPEG and upload that, or draw the digit instead")


@dataclass(frozen=True)
class PictureLimits:
    """Bounds on an uploaded picture, checked before anything is decoded."""

    max_bytes: int = 16 * MiB  # a phone's photo is a few megabytes
    max_pixels: int = 25_000_000  # 25 megapixels: 100 MiB decoded as RGBA, the most a picture costs
    max_side: int = 16_384  # pixels along either side


PICTURE_LIMITS = PictureLimits()


def digit_from_drawing(pixels: np.ndarray, name: str | None = None) -> np.ndarray:
    """An MNIST-like digit, float32 (28, 28) in [0, 1] with white strokes, from a picture as an array.

    ``pixels`` is (H, W) grey, or (H, W, C) with C = 1, 2 (grey and alpha), 3 (RGB) or 4
    (RGBA); uint8 (0..255), bool, or floats in [0, 1] or [0, 255]; strokes light on dark or
    dark on light. A blank picture is a DataError naming it as ``name`` (default: "the drawing").
    """
    name = name or _("the drawing")
    ink = _ink(_grey(np.asarray(pixels), name), name)  # (H, W) -> (H, W), 0 where there is no ink
    return _centred(_fitted(_cropped(ink)))  # -> (h, w) -> (<=20, <=20) -> (28, 28)


def _file_name(data: bytes, name: str | None = None, *args, **kwargs) -> str:
    return name or _("the picture")


@reader_boundary(DataError, _file_name, _ADVICE)
def digit_from_file(data: bytes, name: str | None = None, limits: PictureLimits = PICTURE_LIMITS) -> np.ndarray:
    """An MNIST-like digit (see :func:`digit_from_drawing`) from an uploaded image file's bytes.

    ``name`` is the file as the user knows it, used in every message. Only the first frame
    of an animated picture is used; a photo is turned upright by its EXIF orientation.
    """
    name = _file_name(data, name)
    return digit_from_drawing(read_picture(data, name, limits), name)


@reader_boundary(DataError, _file_name, _ADVICE)
def read_picture(data: bytes, name: str | None = None, limits: PictureLimits = PICTURE_LIMITS) -> np.ndarray:
    """The first frame of an image file as uint8 (H, W) grey or (H, W, 4) RGBA, at most 1024 pixels a side.

    Raises DataError for anything but a PNG, JPEG, GIF, BMP or WebP file within ``limits``.
    """
    name = _file_name(data, name)
    if len(data) > limits.max_bytes:
        raise DataError(_("{name} is {size}; pictures are limited to {limit}. Upload a smaller picture (a crop of the "
                          "digit is enough)", name=name, size=human_size(len(data)),
                          limit=human_size(limits.max_bytes)))
    if not data:
        raise DataError(_("{name} is empty (0 bytes); upload a PNG, JPEG, GIF, BMP or WebP picture", name=name))
    return _decoded(_open(data, name, limits), name)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """The (row, column) of an image's centre of mass in pixel indices; the centre of the image if it is blank."""
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    if total <= 0:
        return (image.shape[0] - 1) / 2, (image.shape[1] - 1) / 2
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


# --- reading a file ------------------------------------------------------------------------


def _open(data: bytes, name: str, limits: PictureLimits) -> Image.Image:
    """Open the file lazily (its header only) and check its size in pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    except UnidentifiedImageError:
        raise DataError(_("{name} is not a PNG, JPEG, GIF, BMP or WebP picture (Pillow cannot tell what it is); "
                          "upload an image file, or draw the digit instead", name=name)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(_("{name} declares a picture far too large to open; pictures are limited to "
                          "{megapixels:g} megapixels. Upload a smaller picture", name=name,
                          megapixels=limits.max_pixels / 1e6)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # a header cut short or broken
        raise DataError(_damaged(name, exc, _("Pillow cannot read its header"))) from None
    width, height = image.size
    if min(width, height) < 1 or max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise DataError(_("{name} is {width:,}x{height:,} pixels; pictures must be at most {side:,} pixels a side and "
                          "{megapixels:g} megapixels in all. Upload a smaller picture (a crop of the digit is enough)",
                          name=name, width=width, height=height, side=limits.max_side,
                          megapixels=limits.max_pixels / 1e6))
    return image


def _decoded(image: Image.Image, name: str) -> np.ndarray:
    """The first frame, decoded, shrunk to at most _WORK_SIDE a side, turned upright, as an array."""
    image.draft(None, (_WORK_SIDE, _WORK_SIDE))  # a JPEG decodes at 1/2, 1/4 or 1/8 size when that is enough
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)  # a PNG decodes here: its EXIF may follow
        image = _eight_bit(image).convert("RGBA" if _has_alpha(image) else "L")  # decodes the first frame only
        image.thumbnail((_WORK_SIDE, _WORK_SIDE), Image.Resampling.BOX)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated, or a broken chunk or stream
        raise DataError(_damaged(name, exc, _("Pillow cannot decode it"))) from None
    if orientation in _ORIENTATION:
        image = image.transpose(_ORIENTATION[orientation])
    return np.asarray(image)


def _damaged(name: str, exc: BaseException, otherwise: str) -> str:
    return _("{name} is damaged or cut short ({detail}); save or export the picture again and upload the new file",
             name=name, detail=scrub(str(exc)) or otherwise)


def _eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit grey picture (PNG's mode I or I;16) as 8-bit grey; Pillow's own convert would clip it."""
    if not image.mode.startswith("I"):
        return image
    levels = np.asarray(image).astype(np.float32) / 257.0  # 0..65535 -> 0..255
    return Image.fromarray(np.clip(levels, 0, 255).round().astype(np.uint8))


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.getbands() or "transparency" in image.info


# --- from pixels to a digit --------------------------------------------------------------


def _grey(pixels: np.ndarray, name: str) -> np.ndarray:
    """Grey levels (H, W) float32 in [0, 1]; a transparent background is filled to contrast with the strokes."""
    if pixels.ndim == 3 and pixels.shape[-1] in (1, 2, 3, 4):
        channels = pixels.shape[-1]
    elif pixels.ndim == 2:
        channels, pixels = 1, pixels[..., None]
    else:
        raise DataError(_("{name} has shape {shape}; expected a picture (H, W) or (H, W, C) with 1 to 4 channels",
                          name=name, shape=pixels.shape))
    if min(pixels.shape[:2]) < 1:
        raise DataError(_("{name} has no pixels (shape {shape}); draw a digit", name=name, shape=pixels.shape))
    values = _unit(pixels, name)
    grey = values[..., :3] @ _LUMINANCE if channels >= 3 else values[..., 0]
    if channels in (2, 4):
        grey = _flatten_alpha(grey, values[..., -1], name)
    return np.clip(grey, 0.0, 1.0)


def _unit(pixels: np.ndarray, name: str) -> np.ndarray:
    """Values as float32 in [0, 1]: bool, integers in 0..255, floats in [0, 1] or [0, 255]."""
    if pixels.dtype.kind not in "biuf":
        raise DataError(_("{name} holds {dtype} values; expected numbers", name=name, dtype=pixels.dtype))
    values = pixels.astype(np.float32)
    low, high = float(values.min()), float(values.max())
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > 255:
        raise DataError(_("{name} has values from {low:g} to {high:g}; expected 0..255 or 0..1", name=name, low=low,
                          high=high))
    if pixels.dtype.kind in "iu" or high > 1:
        values /= 255.0
    return values


def _flatten_alpha(grey: np.ndarray, alpha: np.ndarray, name: str) -> np.ndarray:
    """Put a picture with transparency on a background that contrasts with its strokes.

    Strokes that are dark on average go on white, light ones on black; fully opaque
    pictures are left as they are.
    """
    if alpha.min() >= 1.0:
        return grey
    if alpha.sum() < 1.0:
        raise DataError(_("{name} is fully transparent: there is nothing to see. Draw a digit, or upload "
                          "a picture of one", name=name))
    strokes = float((grey * alpha).sum() / alpha.sum())
    background = 1.0 if strokes < 0.5 else 0.0
    return grey * alpha + background * (1.0 - alpha)


def _ink(grey: np.ndarray, name: str) -> np.ndarray:
    """How much ink each pixel holds, 0 (background) to 1, whichever way round the picture is."""
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    background = float(np.median(border))
    if background > 0.5:  # dark strokes on a light background: make them light on dark, as MNIST's
        grey, background = 1.0 - grey, 1.0 - background
    peak = float(grey.max())
    if peak - background < _MIN_CONTRAST:
        raise DataError(_("{name} is blank: nothing in it stands out from the background. Draw a digit, or "
                          "upload a picture of one (dark strokes on a light background, or light on dark)", name=name))
    ink = np.clip((grey - background) / (peak - background), 0.0, 1.0)
    ink[ink < _NOISE_FLOOR] = 0.0
    return ink


def _cropped(ink: np.ndarray) -> np.ndarray:
    """The ink's bounding box (there is ink: _ink refused a blank picture)."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _fitted(ink: np.ndarray) -> np.ndarray:
    """Scaled so the longer side is BOX_SIDE, keeping the aspect ratio (antialiased), peak 1."""
    height, width = ink.shape
    scale = BOX_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow's (width, height)
    resized = Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    box = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    peak = box.max()
    return box / peak if peak > 0 else box


def _centred(box: np.ndarray) -> np.ndarray:
    """The box placed in a DIGIT_SIDE square with its centre of mass at CENTRE (as near as whole pixels allow,
    without cutting any ink off)."""
    digit = np.zeros((DIGIT_SIDE, DIGIT_SIDE), dtype=np.float32)
    row, col = centre_of_mass(box)
    top = int(np.clip(round(CENTRE - row), 0, DIGIT_SIDE - box.shape[0]))
    left = int(np.clip(round(CENTRE - col), 0, DIGIT_SIDE - box.shape[1]))
    digit[top:top + box.shape[0], left:left + box.shape[1]] = box
    return digit
