"""Tests for uploads: data sets (.npz, zips of images) and models (zips of config + weights).

Uploads are untrusted, so besides the round trips every hostile case checks three things:
the project's own error type, a message that names the problem in the user's terms, and
that nothing was written (no model folder, no temporary folder, no partial file).
"""

import io
import json
import pickle
import re
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from PIL import Image
from test_fuzz import peak_memory, raw_zip, zip_of_entries

from aelab import checkpoint, data, models, uploads
from aelab.checkpoint import CONFIG_NAME, WEIGHTS_NAME
from aelab.errors import CheckpointError, DataError
from aelab.models import KINDS
from aelab.uploads import UploadLimits

MiB = 2**20
ROOT = Path(__file__).resolve().parents[1]


# --- helpers and fixtures ------------------------------------------------------------


@pytest.fixture(scope="module")
def digit_bytes() -> tuple[np.ndarray, np.ndarray]:
    """40 real 8x8 digits as uint8 (40, 8, 8) and their labels, 4 of each class."""
    digits = data.sklearn_digits()
    pick = np.concatenate([np.flatnonzero(digits.labels == c)[:4] for c in range(10)])
    return np.rint(digits.images[pick] * 255).astype(np.uint8), digits.labels[pick]


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A 1.3 MB zip whose one member, bomb.png, unpacks to 300 MiB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("bomb.png", "w", force_zip64=True) as member:
            for _ in range(300):
                member.write(bytes(MiB))
    return buffer.getvalue()


