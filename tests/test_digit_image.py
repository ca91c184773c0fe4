"""A student's picture made into an MNIST-like digit, and hostile files refused in the user's terms."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from aelab import data, digit_image
from aelab.digit_image import centre_of_mass, digit_from_drawing, digit_from_file
from aelab.errors import DataError


def _drawing(lines: list[list[tuple[int, int]]], side: int = 280, ink: int = 255, paper: int = 0,
             width: int = 20) -> np.ndarray:
    """A canvas-like drawing: strokes of ``width`` pixels through the given points."""
    image = Image.new("L", (side, side), paper)
    pen = ImageDraw.Draw(image)
    for points in lines:
        pen.line(points, fill=ink, width=width, joint="curve")
    return np.asarray(image)


def _file(pixels: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **options)
    return out.getvalue()


def _ink_box(digit: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


SEVEN = [[(70, 50), (210, 50), (120, 235)]]


def test_a_drawn_digit_is_scaled_into_the_20_pixel_box_and_centred_by_mass():
    digit = digit_from_drawing(_drawing(SEVEN))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() == 0 and digit.max() == pytest.approx(1.0)
    height, width = _ink_box(digit)
    assert height == 20 and width <= 20  # the longer side fills the box
    row, col = centre_of_mass(digit)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1


def test_a_small_off_centre_stroke_is_centred_and_keeps_its_aspect_ratio():
    """A short vertical stroke in a corner of a big canvas: 20 pixels tall, a few wide, in the middle."""
    digit = digit_from_drawing(_drawing([[(40, 30), (40, 110)]], side=400, width=12))
    height, width = _ink_box(digit)
    assert height == 20 and width <= 4
    row, col = centre_of_mass(digit)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1


@pytest.mark.parametrize("channels", ["grey", "rgb", "rgba", "float"])
def test_the_canvas_formats_give_the_same_digit(channels):
    grey = _drawing(SEVEN)
    pixels = {"grey": grey, "rgb": np.repeat(grey[..., None], 3, axis=2),
              "rgba": np.dstack([grey, grey, grey, np.full_like(grey, 255)]),
              "float": grey.astype(np.float32) / 255}[channels]
    np.testing.assert_allclose(digit_from_drawing(pixels), digit_from_drawing(grey), atol=1e-5)


def test_dark_strokes_on_light_paper_are_inverted():
    light_on_dark = digit_from_drawing(_drawing(SEVEN))
    dark_on_light = digit_from_drawing(_drawing(SEVEN, ink=20, paper=235))  # not quite black on white
    assert dark_on_light[0, 0] == 0 and dark_on_light.max() == pytest.approx(1.0)
    assert np.corrcoef(dark_on_light.ravel(), light_on_dark.ravel())[0, 1] > 0.98


def test_black_strokes_on_a_transparent_background_are_read_as_ink():
    """A drawing exported with a transparent background: RGBA, black strokes, alpha 0 elsewhere."""
    strokes = _drawing(SEVEN)
    rgba = np.zeros((*strokes.shape, 4), dtype=np.uint8)
    rgba[..., 3] = strokes  # opaque black where drawn
    digit = digit_from_file(_file(rgba), "seven.png")
    assert np.corrcoef(digit.ravel(), digit_from_drawing(strokes).ravel())[0, 1] > 0.98


@pytest.mark.parametrize("pixels", [np.zeros((56, 56), np.uint8), np.full((280, 280), 255, np.uint8),
                                    np.full((50, 80), 0.5, np.float32)], ids=["black", "white", "grey"])
def test_a_blank_picture_is_refused_with_what_to_do(pixels):
    with pytest.raises(DataError, match=r"^the drawing is blank: .*Draw a digit"):
        digit_from_drawing(pixels)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_every_accepted_file_format_reads(fmt):
    digit = digit_from_file(_file(_drawing(SEVEN, ink=0, paper=255), fmt), f"seven.{fmt.lower()}")
    assert np.corrcoef(digit.ravel(), digit_from_drawing(_drawing(SEVEN)).ravel())[0, 1] > 0.95


def test_an_animated_picture_gives_its_first_frame():
    frames = [Image.fromarray(_drawing(SEVEN)), Image.fromarray(_drawing([[(140, 30), (140, 250)]]))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    digit = digit_from_file(out.getvalue(), "seven.gif")
    assert _ink_box(digit)[1] > 10  # the 7's bar, not the second frame's 1


def test_a_photo_is_turned_upright_by_its_exif_orientation():
    """Stored as a horizontal bar; orientation 6 (rotate 90 degrees clockwise) makes it vertical."""
    bar = np.zeros((100, 300), np.uint8)
    bar[45:56, 20:280] = 255
    exif = Image.Exif()
    exif[274] = 6
    height, width = _ink_box(digit_from_file(_file(bar, "JPEG", exif=exif.tobytes()), "photo.jpg"))
    assert height == 20 and width <= 4


def test_a_real_mnist_digit_survives_a_round_trip_through_a_large_png():
    """MNIST's digits, drawn 10x larger as a PNG and read back, come out as they went in."""
    images = data.load_splits("mnist5k").val.images[:20]
    correlations = []
    for image in images:
        big = np.kron(np.round(image * 255).astype(np.uint8), np.ones((10, 10), np.uint8))  # (280, 280)
        back = digit_from_file(_file(big), "digit.png")
        correlations.append(np.corrcoef(back.ravel(), image.ravel())[0, 1])
    assert min(correlations) > 0.8 and np.median(correlations) > 0.95


