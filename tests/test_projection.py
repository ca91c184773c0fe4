"""Tests for aelab.projection: PCA / UMAP maps of latent codes, their inverses, the grid.

The data are seeded Gaussian clusters in 16-D, so quality can be asserted with thresholds.
UMAP is fitted once per module (the first fit in a process pays numba's compile, ~20 s);
its numba cache lands in a temporary folder. If another test module imported umap earlier
in the session, umap's functions keep the cache folder chosen then: configure_numba_cache
is harmless but changes nothing, and the cache-folder check is skipped.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness

from aelab import projection
from aelab.errors import ConfigError
from aelab.projection import PCAProjection, UMAPProjection

N_CLUSTERS, PER_CLUSTER, DIM = 4, 150, 16

needs_umap = pytest.mark.skipif(importlib.util.find_spec("umap") is None, reason="umap-learn not installed")


@pytest.fixture(scope="module")
def clusters() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """600 codes from 4 well-separated Gaussian clusters in 16-D: (codes, labels, centres)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0.0, 4.0, size=(N_CLUSTERS, DIM))
    labels = np.repeat(np.arange(N_CLUSTERS), PER_CLUSTER)
    codes = centres[labels] + rng.normal(0.0, 1.0, size=(len(labels), DIM))  # (600, 16)
    return codes.astype(np.float32), labels, centres


@pytest.fixture(scope="module")
def codes(clusters) -> np.ndarray:
    return clusters[0]


@pytest.fixture(scope="module")
def fitted_pca(codes) -> PCAProjection:
    return PCAProjection().fit(codes)


@pytest.fixture(scope="module")
def umap_run(codes, tmp_path_factory) -> dict:
    """One UMAP fitted on the clusters, with its numba cache in a temporary folder."""
    umap_was_imported = "umap" in sys.modules
    cache = tmp_path_factory.mktemp("aelab_cache_umap")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AELAB_CACHE_DIR", str(cache))
        mp.delenv("NUMBA_CACHE_DIR", raising=False)  # restored when the fixture is done
        fitted = UMAPProjection(seed=0, n_neighbors=15).fit(codes)
    return {"projection": fitted, "numba_dir": cache / "numba", "fresh": not umap_was_imported}


@pytest.fixture(scope="module")
def fitted_umap(umap_run) -> UMAPProjection:
    return umap_run["projection"]