def listing(folder: Path) -> list[str]:
    """Every path under ``folder``, hidden ones included, so leftovers show up."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def png(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def npz_file(path: Path, **arrays) -> Path:
    np.savez_compressed(path, **arrays)
    return path


def expect_data_error(reader, path: Path, *words: str, **kwargs) -> str:
    """Reading ``path`` raises DataError naming the file and every one of ``words``; nothing is written."""
    before = listing(path.parent)
    with pytest.raises(DataError) as info:
        reader(path, **kwargs)
    message = str(info.value)
    assert path.name in message
    for word in words:
        assert word in message
    assert listing(path.parent) == before
    return message


# --- .npz: valid files ------------------------------------------------------------------


@pytest.mark.parametrize("with_labels", [True, False])
def test_npz_round_trip(tmp_path, digit_bytes, with_labels):
    images, labels = digit_bytes
    arrays = {"images": images} | ({"labels": labels} if with_labels else {})
    got = data.read_npz_images(npz_file(tmp_path / "digits.npz", **arrays))
    assert got.images.dtype == np.float32 and got.images.shape == (40, 8, 8)
    np.testing.assert_array_equal(got.images, images.astype(np.float32) / 255)
    if with_labels:
        assert got.labels.dtype == np.int64 and got.labels.tolist() == labels.tolist()
    else:
        assert got.labels is None
    assert got.name == "digits.npz"
    assert data.read_npz_images(tmp_path / "digits.npz", "my digits").name == "my digits"


@pytest.mark.parametrize(
    "names", [("x", "y"), ("X", "y"), ("x_train", "y_train"), ("whatever", None)], ids=lambda n: n[0]
)
def test_npz_other_array_names(tmp_path, digit_bytes, names):
    images, labels = digit_bytes
    image_key, label_key = names
    arrays = {image_key: images} | ({label_key: labels} if label_key else {})
    if image_key == "x_train":  # Keras' mnist.npz: the test arrays are there too and ignored
        arrays |= {"x_test": images[:20] // 2, "y_test": labels[:20]}
    got = data.read_npz_images(npz_file(tmp_path / "keras.npz", **arrays))
    np.testing.assert_array_equal(got.images, images / np.float32(255))
    assert (got.labels is None) == (label_key is None)
    # bug 8: an array not named "images" was used silently; the data set says which arrays it read
    assert f"images from the array {image_key!r}" in got.source
    assert (f"labels from the array {label_key!r}" if label_key else "no labels") in got.source
    train, _ = data.split(got)
    assert train.source == got.source  # the note survives the split the app shows it from


def test_npz_colour_images_become_luminance(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (25, 6, 7, 3), dtype=np.uint8)
    want = (rgb / 255.0) @ np.array([0.299, 0.587, 0.114])
    alpha = np.random.default_rng(1).integers(0, 256, (25, 6, 7, 1), dtype=np.uint8)
    for name, images in {"rgb": rgb, "rgba": np.concatenate([rgb, alpha], axis=-1)}.items():
        got = data.read_npz_images(npz_file(tmp_path / f"{name}.npz", images=images))
        assert got.images.shape == (25, 6, 7)
        np.testing.assert_allclose(got.images, want, atol=1e-6)  # alpha ignored
    one_channel = data.read_npz_images(npz_file(tmp_path / "c1.npz", images=rgb[..., :1]))
    np.testing.assert_array_equal(one_channel.images, rgb[..., 0] / np.float32(255))


@pytest.mark.parametrize(
    "images, want",
    [
        (np.full((20, 4, 4), 127.5), 0.5),  # floats in 0..255
        (np.full((20, 4, 4), 0.25, dtype=np.float32), 0.25),  # floats in [0, 1]
        (np.full((20, 4, 4), 51, dtype=np.int16), 0.2),  # other integers in 0..255
        (np.ones((20, 4, 4), dtype=bool), 1.0),
    ],
    ids=["float-0-255", "float-0-1", "int16", "bool"],
)
def test_npz_value_ranges_are_scaled_to_unit(tmp_path, images, want):
    images = images.copy()
    images[0, 0, 0] = 0  # the lowest value is 0 in every case
    got = data.read_npz_images(npz_file(tmp_path / "v.npz", images=images))
    assert got.images.dtype == np.float32
    assert got.images.min() == 0 and got.images.max() == pytest.approx(want)


@pytest.mark.parametrize(
    "labels, want",
    [
        (np.array(["dog", "cat", "owl", "cat"] * 5), [1, 0, 2, 0]),  # sorted: cat, dog, owl
        (np.array([b"b", b"a"] * 10), [1, 0]),
        (np.array([True, False] * 10), [1, 0]),
        (np.array([3.0, 7.0] * 10), [3, 7]),
    ],
    ids=["str", "bytes", "bool", "whole-floats"],
)
def test_npz_label_kinds(tmp_path, labels, want):
    images = np.zeros((20, 4, 4), np.uint8)
    got = data.read_npz_images(npz_file(tmp_path / "l.npz", images=images, labels=labels))
    assert got.labels.dtype == np.int64 and got.labels[: len(want)].tolist() == want


# --- .npz: hostile or broken files ----------------------------------------------------------


def test_npz_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npz"
    with path.open("wb") as f:
        f.truncate(65 * MiB)  # sparse: costs no disk
    expect_data_error(data.read_npz_images, path, "65.0 MiB", "limited to 64.0 MiB")
    expect_data_error(data.read_image_zip, path, "65.0 MiB", "limited to 64.0 MiB")


def test_npz_too_many_or_too_few_images(tmp_path, digit_bytes):
    path = npz_file(tmp_path / "d.npz", images=digit_bytes[0])
    expect_data_error(data.read_npz_images, path, "40 images", "at most 30", limits=UploadLimits(max_images=30))
    small = npz_file(tmp_path / "small.npz", images=digit_bytes[0][:19])
    expect_data_error(data.read_npz_images, small, "19 images", "at least 20")


def test_npz_images_too_large(tmp_path):
    path = npz_file(tmp_path / "big.npz", images=np.zeros((20, 65, 64), np.uint8))
    expect_data_error(data.read_npz_images, path, "images of 65x64 pixels", "at most 64x64")


def test_npz_that_unpacks_to_too_much(tmp_path, digit_bytes):
    path = npz_file(tmp_path / "d.npz", images=digit_bytes[0])
    limits = UploadLimits(max_unpacked_bytes=1000)
    expect_data_error(data.read_npz_images, path, "unpacks to", "uint8", limits=limits)


def test_text_file_renamed_npz(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("these are not the images you are looking for\n" * 10)
    expect_data_error(data.read_npz_images, path, "not a NumPy .npz file", "savez")


def test_pickle_renamed_npz_is_never_unpickled(tmp_path, digit_bytes, no_unpickling):
    path = tmp_path / "sneaky.npz"
    path.write_bytes(pickle.dumps({"images": digit_bytes[0]}))
    expect_data_error(data.read_npz_images, path, "not a NumPy .npz file", "pickle")


@pytest.mark.parametrize("key", ["images", "labels"])
def test_npz_with_an_object_array_is_refused_without_unpickling(tmp_path, digit_bytes, key, no_unpickling):
    arrays = {"images": digit_bytes[0], "labels": digit_bytes[1]}
    arrays[key] = np.array([object()] * len(arrays[key]), dtype=object)  # savez pickles object arrays
    path = tmp_path / "objects.npz"
    np.savez(path, **arrays)
    expect_data_error(data.read_npz_images, path, f"'{key}'", "Python objects", "never unpickles")


@pytest.mark.parametrize("container", ["npz", "npy"])
def test_an_array_header_declaring_terabytes_allocates_nothing(tmp_path, container):
    raw = io.BytesIO()
    np.lib.format.write_array_header_1_0(raw, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    raw.write(bytes(800))  # NumPy would allocate 7.3 TiB for these 800 bytes
    path = tmp_path / f"liar.{container}"
    if container == "npz":
        path.write_bytes(zip_bytes({"images.npy": raw.getvalue()}))
    else:
        path.write_bytes(raw.getvalue())
    expect_data_error(data.read_npz_images, path, "7,629,394.5 MiB", "more than the 256.0 MiB allowed")


def test_a_single_npy_array_is_accepted(tmp_path, digit_bytes):
    path = tmp_path / "digits.npy"
    np.save(path, digit_bytes[0])
    got = data.read_npz_images(path)
    np.testing.assert_array_equal(got.images, digit_bytes[0] / np.float32(255))
    assert got.labels is None


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_npz_with_nan(tmp_path, bad):
    images = np.zeros((20, 4, 4), np.float32)
    images[3, 1, 2] = bad
    path = npz_file(tmp_path / "nan.npz", images=images)
    expect_data_error(data.read_npz_images, path, "NaN or infinite")


@pytest.mark.parametrize(
    "images, words",
    [
        (np.linspace(-1, 2, 20 * 16).reshape(20, 4, 4), ["from -1 to 2", "[0, 1] or in [0, 255]"]),
        (np.arange(20 * 16, dtype=np.int32).reshape(20, 4, 4) * 4, ["from 0 to 1276", "0..255"]),
        (np.zeros((20, 4, 4), np.complex64), ["complex64", "expected numbers"]),
        (np.zeros((20, 16), np.uint8), ["shape (20, 16)", "(N, H, W)"]),
        (np.zeros((20, 4, 4, 2), np.uint8), ["shape (20, 4, 4, 2)", "1, 3 or 4"]),
    ],
    ids=["float-range", "int-range", "complex", "2d", "2-channels"],
)
def test_npz_images_that_are_not_images(tmp_path, images, words):
    expect_data_error(data.read_npz_images, npz_file(tmp_path / "odd.npz", images=images), *words)


def test_npz_bad_labels(tmp_path):
    images = np.zeros((20, 4, 4), np.uint8)
    short = npz_file(tmp_path / "short.npz", images=images, labels=np.arange(19))
    expect_data_error(data.read_npz_images, short, "'labels'", "one label per image")
    floats = npz_file(tmp_path / "floats.npz", images=images, labels=np.linspace(0, 1, 20))
    expect_data_error(data.read_npz_images, floats, "'labels'", "expected integers")


def test_npz_without_an_image_array(tmp_path):
    path = npz_file(tmp_path / "two.npz", pixels=np.zeros((20, 4, 4)), classes=np.zeros(20))
    expect_data_error(data.read_npz_images, path, "no image array", "'pixels'", "'classes'")


def test_damaged_npz(tmp_path, digit_bytes):
    raw = npz_file(tmp_path / "ok.npz", images=digit_bytes[0]).read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(raw[: len(raw) // 2])
    expect_data_error(data.read_npz_images, path, "damaged")


def test_missing_upload_file(tmp_path):
    with pytest.raises(DataError, match="gone.npz not found"):
        data.read_npz_images(tmp_path / "gone.npz")


# --- zips of images ---------------------------------------------------------------------------


def digits_zip(path: Path, digit_bytes, folder=lambda label: f"{label}/", **extra: bytes) -> dict[str, int]:
    """Write the digits as PNGs named ``{folder(label)}img{i:03d}.png``; return name -> index."""
    images, labels = digit_bytes
    names = {f"{folder(label)}img{i:03d}.png": i for i, label in enumerate(labels)}
    path.write_bytes(zip_bytes({name: png(images[i]) for name, i in names.items()} | extra))
    return names


def test_zip_flat_round_trip(tmp_path, digit_bytes):
    path = tmp_path / "flat.zip"
    names = digits_zip(path, digit_bytes, folder=lambda label: "")
    got = data.read_image_zip(path)
    order = [names[name] for name in sorted(names)]
    np.testing.assert_array_equal(got.images, digit_bytes[0][order] / np.float32(255))
    assert got.labels is None and got.name == "flat.zip"


def test_zip_with_a_folder_per_integer_label(tmp_path, digit_bytes):
    path = tmp_path / "labelled.zip"
    extra = {"__MACOSX/3/._img000.png": b"\x00\x05\x16\x07", "3/.DS_Store": b"junk", "README.txt": b"hi"}
    names = digits_zip(path, digit_bytes, folder=lambda label: f"{label}/", **extra)
    got = data.read_image_zip(path)
    order = [names[name] for name in sorted(names)]
    np.testing.assert_array_equal(got.images, digit_bytes[0][order] / np.float32(255))
    assert got.labels.tolist() == digit_bytes[1][order].tolist()


def test_zip_with_named_label_folders_inside_a_wrapping_folder(tmp_path, digit_bytes):
    path = tmp_path / "named.zip"
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    names = digits_zip(path, digit_bytes, folder=lambda label: f"mydata/{words[label]}/")
    got = data.read_image_zip(path)
    order = [names[name] for name in sorted(names)]
    rank = {word: i for i, word in enumerate(sorted(words))}
    assert got.labels.tolist() == [rank[words[label]] for label in digit_bytes[1][order]]


def test_zip_of_colour_pngs_and_jpegs_becomes_grey(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    members = {f"a{i:02d}.png": png(im) for i, im in enumerate(rgb[:10])}
    members |= {f"b{i:02d}.jpg": png(im, "JPEG") for i, im in enumerate(rgb[10:])}
    path = tmp_path / "colour.zip"
    path.write_bytes(zip_bytes(members))
    got = data.read_image_zip(path)
    grey = np.array([np.asarray(Image.fromarray(im).convert("L")) for im in rgb]) / np.float32(255)
    np.testing.assert_array_equal(got.images[:10], grey[:10])  # PNG is lossless
    assert np.abs(got.images[10:] - grey[10:]).mean() < 0.1  # JPEG is not
    assert got.images.shape == (20, 8, 8) and 0 <= got.images.min() and got.images.max() <= 1


def test_zip_with_mismatched_image_sizes(tmp_path, digit_bytes):
    path = tmp_path / "sizes.zip"
    digits_zip(path, digit_bytes, folder=lambda label: "", **{"odd.png": png(np.zeros((9, 8), np.uint8))})
    expect_data_error(data.read_image_zip, path, "same size", "'odd.png' is 9x8", "'img000.png' is 8x8")


def test_zip_with_images_too_large(tmp_path):
    path = tmp_path / "big.zip"
    path.write_bytes(zip_bytes({f"{i}.png": png(np.zeros((65, 65), np.uint8)) for i in range(20)}))
    expect_data_error(data.read_image_zip, path, "images of 65x65 pixels", "at most 64x64")


def test_zip_with_too_many_images(tmp_path, digit_bytes):
    path = tmp_path / "many.zip"
    digits_zip(path, digit_bytes)
    expect_data_error(data.read_image_zip, path, "40 images", "at most 39", limits=UploadLimits(max_images=39))


def test_zip_with_too_many_entries_is_refused_before_unpacking(tmp_path, monkeypatch):
    path = tmp_path / "entries.zip"
    path.write_bytes(zip_bytes({f".junk/{i}": b"" for i in range(1011)}))
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("unpacked a member"))
    expect_data_error(data.read_image_zip, path, "1,011 entries", limits=UploadLimits(max_images=5))


def test_zip_bomb_is_refused_before_unpacking(tmp_path, bomb, monkeypatch):
    path = tmp_path / "bomb.zip"
    path.write_bytes(bomb)
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("unpacked a member"))
    expect_data_error(data.read_image_zip, path, "unpacks to 300.0 MiB", "256.0 MiB")


@pytest.mark.parametrize(
    "members, words",
    [
        ({"top.png": b"", "3/a.png": b""}, ["mixes", "'top.png'", "'3/a.png'"]),
        ({"a/3/x.png": b"", "b/4/y.png": b""}, ["'a/3/x.png'", "folder inside a folder"]),
        ({"readme.txt": b"hello"}, ["no PNG or JPEG images", "found 1 other file(s), e.g. 'readme.txt'"]),
        ({}, ["no PNG or JPEG images", "empty"]),
    ],
    ids=["mixed", "nested", "no-images", "empty"],
)
def test_zip_with_the_wrong_layout(tmp_path, members, words):
    path = tmp_path / "layout.zip"
    path.write_bytes(zip_bytes(members))
    expect_data_error(data.read_image_zip, path, *words, limits=UploadLimits(min_images=1))


@pytest.mark.parametrize("content", [b"\x89PNG but not really", png(np.zeros((8, 8), np.uint8), "GIF")],
                         ids=["garbage", "gif-named-png"])
def test_zip_with_an_image_that_is_not_png_or_jpeg(tmp_path, digit_bytes, content):
    path = tmp_path / "broken.zip"
    digits_zip(path, digit_bytes, **{"3/zz-broken.png": content})
    expect_data_error(data.read_image_zip, path, "'3/zz-broken.png'", "not a PNG or JPEG image")


def test_zip_with_a_truncated_png(tmp_path, digit_bytes):
    path = tmp_path / "cut.zip"
    whole = png(np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8))
    digits_zip(path, digit_bytes, **{"3/zz-cut.png": whole[: len(whole) - 30]})
    expect_data_error(data.read_image_zip, path, "'3/zz-cut.png'", "damaged image")


def test_not_a_zip(tmp_path, digit_bytes):
    path = tmp_path / "image.zip"
    path.write_bytes(png(digit_bytes[0][0]))
    expect_data_error(data.read_image_zip, path, "not a zip file", "PNG image")


# --- data specs ------------------------------------------------------------------------------


def test_npz_and_zip_specs_split_deterministically(tmp_path, digit_bytes):
    npz = npz_file(tmp_path / "d.npz", images=digit_bytes[0], labels=digit_bytes[1])
    archive = tmp_path / "d.zip"
    digits_zip(archive, digit_bytes)
    for spec in [f"npz:{npz}", f"zip:{archive}", f" NPZ: {npz} "]:
        first, second = data.load_splits(spec, seed=3), data.load_splits(spec, seed=3)
        assert len(first.train) + len(first.val) == 40 and len(first.val) == 10  # one per class
        np.testing.assert_array_equal(first.val.images, second.val.images)
        assert first.train.name.endswith("(train)")


@pytest.mark.parametrize("spec, words", [("npz:", "names no file"), ("zip:  ", "names no file"),
                                         ("zip:/no/such.zip", "not found")])
def test_bad_upload_specs(spec, words):
    with pytest.raises(DataError, match=words):
        data.load_splits(spec)


def test_specs_help_mentions_uploads():
    assert "npz:PATH" in data.DATA_SPECS_HELP and "zip:PATH" in data.DATA_SPECS_HELP


# --- models: export and import -------------------------------------------------------------


@pytest.fixture()
def models_dir(tmp_path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    return folder


@pytest.fixture()
def exported(tmp_path, tiny_model) -> bytes:
    """An exported AE (the folder it came from is outside models_dir)."""
    return checkpoint.export_zip(checkpoint.save(tiny_model("ae"), tmp_path / "source" / "ae"))


def same_outputs(a: models.Autoencoder, b: models.Autoencoder, x: torch.Tensor) -> None:
    with torch.no_grad():
        torch.testing.assert_close(a.encode(x), b.encode(x), rtol=0, atol=0)
        torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)


def members_of(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("kind", KINDS)
def test_export_then_import_gives_identical_outputs(kind, tmp_path, models_dir, tiny_model, digits_batch,
                                                    no_unpickling):
    model = tiny_model(kind, custom=True)
    blob = checkpoint.export_zip(checkpoint.save(model, tmp_path / "source" / kind))
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        assert archive.namelist() == [CONFIG_NAME, WEIGHTS_NAME]
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())
    loaded = checkpoint.import_model(blob, models_dir / "mine")
    assert loaded.path == models_dir / "mine" and loaded.model.config() == model.config()
    assert listing(models_dir) == ["mine", f"mine/{CONFIG_NAME}", f"mine/{WEIGHTS_NAME}"]
    same_outputs(loaded.model, model, digits_batch)
    same_outputs(checkpoint.load(models_dir / "mine").model, model, digits_batch)


def test_export_is_deterministic_and_refuses_a_non_model(tmp_path, tiny_model):
    folder = checkpoint.save(tiny_model("vae"), tmp_path / "vae")
    assert checkpoint.export_zip(folder) == checkpoint.export_zip(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not an aelab model folder"):
        checkpoint.export_zip(tmp_path / "empty")


def test_import_from_a_zip_with_one_folder_and_mac_junk(models_dir, exported, tiny_model, digits_batch):
    files = members_of(exported)
    blob = zip_bytes({f"ae/{name}": content for name, content in files.items()}
                     | {"__MACOSX/ae/._config.json": b"\x00\x05", "ae/.DS_Store": b"junk"})
    loaded = checkpoint.import_model(blob, models_dir / "nested")
    same_outputs(loaded.model, tiny_model("ae"), digits_batch)


# --- models: hostile uploads ------------------------------------------------------------------


def expect_refusal(models_dir: Path, source: bytes, *words: str, **kwargs) -> str:
    """Importing ``source`` raises CheckpointError with ``words`` and leaves models_dir as it was."""
    before = listing(models_dir)
    with pytest.raises(CheckpointError) as info:
        checkpoint.import_model(source, models_dir / "new", **kwargs)
    message = str(info.value)
    for word in words:
        assert word in message
    assert ".tmp-" not in message  # the temporary folder is no business of the user's
    assert listing(models_dir) == before
    return message


def torch_save_bytes(model: models.Autoencoder) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def with_config(exported: bytes, change) -> bytes:
    files = members_of(exported)
    config = json.loads(files[CONFIG_NAME])
    change(config)
    return zip_bytes(files | {CONFIG_NAME: json.dumps(config).encode()})


def test_a_torch_save_file_is_refused_unopened(models_dir, tiny_model, no_unpickling):
    expect_refusal(models_dir, torch_save_bytes(tiny_model("ae")), "pickle", "can run arbitrary code")


def test_a_plain_pickle_is_refused_unopened(models_dir, tiny_model, no_unpickling):
    state = {k: v.numpy() for k, v in tiny_model("ae").state_dict().items()}
    expect_refusal(models_dir, pickle.dumps(state), "pickle", "can run arbitrary code")


def test_a_model_zip_holding_a_torch_pickle_is_refused(models_dir, exported, tiny_model, no_unpickling):
    blob = zip_bytes(members_of(exported) | {"model.pt": torch_save_bytes(tiny_model("ae"))})
    expect_refusal(models_dir, blob, "pickle", "model.pt")


def test_a_pickle_named_model_safetensors_is_refused(models_dir, exported, tiny_model, no_unpickling):
    blob = zip_bytes(members_of(exported) | {WEIGHTS_NAME: torch_save_bytes(tiny_model("ae"))})
    expect_refusal(models_dir, blob, "pickle", WEIGHTS_NAME)
    expect_refusal(models_dir, zip_bytes(members_of(exported) | {WEIGHTS_NAME: pickle.dumps([1, 2])}), "pickle")


def test_a_config_that_does_not_match_its_weights(models_dir, exported):
    message = expect_refusal(models_dir, with_config(exported, lambda c: c["model"].update(latent_dim=3)),
                             "cannot be used", f"{WEIGHTS_NAME} does not match its {CONFIG_NAME}", "shape")
    assert str(models_dir) not in message


def test_a_config_asking_for_huge_layers_allocates_nothing(models_dir, exported):
    huge = with_config(exported, lambda c: c["model"].update(image_shape=[100_000, 100_000], hidden=[10**6]))
    expect_refusal(models_dir, huge, "hidden widths must be")  # refused before anything is built
    huge_images = with_config(exported, lambda c: c["model"].update(image_shape=[100_000, 100_000]))
    expect_refusal(models_dir, huge_images, "does not match")  # 4e12 bytes if built for real: checked unbuilt


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda c: c.update(kind="gan"), "unknown model kind 'gan'"),
        (lambda c: c.update(format="pytorch"), "not an aelab model config"),
    ],
)
def test_configs_load_refuses(models_dir, exported, change, words):
    expect_refusal(models_dir, with_config(exported, change), words)


def test_bad_json_and_nan_weights(models_dir, exported):
    files = members_of(exported)
    expect_refusal(models_dir, zip_bytes(files | {CONFIG_NAME: b"{not json"}), "not valid JSON")
    weights = safetensors.torch.load(files[WEIGHTS_NAME])
    weights["encoder.0.weight"][0, 0] = float("nan")
    nan_blob = zip_bytes(files | {WEIGHTS_NAME: safetensors.torch.save(weights)})
    expect_refusal(models_dir, nan_blob, "encoder.0.weight contains NaN")


def test_random_garbage(models_dir):
    garbage = np.random.default_rng(0).bytes(5000)
    expect_refusal(models_dir, garbage, "not a zip", CONFIG_NAME)
    expect_refusal(models_dir, b"", "not a zip")


@pytest.mark.parametrize(
    "names, words",
    [
        ([CONFIG_NAME], [f"no {WEIGHTS_NAME}"]),
        ([WEIGHTS_NAME], [f"no {CONFIG_NAME}"]),
        ([f"a/{CONFIG_NAME}", f"b/{WEIGHTS_NAME}"], ["different folders"]),
        ([f"a/b/{CONFIG_NAME}", f"a/b/{WEIGHTS_NAME}"], [f"no {CONFIG_NAME} and no {WEIGHTS_NAME}"]),
        ([CONFIG_NAME, WEIGHTS_NAME, f"b/{CONFIG_NAME}", f"b/{WEIGHTS_NAME}"], ["more than one model"]),
    ],
    ids=["only-config", "only-weights", "split", "too-deep", "two-models"],
)
def test_zips_without_exactly_one_model(models_dir, exported, names, words):
    files = members_of(exported)
    expect_refusal(models_dir, zip_bytes({name: files[Path(name).name] for name in names}), *words)


def test_a_model_zip_bomb_is_refused_before_unpacking(models_dir, bomb, monkeypatch):
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("unpacked a member"))
    expect_refusal(models_dir, bomb, "unpacks to 300.0 MiB", "200.0 MiB")


def test_an_upload_over_the_size_limit(models_dir, exported):
    expect_refusal(models_dir, exported, f"The upload is {len(exported):,} bytes", "limited to 1,000 bytes",
                   max_bytes=1000)


def test_an_existing_destination_is_left_alone(models_dir, exported, tiny_model):
    existing = checkpoint.save(tiny_model("vae"), models_dir / "taken")
    before = {p: p.read_bytes() for p in existing.iterdir()}
    with pytest.raises(CheckpointError, match="A model named 'taken' already exists"):
        checkpoint.import_model(exported, existing)
    assert {p: p.read_bytes() for p in existing.iterdir()} == before
    assert listing(models_dir) == ["taken", f"taken/{CONFIG_NAME}", f"taken/{WEIGHTS_NAME}"]


def test_a_failure_while_renaming_leaves_nothing(models_dir, exported, monkeypatch):
    def broken_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "rename", broken_rename)
    expect_refusal(models_dir, exported, "cannot write the model", "No space left")


# --- regressions: one test per defect the fuzzing found ------------------------------------------
# (each failed before the fix: checked on a copy of the code as it was)


def lying_zip(members: dict[str, bytes], method: int, declared: int) -> bytes:
    """A zip of ``members`` compressed with ``method``, whose headers all declare ``declared`` bytes unpacked."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    out = bytearray(buffer.getvalue())
    size = declared.to_bytes(4, "little")
    for at in [m.start() for m in re.finditer(b"PK\x01\x02", out)]:
        out[at + 24:at + 28] = size
    for at in [m.start() for m in re.finditer(b"PK\x03\x04", out)]:
        out[at + 22:at + 26] = size
    return bytes(out)


