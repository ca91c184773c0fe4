"""2-D maps of latent codes: PCA / UMAP behind one fit/transform/inverse_transform shape.

A probe on the map is decoded through the projection's inverse: PCA's is exact and linear
(the browser applies it itself); UMAP's is approximate and slow, so the app precomputes it
on a grid (`inverse_grid`) that the browser interpolates (`bilinear`). numpy only.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from aelab import data
from aelab.errors import ConfigError

METHODS = ("pca", "umap")
GRID_RESOLUTIONS = (2, 64)  # inclusive bounds on inverse_grid's points per side


class PCAProjection:
    """Project codes onto their first two principal axes; the inverse is exact on that plane."""

    exact = True

    def __init__(self, seed: int = 0):
        self.seed = seed  # unused (the SVD is deterministic); kept for one constructor shape

    def fit(self, codes: np.ndarray) -> PCAProjection:
        """Learn the mean and the two leading principal axes of `codes` (N, D)."""
        codes = _check_codes(codes).astype(np.float64)
        if len(codes) < 2:
            raise ConfigError(f"PCA needs at least 2 codes, got {len(codes)}")
        self.mean_ = codes.mean(axis=0)
        centred = codes - self.mean_
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        # (D,) -> (2, D); sign fixed so each axis's largest-magnitude entry is positive
        signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
        self.components_ = (vt * signs[:, None])[:2]
        total = np.sum(singular**2)
        self.explained_variance_ratio_ = singular[:2] ** 2 / total if total > 0 else np.zeros(2)
        return self

    def transform(self, codes: np.ndarray) -> np.ndarray:
        """Map codes (N, D) to points on the plane (N, 2), float32."""
        _check_fitted(self, "components_")
        codes = _check_codes(codes, dim=self.mean_.shape[0])
        return ((codes - self.mean_) @ self.components_.T).astype(np.float32)

    def inverse_transform(self, points: np.ndarray) -> np.ndarray:
        """Map points (M, 2) back to codes (M, D), float32: mean_ + points @ components_."""
        _check_fitted(self, "components_")
        points = _check_points(points)
        return (self.mean_ + points @ self.components_).astype(np.float32)


class UMAPProjection:
    """Embed codes with UMAP; its inverse (umap's `inverse_transform`) is approximate and slow."""

    exact = False

    def __init__(self, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1):
        self.seed = seed
        self.n_neighbors = n_neighbors  # neighbourhood size: larger keeps more global structure
        self.min_dist = min_dist  # how tightly points may pack in the map

    def fit(self, codes: np.ndarray) -> UMAPProjection:
        """Fit a seeded 2-D UMAP to `codes` (N, D); N must exceed n_neighbors."""
        codes = _check_codes(codes)
        if len(codes) <= self.n_neighbors:
            raise ConfigError(
                f"UMAP with n_neighbors={self.n_neighbors} needs at least {self.n_neighbors + 1} "
                f"codes, got {len(codes)}; use more codes, fewer neighbours or the 'pca' projection"
            )
        configure_numba_cache()
        import umap  # lazy: importing umap costs seconds, and the numba cache must be set first

        settings = {"n_neighbors": self.n_neighbors, "min_dist": self.min_dist, "random_state": self.seed}
        # n_jobs=1: a seed forces a single thread anyway (umap warns otherwise)
        self.umap_ = umap.UMAP(n_components=2, n_jobs=1, **settings).fit(codes.astype(np.float32))
        self.dim_ = codes.shape[1]
        return self

    def transform(self, codes: np.ndarray) -> np.ndarray:
        """Map codes (N, D) to the map (N, 2), float32; the fitted codes give their embedding."""
        _check_fitted(self, "umap_")
        codes = _check_codes(codes, dim=self.dim_)
        return np.asarray(self.umap_.transform(codes.astype(np.float32)), dtype=np.float32)

    def inverse_transform(self, points: np.ndarray) -> np.ndarray:
        """Estimate codes (M, D), float32, for points (M, 2) on the map (approximate, slow).

        Points outside the convex hull of the embedding are first moved onto the hull:
        umap would otherwise invert them from an arbitrary triangle (its Delaunay lookup
        returns -1 there, which indexes the last triangle).
        """
        _check_fitted(self, "umap_")
        points = _into_hull(_check_points(points), self.umap_.embedding_)
        return np.asarray(self.umap_.inverse_transform(points), dtype=np.float32)


def make_projection(method: str, seed: int = 0) -> PCAProjection | UMAPProjection:
    """Return an unfitted projection for `method`, one of METHODS."""
    if method == "pca":
        return PCAProjection(seed=seed)
    if method == "umap":
        return UMAPProjection(seed=seed)
    raise ConfigError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")


def inverse_grid(
    projection: PCAProjection | UMAPProjection,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    resolution: int = 24,
) -> np.ndarray:
    """Return the codes at a resolution x resolution grid spanning the ranges inclusive.

    Shape (resolution, resolution, D) float32, indexed [y index, x index]; row 0 lies
    at y_range[0] and column 0 at x_range[0].
    """
    low, high = GRID_RESOLUTIONS
    if not isinstance(resolution, int | np.integer) or not low <= resolution <= high:
        raise ConfigError(f"grid resolution must be an integer from {low} to {high}, got {resolution!r}")
    xs = np.linspace(*_check_range(x_range, "x_range"), resolution)
    ys = np.linspace(*_check_range(y_range, "y_range"), resolution)
    gx, gy = np.meshgrid(xs, ys)  # each (R, R), [y index, x index]
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (R*R, 2)
    codes = projection.inverse_transform(points)  # (R*R, D)
    return codes.reshape(resolution, resolution, -1)


def bilinear(
    grid: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float], points: np.ndarray
) -> np.ndarray:
    """Interpolate an `inverse_grid` bilinearly at points (M, 2) -> (M, D), float32.

    The reference for what the browser does; points outside the ranges are clamped to the border.
    """
    if grid.ndim != 3 or min(grid.shape[:2]) < 2:
        raise ConfigError(f"grid must have shape (rows, cols, D) with at least 2x2 nodes, got {grid.shape}")
    points = _check_points(points)
    rows, cols = grid.shape[:2]
    fx = _fractional_index(points[:, 0], _check_range(x_range, "x_range"), cols)
    fy = _fractional_index(points[:, 1], _check_range(y_range, "y_range"), rows)
    x0 = np.minimum(fx.astype(int), cols - 2)  # left/lower node; the last cell includes its edge
    y0 = np.minimum(fy.astype(int), rows - 2)
    tx = (fx - x0)[:, None]  # (M, 1) weights in [0, 1]
    ty = (fy - y0)[:, None]
    bottom = (1 - tx) * grid[y0, x0] + tx * grid[y0, x0 + 1]
    top = (1 - tx) * grid[y0 + 1, x0] + tx * grid[y0 + 1, x0 + 1]
    return ((1 - ty) * bottom + ty * top).astype(np.float32)


