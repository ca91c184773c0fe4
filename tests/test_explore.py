"""Tests for aelab.explore and aelab.app.payload: what the latent explorer computes and sends.

The payload tests decode it in numpy exactly as ``aelab/app/static/decoding.js`` does
(``MlpDecoder``, ``Inverse``): that is the contract the browser relies on, so a change on
either side that breaks it fails here, without a browser.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aelab import checkpoint, data, explore, models, pretrained, projection
from aelab.app import payload
from aelab.models import KINDS, REGISTRY, VAE

SHIPPED = [entry["name"] for entry in pretrained.read_index()]
SHIPPED_2D = [entry["name"] for entry in pretrained.read_index() if entry["latent_dim"] == 2]


# ---- fixtures and references ----------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> dict[str, models.Autoencoder]:
    """Every shipped model by name, loaded once for the module."""
    return {entry["name"]: checkpoint.load(entry["path"]).model for entry in pretrained.read_index()}


@pytest.fixture(scope="module")
def mnist_splits(aelab_cache_dir) -> data.Splits:
    """mnist5k split as the shipped models were trained (seed 0): 4,500 train, 500 held out."""
    return data.load_splits("mnist5k", seed=0, cache_dir=aelab_cache_dir)


@pytest.fixture(scope="module")
def mnist_all(mnist_splits) -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 images and labels, train then validation, as the app encodes them."""
    images = np.concatenate([mnist_splits.train.images, mnist_splits.val.images])
    return images, np.concatenate([mnist_splits.train.labels, mnist_splits.val.labels])