def read_any(kind: str, blob: bytes, folder: Path, **limits):
    """Read ``blob`` as an uploaded .npz, zip of images, or model zip."""
    if kind == "model":
        return checkpoint.import_model(blob, folder / "models" / "upload")
    path = folder / f"upload.{kind}"
    path.write_bytes(blob)
    reader = data.read_npz_images if kind == "npz" else data.read_image_zip
    return reader(path, limits=UploadLimits(**limits) if limits else None)


BOMB_MEMBERS = {"npz": "images.npy", "zip": "3/a.png", "model": CONFIG_NAME}


@pytest.mark.parametrize("method, word", [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "lzma")])
@pytest.mark.parametrize("kind", ["npz", "zip", "model"])
def test_a_bzip2_or_lzma_bomb_is_refused_by_name_and_never_unpacked(tmp_path, kind, method, word):
    """Defect 1: zipfile bounds only deflate by what it produces; a bzip2 or lzma member declaring
    100 bytes was decompressed whole (gigabytes) before being cut to its declared size."""
    members = {BOMB_MEMBERS[kind]: bytes(16 * MiB)}  # about 50 bytes as bzip2
    if kind == "model":
        members[WEIGHTS_NAME] = b"{}"
    blob = lying_zip(members, method, declared=100)
    errors = (DataError, CheckpointError)
    message = []

    def read():
        with pytest.raises(errors) as info:
            read_any(kind, blob, tmp_path, min_images=1)
        message.append(str(info.value))

    assert peak_memory(read) < 4 * MiB
    assert f"{BOMB_MEMBERS[kind]!r} uses {word} compression, which aelab does not accept" in message[0]
    assert "deflate" in message[0]