def configure_numba_cache() -> None:
    """Point NUMBA_CACHE_DIR at aelab's cache folder, unless the user has set it.

    Numba then keeps UMAP's compiled functions on disk, so compiling is paid once per
    machine, not once per process. Takes effect only for functions decorated after the
    call, so call it before umap is first imported; if umap is already imported it is
    harmless and changes nothing for umap's functions.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = data.cache_dir() / "numba"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # numba read its settings at import; have it read them again
        from numba.core import config

        config.reload_config()


def _check_codes(codes: np.ndarray, dim: int | None = None) -> np.ndarray:
    codes = np.asarray(codes)
    if not np.issubdtype(codes.dtype, np.number):
        raise ConfigError(f"codes must be numbers, got an array of {codes.dtype}")
    if codes.ndim != 2 or codes.shape[1] < 2 or len(codes) == 0:
        raise ConfigError(f"codes must have shape (N, D) with N >= 1 and D >= 2, got {codes.shape}")
    if dim is not None and codes.shape[1] != dim:
        raise ConfigError(f"codes have {codes.shape[1]} columns but the projection was fit on {dim}")
    _check_finite(codes, "codes")
    return codes


def _check_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ConfigError(f"points must have shape (M, 2), got {points.shape}")
    _check_finite(points, "points")
    return points


def _check_finite(values: np.ndarray, name: str) -> None:
    if not np.isfinite(values).all():
        raise ConfigError(f"{name} contain {'NaN' if np.isnan(values).any() else 'infinite values'}")


def _check_range(bounds: tuple[float, float], name: str) -> tuple[float, float]:
    low, high = (float(b) for b in bounds)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ConfigError(f"{name} must be two finite numbers (low, high) with low < high, got {bounds}")
    return low, high


def _check_fitted(projection: object, attribute: str) -> None:
    if not hasattr(projection, attribute):
        raise ConfigError(f"{type(projection).__name__} is not fitted yet; call fit first")


def _into_hull(points: np.ndarray, embedding: np.ndarray) -> np.ndarray:
    """Move points outside the convex hull of `embedding` (N, 2) to just inside its nearest edge."""
    from scipy.spatial import Delaunay  # scipy comes with scikit-learn; imported only for UMAP

    triangles = Delaunay(embedding)
    outside = triangles.find_simplex(points) < 0
    if not outside.any():
        return points
    start, end = (embedding[triangles.convex_hull[:, i]] for i in (0, 1))  # hull edges, each (H, 2)
    edge = end - start
    stray = points[outside][:, None, :]  # (K, 1, 2)
    along = np.clip(((stray - start) * edge).sum(-1) / (edge**2).sum(-1), 0, 1)  # (K, H)
    feet = start + along[..., None] * edge  # (K, H, 2): nearest point on each edge
    foot = feet[np.arange(len(feet)), np.linalg.norm(stray - feet, axis=-1).argmin(axis=1)]  # (K, 2)
    moved = points.copy()
    moved[outside] = foot + 1e-3 * (embedding.mean(axis=0) - foot)  # nudged inside: the hull is convex
    return moved


def _fractional_index(values: np.ndarray, bounds: tuple[float, float], nodes: int) -> np.ndarray:
    """Map coordinates to fractional node indices in [0, nodes - 1], clamped at the border."""
    low, high = bounds
    return np.clip((values - low) / (high - low) * (nodes - 1), 0, nodes - 1)