def _torch_decode(model: models.Autoencoder, codes: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.decode(torch.as_tensor(codes, dtype=torch.float32)).numpy()


def _js_decode(spec: dict, z: np.ndarray) -> np.ndarray:
    """decoding.js's MlpDecoder.decode for one code, index for index.

    Weights are flat float32 buffers read as w[o * nIn + i]; sums run in float64 (JS numbers)
    and land in Float32Array buffers; ReLU between layers, sigmoid after the last.
    """
    layers = [{"w": payload.from_b64(layer["w"], (-1,)), "b": payload.from_b64(layer["b"], (-1,)),
               "nIn": layer["in"], "nOut": layer["out"]} for layer in spec["layers"]]
    x = np.asarray(z, np.float32)
    for li, layer in enumerate(layers):
        n_in, n_out = layer["nIn"], layer["nOut"]
        flat_index = np.arange(n_out)[:, None] * n_in + np.arange(n_in)[None, :]  # o * nIn + i
        s = layer["b"].astype(np.float64) + (layer["w"][flat_index].astype(np.float64) * x.astype(np.float64)).sum(1)
        last = li == len(layers) - 1
        x = (1 / (1 + np.exp(-s)) if last else np.maximum(s, 0)).astype(np.float32)
    return x


def _js_to_latent(spec: dict, latent_dim: int, px: float, py: float) -> np.ndarray:
    """decoding.js's Inverse.toLatent for one map position."""
    out = np.zeros(latent_dim, np.float32)
    if spec["kind"] == "identity":
        out[0], out[1] = px, py
    elif spec["kind"] == "linear":
        mean, comps = payload.from_b64(spec["mean"], (-1,)), payload.from_b64(spec["components"], (-1,))
        d = latent_dim
        for j in range(d):
            out[j] = mean[j] + px * comps[j] + py * comps[d + j]
    else:
        r = spec["resolution"]
        grid = payload.from_b64(spec["grid"], (-1,))
        (x0, x1), (y0, y1) = spec["x_range"], spec["y_range"]
        fx = min(max((px - x0) / (x1 - x0), 0), 1) * (r - 1)
        fy = min(max((py - y0) / (y1 - y0), 0), 1) * (r - 1)
        c0, r0 = min(int(np.floor(fx)), r - 2), min(int(np.floor(fy)), r - 2)
        tx, ty = fx - c0, fy - r0
        d = latent_dim

        def at(row: int, col: int, j: int) -> float:
            return float(grid[(row * r + col) * d + j])

        for j in range(d):
            top = at(r0, c0, j) * (1 - tx) + at(r0, c0 + 1, j) * tx
            bottom = at(r0 + 1, c0, j) * (1 - tx) + at(r0 + 1, c0 + 1, j) * tx
            out[j] = top * (1 - ty) + bottom * ty
    return out


def _numpy_mlp(layers: list[tuple[np.ndarray, np.ndarray]], codes: np.ndarray) -> np.ndarray:
    x = codes.astype(np.float64)
    for i, (w, b) in enumerate(layers):
        x = x @ w.T.astype(np.float64) + b
        x = 1 / (1 + np.exp(-x)) if i == len(layers) - 1 else np.maximum(x, 0)
    return x


# ---- tile ------------------------------------------------------------------------------------


def test_tile_puts_image_r_c_at_rows_r_h_and_cols_c_w():
    rows, cols, h, w = 2, 4, 3, 5  # nothing square, so a transposed layout cannot pass
    images = np.random.default_rng(0).random((rows, cols, h, w)).astype(np.float32)
    sheet = explore.tile(images)
    assert sheet.shape == (rows * h, cols * w)
    for r in range(rows):
        for c in range(cols):
            np.testing.assert_array_equal(sheet[r * h:(r + 1) * h, c * w:(c + 1) * w], images[r, c])


# ---- interpolate -----------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [2, 7, 24])
def test_interpolate_includes_both_ends_and_is_linear(steps, tiny_model):
    model = tiny_model("vae")
    rng = np.random.default_rng(1)
    start, end = rng.normal(size=8).astype(np.float32), rng.normal(size=8).astype(np.float32)
    path, images = explore.interpolate(model, start, end, steps)
    assert path.shape == (steps, 8) and images.shape == (steps, 8, 8)
    np.testing.assert_allclose(path[0], start, atol=1e-6)
    np.testing.assert_allclose(path[-1], end, atol=1e-6)
    t = np.linspace(0, 1, steps)[:, None]
    np.testing.assert_allclose(path, start + t * (end - start), atol=1e-5)
    np.testing.assert_allclose(images[0], _torch_decode(model, start[None])[0], atol=1e-6)
    np.testing.assert_allclose(images[-1], _torch_decode(model, end[None])[0], atol=1e-6)
    np.testing.assert_allclose(images, _torch_decode(model, path), atol=1e-6)


def test_interpolate_asks_for_at_least_the_two_ends(tiny_model):
    model = tiny_model("ae", latent_dim=2)
    path, images = explore.interpolate(model, [0.0, 0.0], [1.0, 2.0], steps=1)
    assert len(path) == len(images) == 2
    np.testing.assert_allclose(path, [[0, 0], [1, 2]], atol=1e-6)


def test_interpolate_through_a_pca_inverse_decodes_the_inverse_of_the_path(tiny_model):
    model = tiny_model("ae")  # 8-D latent
    codes = np.random.default_rng(2).normal(size=(300, 8)).astype(np.float32)
    pca = projection.PCAProjection().fit(codes)
    start, end = np.array([-1.5, 0.5]), np.array([2.0, -1.0])
    path, images = explore.interpolate(model, start, end, 9, pca.inverse_transform)
    assert path.shape == (9, 2)  # map positions, not codes
    np.testing.assert_allclose(path[[0, -1]], [start, end], atol=1e-6)
    np.testing.assert_allclose(images, _torch_decode(model, pca.inverse_transform(path)), atol=1e-6)


# class pairs for the shipped VAE: far apart (0/1), and often confused (4/9, 3/8, 1/7)
PAIRS = [(0, 1), (4, 9), (3, 8), (1, 7), (2, 6)]


@pytest.mark.parametrize(("class_a", "class_b"), PAIRS)
def test_shipped_vae_interpolates_gradually_between_held_out_digits(class_a, class_b, shipped, mnist_splits):
    model = shipped["vae-2d"]
    val = mnist_splits.val  # not seen in training
    ia, ib = (int(np.flatnonzero(val.labels == c)[0]) for c in (class_a, class_b))
    digits = val.images[[ia, ib]]
    codes, _ = explore.encode(model, digits)
    _, images = explore.interpolate(model, codes[0], codes[1], steps=12)
    steps = np.linalg.norm((images[1:] - images[:-1]).reshape(11, -1), axis=1)
    assert steps.sum() > 1.0, "the two digits should decode to visibly different images"
    assert steps.max() < 0.5 * steps.sum(), f"one step carries {steps.max() / steps.sum():.0%} of the change"
    # the ends are the digits' own reconstructions, and each is nearer its own digit than the other
    with torch.no_grad():
        recon = model(torch.as_tensor(digits)).numpy()
    np.testing.assert_allclose(images[[0, -1]], recon, atol=1e-5)
    for end, own, other in ((images[0], digits[0], digits[1]), (images[-1], digits[1], digits[0])):
        assert np.mean((end - own) ** 2) < np.mean((end - other) ** 2)


# ---- encode ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_encode_returns_codes_and_vae_sigmas(kind, tiny_model, digits):
    model = tiny_model(kind)
    images = digits.images[:37]
    codes, sigmas = explore.encode(model, images, batch_size=10)  # four batches, the last short
    with torch.no_grad():
        expected = model.encode(torch.as_tensor(images)).numpy()
    assert codes.shape == (37, 8)
    np.testing.assert_allclose(codes, expected, atol=1e-5)
    if issubclass(REGISTRY[kind], VAE):
        assert sigmas is not None and sigmas.shape == (37, 8)
        assert (sigmas > 0).all() and np.isfinite(sigmas).all()
        with torch.no_grad():
            _, logvar = model.encode_dist(torch.as_tensor(images))
        np.testing.assert_allclose(sigmas, np.exp(0.5 * logvar.numpy()), rtol=1e-5)
    else:
        assert sigmas is None


def test_shipped_vae_sigmas_are_posterior_widths(shipped, mnist_splits):
    """A trained VAE's posteriors are narrower than its N(0, I) prior, yet not collapsed."""
    codes, sigmas = explore.encode(shipped["vae-2d"], mnist_splits.val.images)
    assert sigmas.shape == codes.shape == (500, 2)
    assert 0.005 < np.median(sigmas) < 0.5


# ---- data_bounds -----------------------------------------------------------------------------


def test_data_bounds_cover_the_bulk_and_are_padded():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.standard_t(3, size=(5000, 2)), [[1e6, -1e6]]])  # heavy tails, one wild outlier
    x0, x1, y0, y1 = explore.data_bounds(points)
    inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    assert inside.mean() >= 0.98
    assert x1 - x0 < 50 and y1 - y0 < 50, "the view must not stretch to a single outlier"
    lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    assert x0 < lo[0] and x1 > hi[0] and y0 < lo[1] and y1 > hi[1]  # padded beyond the percentiles