# --- hostile files ---------------------------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height grey pixels and holds a few bytes of them (a decompression bomb's header)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("payload", "message"), [
    (b"this is not a picture at all" * 10, r"^notes\.png is not a PNG, JPEG, GIF, BMP or WebP picture"),
    (b"", r"^notes\.png is empty"),
    (b"%PDF-1.4\n" + b"\0" * 100, r"^notes\.png is not a PNG, JPEG"),
], ids=["garbage", "empty", "pdf"])
def test_a_file_that_is_not_a_picture_is_refused(payload, message):
    with pytest.raises(DataError, match=message):
        digit_from_file(payload, "notes.png")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_png_is_refused_as_damaged(keep):
    whole = _file(_drawing(SEVEN))
    with pytest.raises(DataError, match=r"^seven\.png is damaged or cut short .*upload the new file") as caught:
        digit_from_file(whole[:int(len(whole) * keep)], "seven.png")
    assert caught.value.__cause__ is None  # Pillow's error is not chained: no traceback of it anywhere


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (12_000, 12_000), (6_000, 6_000), (1, 20_000)])
def test_a_huge_picture_is_refused_from_its_header(width, height):
    """A decompression bomb (Pillow's own limit, its warning band, then aelab's) and an absurd side."""
    with pytest.raises(DataError, match=r"^bomb\.png (declares a picture far too large|is [\d,]+x[\d,]+ pixels)"
                                        r".*megapixels.*smaller picture"):
        digit_from_file(_png_header(width, height), "bomb.png")


def test_a_file_over_the_size_limit_is_refused_before_it_is_opened():
    limits = digit_image.PictureLimits(max_bytes=1000)
    with pytest.raises(DataError, match=r"^big\.png is 1,500 bytes; pictures are limited to 1,000 bytes"):
        digit_from_file(b"\x89PNG" + b"\0" * 1496, "big.png", limits)


@pytest.mark.parametrize("pixels", [np.zeros((3, 4, 5)), np.zeros((0, 10)), np.array([[np.nan, 1.0]]),
                                    np.full((4, 4), 300), np.array([["a", "b"]])],
                         ids=["channels", "empty", "nan", "range", "strings"])
def test_arrays_that_are_not_pictures_are_refused(pixels):
    with pytest.raises(DataError, match=r"^the drawing "):
        digit_from_drawing(pixels)


def test_mutated_files_give_a_digit_or_a_data_error_and_nothing_else():
    """Bytes flipped, cut and inserted in small valid files of every format (seeded: the same every run)."""
    rng = np.random.default_rng(0)
    seeds = [_file(_drawing(SEVEN, side=64, width=5), fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP")]
    outcomes = {"digit": 0, "refused": 0}
    for i in range(400):
        raw = bytearray(seeds[i % len(seeds)])
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(0, len(raw)))
            kind = rng.integers(0, 3)
            if kind == 0:
                raw[at] = int(rng.integers(0, 256))
            elif kind == 1:
                del raw[at:at + int(rng.integers(1, 64))]
            else:
                raw[at:at] = rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8).tobytes()
        try:
            digit = digit_from_file(bytes(raw), "mutant.png")
        except DataError as exc:
            assert str(exc).startswith("mutant.png "), str(exc)
            outcomes["refused"] += 1
        else:
            assert digit.shape == (28, 28) and 0 <= digit.min() and digit.max() <= 1
            outcomes["digit"] += 1
    assert min(outcomes.values()) > 20  # the mutations reached both outcomes