def nearest(rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Index of the nearest candidate (Euclidean) for each row."""
    return np.linalg.norm(rows[:, None, :] - candidates[None, :, :], axis=2).argmin(axis=1)


class AffineStub:
    """A fitted projection whose inverse is known: (x, y) -> (x, y, 2x - 3y + 1)."""

    def inverse_transform(self, points: np.ndarray) -> np.ndarray:
        x, y = points[:, 0], points[:, 1]
        return np.stack([x, y, 2 * x - 3 * y + 1], axis=1).astype(np.float32)


# --- PCA ------------------------------------------------------------------------------


def test_pca_components_are_orthonormal_and_variance_descends(fitted_pca):
    assert fitted_pca.components_.shape == (2, DIM)
    np.testing.assert_allclose(fitted_pca.components_ @ fitted_pca.components_.T, np.eye(2), atol=1e-10)
    ratio = fitted_pca.explained_variance_ratio_
    assert ratio.shape == (2,) and ratio[0] >= ratio[1] > 0 and ratio.sum() <= 1


def test_pca_matches_sklearn_up_to_sign(codes, fitted_pca):
    reference = PCA(n_components=2).fit(codes)
    signs = np.sign(np.sum(reference.components_ * fitted_pca.components_, axis=1))  # (2,)
    np.testing.assert_allclose(fitted_pca.components_, reference.components_ * signs[:, None], atol=1e-5)
    np.testing.assert_allclose(fitted_pca.mean_, reference.mean_, atol=1e-5)
    np.testing.assert_allclose(fitted_pca.explained_variance_ratio_, reference.explained_variance_ratio_, rtol=1e-5)
    np.testing.assert_allclose(fitted_pca.transform(codes), reference.transform(codes) * signs, atol=1e-3)


def test_pca_inverse_is_the_projection_onto_the_plane(codes, fitted_pca):
    points = fitted_pca.transform(codes)
    assert points.shape == (len(codes), 2) and points.dtype == np.float32
    back = fitted_pca.inverse_transform(points)
    assert back.shape == codes.shape and back.dtype == np.float32
    reference = PCA(n_components=2).fit(codes)
    np.testing.assert_allclose(back, reference.inverse_transform(reference.transform(codes)), atol=1e-3)
    residual = codes - back  # orthogonal to the plane
    assert np.abs(residual @ fitted_pca.components_.T).max() < 1e-3
    np.testing.assert_allclose(back, fitted_pca.mean_ + points @ fitted_pca.components_, atol=1e-5)


def test_pca_inverse_is_exact_for_codes_on_a_plane():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(DIM, 2)))[0].T  # (2, 16) orthonormal rows
    codes = 3.0 + rng.normal(0, [5.0, 2.0], size=(300, 2)) @ basis  # (300, 16), on a 2-D plane
    fitted = PCAProjection().fit(codes)
    np.testing.assert_allclose(fitted.inverse_transform(fitted.transform(codes)), codes, atol=1e-4)
    assert fitted.explained_variance_ratio_.sum() > 0.999999
    assert PCAProjection.exact and not UMAPProjection.exact


# --- UMAP -----------------------------------------------------------------------------


@needs_umap
def test_umap_preserves_neighbourhoods(codes, fitted_umap):
    embedded = fitted_umap.transform(codes)
    assert embedded.shape == (len(codes), 2) and embedded.dtype == np.float32
    assert trustworthiness(codes, embedded, n_neighbors=10) >= 0.9


@needs_umap
def test_umap_inverse_lands_in_the_cluster_of_the_map_location(clusters, fitted_umap):
    codes, labels, centres = clusters
    embedded = fitted_umap.transform(codes)
    rng = np.random.default_rng(2)
    span = embedded.max(axis=0) - embedded.min(axis=0)
    probes = embedded[rng.choice(len(codes), 40, replace=False)] + rng.normal(0, 0.02, (40, 2)) * span
    decoded = fitted_umap.inverse_transform(probes)
    assert decoded.shape == (40, DIM) and decoded.dtype == np.float32
    agreement = np.mean(nearest(decoded, centres) == labels[nearest(probes, embedded)])
    assert agreement >= 0.8


@needs_umap
def test_umap_grid_over_the_whole_box_decodes_the_nearest_cluster(clusters, fitted_umap):
    """The box's corners lie outside the embedding's hull, where umap alone inverts from an
    arbitrary triangle (about 2/3 agreement on this data); moved onto the hull they decode well."""
    codes, labels, centres = clusters
    embedded = fitted_umap.transform(codes)
    x_range = (float(embedded[:, 0].min()), float(embedded[:, 0].max()))
    y_range = (float(embedded[:, 1].min()), float(embedded[:, 1].max()))
    grid = projection.inverse_grid(fitted_umap, x_range, y_range, resolution=10)
    assert grid.shape == (10, 10, DIM) and grid.dtype == np.float32
    gx, gy = np.meshgrid(np.linspace(*x_range, 10), np.linspace(*y_range, 10))
    nodes = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (100, 2), row-major like the grid
    agreement = np.mean(nearest(grid.reshape(-1, DIM), centres) == labels[nearest(nodes, embedded)])
    assert agreement >= 0.9


@needs_umap
def test_umap_numba_cache_lands_in_aelab_cache_dir(umap_run):
    if not umap_run["fresh"]:
        pytest.skip("umap was imported before this module; its numba cache folder was chosen then")
    assert any(umap_run["numba_dir"].rglob("*.nbi")), "no numba index files in the cache folder"


def test_umap_needs_more_codes_than_neighbours(codes):
    with pytest.raises(ConfigError, match="at least 16 codes"):
        UMAPProjection(n_neighbors=15).fit(codes[:15])


# --- the grid and its interpolation ---------------------------------------------------


def test_inverse_grid_layout_rows_are_y_columns_are_x():
    grid = projection.inverse_grid(AffineStub(), (-1.0, 2.0), (10.0, 20.0), resolution=4)
    assert grid.shape == (4, 4, 3) and grid.dtype == np.float32
    np.testing.assert_allclose(grid[0, :, 0], np.linspace(-1, 2, 4))  # row 0: x varies
    np.testing.assert_allclose(grid[:, 0, 1], np.linspace(10, 20, 4))  # column 0: y varies
    assert grid[0, 0, 1] == 10.0 and grid[-1, -1, 0] == 2.0


def test_inverse_grid_corners_are_the_inverse_of_the_range_corners(fitted_pca):
    x_range, y_range = (-7.0, 5.0), (-3.0, 4.0)
    grid = projection.inverse_grid(fitted_pca, x_range, y_range, resolution=24)
    assert grid.shape == (24, 24, DIM)
    corners = np.array([[x, y] for y in y_range for x in x_range])  # (4, 2)
    expected = fitted_pca.inverse_transform(corners)
    actual = np.stack([grid[0, 0], grid[0, -1], grid[-1, 0], grid[-1, -1]])
    np.testing.assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.parametrize("resolution", [1, 65, 2.5])
def test_inverse_grid_rejects_resolutions_out_of_bounds(fitted_pca, resolution):
    with pytest.raises(ConfigError, match="2 to 64"):
        projection.inverse_grid(fitted_pca, (0, 1), (0, 1), resolution=resolution)


def test_inverse_grid_rejects_empty_ranges(fitted_pca):
    with pytest.raises(ConfigError, match="x_range"):
        projection.inverse_grid(fitted_pca, (1, 1), (0, 1))


def test_bilinear_equals_the_grid_at_its_nodes():
    grid = np.random.default_rng(3).normal(size=(5, 7, 4)).astype(np.float32)
    xs, ys = np.linspace(-2, 4, 7), np.linspace(1, 3, 5)
    gx, gy = np.meshgrid(xs, ys)
    nodes = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (35, 2), row-major like the grid
    values = projection.bilinear(grid, (-2, 4), (1, 3), nodes)
    np.testing.assert_allclose(values, grid.reshape(-1, 4), atol=1e-6)


def test_bilinear_is_linear_between_two_nodes():
    grid = np.random.default_rng(4).normal(size=(3, 3, 2))
    t = np.linspace(0, 1, 11)
    along_x = np.stack([0.5 + 0.5 * t, np.full_like(t, 1.0)], axis=1)  # node (1, 1) to (1, 2)
    expected = (1 - t)[:, None] * grid[1, 1] + t[:, None] * grid[1, 2]
    np.testing.assert_allclose(projection.bilinear(grid, (0, 1), (0, 2), along_x), expected, atol=1e-6)
    along_y = np.stack([np.zeros_like(t), t], axis=1)  # node (0, 0) to (1, 0)
    expected = (1 - t)[:, None] * grid[0, 0] + t[:, None] * grid[1, 0]
    np.testing.assert_allclose(projection.bilinear(grid, (0, 1), (0, 2), along_y), expected, atol=1e-6)


def test_bilinear_of_a_pca_grid_is_the_exact_inverse(fitted_pca):
    x_range, y_range = (-6.0, 6.0), (-4.0, 5.0)
    grid = projection.inverse_grid(fitted_pca, x_range, y_range, resolution=8)
    points = np.random.default_rng(5).uniform([-6, -4], [6, 5], size=(200, 2))
    np.testing.assert_allclose(
        projection.bilinear(grid, x_range, y_range, points), fitted_pca.inverse_transform(points), atol=1e-4
    )


def test_bilinear_clamps_points_outside_the_ranges():
    grid = np.random.default_rng(6).normal(size=(4, 4, 3))
    outside = np.array([[-5.0, 0.5], [9.0, 0.5], [0.5, -5.0], [0.5, 9.0], [-5.0, 9.0]])
    clamped = np.clip(outside, 0.0, 1.0)
    np.testing.assert_allclose(
        projection.bilinear(grid, (0, 1), (0, 1), outside), projection.bilinear(grid, (0, 1), (0, 1), clamped)
    )
    np.testing.assert_allclose(projection.bilinear(grid, (0, 1), (0, 1), outside[-1:])[0], grid[-1, 0])


# --- construction, configuration and bad inputs ----------------------------------------


def test_make_projection_builds_each_method_unfitted():
    assert isinstance(projection.make_projection("pca", seed=3), PCAProjection)
    made = projection.make_projection("umap", seed=3)
    assert isinstance(made, UMAPProjection) and made.seed == 3 and not hasattr(made, "umap_")
    assert projection.METHODS == ("pca", "umap")


def test_make_projection_rejects_unknown_methods_listing_the_known_ones():
    with pytest.raises(ConfigError, match="pca, umap"):
        projection.make_projection("tsne")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(10), "shape"),
        (np.zeros((10, 1)), "D >= 2"),
        (np.zeros((0, 4)), "N >= 1"),
        (np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]), "NaN"),
        (np.array([[0.0, 1.0], [np.inf, 2.0], [1.0, 1.0]]), "infinite"),
        (np.array([["a", "b"], ["c", "d"]]), "numbers"),
    ],
)
@pytest.mark.parametrize("cls", [PCAProjection, UMAPProjection])
def test_fit_rejects_bad_codes(cls, bad, message):
    with pytest.raises(ConfigError, match=message):
        cls().fit(bad)


@pytest.mark.parametrize("cls", [PCAProjection, UMAPProjection])
def test_transform_before_fit_asks_to_fit_first(cls):
    with pytest.raises(ConfigError, match="call fit first"):
        cls().transform(np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="call fit first"):
        cls().inverse_transform(np.zeros((3, 2)))


def test_pca_needs_two_codes():
    with pytest.raises(ConfigError, match="at least 2 codes"):
        PCAProjection().fit(np.ones((1, 4)))


def test_transform_rejects_codes_of_another_size(fitted_pca):
    with pytest.raises(ConfigError, match="fit on 16"):
        fitted_pca.transform(np.zeros((3, 8)))
    with pytest.raises(ConfigError, match=r"\(M, 2\)"):
        fitted_pca.inverse_transform(np.zeros((3, 3)))
    with pytest.raises(ConfigError, match="NaN"):
        projection.bilinear(np.zeros((2, 2, 3)), (0, 1), (0, 1), np.array([[np.nan, 0.0]]))


def test_configure_numba_cache_uses_aelab_cache_dir_unless_set(monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    projection.configure_numba_cache()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "numba")
    assert (tmp_path / "numba").is_dir()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    projection.configure_numba_cache()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")