def test_data_bounds_of_identical_points_are_a_small_non_empty_box():
    x0, x1, y0, y1 = explore.data_bounds(np.full((10, 2), [3.0, -2.0]))
    assert x0 < 3.0 < x1 and y0 < -2.0 < y1
    assert 0 < x1 - x0 < 1 and 0 < y1 - y0 < 1
    assert explore.parse_view(",".join(map(str, [x0, x1, y0, y1]))) is not None  # a view the URL accepts


# ---- mlp_decoder_layers ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_mlp_decoder_layers_reproduce_model_decode(kind, tiny_model):
    model = tiny_model(kind, latent_dim=3, hidden=(16, 12))
    layers = explore.mlp_decoder_layers(model)
    assert layers is not None and len(layers) == 3
    assert [w.shape for w, _ in layers] == [(12, 3), (16, 12), (64, 16)]  # (out, in), as torch stores them
    assert all(w.dtype == np.float32 and b.dtype == np.float32 for w, b in layers)
    codes = np.random.default_rng(0).normal(0, 3, size=(50, 3)).astype(np.float32)
    np.testing.assert_allclose(_numpy_mlp(layers, codes), _torch_decode(model, codes).reshape(50, -1), atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_mlp_decoder_layers_is_none_for_a_conv_model(kind):
    model = models.build(kind, image_shape=(8, 8), latent_dim=2, hidden=(16,), arch="conv")
    assert explore.mlp_decoder_layers(model) is None
    assert payload.decoder_spec(model) is None


# ---- payload: the browser's contract ---------------------------------------------------------


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5)])
def test_b64_round_trips_float32_row_major(shape):
    array = np.random.default_rng(0).normal(size=shape)  # float64 in, float32 out
    np.testing.assert_array_equal(payload.from_b64(payload.b64(array), shape), array.astype(np.float32))
    if len(shape) == 2:  # a transposed (non-contiguous) view keeps its logical row-major order
        np.testing.assert_array_equal(payload.from_b64(payload.b64(array.T), array.T.shape),
                                      array.T.astype(np.float32))


def test_b64_is_little_endian_float32_bytes():
    import base64

    raw = base64.b64decode(payload.b64(np.array([1.0, -2.5])))
    assert raw == np.array([1.0, -2.5], dtype="<f4").tobytes() and len(raw) == 8


