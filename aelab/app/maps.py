"""Per-model map data for the explorer: codes, 2-D positions, the inverse, and the payload.

Everything here is cached: models and projections once per process, so dragging and
reruns never refit a projection or re-encode the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from .. import layouts, projection
from . import payload, resources


@dataclass(frozen=True)
class ModelMap:
    """A model's latent map: where each digit lands and how map positions decode."""

    entry: resources.ModelEntry
    codes: np.ndarray  # (N, D) codes of every digit (train then validation)
    points: np.ndarray  # (N, 2) their positions on the map
    labels: np.ndarray  # (N,)
    method: str  # "latent" for 1-D and 2-D latents, else the projection method
    exact: bool  # whether map positions decode exactly (2-D latent or PCA)
    static: dict  # the component payload's static part
    shared: payload.Shared  # the same, serialised once: sent to the browser once per session
    inverse: Callable[[np.ndarray], np.ndarray]  # map positions (M, 2) -> latent codes (M, D)

    def to_latent(self, points: np.ndarray) -> np.ndarray:
        """Map positions (M, 2) -> latent codes (M, D), as the browser computes them."""
        return self.inverse(np.asarray(points, np.float32).reshape(-1, 2))

    def position_of(self, index: int) -> tuple[float, float]:
        return float(self.points[index, 0]), float(self.points[index, 1])


def method_for(entry: resources.ModelEntry, requested: str) -> str:
    """The map's coordinates: the latent itself when it is 2-D, else the requested projection."""
    return "latent" if entry.latent_dim <= 2 else requested


def model_map(entry: resources.ModelEntry, requested_method: str) -> ModelMap:
    """The cached map of a model under a projection method."""
    return _model_map(entry, method_for(entry, requested_method))


@st.cache_resource(show_spinner="Preparing the latent map...", max_entries=32)
def _model_map(entry: resources.ModelEntry, method: str) -> ModelMap:
    model = resources.load_model(entry.path).model
    codes, sigma, labels = resources.encoded(entry.path, entry.data)
    plane = {"latent": _latent_plane, "pca": _pca_plane, "umap": _umap_plane}[method]
    points, inverse, to_latent, prior_centre = plane(entry, codes)
    prior = {"center": prior_centre, "radii": [1, 2, 3]} if model.has_prior and prior_centre else None
    note = "" if method == "latent" else (
        f"{entry.latent_dim}-D latent shown through {method.upper()}: "
        + ("decodes are exact on this plane, which leaves out the other dimensions."
           if method == "pca" else "decodes go through UMAP's approximate inverse."))
    static = payload.static_payload(f"{entry.name}:{method}", model, points, labels, inverse, sigma, prior, note)
    return ModelMap(entry, codes, np.asarray(points, np.float32), labels, method, method != "umap", static,
                    payload.shared(static), to_latent)


def _latent_plane(entry, codes):
    """A 2-D latent is its own map (a 1-D one a line along x); the prior N(0, I) is centred on the origin."""
    if codes.shape[1] == 1:
        return np.column_stack([codes, np.zeros_like(codes)]), payload.identity_inverse(), _first_axis, [0.0, 0.0]
    return codes, payload.identity_inverse(), _identity, [0.0, 0.0]


def _first_axis(points: np.ndarray) -> np.ndarray:
    return points[:, :1]


def _pca_plane(entry, codes):
    """PCA's plane; its inverse is linear and exact, and N(0, I) projects to a unit Gaussian at -C mean."""
    fitted = _pca(entry.path, entry.data)
    centre = -(fitted.components_ @ fitted.mean_)
    inverse = payload.linear_inverse(fitted.mean_, fitted.components_)
    return fitted.transform(codes), inverse, fitted.inverse_transform, [float(centre[0]), float(centre[1])]


def _umap_plane(entry, codes):
    """UMAP's layout; the browser and the server both interpolate the same inverse grid."""
    layout = _umap_layout(entry.path, entry.data)
    inverse = payload.grid_inverse(layout.grid, layout.bounds[:2], layout.bounds[2:])
    return layout.points, inverse, layout.to_latent, None


@st.cache_resource(show_spinner="Fitting PCA...", max_entries=16)
def _pca(path: str, spec: str) -> projection.PCAProjection:
    return projection.PCAProjection().fit(resources.encoded(path, spec)[0])


@st.cache_resource(show_spinner="Laying out the codes with UMAP (about a minute the first time, then cached "
                                "on disk)...", max_entries=16)
def _umap_layout(path: str, spec: str) -> layouts.Layout:
    return layouts.umap_layout(resources.encoded(path, spec)[0])


def _identity(points: np.ndarray) -> np.ndarray:
    return points
