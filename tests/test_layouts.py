"""The on-disk cache of UMAP layouts (the UMAP fit itself is tested in test_projection.py)."""

from __future__ import annotations

import numpy as np
import pytest

from aelab import layouts, projection


class _FakeUMAP:
    """Stands in for UMAP: a fixed linear map, counting fits."""

    exact = False
    fits = 0

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, codes):
        _FakeUMAP.fits += 1
        self.dim_ = codes.shape[1]
        return self

    def transform(self, codes):
        return codes[:, :2] * 2.0

    def inverse_transform(self, points):
        out = np.zeros((len(points), self.dim_), np.float32)
        out[:, :2] = points / 2.0
        return out


@pytest.fixture
def fake_umap(monkeypatch):
    _FakeUMAP.fits = 0
    monkeypatch.setattr(projection, "make_projection", lambda method, seed=0: _FakeUMAP(seed))
    return _FakeUMAP


@pytest.fixture
def codes():
    return np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)


def test_a_layout_is_computed_once_then_read_from_disk(fake_umap, codes, tmp_path):
    first = layouts.umap_layout(codes, cache_dir=tmp_path)
    second = layouts.umap_layout(codes, cache_dir=tmp_path)
    assert fake_umap.fits == 1
    np.testing.assert_array_equal(first.points, second.points)
    np.testing.assert_array_equal(first.grid, second.grid)
    assert first.bounds == second.bounds
    assert len(list((tmp_path / "layouts").glob("*.npz"))) == 1
    assert not list((tmp_path / "layouts").glob(".*tmp"))  # no temp file left behind


def test_other_codes_or_seed_get_their_own_layout(fake_umap, codes, tmp_path):
    layouts.umap_layout(codes, cache_dir=tmp_path)
    layouts.umap_layout(codes + 1, cache_dir=tmp_path)
    layouts.umap_layout(codes, seed=1, cache_dir=tmp_path)
    assert fake_umap.fits == 3


def test_a_damaged_cache_file_is_recomputed(fake_umap, codes, tmp_path):
    layouts.umap_layout(codes, cache_dir=tmp_path)
    (cached,) = (tmp_path / "layouts").glob("*.npz")
    cached.write_bytes(b"not an npz")
    again = layouts.umap_layout(codes, cache_dir=tmp_path)
    assert fake_umap.fits == 2
    assert again.points.shape == (len(codes), 2)


def test_the_layout_inverse_interpolates_the_grid(fake_umap, codes, tmp_path):
    layout = layouts.umap_layout(codes, cache_dir=tmp_path)
    assert layout.grid.shape == (layouts.GRID_RESOLUTION, layouts.GRID_RESOLUTION, codes.shape[1])
    inside = np.array([[0.1, -0.2], [0.5, 0.3]], np.float32)
    # the fake inverse is linear, so bilinear interpolation of its grid is exact
    np.testing.assert_allclose(layout.to_latent(inside)[:, :2], inside / 2.0, atol=1e-5)


def _model_folder(path, weights: bytes = b"weights"):
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"kind": "ae"}')
    (path / "model.safetensors").write_bytes(weights)
    return path


def test_a_shipped_layout_is_used_only_for_the_model_it_was_made_from(fake_umap, codes, tmp_path):
    model = _model_folder(tmp_path / "models" / "ae-6d")
    shipped = tmp_path / "shipped"
    layouts.ship(model, "mnist5k", codes, shipped, cache_dir=tmp_path / "cache")
    assert fake_umap.fits == 1
    found = layouts.for_model(model, "mnist5k", codes + 1e-6, shipped_dir=shipped, cache_dir=tmp_path / "other")
    assert fake_umap.fits == 1  # read, not fitted, though another CPU encoded the last bits differently
    np.testing.assert_array_equal(found.points, codes[:, :2] * 2.0)
    (model / "model.safetensors").write_bytes(b"retrained weights")  # the same name, another model
    layouts.for_model(model, "mnist5k", codes, shipped_dir=shipped, cache_dir=tmp_path / "other")
    assert fake_umap.fits == 2
    layouts.for_model(model, "digits", codes, shipped_dir=shipped, cache_dir=tmp_path / "third")
    assert fake_umap.fits == 3  # another data set


def test_a_damaged_shipped_layout_is_computed_instead(fake_umap, codes, tmp_path):
    model = _model_folder(tmp_path / "ae-6d")
    path = layouts.ship(model, "mnist5k", codes, tmp_path / "shipped", cache_dir=tmp_path / "cache")
    path.write_bytes(path.read_bytes()[:100])
    layout = layouts.for_model(model, "mnist5k", codes, shipped_dir=tmp_path / "shipped", cache_dir=tmp_path / "new")
    assert fake_umap.fits == 2 and layout.points.shape == (len(codes), 2)


def test_every_shipped_model_from_3_to_64_dimensions_ships_its_current_layout():
    from pathlib import Path

    from aelab import pretrained

    for entry in pretrained.read_index():
        if 2 < entry["latent_dim"] <= layouts.SHIPPED_MAX_DIM:
            model_dir = Path(entry["path"])
            path = layouts.shipped_path(pretrained.layouts_dir(), model_dir, entry["data"])
            assert layouts._key_of(path) == layouts.model_key(model_dir, entry["data"]), entry["name"]
            with np.load(path) as npz:
                assert npz["points"].shape == (5000, 2) and np.isfinite(npz["grid"]).all(), entry["name"]
