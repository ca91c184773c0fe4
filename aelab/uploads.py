"""Readers for image data sets that users upload: bounded, validated, never unpickled.

An upload is untrusted. Every size is checked against `UploadLimits` before anything is
decompressed, NumPy files are read with ``allow_pickle=False``, image headers are checked
before their pixels are decoded, and every failure is a DataError that names the file and
says what is wrong. Both readers return ``(images, labels)``: images (N, H, W) float32 in
[0, 1], labels (N,) int64 or None; `aelab.data` wraps them into an ImageSet.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from aelab._files import MiB, human_size, read_member, zip_members
from aelab.errors import DataError

IMAGE_KEYS = ("images", "x", "X", "x_train")  # the first one present holds the images
LABEL_KEYS = ("labels", "y", "y_train")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_PILLOW_FORMATS = ("PNG", "JPEG")  # never others: EPS, for one, would run Ghostscript on the upload
# ITU-R BT.601 luma, the weights Pillow's convert("L") uses; alpha is ignored
_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip
_NPZ_MAX_ARRAYS = 64  # an .npz holds a handful of arrays; thousands of entries is not a data set
_ZIP_EXTRA_ENTRIES = 1000  # folders and dotfiles beside the images (macOS adds one __MACOSX/ file per image)
_SMALLER = "store the images as uint8 (0..255) to make them 4 to 8 times smaller"
_NPZ_HOW_TO = "make one with numpy.savez_compressed('data.npz', images=images, labels=labels)"
_LOOKS_LIKE = {b"\x80": "a Python pickle", b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
               b"\x1f\x8b": "a gzip file", _NPY_MAGIC: "a .npy array"}


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on an uploaded data set, checked before anything is decompressed."""

    max_bytes: int = 64 * MiB  # the uploaded file itself
    max_images: int = 70_000  # MNIST's train and test sets together
    min_images: int = 20  # fewer cannot give both a training and a validation set worth the name
    max_side: int = 64  # pixels; the models are MLPs on every pixel, so larger images are slow
    max_unpacked_bytes: int = 256 * MiB  # a zip's or an .npz's contents, decompressed


UPLOAD_LIMITS = UploadLimits()


def npz_arrays(path: Path, label: str, limits: UploadLimits) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Read images and optional labels from a NumPy .npz file (or a single .npy array).

    Images are the array named images (or x, X, x_train, or the only array), (N, H, W) or
    (N, H, W, C) with C in 1, 3, 4 (made grey); labels the array named labels (or y, y_train).
    The third value says which arrays were used, e.g. "images from the array 'x', no labels".
    """
    head = _check_file(path, label, limits)
    if not head.startswith((*_ZIP_MAGICS, _NPY_MAGIC)):
        raise DataError(f"{label} is not a NumPy .npz file{_looks_like(head)}; {_NPZ_HOW_TO}")
    _check_npz_headers(path, head, label, limits)
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):  # a .npy file: one array, no labels
            arrays = {"the array": loaded}
            images_key, labels_key = "the array", None
        else:
            with loaded:
                images_key, labels_key = _pick_keys(loaded.files, label)
                arrays = {key: _read_array(loaded, key, label) for key in (images_key, labels_key) if key}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
        raise DataError(f"{label} is damaged or not a NumPy .npz file ({exc}); {_NPZ_HOW_TO}") from None
    images = _unit_grey(arrays[images_key], f"{label}: the image array '{images_key}'", limits)
    source = f"images from {_array_name(images_key)}"
    if labels_key is None:
        return images, None, f"{source}, no labels (no array named {' or '.join(map(repr, LABEL_KEYS))})"
    labels = _labels(arrays[labels_key], len(images), f"{label}: the label array '{labels_key}'")
    return images, labels, f"{source}, labels from {_array_name(labels_key)}"


def _array_name(key: str) -> str:
    return key if key == "the array" else f"the array {key!r}"


def image_zip_arrays(path: Path, label: str, limits: UploadLimits) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a zip of PNG/JPEG images, labelled by folder (``3/img001.png``) or unlabelled."""
    head = _check_file(path, label, limits)
    if not head.startswith(_ZIP_MAGICS):
        raise DataError(f"{label} is not a zip file{_looks_like(head)}; zip a folder of PNG images")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{label} is a damaged zip file ({exc})") from None
    with archive:
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
            raise DataError(f"{label} is not a file")
        if size > limits.max_bytes:
            raise DataError(f"{label} is {human_size(size)}; uploaded data sets are limited to "
                            f"{human_size(limits.max_bytes)}")
        with path.open("rb") as f:
            return f.read(8)
    except FileNotFoundError:
        raise DataError(f"{path} not found") from None
    except OSError as exc:
        raise DataError(f"cannot read {label}: {exc.strerror or exc}") from None


def _check_count(n: int, label: str, limits: UploadLimits) -> None:
    if n > limits.max_images:
        raise DataError(f"{label} holds {n:,} images; at most {limits.max_images:,} are allowed")
    if n < limits.min_images:
        raise DataError(f"{label} holds {n} images; at least {limits.min_images} are needed to train and validate")