@pytest.mark.parametrize("declared", ["honestly", "as-two"])
@pytest.mark.parametrize("kind, limit", [("npz", 64), ("zip", 2 * 20 + 1000), ("model", 1000)])
def test_a_zip_of_many_entries_is_refused_before_zipfile_parses_its_directory(tmp_path, monkeypatch, kind, limit,
                                                                             declared):
    """Defect 1: zipfile.ZipFile parses the whole central directory on opening (a million records: 29 s
    and 1.6 GB) before the entry count was checked; a zip may also declare fewer entries than it holds."""
    n = 5000 if declared == "honestly" else 200_000
    blob = zip_of_entries(n, declared=n if declared == "honestly" else 2)
    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", lambda self: pytest.fail("parsed the directory"))
    with pytest.raises((DataError, CheckpointError)) as info:
        read_any(kind, blob, tmp_path, max_images=20)
    expected = f"holds {n:,} entries" if declared == "honestly" else f"holds more than {limit:,} entries"
    assert expected in str(info.value) and f"at most {limit:,}" in str(info.value)


def npy_with_header(header: str, payload: bytes = bytes(320)) -> bytes:
    raw = header.encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(raw).to_bytes(2, "little") + raw + payload


@pytest.mark.parametrize("header", ["{'descr': '|u1', 'fortran_order': False, 'shape': (20, 4, 4 \n",
                                    "{'descr': '|u1', 'fortran_order': False, 'shape': (20, '''4), }\n",
                                    "{'descr': '|u1', 'fortran_order': False, 'shape': (20, 4, 4), }\x00\n"],
                         ids=["unclosed-paren", "unclosed-string", "null-byte"])
