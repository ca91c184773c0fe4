"""2-D layouts of latent codes that are slow to compute, cached on disk.

A UMAP layout (the codes' embedding and the inverse on a grid over it) takes tens of
seconds; it depends only on the codes and the settings, so it is stored under aelab's
cache dir keyed by a hash of both, and later processes load it in milliseconds.

The shipped models' layouts ship with them (``pretrained/layouts/``, written by
``python -m aelab pretrained``): nobody waits a minute in front of a class. A shipped layout
is keyed by the model's files, the data and the settings rather than by the codes, since the
same weights may encode a few last bits differently on another machine's CPU.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data, explore, projection

GRID_RESOLUTION = 24
SHIPPED_MAX_DIM = 64  # layouts ship for models with 3 to 64 latent dimensions (a grid of 1024-D codes is 2 MB)


@dataclass(frozen=True)
class Layout:
    """Codes placed on a plane, with the inverse sampled on a grid over the plane."""

    points: np.ndarray  # (N, 2)
    grid: np.ndarray  # (R, R, D) latent codes at the grid nodes, row 0 at bounds[2]
    bounds: tuple[float, float, float, float]  # x0, x1, y0, y1 of the grid

    def to_latent(self, points: np.ndarray) -> np.ndarray:
        """Map positions (M, 2) -> codes (M, D) by bilinear interpolation of the grid."""
        return projection.bilinear(self.grid, self.bounds[:2], self.bounds[2:], points)


def umap_layout(codes: np.ndarray, seed: int = 0, cache_dir: Path | None = None) -> Layout:
    """UMAP's embedding of ``codes`` and its inverse on a grid, from the disk cache when present."""
    codes = np.ascontiguousarray(codes, dtype=np.float32)
    key = hashlib.sha256(codes.tobytes() + f"{codes.shape}|umap|{seed}|{GRID_RESOLUTION}".encode()).hexdigest()
    path = (cache_dir or data.cache_dir()) / "layouts" / f"umap-{key[:32]}.npz"
    cached = _read(path, len(codes), codes.shape[1])
    if cached is not None:
        return cached
    fitted = projection.make_projection("umap", seed=seed).fit(codes)
    points = fitted.transform(codes)
    bounds = tuple(explore.data_bounds(points))
    grid = projection.inverse_grid(fitted, bounds[:2], bounds[2:], resolution=GRID_RESOLUTION)
    data.write_npz_atomically(path, points=points, grid=grid, bounds=np.array(bounds))
    return Layout(points, grid, bounds)


def _read(path: Path, n: int, dim: int) -> Layout | None:
    """A cached layout, or None when it is missing, unreadable or does not fit the codes."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            points, grid, bounds = npz["points"], npz["grid"], npz["bounds"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if points.shape != (n, 2) or grid.ndim != 3 or grid.shape[2] != dim or bounds.shape != (4,):
        return None
    return Layout(points, grid, tuple(float(b) for b in bounds))


def for_model(model_dir: Path, spec: str, codes: np.ndarray, seed: int = 0,
              shipped_dir: Path | None = None, cache_dir: Path | None = None) -> Layout:
    """The UMAP layout of a model's ``codes`` of data ``spec``: the shipped one when it was made from
    this very model (same files), else from the disk cache, else computed."""
    if shipped_dir is not None:
        path = shipped_path(shipped_dir, model_dir, spec)
        if _key_of(path) == model_key(model_dir, spec, seed):
            layout = _read(path, *codes.shape)
            if layout is not None:
                return layout
    return umap_layout(codes, seed, cache_dir)


def shipped_path(shipped_dir: Path, model_dir: Path, spec: str) -> Path:
    return shipped_dir / f"umap-{model_dir.name}-{spec}.npz"


def model_key(model_dir: Path, spec: str, seed: int = 0) -> str:
    """What a shipped layout was made from: the model's two files, the data spec and the settings."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        digest.update((model_dir / name).read_bytes())
    digest.update(f"|{spec}|umap|{seed}|{GRID_RESOLUTION}".encode())
    return digest.hexdigest()


def ship(model_dir: Path, spec: str, codes: np.ndarray, shipped_dir: Path, seed: int = 0,
         cache_dir: Path | None = None) -> Path:
    """Lay out ``codes`` (the model's codes of ``spec``) and write it beside the shipped models."""
    layout = umap_layout(codes, seed, cache_dir)
    path = shipped_path(shipped_dir, model_dir, spec)
    data.write_npz_atomically(path, points=layout.points.astype(np.float32), grid=layout.grid.astype(np.float32),
                              bounds=np.array(layout.bounds), key=np.array(model_key(model_dir, spec, seed)))
    return path


def _key_of(path: Path) -> str | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return str(npz["key"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