def _check_side(height: int, width: int, label: str, limits: UploadLimits) -> None:
    if max(height, width) > limits.max_side or min(height, width) < 1:
        side = limits.max_side
        raise DataError(f"{label} has images of {height}x{width} pixels; they must be at most {side}x{side} "
                        "(resize them first)")


def _looks_like(head: bytes) -> str:
    """' (it looks like a PNG image)' when the first bytes say what the file is, else ''."""
    kind = next((kind for magic, kind in _LOOKS_LIKE.items() if head.startswith(magic)), None)
    return f" (it looks like {kind})" if kind else ""


# --- .npz -------------------------------------------------------------------------------


def _check_npz_headers(path: Path, head: bytes, label: str, limits: UploadLimits) -> None:
    """Check entry count, sizes and every array's header before NumPy loads anything.

    NumPy allocates what an array's header declares, however short the data behind it, and
    needs a pickle for object arrays: both are refused here, from the headers alone.
    """
    try:
        if head.startswith(_NPY_MAGIC):  # a single .npy array
            with path.open("rb") as f:
                _check_npy_header(f, "the array", label, limits)
            return
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > _NPZ_MAX_ARRAYS:
                raise DataError(f"{label} holds {len(entries):,} entries; a data set .npz holds a few arrays")
            unpacked = sum(entry.file_size for entry in entries)
            if unpacked > limits.max_unpacked_bytes:
                raise DataError(f"{label} unpacks to {human_size(unpacked)}, more than the "
                                f"{human_size(limits.max_unpacked_bytes)} allowed; {_SMALLER}")
            for entry in entries:
                with archive.open(entry) as member:
                    _check_npy_header(member, entry.filename.removesuffix(".npy"), label, limits)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
        raise DataError(f"{label} is damaged or not a NumPy .npz file ({exc}); {_NPZ_HOW_TO}") from None


def _check_npy_header(f: BinaryIO, key: str, label: str, limits: UploadLimits) -> None:
    """Refuse an object array, or one larger than the limit, from its .npy header."""
    head = f.read(8)
    if not head.startswith(_NPY_MAGIC):
        return  # not an array: np.load hands back its bytes, refused in _read_array
    readers = {b"\x01\x00": np.lib.format.read_array_header_1_0, b"\x02\x00": np.lib.format.read_array_header_2_0}
    if head[6:] not in readers:
        raise DataError(f"{label}: the array '{key}' is in an unsupported .npy format (version {head[6:].hex()})")
    shape, _, dtype = readers[head[6:]](f)
    if dtype.hasobject:
        raise DataError(f"{label}: the array '{key}' holds Python objects, which can only be read by "
                        "unpickling; aelab never unpickles uploads (loading a pickle can run code). "
                        "Save plain numbers (or strings for labels) instead")
    size = math.prod(shape) * dtype.itemsize
    if size > limits.max_unpacked_bytes:
        raise DataError(f"{label}: the array '{key}' holds {human_size(size)}, more than the "
                        f"{human_size(limits.max_unpacked_bytes)} allowed; {_SMALLER}")


def _pick_keys(names: list[str], label: str) -> tuple[str, str | None]:
    """The names of the image array and of the label array (None when there is none)."""
    images_key = next((key for key in IMAGE_KEYS if key in names), None)
    if images_key is None and len(names) == 1:
        images_key = names[0]
    if images_key is None:
        found = ", ".join(repr(name) for name in names) or "no arrays"
        raise DataError(f"{label} has no image array: expected one named 'images' (or 'x', 'X', 'x_train'), "
                        f"found {found}")
    return images_key, next((key for key in LABEL_KEYS if key in names), None)


def _read_array(npz: np.lib.npyio.NpzFile, key: str, label: str) -> np.ndarray:
    """One array of the .npz (its header was checked by _check_npz_headers)."""
    value = npz[key]
    if not isinstance(value, np.ndarray):
        raise DataError(f"{label}: '{key}' is not a NumPy array; {_NPZ_HOW_TO}")
    return value