@pytest.mark.parametrize("container", ["npy", "npz"])
def test_a_damaged_npy_header_is_a_data_error(tmp_path, header, container):
    """Defect 2: NumPy's header parser raised tokenize.TokenError (and SyntaxError), which escaped."""
    blob = npy_with_header(header)
    path = tmp_path / f"bad.{container}"
    path.write_bytes(blob if container == "npy" else zip_bytes({"images.npy": blob}))
    expect_data_error(data.read_npz_images, path, "damaged .npy header")


def png_from_chunks(*chunks: tuple[bytes, bytes]) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    return b"\x89PNG\r\n\x1a\n" + b"".join(chunk(kind, payload) for kind, payload in chunks)


IDAT = (b"IDAT", zlib.compress(bytes(9 * 8)))  # 8 rows of a filter byte and 8 pixels


@pytest.mark.parametrize("image", [
    png_from_chunks((b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 3, 0, 0, 0)), (b"tRNS", b"\x00"), IDAT, (b"IEND", b"")),
    png_from_chunks((b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)), IDAT, (b"iCCP", b""), (b"IEND", b"")),
], ids=["palette-with-tRNS-and-no-PLTE", "empty-iCCP-after-IDAT"])
def test_images_that_crash_pillow_are_data_errors(tmp_path, digit_bytes, image):
    """Defect 2: Pillow raised AssertionError (a palette PNG with tRNS and no PLTE) and IndexError
    (an empty iCCP chunk after IDAT), which escaped as tracebacks."""
    path = tmp_path / "crash.zip"
    digits_zip(path, digit_bytes, **{"3/zz-crash.png": image})
    expect_data_error(data.read_image_zip, path, "'3/zz-crash.png'", "damaged image")


