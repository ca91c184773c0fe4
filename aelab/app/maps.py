"""Per-model map data for the explorer: codes, 2-D positions, the inverse, and the payload.

Everything here is cached: models and projections once per process, so dragging and
reruns never refit a projection or re-encode the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import streamlit as st

from .. import explore, projection
from ..models import VAE
from . import payload, resources


@dataclass(frozen=True)
class ModelMap:
    """A model's latent map: where each digit lands and how map positions decode."""

    entry: resources.ModelEntry
    codes: np.ndarray  # (N, D) codes of every digit (train then validation)
    points: np.ndarray  # (N, 2) their positions on the map
    labels: np.ndarray  # (N,)
    method: str  # "latent" for 2-D latents, else the projection method
    exact: bool  # whether map positions decode exactly (2-D latent or PCA)
    static: dict  # the component payload's static part
    inverse: Callable[[np.ndarray], np.ndarray]  # map positions (M, 2) -> latent codes (M, D)

    def to_latent(self, points: np.ndarray) -> np.ndarray:
        """Map positions (M, 2) -> latent codes (M, D), as the browser computes them."""
        return self.inverse(np.asarray(points, np.float32).reshape(-1, 2))

    def position_of(self, index: int) -> tuple[float, float]:
        return float(self.points[index, 0]), float(self.points[index, 1])


def method_for(entry: resources.ModelEntry, requested: str) -> str:
    """The map's coordinates: the latent itself when it is 2-D, else the requested projection."""
    return "latent" if entry.latent_dim == 2 else requested


def model_map(entry: resources.ModelEntry, requested_method: str) -> ModelMap:
    """The cached map of a model under a projection method."""
    return _model_map(entry, method_for(entry, requested_method))


@st.cache_resource(show_spinner="Preparing the latent map...", max_entries=32)
def _model_map(entry: resources.ModelEntry, method: str) -> ModelMap:
    model = resources.load_model(entry.path).model
    codes, sigma, labels = resources.encoded(entry.path, entry.data)
    if method == "latent":
        points, inverse, exact, to_latent = codes, payload.identity_inverse(), True, _identity
        prior = {"center": [0.0, 0.0], "radii": [1, 2, 3]} if isinstance(model, VAE) else None
        note = ""
    else:
        fitted = _projection(entry.path, entry.data, method)
        points = fitted.transform(codes)
        exact = bool(fitted.exact)
        if method == "pca":
            inverse, to_latent = payload.linear_inverse(fitted.mean_, fitted.components_), fitted.inverse_transform
            centre = -(fitted.components_ @ fitted.mean_)  # where N(0, I) projects to
            prior = {"center": [float(centre[0]), float(centre[1])], "radii": [1, 2, 3]} \
                if isinstance(model, VAE) else None
        else:
            bounds = explore.data_bounds(points)
            grid = _umap_grid(entry.path, entry.data, tuple(bounds))
            inverse = payload.grid_inverse(grid, bounds[:2], bounds[2:])
            to_latent = partial(projection.bilinear, grid, bounds[:2], bounds[2:])  # what the browser does
            prior = None
        note = (f"{entry.latent_dim}-D latent shown through {method.upper()}: "
                + ("decodes on this plane are exact for the plane, which misses the other dimensions."
                   if method == "pca" else "decodes go through UMAP's approximate inverse."))
    static = payload.static_payload(f"{entry.name}:{method}", model, points, labels, inverse, sigma, prior, note)
    return ModelMap(entry, codes, np.asarray(points, np.float32), labels, method, exact, static, to_latent)


@st.cache_resource(show_spinner="Fitting the projection (UMAP takes a while the first time)...", max_entries=16)
def _projection(path: str, spec: str, method: str):
    projection.configure_numba_cache()
    codes = resources.encoded(path, spec)[0]
    return projection.make_projection(method, seed=0).fit(codes)


@st.cache_resource(show_spinner="Inverting UMAP on a grid...", max_entries=16)
def _umap_grid(path: str, spec: str, bounds: tuple[float, float, float, float]) -> np.ndarray:
    return projection.inverse_grid(_projection(path, spec, "umap"), bounds[:2], bounds[2:], resolution=24)


def _identity(points: np.ndarray) -> np.ndarray:
    return points
