"""Readers for image data sets that users upload: bounded, validated, never unpickled.

An upload is untrusted. Every size is checked against `UploadLimits` before anything is
decompressed or allocated (the entry count from the zip's end records, the declared
unpacked size, each array's .npy header, each image's header), only stored and deflate
zip members are read, NumPy arrays are read by aelab itself from their headers (never
unpickled), and pixels are converted a few megabytes at a time into the one float32
array that is returned, so an upload costs about that array. Every failure is a
DataError that names the file and says what is wrong: the readers' specific messages,
and under them `aelab._files.reader_boundary` for anything a library raises. Both
readers return ``(images, labels)``: images (N, H, W) float32 in [0, 1], labels (N,)
int64 or None; `aelab.data` wraps them into an ImageSet.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from aelab import i18n
from aelab._files import (
    MiB,
    check_readable,
    human_size,
    ignored_member,
    open_member,
    open_zip,
    read_member,
    reader_boundary,
    scrub,
    zip_members,
)
from aelab.errors import DataError
from aelab.i18n import N_, _

IMAGE_KEYS = ("images", "x", "X", "x_train")  # the first one present holds the images
LABEL_KEYS = ("labels", "y", "y_train")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_LABEL = 2**31 - 1  # labels are whole numbers with |label| <= MAX_LABEL (class names are numbered)
_PILLOW_FORMATS = ("PNG", "JPEG")  # never others: EPS, for one, would run Ghostscript on the upload
# ITU-R BT.601 luma, the weights Pillow's convert("L") uses; alpha is ignored
_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip
_NPZ_MAX_ARRAYS = 64  # an .npz holds a handful of arrays; thousands of entries is not a data set
_ZIP_EXTRA_ENTRIES = 1000  # folders and dotfiles beside the images (macOS adds one __MACOSX/ file per image)
_MAX_IMAGE_BYTES = 4 * MiB  # one image file in a zip: a 64x64 PNG or JPEG is a few kilobytes
_MAX_LABEL_BYTES = 1024  # one label: a number, or a class name of at most 256 characters
_CHUNK_BYTES = 8 * MiB  # pixels are read and converted in chunks of about this many bytes (as float32)
# Advice that ends several messages (English, translated where a message is made)
_SMALLER = N_("store the images as uint8 (0..255) to make them 4 to 8 times smaller")
_NPZ_HOW_TO = N_("make one with numpy.savez_compressed('data.npz', images=images, labels=labels)")
_NPZ_CHECK = N_("Check that it is a NumPy .npz file; make one with numpy.savez_compressed('data.npz', "
                "images=images, labels=labels)")
_ZIP_HOW_TO = N_("Zip a folder of PNG or JPEG images (one folder per label, or none) and upload that zip")
_LOOKS_LIKE = {b"\x80": N_("a Python pickle"), b"\x89PNG": N_("a PNG image"), b"\xff\xd8\xff": N_("a JPEG image"),
               b"\x1f\x8b": N_("a gzip file"), _NPY_MAGIC: N_("a .npy array")}


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on an uploaded data set, checked before anything is decompressed or allocated."""

    max_bytes: int = 64 * MiB  # the uploaded file itself
    max_images: int = 70_000  # MNIST's train and test sets together
    min_images: int = 20  # fewer cannot give both a training and a validation set worth the name
    max_side: int = 64  # pixels; the models are MLPs on every pixel, so larger images are slow
    max_unpacked_bytes: int = 256 * MiB  # a zip's or an .npz's contents, decompressed
    # the images once read, as float32 (N * H * W * 4 bytes), which is what an upload costs
    # in memory: all of MNIST (70,000 of 28x28) is 209 MiB; 70,000 of 64x64 would be 1.1 GiB
    max_pixel_bytes: int = 256 * MiB


UPLOAD_LIMITS = UploadLimits()


def _label(path: Path, label: str, *args, **kwargs) -> str:
    return label