@pytest.mark.parametrize("kind", ["npz", "zip", "model"])
def test_a_zip_member_without_a_name_is_refused(tmp_path, kind):
    """Defect 2: a member with an empty name raised IndexError (zipfile's is_dir reads its last character)."""
    blob = raw_zip({BOMB_MEMBERS[kind]: b"x", "": b"y", WEIGHTS_NAME: b"z"})
    with pytest.raises((DataError, CheckpointError), match="an entry without a name"):
        read_any(kind, blob, tmp_path, min_images=1)


@pytest.mark.parametrize("kind", ["npz", "zip", "model"])
def test_a_zip_needing_a_newer_zip_version_is_refused(tmp_path, kind):
    """Defect 2: "version needed to extract" above 6.3 raised NotImplementedError from zipfile."""
    blob = raw_zip({BOMB_MEMBERS[kind]: b"x", WEIGHTS_NAME: b"z"}, version=64)
    with pytest.raises((DataError, CheckpointError), match="zip feature aelab cannot read.*version 6.4"):
        read_any(kind, blob, tmp_path, min_images=1)


def test_running_out_of_memory_while_reading_an_upload_is_a_data_error(tmp_path):
    """Defect 2: with the server's memory taken (a second maximum-size .npz), NumPy's ArrayMemoryError
    reached the user as a traceback. Here a child process gets 150 MiB of address space more than
    it has, and reads images that need 234 MiB once read."""
    path = npz_file(tmp_path / "big.npz", images=np.zeros((15_000, 64, 64), np.uint8))
    code = textwrap.dedent(f"""
        import resource, sys
        from aelab import data
        from aelab.errors import DataError
        size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + 150 * 2**20, resource.RLIM_INFINITY))
        try:
            data.read_npz_images({str(path)!r})
        except DataError as error:
            print(error)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "big.npz cannot be read: reading it needs more memory than this server has free" in result.stdout


@pytest.mark.parametrize("labels, words", [
    (np.full(20, 1e30), "from 1e+30 to 1e+30"),
    (np.full(20, 2**40, np.int64), "from 1.09951e+12"),
    (np.full(20, 2**63, np.uint64), "from 9.22337e+18"),
], ids=["float-1e30", "int-2**40", "uint64"])
def test_labels_too_large_for_a_label_are_refused(tmp_path, labels, words):
    """Defect 3: float labels of 1e30 became -9.2e18 without a word."""
    path = npz_file(tmp_path / "big-labels.npz", images=np.zeros((20, 4, 4), np.uint8), labels=labels)
    expect_data_error(data.read_npz_images, path, "'labels'", words, "2,147,483,647")


def test_a_label_folder_too_large_a_number_is_refused(tmp_path, digit_bytes):
    path = tmp_path / "folders.zip"
    digits_zip(path, digit_bytes, folder=lambda label: f"{label}{'0' * 20}/")
    expect_data_error(data.read_image_zip, path, "is too large a number", "2,147,483,647")


def test_an_upload_too_large_once_read_is_refused_from_its_header(tmp_path, monkeypatch):
    """Defect 4: an upload of 70,000 images of 64x64 cost 1.1 GiB as float32 (and more while it was
    converted). The float32 size is now checked from the header, before any pixel is read: 20,000
    images of 64x64 (82 MB as uint8, within the unpacked limit) would take 312.5 MiB."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (20_000, 64, 64)})
    path = tmp_path / "large.npz"
    path.write_bytes(zip_bytes({"images.npy": header.getvalue() + bytes(20_000 * 64 * 64)}))
    monkeypatch.setattr(np, "frombuffer", lambda *a, **k: pytest.fail("read pixels"))
    expect_data_error(data.read_npz_images, path, "20,000 images of 64x64 pixels, 312.5 MiB once read",
                      "at most 256.0 MiB")


def test_a_zip_of_images_too_large_once_read_is_refused_before_decoding(tmp_path, digit_bytes):
    path = tmp_path / "many.zip"
    digits_zip(path, digit_bytes)
    expect_data_error(data.read_image_zip, path, "40 images of 8x8 pixels, 10,240 bytes once read",
                      "at most 10,000 bytes", limits=UploadLimits(max_pixel_bytes=10_000))


def test_colour_uploads_are_converted_without_copies_of_the_whole_set(tmp_path):
    """Defect 4: the whole set was copied as float32 in colour (and again as grey): 2,000 RGB images of
    64x64 took 150 MiB to read into 31 MiB. Now the conversion runs chunk by chunk into the result."""
    rgb = np.random.default_rng(0).integers(0, 256, (2000, 64, 64, 3), dtype=np.uint8)
    path = tmp_path / "rgb.npz"
    np.savez(path, images=rgb)
    result_bytes = 2000 * 64 * 64 * 4
    got = []
    peak = peak_memory(lambda: got.append(data.read_npz_images(path)))
    assert peak < result_bytes + 24 * MiB
    np.testing.assert_allclose(got[0].images[:5], (rgb[:5] / 255.0) @ np.array([0.299, 0.587, 0.114]), atol=1e-6)


@pytest.mark.parametrize("kind, target", [("npz", "_unit_grey"), ("zip", "_folder_labels")])
@pytest.mark.parametrize("failure", [MemoryError(), KeyError("/srv/aelab/secret/path"), RecursionError()],
                         ids=["MemoryError", "KeyError", "RecursionError"])
def test_every_failure_inside_an_upload_reader_is_a_data_error(tmp_path, digit_bytes, monkeypatch, kind, target,
                                                               failure):
    """Defect 2: each reader caught some exception types and let the others through. One boundary
    per reader now turns anything into a DataError in the user's terms (no type name alone, no path)."""
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(uploads, target, fail)
    path = tmp_path / f"digits.{kind}"
    if kind == "npz":
        npz_file(path, images=digit_bytes[0])
    else:
        digits_zip(path, digit_bytes)
    reader = data.read_npz_images if kind == "npz" else data.read_image_zip
    message = expect_data_error(reader, path, f"digits.{kind} cannot be read: ")
    assert "/srv/aelab" not in message and "Error" not in message
    assert {"MemoryError": "more memory", "KeyError": "damaged", "RecursionError": "nested too deeply"}[
        type(failure).__name__] in message


def test_every_failure_inside_the_model_importer_is_a_checkpoint_error(models_dir, exported, monkeypatch):
    def fail(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(checkpoint, "_model_members", fail)
    message = expect_refusal(models_dir, exported, "The uploaded model cannot be read", "more memory")
    assert "Error" not in message


def test_a_failure_inside_loading_an_upload_names_no_temporary_folder(models_dir, exported, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(checkpoint, "_read_weights", fail)
    message = expect_refusal(models_dir, exported, "The uploaded model cannot be used: it cannot be read: it is "
                             "damaged or not in the format expected (boom)")
    assert str(models_dir) not in message


def test_an_image_file_far_larger_than_an_image_is_refused_unpacked(tmp_path, digit_bytes, monkeypatch):
    """Defect 4: each image member was unpacked whole, whatever its declared size (up to the 256 MiB of
    the whole zip) before Pillow looked at it."""
    path = tmp_path / "large.zip"
    digits_zip(path, digit_bytes, **{"3/zz-large.png": bytes(5 * MiB)})
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("unpacked a member"))
    expect_data_error(data.read_image_zip, path, "'3/zz-large.png' unpacks to 5.0 MiB", "at most 4.0 MiB")


def test_labels_of_long_class_names_are_refused_from_their_header(tmp_path):
    path = npz_file(tmp_path / "names.npz", images=np.zeros((20, 4, 4), np.uint8), labels=np.array(["x" * 300] * 20))
    expect_data_error(data.read_npz_images, path, "'labels'", "1,200 bytes each", "at most 256 characters")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_in_any_chunk_of_a_large_upload_is_refused(tmp_path, monkeypatch, bad):
    """Images are converted a chunk at a time: a NaN in a later chunk must not get lost between chunks."""
    monkeypatch.setattr(uploads, "_CHUNK_BYTES", 4 * 4 * 4 * 3)  # three images a chunk
    images = np.full((20, 4, 4), 0.5, np.float32)
    images[-1, 0, 0] = bad
    expect_data_error(data.read_npz_images, npz_file(tmp_path / "nan.npz", images=images), "NaN or infinite")
