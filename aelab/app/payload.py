"""The data the latent-map component receives: plain JSON with arrays as base64 float32.

Two kinds: the parts that change only with the model (points, decoder, inverse, hole map),
each serialised once into a :class:`Shared` part that the browser receives once, and the
small per-run payload (probe, view, the server's decode) that names the parts it goes with.
Kept free of streamlit so it can be tested on its own; the browser reads it in
``static/decoding.js`` (``b64ToFloat32``, ``MlpDecoder``, ``Inverse``) and
``static/latent_map_data.js`` (the parts).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import explore
from ..models import Autoencoder


def b64(array: np.ndarray) -> str:
    """An array as base64 of its float32 little-endian bytes, row-major."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def from_b64(text: str, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`b64` (for tests and checks)."""
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(shape)


def decoder_spec(model: Autoencoder) -> dict[str, Any] | None:
    """The decoder's layers for in-browser decoding, or None when it is not a plain MLP."""
    layers = explore.mlp_decoder_layers(model)
    if layers is None:
        return None
    return {
        "image": list(model.image_shape),
        "layers": [{"w": b64(w), "b": b64(b), "in": int(w.shape[1]), "out": int(w.shape[0])} for w, b in layers],
    }


def server_image(probe: tuple[float, float], image: np.ndarray) -> dict[str, Any]:
    """The Python model's decode of the probe, which the map shows in place of its own once it arrives."""
    return {"probe": [float(probe[0]), float(probe[1])], "image": b64(image), "shape": list(image.shape)}


def identity_inverse() -> dict[str, Any]:
    return {"kind": "identity"}


def linear_inverse(mean: np.ndarray, components: np.ndarray) -> dict[str, Any]:
    """z = mean + x * components[0] + y * components[1] (PCA's exact inverse on its plane)."""
    return {"kind": "linear", "mean": b64(mean), "components": b64(components)}


def grid_inverse(grid: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float]) -> dict[str, Any]:
    """Latent codes on a (R, R, D) grid over the ranges; the browser interpolates bilinearly."""
    return {"kind": "grid", "grid": b64(grid), "resolution": int(grid.shape[0]),
            "x_range": [float(v) for v in x_range], "y_range": [float(v) for v in y_range]}


def static_payload(
    model_id: str,
    model: Autoencoder,
    points: np.ndarray,
    labels: np.ndarray,
    inverse: dict[str, Any],
    sigma: np.ndarray | None = None,
    prior: dict[str, Any] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """The parts of the payload that change only with the model or the projection."""
    points = np.asarray(points, dtype=np.float32)
    show_sigma = sigma is not None and model.has_prior and inverse["kind"] == "identity" and sigma.shape[1] == 2
    return {
        "payload_id": hashlib.sha1(f"{model_id}|{inverse['kind']}|{len(points)}".encode()).hexdigest()[:16],
        "model": model_id,
        "latent_dim": model.latent_dim,
        "points": {"x": b64(points[:, 0]), "y": b64(points[:, 1]), "label": [int(v) for v in labels]},
        "sigma": {"x": b64(sigma[:, 0]), "y": b64(sigma[:, 1])} if show_sigma else None,
        "decoder": decoder_spec(model),
        "inverse": inverse,
        "prior": prior,
        "note": note,
        "data_bounds": explore.data_bounds(points),
    }


@dataclass(frozen=True, eq=False)
class Shared:
    """A part of a map's data that is the same on every run, serialised once.

    ``blob`` is the UTF-8 JSON ``{"id": id, "fields": {...}}``; ``id`` is a hash of the fields,
    so equal fields give equal bytes, and a page that sends the same part again sends the
    same element, which Streamlit's message cache does not resend.
    """

    id: str
    blob: bytes

    @property
    def fields(self) -> dict[str, Any]:
        """The part's fields, parsed back (for tests and checks)."""
        return json.loads(self.blob)["fields"]


def shared(fields: dict[str, Any]) -> Shared:
    """Serialise ``fields`` (JSON-able) once, as a part the per-run payload refers to by id."""
    text = json.dumps(fields, separators=(",", ":")).encode()
    part_id = hashlib.blake2b(text, digest_size=8).hexdigest()
    return Shared(part_id, b'{"id":"%s","fields":%s}' % (part_id.encode(), text))