@reader_boundary(DataError, _label, _NPZ_CHECK)
def npz_arrays(path: Path, label: str, limits: UploadLimits) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Read images and optional labels from a NumPy .npz file (or a single .npy array).

    Images are the array named images (or x, X, x_train, or the only array), (N, H, W) or
    (N, H, W, C) with C in 1, 3, 4 (made grey); labels the array named labels (or y, y_train).
    The third value says which arrays were used, e.g. "images from the array 'x', no labels".
    """
    head = _check_file(path, label, limits)
    if not head.startswith((*_ZIP_MAGICS, _NPY_MAGIC)):
        raise DataError(_("{label} is not a NumPy .npz file{looks_like}; {how_to}", label=label,
                          looks_like=_looks_like(head), how_to=i18n._(_NPZ_HOW_TO)))
    if head.startswith(_NPY_MAGIC):  # a .npy file: one array, no labels
        with path.open("rb") as f:
            images = _read_images(f, path.stat().st_size, "the array", label, limits)
        return images, None, "images from the array, no labels"
    with open_zip(path, label, max_entries=_NPZ_MAX_ARRAYS, error=DataError,
                  what=N_("entries (a data set .npz holds a few arrays)")) as archive:
        members = _npz_members(archive, label, limits)
        images_key, labels_key = _pick_keys(list(members), label)
        with _open_array(archive, members[images_key], label) as f:
            images = _read_images(f, members[images_key].file_size, images_key, label, limits)
        source = f"images from the array {images_key!r}"
        if labels_key is None:
            return images, None, f"{source}, no labels (no array named {' or '.join(map(repr, LABEL_KEYS))})"
        with _open_array(archive, members[labels_key], label) as f:
            labels = _read_labels(f, members[labels_key].file_size, labels_key, len(images), label, limits)
    return images, labels, f"{source}, labels from the array {labels_key!r}"


@reader_boundary(DataError, _label, _ZIP_HOW_TO)
def image_zip_arrays(path: Path, label: str, limits: UploadLimits) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a zip of PNG/JPEG images, labelled by folder (``3/img001.png``) or unlabelled."""
    head = _check_file(path, label, limits)
    if not head.startswith(_ZIP_MAGICS):
        raise DataError(_("{label} is not a zip file{looks_like}; zip a folder of PNG images", label=label,
                          looks_like=_looks_like(head)))
    with open_zip(path, label, max_entries=2 * limits.max_images + _ZIP_EXTRA_ENTRIES, error=DataError) as archive:
        members = _image_members(archive, label, limits)
        labels = _folder_labels([m.filename for m in members], label)
        images = _decode_images(archive, members, label, limits)
    return images, labels


# --- checks shared by both readers ---------------------------------------------------


