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