def _unit_grey(array: np.ndarray, where: str, limits: UploadLimits) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) numbers -> (N, H, W) float32 grey levels in [0, 1]."""
    colour = array.ndim == 4 and array.shape[-1] in (1, 3, 4)
    if array.ndim != 3 and not colour:
        raise DataError(f"{where} has shape {array.shape}; expected (N, H, W) images, "
                        "or (N, H, W, C) with 1, 3 or 4 colour channels")
    _check_count(array.shape[0], where, limits)
    _check_side(array.shape[1], array.shape[2], where, limits)
    scaled = _scale(array, where)
    if not colour:
        return scaled
    if array.shape[-1] == 1:
        return np.ascontiguousarray(scaled[..., 0])
    grey = scaled[..., :3] @ _LUMINANCE  # (N, H, W, 3 or 4) -> (N, H, W)
    return np.clip(grey, 0.0, 1.0, out=grey)  # the weights sum to 1, up to rounding


def _scale(array: np.ndarray, where: str) -> np.ndarray:
    """Pixel values as float32 in [0, 1]: booleans as 0/1, 0..255 divided by 255."""
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.float32)
    if kind not in "iuf":
        raise DataError(f"{where} holds {array.dtype} values; expected numbers "
                        "(integers in 0..255, or floats in [0, 1] or [0, 255])")
    if kind == "f" and not np.isfinite(array).all():
        raise DataError(f"{where} contains NaN or infinite values")
    low, high = array.min(), array.max()
    if kind == "f" and low >= 0 and high <= 1:
        return array.astype(np.float32)
    if low >= 0 and high <= 255:
        scaled = array.astype(np.float32)
        scaled /= 255.0
        return scaled
    expected = "integers in 0..255" if kind in "iu" else "floats in [0, 1] or in [0, 255]"
    raise DataError(f"{where} has values from {low:g} to {high:g}; expected {expected}")


def _labels(array: np.ndarray, n_images: int, where: str) -> np.ndarray:
    """Labels as (N,) int64: integers kept, class names (strings, booleans) numbered in sorted order."""
    if array.shape != (n_images,):
        raise DataError(f"{where} has shape {array.shape}; expected one label per image, shape ({n_images},)")
    kind = array.dtype.kind
    if kind in "iu":
        return array.astype(np.int64)
    if kind == "f" and np.isfinite(array).all() and (array == np.round(array)).all():
        return array.astype(np.int64)  # whole numbers stored as floats, e.g. 3.0
    if kind in "bUS":
        return np.unique(array, return_inverse=True)[1].reshape(-1).astype(np.int64)
    raise DataError(f"{where} holds {array.dtype} values; expected integers or class names (strings)")


# --- zip of images -----------------------------------------------------------------------


def _image_members(archive: zipfile.ZipFile, label: str, limits: UploadLimits) -> list[zipfile.ZipInfo]:
    """The image entries, sorted by name, after checking counts and sizes (nothing unpacked yet)."""
    members = zip_members(archive, label, max_entries=2 * limits.max_images + _ZIP_EXTRA_ENTRIES,
                          max_unpacked=limits.max_unpacked_bytes, error=DataError, what="images")
    files = sorted(members, key=lambda e: e.filename)
    images = [e for e in files if Path(e.filename).suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        found = f"found {len(files)} other file(s), e.g. {files[0].filename!r}" if files else "it is empty"
        raise DataError(f"{label} holds no PNG or JPEG images ({found})")
    _check_count(len(images), label, limits)
    locked = next((e.filename for e in images if e.flag_bits & 0x1), None)
    if locked:
        raise DataError(f"{label} is password-protected ({locked!r}); upload a zip without a password")
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
        raise DataError(f"{label}: {deep!r} is in a folder inside a folder; expected one folder per label "
                        "(e.g. 3/img001.png), or no folders")
    if depths == {1, 2}:
        top = next(name for name, p in zip(names, paths, strict=True) if len(p) == 1)
        inside = next(name for name, p in zip(names, paths, strict=True) if len(p) == 2)
        raise DataError(f"{label} mixes images at the top level ({top!r}) with images in label folders "
                        f"({inside!r}); put every image in a label folder, or none")
    folders = [p[0] for p in paths]
    if all(re.fullmatch(r"-?\d+", folder) for folder in folders):
        return np.array([int(folder) for folder in folders], dtype=np.int64)
    classes = {name: i for i, name in enumerate(sorted(set(folders)))}
    return np.array([classes[folder] for folder in folders], dtype=np.int64)


def _decode_images(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], label: str,
                   limits: UploadLimits) -> np.ndarray:
    """Every member as grey levels, (N, H, W) float32 in [0, 1]; all must have one size."""
    pixels: np.ndarray | None = None
    for i, member in enumerate(members):
        image = _open_image(archive, member, label)
        width, height = image.size  # from the header: nothing decoded yet
        if pixels is None:
            _check_side(height, width, label, limits)
            pixels = np.empty((len(members), height, width), dtype=np.uint8)
        elif (height, width) != pixels.shape[1:]:
            h, w = pixels.shape[1:]
            raise DataError(f"{label}: images must all have the same size, but {member.filename!r} is "
                            f"{height}x{width} and {members[0].filename!r} is {h}x{w}")
        try:
            pixels[i] = np.asarray(image.convert("L"))  # alpha is dropped, colour becomes luma
        except (OSError, ValueError, SyntaxError, EOFError, zlib.error) as exc:
            raise DataError(f"{label}: {member.filename!r} is a damaged image ({exc})") from None
    images = pixels.astype(np.float32)
    images /= 255.0
    return images


def _open_image(archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str) -> Image.Image:
    """Unpack one member (at most its declared size) and open it lazily with Pillow."""
    raw = read_member(archive, member, label, DataError)
    try:
        return Image.open(io.BytesIO(raw), formats=_PILLOW_FORMATS)
    except UnidentifiedImageError:
        raise DataError(f"{label}: {member.filename!r} is not a PNG or JPEG image (Pillow cannot read it)") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise DataError(f"{label}: {member.filename!r} is not an image Pillow can read ({exc})") from None