def _check_file(path: Path, label: str, limits: UploadLimits) -> bytes:
    """Check the file exists and is within the size limit; return its first bytes."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise DataError(_("{label} is not a file", label=label))
        if size > limits.max_bytes:
            raise DataError(_("{label} is {size}; uploaded data sets are limited to {limit}", label=label,
                              size=human_size(size), limit=human_size(limits.max_bytes)))
        with path.open("rb") as f:
            return f.read(8)
    except FileNotFoundError:
        raise DataError(_("{path} not found", path=path)) from None
    except OSError as exc:
        raise DataError(_("cannot read {label}: {why}", label=label, why=exc.strerror or exc)) from None


def _check_count(n: int, label: str, limits: UploadLimits) -> None:
    if n > limits.max_images:
        raise DataError(_("{label} holds {n:,} images; at most {most:,} are allowed", label=label, n=n,
                          most=limits.max_images))
    if n < limits.min_images:
        raise DataError(_("{label} holds {n} images; at least {least} are needed to train and validate", label=label,
                          n=n, least=limits.min_images))


def _check_side(height: int, width: int, label: str, limits: UploadLimits) -> None:
    if max(height, width) > limits.max_side or min(height, width) < 1:
        side = limits.max_side
        raise DataError(_("{label} has images of {height}x{width} pixels; they must be at least 1x1 and at most "
                          "{side}x{side} (resize them first)", label=label, height=height, width=width, side=side))


def _check_pixels(n: int, height: int, width: int, label: str, limits: UploadLimits) -> None:
    """The images as float32 (what an upload costs in memory) must fit ``limits.max_pixel_bytes``."""
    size = n * height * width * 4
    if size > limits.max_pixel_bytes:
        raise DataError(_("{label} holds {n:,} images of {height}x{width} pixels, {size} once read "
                          "(4 bytes a pixel); at most {limit} are allowed. Upload fewer images, or smaller ones",
                          label=label, n=n, height=height, width=width, size=human_size(size),
                          limit=human_size(limits.max_pixel_bytes)))


def _looks_like(head: bytes) -> str:
    """' (it looks like a PNG image)' when the first bytes say what the file is, else ''."""
    kind = next((kind for magic, kind in _LOOKS_LIKE.items() if head.startswith(magic)), None)
    return _(" (it looks like {kind})", kind=i18n._(kind)) if kind else ""


# --- .npz -------------------------------------------------------------------------------


def _npz_members(archive: zipfile.ZipFile, label: str, limits: UploadLimits) -> dict[str, zipfile.ZipInfo]:
    """The arrays of the .npz by name (NumPy's: the member name without .npy), sizes checked unopened."""
    entries = archive.infolist()
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > limits.max_unpacked_bytes:
        raise DataError(_("{label} unpacks to {size}, more than the {limit} allowed; {advice}", label=label,
                          size=human_size(unpacked), limit=human_size(limits.max_unpacked_bytes),
                          advice=i18n._(_SMALLER)))
    files = [e for e in entries if not e.is_dir() and not ignored_member(e.filename)]
    return {e.filename.removesuffix(".npy"): e for e in files}


def _open_array(archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str) -> BinaryIO:
    return open_member(archive, member, label, DataError)


def _array_name(key: str) -> str:
    return _("the array") if key == "the array" else _("the array '{key}'", key=key)


def _npy_header(f: BinaryIO, size: int, key: str, label: str,
                limits: UploadLimits) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from a .npy header, checked before anything is allocated.

    NumPy allocates what a header declares, however short the data behind it, and needs a
    pickle for object arrays: both are refused here, from the header alone. ``size`` is the
    whole member's (or file's) size, header included.
    """
    name = _array_name(key)
    head = _exact(f, 8, f"{label}: '{key}'", allow_short=True)
    if not head.startswith(_NPY_MAGIC):
        raise DataError(_("{label}: '{key}' is not a NumPy array; {how_to}", label=label, key=key,
                          how_to=i18n._(_NPZ_HOW_TO)))
    readers = {b"\x01\x00": np.lib.format.read_array_header_1_0, b"\x02\x00": np.lib.format.read_array_header_2_0}
    if head[6:] not in readers:
        raise DataError(_("{label}: {name} is in an unsupported .npy format (version {version})", label=label,
                          name=name, version=head[6:].hex()))
    try:
        shape, fortran, dtype = readers[head[6:]](f)
    except Exception as exc:  # NumPy parses the header with tokenize and ast: any of their errors
        raise DataError(_("{label}: {name} has a damaged .npy header ({detail}); {how_to}", label=label, name=name,
                          detail=scrub(str(exc)), how_to=i18n._(_NPZ_HOW_TO))) from None
    if dtype.hasobject:
        raise DataError(_("{label}: {name} holds Python objects, which can only be read by "
                          "unpickling; aelab never unpickles uploads (loading a pickle can run code). "
                          "Save plain numbers (or strings for labels) instead", label=label, name=name))
    if any(s < 0 for s in shape) or dtype.itemsize == 0:
        raise DataError(_("{label}: {name} has a damaged .npy header (shape {shape}, {dtype})", label=label,
                          name=name, shape=shape, dtype=dtype))
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if nbytes > limits.max_unpacked_bytes:
        raise DataError(_("{label}: {name} holds {size}, more than the {limit} allowed; {advice}", label=label,
                          name=name, size=human_size(nbytes), limit=human_size(limits.max_unpacked_bytes),
                          advice=i18n._(_SMALLER)))
    available = size - f.tell()
    if nbytes > available:
        raise DataError(_("{label}: {name} is cut short: its header declares {size} of data, but {found} follow; "
                          "the file is damaged", label=label, name=name, size=human_size(nbytes),
                          found=human_size(max(available, 0))))
    return shape, fortran, dtype


def _read_images(f: BinaryIO, size: int, key: str, label: str, limits: UploadLimits) -> np.ndarray:
    """The image array as (N, H, W) float32 in [0, 1], every check made from its header first."""
    where = (_("{label}: the image array '{key}'", label=label, key=key) if key != "the array"
             else _("{label}: the array", label=label))
    shape, fortran, dtype = _npy_header(f, size, key, label, limits)
    colour = len(shape) == 4 and shape[-1] in (1, 3, 4)
    if len(shape) != 3 and not colour:
        raise DataError(_("{where} has shape {shape}; expected (N, H, W) images, "
                          "or (N, H, W, C) with 1, 3 or 4 colour channels", where=where, shape=shape))
    if dtype.kind not in "biuf" or dtype.subdtype is not None:
        raise DataError(_("{where} holds {dtype} values; expected numbers "
                          "(integers in 0..255, or floats in [0, 1] or [0, 255])", where=where, dtype=dtype))
    _check_count(shape[0], where, limits)
    _check_side(shape[1], shape[2], where, limits)
    _check_pixels(shape[0], shape[1], shape[2], where, limits)
    return _unit_grey(_image_chunks(f, shape, fortran, dtype, where), shape, dtype, where)


def _image_chunks(f: BinaryIO, shape: tuple[int, ...], fortran: bool, dtype: np.dtype,
                  where: str) -> Iterator[np.ndarray]:
    """The images, a few megabytes at a time, each chunk (k, *shape[1:])."""
    per_image = math.prod(shape[1:]) * dtype.itemsize
    if fortran:  # rare (np.save of a transposed array): the data is not image after image, so read it whole
        whole = _exact(f, shape[0] * per_image, where)
        yield np.frombuffer(whole, dtype).reshape(shape[::-1]).transpose()
        return
    step = max(1, _CHUNK_BYTES // (math.prod(shape[1:]) * max(dtype.itemsize, 4)))  # float32 copies too
    for start in range(0, shape[0], step):
        k = min(step, shape[0] - start)
        yield np.frombuffer(_exact(f, k * per_image, where), dtype).reshape((k, *shape[1:]))


def _exact(f: BinaryIO, n: int, where: str, *, allow_short: bool = False) -> bytes:
    """``n`` bytes from ``f`` (a file, or a zip member that stops at its declared size)."""
    try:
        raw = f.read(n)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # a bad CRC, deflate or seek
        detail = scrub(str(exc)) or _("no detail")
        raise DataError(_("{where} cannot be unpacked; the file is damaged ({detail})", where=where,
                          detail=detail)) from None
    if len(raw) != n and not allow_short:
        raise DataError(_("{where} is cut short; the file is damaged", where=where))
    return raw


def _unit_grey(chunks: Iterator[np.ndarray], shape: tuple[int, ...], dtype: np.dtype, where: str) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) numbers, in chunks -> (N, H, W) float32 grey levels in [0, 1].

    Booleans are 0/1, floats in [0, 1] are kept, integers and floats in 0..255 are divided
    by 255; colour becomes luma (alpha ignored). The conversion runs chunk by chunk into the
    result, so memory is the result plus one chunk, whatever the input's type.
    """
    grey = np.empty(shape[:3], dtype=np.float32)
    low = high = None
    start = 0
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond float32's range are refused below
        for chunk in chunks:
            k = len(chunk)
            chunk_low, chunk_high = chunk.min(), chunk.max()  # NaN, if any, comes out here
            low = chunk_low if low is None else np.minimum(low, chunk_low)  # and stays (Python's min drops it)
            high = chunk_high if high is None else np.maximum(high, chunk_high)
            if len(shape) == 3:
                grey[start:start + k] = chunk
            elif shape[-1] == 1:
                grey[start:start + k] = chunk[..., 0]
            else:
                grey[start:start + k] = chunk[..., :3].astype(np.float32) @ _LUMINANCE
            start += k
    kind = dtype.kind
    if kind == "f" and not (np.isfinite(low) and np.isfinite(high)):
        raise DataError(_("{where} contains NaN or infinite values", where=where))
    if kind == "b" or kind == "f" and low >= 0 and high <= 1:
        pass  # already in [0, 1]
    elif low >= 0 and high <= 255:
        grey /= 255.0
    else:
        expected = _("integers in 0..255") if kind in "iu" else _("floats in [0, 1] or in [0, 255]")
        raise DataError(_("{where} has values from {low:g} to {high:g}; expected {expected}", where=where, low=low,
                          high=high, expected=expected))
    if len(shape) == 4 and shape[-1] != 1:
        np.clip(grey, 0.0, 1.0, out=grey)  # the weights sum to 1, up to rounding
    return grey