@pytest.mark.parametrize("name", SHIPPED)
def test_decoder_spec_decoded_as_the_browser_does_matches_model_decode(name, shipped):
    model = shipped[name]
    spec = payload.decoder_spec(model)
    assert spec is not None, "every shipped model is an MLP the browser can decode"
    assert spec["image"] == list(model.image_shape)
    layers = spec["layers"]
    assert layers[0]["in"] == model.latent_dim  # the browser's latentDim
    assert layers[-1]["out"] == model.image_shape[0] * model.image_shape[1]
    assert all(a["out"] == b["in"] for a, b in zip(layers[:-1], layers[1:], strict=True))
    json.dumps(spec)  # plain JSON
    codes = np.random.default_rng(0).normal(0, 2, size=(6, model.latent_dim)).astype(np.float32)
    expected = _torch_decode(model, codes).reshape(6, -1)
    for z, want in zip(codes, expected, strict=True):
        np.testing.assert_allclose(_js_decode(spec, z), want, atol=1e-5)


def test_linear_inverse_is_pca_inverse_transform_in_the_browser():
    codes = np.random.default_rng(0).normal(2.0, 3.0, size=(400, 16)).astype(np.float32)
    pca = projection.PCAProjection().fit(codes)
    spec = payload.linear_inverse(pca.mean_, pca.components_)
    assert spec["kind"] == "linear"
    points = np.array([[0.0, 0.0], [1.5, -2.0], [-7.0, 4.0]])
    expected = pca.inverse_transform(points)
    for p, want in zip(points, expected, strict=True):
        np.testing.assert_allclose(_js_to_latent(spec, 16, *p), want, atol=1e-5)


def test_grid_inverse_round_trips_and_the_browser_interpolates_like_bilinear():
    codes = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
    pca = projection.PCAProjection().fit(codes)
    x_range, y_range = (-2.0, 3.0), (-1.0, 1.5)
    grid = projection.inverse_grid(pca, x_range, y_range, resolution=7)
    spec = payload.grid_inverse(grid, x_range, y_range)
    assert spec["kind"] == "grid" and spec["resolution"] == 7
    assert spec["x_range"] == [-2.0, 3.0] and spec["y_range"] == [-1.0, 1.5]
    np.testing.assert_array_equal(payload.from_b64(spec["grid"], grid.shape), grid)
    json.dumps(spec)
    # inside the ranges, on the border and outside (clamped): the browser agrees with bilinear,
    # and inside it recovers PCA's affine inverse exactly
    points = np.array([[0.3, 0.2], [-2.0, -1.0], [3.0, 1.5], [2.9, -0.99], [10.0, -5.0], [-0.51, 1.2]])
    reference = projection.bilinear(grid, x_range, y_range, points)
    for p, want in zip(points, reference, strict=True):
        np.testing.assert_allclose(_js_to_latent(spec, 6, *p), want, atol=1e-5)
    np.testing.assert_allclose(reference[:4], pca.inverse_transform(points[:4]), atol=1e-4)


def test_identity_inverse_puts_the_position_in_the_code():
    spec = payload.identity_inverse()
    np.testing.assert_array_equal(_js_to_latent(spec, 2, 1.25, -0.5), [1.25, -0.5])


# ---- static_payload --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoded_2d(shipped, mnist_all) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    images, _ = mnist_all
    return {name: explore.encode(shipped[name], images) for name in ("vae-2d", "ae-2d")}


def test_static_payload_of_a_shipped_vae_is_complete_json_and_small(shipped, encoded_2d, mnist_all):
    model, (codes, sigma), labels = shipped["vae-2d"], encoded_2d["vae-2d"], mnist_all[1]
    static = payload.static_payload("vae-2d:latent", model, codes, labels, payload.identity_inverse(), sigma)
    n = len(codes)
    assert n == 5000
    np.testing.assert_array_equal(payload.from_b64(static["points"]["x"], (n,)), codes[:, 0])
    np.testing.assert_array_equal(payload.from_b64(static["points"]["y"], (n,)), codes[:, 1])
    assert static["points"]["label"] == labels.tolist()
    assert static["sigma"] is not None
    np.testing.assert_array_equal(payload.from_b64(static["sigma"]["x"], (n,)), sigma[:, 0])
    np.testing.assert_array_equal(payload.from_b64(static["sigma"]["y"], (n,)), sigma[:, 1])
    assert static["latent_dim"] == 2 and static["decoder"] is not None
    assert static["data_bounds"] == pytest.approx(explore.data_bounds(codes))
    text = json.dumps(static)
    assert len(text) < 3_000_000, f"payload is {len(text) / 1e6:.1f} MB"
    assert json.loads(text)["payload_id"] == static["payload_id"]


