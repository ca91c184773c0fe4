"""The identity trap's computations, on cases with known answers: a copier, a constant, a pixel never lit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab import metrics
from aelab.labs import identity
from aelab.models import build


class Copier(torch.nn.Module):
    """The identity: every image comes back exactly as it went in."""

    has_prior = False

    def posterior(self, x):
        return x.flatten(1), None  # (B, H, W) -> (B, H*W)

    def decode(self, z):
        return z.view(-1, 28, 28)


class Constant(Copier):
    """Ignores its input: every image comes back as the same picture."""

    def __init__(self, picture: np.ndarray):
        super().__init__()
        self.picture = torch.as_tensor(np.asarray(picture, np.float32))

    def decode(self, z):
        return self.picture.expand(len(z), 28, 28)


@pytest.fixture(scope="module")
def splits():
    from aelab import data

    return data.load_splits("mnist5k")


@pytest.fixture(scope="module")
def probes(splits) -> dict[str, np.ndarray]:
    return {name: identity.probe_images(name, splits.train.images, splits.val.images, n=60)
            for name in identity.PROBES}


def test_probe_sets_are_seeded_images_in_range(splits, probes):
    for name, images in probes.items():
        assert images.shape == (60, 28, 28) and images.dtype == np.float32, name
        assert images.min() >= 0 and images.max() <= 1, name
        again = identity.probe_images(name, splits.train.images, splits.val.images, n=60)
        np.testing.assert_array_equal(images, again)
    other = identity.probe_images("ink_noise", splits.train.images, splits.val.images, n=60, seed=1)
    assert not np.array_equal(other, probes["ink_noise"])
    with pytest.raises(KeyError):
        identity.probe_images("faces", splits.train.images, splits.val.images)


def test_ink_noise_lights_only_pixels_some_training_digit_lights(splits, probes):
    mask = identity.ink_mask(splits.train.images)
    assert 500 < mask.sum() < 784 and not mask[0, 0]  # the corners are never lit
    noise = probes["ink_noise"]
    assert (noise[:, ~mask] == 0).all()
    assert noise[:, mask].mean() == pytest.approx(0.5, abs=0.01)  # uniform on [0, 1] where digits have ink
    lit = np.zeros((3, 28, 28), np.float32)
    lit[1, 4, 5] = 0.2
    assert identity.ink_mask(lit).sum() == 1 and identity.ink_mask(lit)[4, 5]


def test_an_exact_copier_scores_zero_error_and_copies_everything(probes):
    for name, images in probes.items():
        errors = identity.errors({"copier": Copier()}, images)["copier"]
        assert errors.max() < 1e-12, name
        assert identity.copied_share(images, errors) == pytest.approx(1.0), name


def test_a_constant_copies_nothing(probes):
    for name, images in probes.items():
        mean = images.mean(axis=0)
        errors = identity.errors({"mean": Constant(mean), "grey": Constant(np.full((28, 28), 0.5))}, images)
        np.testing.assert_allclose(errors["mean"], identity.mean_image_error(images), atol=1e-6)
        assert identity.copied_share(images, errors["mean"]) == pytest.approx(0.0, abs=1e-5), name
        assert identity.copied_share(images, errors["grey"]) <= 1e-6, name  # no constant beats the mean


def test_compare_calls_a_difference_inside_its_interval_a_tie():
    rng = np.random.default_rng(0)
    a = rng.random(400)
    same = identity.compare(a, a.copy())
    assert (same.low, same.high, same.verdict, same.ratio) == (0.0, 0.0, 0, 1.0)
    worse = identity.compare(a + 0.1, a)
    assert worse.verdict == 1 and worse.low == pytest.approx(0.1) and worse.ratio > 1
    assert identity.compare(a, a + 0.1).verdict == -1
    x, y = a + rng.normal(0, 0.2, 400), a + rng.normal(0, 0.2, 400)  # two noisy draws of the same errors
    noisy = identity.compare(x, y)
    assert noisy.low < 0 < noisy.high and noisy.verdict == 0
    assert (noisy.low, noisy.high) == metrics.bootstrap_interval(x - y)  # the paired bootstrap, not two separate
    with pytest.raises(ValueError):
        identity.compare(a, a[:10])


def test_curve_rows_in_size_order_with_intervals_around_the_means():
    rng = np.random.default_rng(1)
    rows = identity.curve({1024: rng.random(200) * 0.1, 16: rng.random(200)})
    assert [r["units"] for r in rows] == [16, 1024]
    assert all(r["low"] <= r["error"] <= r["high"] for r in rows)
    assert rows[0]["error"] > rows[1]["error"]


def test_span_share_known_answers():
    rng = np.random.default_rng(2)
    basis = np.linalg.qr(rng.normal(size=(784, 784)))[0]  # an orthonormal basis of pixel space
    train = (0.5 + rng.normal(size=(300, 3)) @ basis[:, :3].T).reshape(-1, 28, 28)  # varies along 3 directions
    directions = identity.digit_directions(train, k=3)
    assert directions.variance_share == pytest.approx(1.0)
    inside = (directions.mean + 2.0 * basis[:, 0] - basis[:, 2]).reshape(1, 28, 28)
    outside = (directions.mean + basis[:, 10]).reshape(1, 28, 28)
    np.testing.assert_allclose(identity.span_share(np.concatenate([inside, outside]), directions), [1.0, 0.0],
                               atol=1e-9)
    random = (directions.mean + rng.normal(size=(200, 784))).reshape(-1, 28, 28)
    assert identity.span_share(random, directions).mean() == pytest.approx(3 / 784, rel=0.3)
    assert identity.span_share(directions.mean.reshape(1, 28, 28), directions)[0] == 1.0  # nothing to measure


def test_a_pixel_never_lit_gives_its_encoder_weights_no_gradient(mnist_images):
    """Why an AE trained on digits cannot copy noise on the border: those weights never learn."""
    model = build("ae", latent_dim=32, hidden=[])
    images = torch.as_tensor(np.asarray(mnist_images[:64], np.float32))
    mask = identity.ink_mask(images.numpy())
    model.loss(images)["loss"].backward()
    gradient = model.encoder[0].weight.grad  # (32, 784)
    assert (gradient[:, torch.as_tensor(~mask.reshape(-1))] == 0).all()
    assert (gradient[:, torch.as_tensor(mask.reshape(-1))] != 0).any()


def test_first_layer_weights_and_the_initial_model():
    model = build("ae", latent_dim=1024, hidden=[])
    start = identity.initial_model(model, seed=0)
    assert start.config() == model.config()
    np.testing.assert_array_equal(identity.first_layer_weights(identity.initial_model(model, 0)),
                                  identity.first_layer_weights(start))  # the same seed, the same start
    mask = np.zeros((28, 28), bool)
    mask[10:18, 10:18] = True
    assert identity.unmoved_share(start, start, mask) == 1.0
    with torch.no_grad():
        model.encoder[0].weight.copy_(start.encoder[0].weight)
        model.encoder[0].weight[:, 0] += 1.0  # pixel (0, 0), outside the mask
    assert identity.unmoved_share(model, start, mask) == pytest.approx(1 - 1 / (784 - 64))  # one pixel moved
    ink, border = identity.weight_rms(start, mask)
    assert ink == pytest.approx(identity.initial_weight_rms(784), rel=0.05)
    assert border == pytest.approx(identity.initial_weight_rms(784), rel=0.05)
    assert identity.first_layer_weights(build("ae", latent_dim=8, arch="conv")) is None
    assert identity.weight_rms(build("ae", latent_dim=8, arch="conv"), mask) is None