def _read_labels(f: BinaryIO, size: int, key: str, n_images: int, label: str, limits: UploadLimits) -> np.ndarray:
    """The label array as (N,) int64, its shape checked from its header before it is read."""
    where = _("{label}: the label array '{key}'", label=label, key=key)
    shape, fortran, dtype = _npy_header(f, size, key, label, limits)
    if shape != (n_images,):
        raise DataError(_("{where} has shape {shape}; expected one label per image, shape ({n},)", where=where,
                          shape=shape, n=n_images))
    if dtype.itemsize > _MAX_LABEL_BYTES:
        raise DataError(_("{where} holds labels of {size:,} bytes each ({dtype}); labels are whole numbers "
                          "or class names of at most {most} characters", where=where, size=dtype.itemsize,
                          dtype=dtype, most=_MAX_LABEL_BYTES // 4))
    array = np.frombuffer(_exact(f, n_images * dtype.itemsize, where), dtype)
    return _labels(array, where)


def _labels(array: np.ndarray, where: str) -> np.ndarray:
    """Labels as (N,) int64: whole numbers kept (|label| <= MAX_LABEL), class names (strings,
    booleans) numbered in sorted order."""
    kind = array.dtype.kind
    if kind == "f" and not (np.isfinite(array).all() and (array == np.round(array)).all()):
        raise DataError(_("{where} holds {dtype} values that are not whole numbers; expected integers "
                          "or class names (strings)", where=where, dtype=array.dtype))
    if kind in "iuf":
        low, high = array.min(), array.max()
        if low < -MAX_LABEL or high > MAX_LABEL:
            raise DataError(_("{where} has labels from {low:g} to {high:g}; labels must be whole numbers from "
                              "{lowest:,} to {highest:,}, or class names (strings)", where=where, low=low, high=high,
                              lowest=-MAX_LABEL, highest=MAX_LABEL))
        return array.astype(np.int64)  # exact: whole numbers of at most 31 bits
    if kind in "bUS":
        return np.unique(array, return_inverse=True)[1].reshape(-1).astype(np.int64)
    raise DataError(_("{where} holds {dtype} values; expected integers or class names (strings)", where=where,
                      dtype=array.dtype))


def _pick_keys(names: list[str], label: str) -> tuple[str, str | None]:
    """The names of the image array and of the label array (None when there is none)."""
    images_key = next((key for key in IMAGE_KEYS if key in names), None)
    if images_key is None and len(names) == 1:
        images_key = names[0]
    if images_key is None:
        found = ", ".join(repr(name) for name in names) or _("no arrays")
        raise DataError(_("{label} has no image array: expected one named 'images' (or 'x', 'X', 'x_train'), "
                          "found {found}", label=label, found=found))
    return images_key, next((key for key in LABEL_KEYS if key in names), None)


# --- zip of images -----------------------------------------------------------------------


def _image_members(archive: zipfile.ZipFile, label: str, limits: UploadLimits) -> list[zipfile.ZipInfo]:
    """The image entries, sorted by name, after checking counts, sizes and methods (nothing unpacked yet)."""
    members = zip_members(archive, label, max_unpacked=limits.max_unpacked_bytes, error=DataError)
    files = sorted(members, key=lambda e: e.filename)
    images = [e for e in files if Path(e.filename).suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        found = (_("found {n} other file(s), e.g. {name!r}", n=len(files), name=files[0].filename) if files
                 else _("it is empty"))
        raise DataError(_("{label} holds no PNG or JPEG images ({found})", label=label, found=found))
    _check_count(len(images), label, limits)
    check_readable(images, label, DataError)
    large = next((e for e in images if e.file_size > _MAX_IMAGE_BYTES), None)
    if large is not None:
        raise DataError(_("{label}: {member!r} unpacks to {size}; an image of at most {side}x{side} pixels takes a "
                          "few kilobytes (at most {limit} are allowed)", label=label, member=large.filename,
                          size=human_size(large.file_size), side=limits.max_side,
                          limit=human_size(_MAX_IMAGE_BYTES)))
    return images


def _parts(name: str) -> list[str]:
    return [part for part in name.replace("\\", "/").split("/") if part]


def _folder_labels(names: list[str], label: str) -> np.ndarray | None:
    """Labels from one folder per class (integer names kept, others numbered in sorted order)."""
    paths = [_parts(name) for name in names]
    while all(len(p) >= 2 for p in paths) and len({p[0] for p in paths}) == 1:
        paths = [p[1:] for p in paths]  # a wrapping folder, e.g. mydata/3/img.png
    depths = {len(p) for p in paths}
    if depths == {1}:
        return None
    deep = next((name for name, p in zip(names, paths, strict=True) if len(p) > 2), None)
    if deep is not None:
        raise DataError(_("{label}: {deep!r} is in a folder inside a folder; expected one folder per label "
                          "(e.g. 3/img001.png), or no folders", label=label, deep=deep))
    if depths == {1, 2}:
        top = next(name for name, p in zip(names, paths, strict=True) if len(p) == 1)
        inside = next(name for name, p in zip(names, paths, strict=True) if len(p) == 2)
        raise DataError(_("{label} mixes images at the top level ({top!r}) with images in label folders "
                          "({inside!r}); put every image in a label folder, or none", label=label, top=top,
                          inside=inside))
    folders = [p[0] for p in paths]
    if all(re.fullmatch(r"-?[0-9]{1,30}", folder) for folder in folders):
        numbers = [int(folder) for folder in folders]
        big = next((folder for folder, n in zip(folders, numbers, strict=True) if abs(n) > MAX_LABEL), None)
        if big is not None:
            raise DataError(_("{label}: the label folder {big!r} is too large a number; number the label folders "
                              "from {lowest:,} to {highest:,}, or give them names", label=label, big=big,
                              lowest=-MAX_LABEL, highest=MAX_LABEL))
        return np.array(numbers, dtype=np.int64)
    classes = {name: i for i, name in enumerate(sorted(set(folders)))}
    return np.array([classes[folder] for folder in folders], dtype=np.int64)


def _decode_images(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], label: str,
                   limits: UploadLimits) -> np.ndarray:
    """Every member as grey levels, (N, H, W) float32 in [0, 1]; all must have one size.

    The result is allocated once, from the first image's header, after checking its size
    against the limits; each image is unpacked and decoded into it in turn.
    """
    pixels: np.ndarray | None = None
    for i, member in enumerate(members):
        image = _open_image(archive, member, label)
        width, height = image.size  # from the header: nothing decoded yet
        if pixels is None:
            _check_side(height, width, label, limits)
            _check_pixels(len(members), height, width, label, limits)
            pixels = np.empty((len(members), height, width), dtype=np.float32)
        elif (height, width) != pixels.shape[1:]:
            h, w = pixels.shape[1:]
            raise DataError(_("{label}: images must all have the same size, but {member!r} is "
                              "{height}x{width} and {first!r} is {h}x{w}", label=label, member=member.filename,
                              height=height, width=width, first=members[0].filename, h=h, w=w))
        try:
            pixels[i] = np.asarray(image.convert("L"))  # alpha is dropped, colour becomes luma
        except Exception as exc:  # Pillow's decoders raise many types (AssertionError, IndexError, ...)
            detail = scrub(str(exc)) or _("Pillow cannot decode it")
            raise DataError(_("{label}: {member!r} is a damaged image ({detail})", label=label,
                              member=member.filename, detail=detail)) from None
    pixels /= 255.0
    return pixels


def _open_image(archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str) -> Image.Image:
    """Unpack one member (at most its declared size) and open it lazily with Pillow."""
    raw = read_member(archive, member, label, DataError)
    try:
        return Image.open(io.BytesIO(raw), formats=_PILLOW_FORMATS)
    except UnidentifiedImageError:
        raise DataError(_("{label}: {member!r} is not a PNG or JPEG image (Pillow cannot read it)", label=label,
                          member=member.filename)) from None
    except Exception as exc:  # Pillow's header parsers raise many types
        detail = scrub(str(exc)) or _("Pillow cannot read its header")
        raise DataError(_("{label}: {member!r} is not an image Pillow can read ({detail})", label=label,
                          member=member.filename, detail=detail)) from None
