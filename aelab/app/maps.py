"""Per-model map data for the explorer: codes, 2-D positions, the inverse, and the payload.

Everything here is cached: models and projections once per process, so dragging and
reruns never refit a projection or re-encode the data. The part the browser receives is made
once per language (its texts are translated), and the images the hover panel shows once per
data set (the originals) and once per model (the reconstructions, where the browser cannot
decode them itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from .. import explore, i18n, layouts, pretrained, projection
from ..i18n import N_, _
from . import payload, resources
from .components.latent_map import component_texts


@dataclass(frozen=True)
class ModelMap:
    """A model's latent map: where each digit lands and how map positions decode."""

    entry: resources.ModelEntry
    codes: np.ndarray  # (N, D) codes of every digit (train then validation)
    points: np.ndarray  # (N, 2) their positions on the map
    labels: np.ndarray  # (N,)
    method: str  # "latent" for 1-D and 2-D latents, else the projection method
    exact: bool  # whether map positions decode exactly (2-D latent or PCA)
    static: dict  # the component payload's static part, with no text in it
    inverse: Callable[[np.ndarray], np.ndarray]  # map positions (M, 2) -> latent codes (M, D)
    parts: dict[str, payload.Shared] = field(default_factory=dict, compare=False, repr=False)  # by language

    @property
    def shared(self) -> payload.Shared:
        """The static part with the map's texts in the current language, serialised once per
        language: sent to the browser once per session (and again after a language switch)."""
        language = i18n.language()
        if language not in self.parts:
            self.parts[language] = payload.shared(self.static | {"note": self.note(), "texts": component_texts()})
        return self.parts[language]

    def note(self) -> str:
        """What the map says under its decoded image about its plane (nothing for a 1-D or 2-D latent)."""
        if self.method == "pca":
            return _("{dim}-D latent shown through PCA: decodes are exact on this plane, which leaves out the "
                     "other dimensions.", dim=self.entry.latent_dim)
        if self.method == "umap":
            return _("{dim}-D latent shown through UMAP: decodes go through UMAP's approximate inverse.",
                     dim=self.entry.latent_dim)
        return ""

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


@st.cache_resource(show_spinner=resources.Shown(N_("Preparing the latent map...")), max_entries=32)
def _model_map(entry: resources.ModelEntry, method: str) -> ModelMap:
    model = resources.load_model(entry.path).model
    codes, sigma, labels = resources.encoded(entry.path, entry.data)
    plane = {"latent": _latent_plane, "pca": _pca_plane, "umap": _umap_plane}[method]
    points, inverse, to_latent, prior_centre = plane(entry, codes)
    prior = {"center": prior_centre, "radii": [1, 2, 3]} if model.has_prior and prior_centre else None
    static = payload.static_payload(f"{entry.name}:{method}", model, points, labels, inverse, sigma, prior)
    browser_decodes = static["decoder"] is not None and inverse["kind"] == "identity"  # a point is its own code
    static["reconstructions"] = None if browser_decodes else _reconstructions(entry.path, entry.data)
    return ModelMap(entry, codes, np.asarray(points, np.float32), labels, method, method != "umap", static, to_latent)


@st.cache_resource(show_spinner=resources.Shown(N_("Reconstructing every digit...")), max_entries=16)
def _reconstructions(path: str, spec: str) -> dict | None:
    """The model's reconstruction of every image of the map (train then validation), as a sprite
    sheet for the hover panel: each image decoded from its own code, in any latent size."""
    codes = resources.encoded(path, spec)[0]
    return payload.sprite(explore.decode(resources.load_model(path).model, codes))


def originals_part(spec: str) -> payload.Shared | None:
    """The data set's images (train then validation, as on the maps) as a part the page mounts once:
    the hover panel shows each digit beside its reconstruction. None when they are too many to send."""
    return _originals(spec)


@st.cache_resource(show_spinner=False, max_entries=4)
def _originals(spec: str) -> payload.Shared | None:
    splits = resources.load_data(spec)
    sheet = payload.sprite(np.concatenate([splits.train.images, splits.val.images]))
    return None if sheet is None else payload.shared({"originals": sheet})


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


@st.cache_resource(show_spinner=resources.Shown(N_("Fitting PCA...")), max_entries=16)
def _pca(path: str, spec: str) -> projection.PCAProjection:
    return projection.PCAProjection().fit(resources.encoded(path, spec)[0])


@st.cache_resource(show_spinner=resources.Shown(N_("Laying out the codes with UMAP (about a minute the first "
                                                 "time, then cached on disk)...")), max_entries=16)
def _umap_layout(path: str, spec: str) -> layouts.Layout:
    """The shipped layout of a shipped model (read at once), else the disk cache's, else computed."""
    return layouts.for_model(Path(path), spec, resources.encoded(path, spec)[0],
                             shipped_dir=pretrained.layouts_dir())


def _identity(points: np.ndarray) -> np.ndarray:
    return points
