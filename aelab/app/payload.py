"""The data the latent-map component receives: plain JSON with arrays as base64 float32.

Two kinds: the parts that change only with the model (points, decoder, inverse, hole map,
the images the hover panel shows), each serialised once into a :class:`Shared` part that the
browser receives once, and the small per-run payload (probe, view, the server's decode) that
names the parts it goes with. Many small images travel as one PNG sprite sheet (:func:`sprite`).
Kept free of streamlit so it can be tested on its own; the browser reads it in
``static/decoding.js`` (``b64ToFloat32``, ``MlpDecoder``, ``Inverse``) and
``static/latent_map_data.js`` (the parts).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

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
) -> dict[str, Any]:
    """The parts of the payload that change only with the model or the projection (no text: the
    map's texts depend on the language, and are added where the part is made, see maps.ModelMap)."""
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
        "data_bounds": explore.data_bounds(points),
    }


SPRITE_LEVELS = 16  # grey levels kept: at thumbnail size they look the same as 256, in 60% of the bytes
SPRITE_COLUMNS = 100
SPRITE_MAX_PIXELS = 8_000_000  # more (an uploaded data set of 10,000 28x28 images and up) is not sent


def sprite(images: np.ndarray) -> dict[str, Any] | None:
    """Images (N, H, W) in [0, 1] as one PNG sheet, image i at row i // columns, column i % columns,
    in :data:`SPRITE_LEVELS` grey levels; None when there are too many pixels to send."""
    images = np.asarray(images, dtype=np.float32)
    n, height, width = images.shape
    if n == 0 or images.size > SPRITE_MAX_PIXELS:
        return None
    columns = min(SPRITE_COLUMNS, n)
    rows = -(-n // columns)
    top = SPRITE_LEVELS - 1
    levels = np.round(np.clip(images, 0, 1) * top) * (255 / top)
    sheet = np.zeros((rows * columns, height, width), np.uint8)
    sheet[:n] = np.round(levels)
    sheet = sheet.reshape(rows, columns, height, width).transpose(0, 2, 1, 3).reshape(rows * height, columns * width)
    buffer = io.BytesIO()
    Image.fromarray(sheet).save(buffer, format="PNG", optimize=True)
    return {"png": base64.b64encode(buffer.getvalue()).decode("ascii"), "count": n, "columns": columns,
            "height": height, "width": width}


def sprite_image(sheet: dict[str, Any], index: int) -> np.ndarray:
    """Image ``index`` of a :func:`sprite` sheet, in [0, 1] (for tests and checks)."""
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(sheet["png"]))), dtype=np.float32) / 255
    row, column = divmod(index, sheet["columns"])
    h, w = sheet["height"], sheet["width"]
    return pixels[row * h:(row + 1) * h, column * w:(column + 1) * w]


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
