"""Small seeded fixtures shared by the tests: real digits, an MNIST subset, tiny models.

Nothing here touches the network or the user's home: AELAB_CACHE_DIR points at one
session-wide temporary folder, so the mnist5k cache (about 1.5 s to build) is parsed at
most once per test session.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from aelab import data, models

# A tiny MLP that trains in a fraction of a second on 8x8 digits.
TINY = {"image_shape": (8, 8), "latent_dim": 8, "hidden": (32,)}

# A non-default setting for each kind, so round-trips prove every argument is kept.
# A kind missing here is still tested, with its defaults.
KIND_SETTINGS: dict[str, dict] = {
    "dae": {"corruption": "mask", "noise_level": 0.2},
    "sae": {"penalty": "kl", "sparsity_weight": 0.5, "target_rho": 0.1},
    "vae": {"beta": 2.0},
}


@pytest.fixture(scope="session")
def aelab_cache_dir(tmp_path_factory) -> Path:
    """One cache folder for the whole session (mnist5k is parsed into it at most once)."""
    return tmp_path_factory.mktemp("aelab_cache")


@pytest.fixture(autouse=True)
def _use_test_cache_dir(monkeypatch, aelab_cache_dir) -> None:
    """Point AELAB_CACHE_DIR at the session's temp cache, never the user's cache."""
    monkeypatch.setenv("AELAB_CACHE_DIR", str(aelab_cache_dir))


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Run torch single-threaded: the test models are tiny, so a second thread only adds
    synchronisation, and on a busy 2-core machine it made training 20x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def no_unpickling(monkeypatch):
    """Make every way of unpickling fail loudly, so a test proves none was used."""

    def forbidden(*args, **kwargs):
        raise AssertionError("aelab tried to unpickle a file")

    for module, name in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")]:
        monkeypatch.setattr(module, name, forbidden)


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """Every test starts from the same global torch seed."""
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def digits() -> data.ImageSet:
    """scikit-learn's 1,797 real 8x8 digits in [0, 1]."""
    return data.sklearn_digits()


@pytest.fixture(scope="session")
def digits_split(digits) -> tuple[data.ImageSet, data.ImageSet]:
    """The digits split into (train, validation) with seed 0: 1,617 and 180 images."""
    return data.split(digits, seed=0)


@pytest.fixture()
def digits_batch(digits) -> torch.Tensor:
    """32 real 8x8 digits (a fixed, seeded choice), (32, 8, 8) float32."""
    pick = np.random.default_rng(0).choice(len(digits), size=32, replace=False)
    return torch.as_tensor(digits.images[pick])


@pytest.fixture(scope="session")
def mnist_images(aelab_cache_dir) -> np.ndarray:
    """64 real 28x28 MNIST digits from mnist5k (a fixed, seeded choice)."""
    full = data.mnist5k(aelab_cache_dir)
    pick = np.random.default_rng(0).choice(len(full), size=64, replace=False)
    return full.images[pick]


@pytest.fixture()
def mnist_batch(mnist_images) -> torch.Tensor:
    """16 real 28x28 digits, (16, 28, 28) float32."""
    return torch.as_tensor(mnist_images[:16])


@pytest.fixture()
def tiny_model() -> Callable[..., models.Autoencoder]:
    """Build a tiny seeded model of a kind: ``tiny_model("vae", beta=0.5)``.

    ``custom=True`` adds the kind's non-default settings from KIND_SETTINGS.
    """

    def make(kind: str, seed: int = 0, custom: bool = False, **overrides) -> models.Autoencoder:
        torch.manual_seed(seed)
        settings = TINY | (KIND_SETTINGS.get(kind, {}) if custom else {})
        return models.build(kind, **(settings | overrides))

    return make


@pytest.fixture(scope="session")
def chromium() -> None:
    """Skip a browser test where Debian's Chromium is missing; in CI, fail it instead."""
    from tools import devtools

    if not devtools.chromium_available():
        message = f"Chromium not found at {devtools.CHROMIUM}; install Debian's `chromium` package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def app_url():
    """``streamlit run app.py`` on a free port for one test module, stopped after it."""
    from tools import devtools

    with devtools.serve_app() as url:
        yield url


@pytest.fixture()
def page(app_url, chromium):
    """A fresh Chromium page at 1280x720 whose console errors collect in ``page.problems``."""
    from tools import devtools

    with devtools.chromium_page(1280, 720) as page:
        page.problems = devtools.watch_console(page)
        yield page