def test_static_payload_sigma_only_for_a_vae_on_its_own_latent_plane(shipped, encoded_2d, mnist_all):
    labels = mnist_all[1]
    vae_codes, vae_sigma = encoded_2d["vae-2d"]
    ae_codes, _ = encoded_2d["ae-2d"]
    linear = payload.linear_inverse(np.zeros(2), np.eye(2))
    cases = {
        "vae, identity": (shipped["vae-2d"], vae_codes, payload.identity_inverse(), vae_sigma, True),
        "vae, linear": (shipped["vae-2d"], vae_codes, linear, vae_sigma, False),
        "vae, no sigma given": (shipped["vae-2d"], vae_codes, payload.identity_inverse(), None, False),
        "ae given sigmas": (shipped["ae-2d"], ae_codes, payload.identity_inverse(), vae_sigma, False),
    }
    for case, (model, codes, inverse, sigma, shown) in cases.items():
        static = payload.static_payload("m", model, codes, labels, inverse, sigma)
        assert (static["sigma"] is not None) == shown, case


def test_static_payload_decoder_is_none_for_a_conv_model():
    model = models.build("vae", image_shape=(8, 8), latent_dim=2, hidden=(16,), arch="conv")
    points = np.random.default_rng(0).normal(size=(20, 2))
    static = payload.static_payload("conv", model, points, np.zeros(20, int), payload.identity_inverse())
    assert static["decoder"] is None
    json.dumps(static)


def test_payload_id_is_stable_and_differs_between_models_and_projections(shipped, encoded_2d, mnist_all):
    labels = mnist_all[1]
    codes, sigma = encoded_2d["vae-2d"]
    linear = payload.linear_inverse(np.zeros(2), np.eye(2))

    def pid(model_id, model, inverse, points=codes):
        return payload.static_payload(model_id, model, points, labels, inverse, sigma)["payload_id"]

    base = pid("vae-2d:latent", shipped["vae-2d"], payload.identity_inverse())
    assert base == pid("vae-2d:latent", shipped["vae-2d"], payload.identity_inverse())
    others = [
        pid("ae-2d:latent", shipped["ae-2d"], payload.identity_inverse()),
        pid("vae-2d:pca", shipped["vae-2d"], linear),
        pid("vae-2d:latent", shipped["vae-2d"], linear),
        pid("vae-2d:latent", shipped["vae-2d"], payload.identity_inverse(), codes[:100]),
    ]
    assert base not in others and len(set(others)) == len(others)


# ---- parse_pair / parse_view -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("1,-1", (1.0, -1.0)),
    ("0.25,3e2", (0.25, 300.0)),
    (" -1.5 , 2 ", (-1.5, 2.0)),
    ("1e9,1e9", (1e9, 1e9)),  # finite: the app clamps it, parsing keeps it
])
def test_parse_pair_accepts_two_finite_numbers(text, expected):
    assert explore.parse_pair(text) == expected


@pytest.mark.parametrize("text", [
    None, "", "nan,1", "1,NaN", "inf,1", "1,-inf", "1", "1,2,3", "1,", ",1", "a,b", "1;2", "0x1,2", "1,2 3",
])
def test_parse_pair_rejects_anything_else(text):
    assert explore.parse_pair(text) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("0,1,0,1", [0.0, 1.0, 0.0, 1.0]),
    ("-3.5,3.5,-2,2", [-3.5, 3.5, -2.0, 2.0]),
    ("-5000,5000,0,1e4", [-5000.0, 5000.0, 0.0, 1e4]),  # at the size limit
])
def test_parse_view_accepts_finite_ordered_sane_views(text, expected):
    assert explore.parse_view(text) == expected


@pytest.mark.parametrize("text", [
    None, "", "0,1,0", "0,1,0,1,2", "a,1,0,1",
    "nan,1,0,1", "0,inf,0,1",
    "5,1,0,1",  # reversed x
    "0,1,1,0",  # reversed y
    "1,1,0,1",  # zero width
    "0,1,2,2",  # zero height
    "0,20000,0,1",  # absurdly wide
    "0,1,-1e6,1e6",  # absurdly tall
    "1e5,1.00001e5,0,1",  # small but absurdly far away
])
def test_parse_view_rejects_bad_views(text):
    assert explore.parse_view(text) is None
