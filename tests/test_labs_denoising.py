"""The denoising lab's computations: noise, PSNR, what goes into the models, how far noise moves codes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab import metrics
from aelab.errors import ConfigError
from aelab.labs import denoising


def test_psnr_known_answers():
    clean = np.zeros((2, 4, 4))
    other = clean.copy()
    other[0] += 0.1  # MSE 0.01 -> 20 dB
    other[1] += 0.5  # MSE 0.25 -> 10 log10(4) dB
    np.testing.assert_allclose(metrics.psnr(clean, other), [20.0, 10 * np.log10(4)])
    np.testing.assert_allclose(metrics.mse_per_image(clean, other), [0.01, 0.25])
    assert metrics.psnr(clean, clean)[0] == pytest.approx(100.0)  # an exact copy is floored, not infinite


@pytest.mark.parametrize("corruption", ["gaussian", "mask", "salt_pepper"])
def test_noise_is_seeded_in_range_and_grows_with_level(corruption, mnist_images):
    clean = mnist_images[:32]
    a = denoising.corrupt_images(clean, corruption, 0.3, seed=1)
    assert a.shape == clean.shape and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, denoising.corrupt_images(clean, corruption, 0.3, seed=1))
    assert not np.array_equal(a, denoising.corrupt_images(clean, corruption, 0.3, seed=2))
    np.testing.assert_array_equal(denoising.corrupt_images(clean, corruption, 0.0), clean)
    errors = [metrics.mse_per_image(clean, denoising.corrupt_images(clean, corruption, lv)).mean()
              for lv in (0.1, 0.3, 0.6)]
    assert errors[0] < errors[1] < errors[2]


def test_mask_and_salt_pepper_hit_the_asked_fraction(mnist_images):
    clean = np.full((8, 28, 28), 0.5, np.float32)
    masked = denoising.corrupt_images(clean, "mask", 0.3)
    assert (masked == 0).mean() == pytest.approx(0.3, abs=0.02)
    salted = denoising.corrupt_images(clean, "salt_pepper", 0.4)
    assert (salted != 0.5).mean() == pytest.approx(0.4, abs=0.02)
    assert (salted == 1).mean() == pytest.approx(0.2, abs=0.02)


@pytest.mark.parametrize("corruption, level", [("blur", 0.1), ("gaussian", -0.1), ("mask", 1.5),
                                               ("gaussian", float("nan")), ("gaussian", "0.3")])
def test_bad_noise_settings_are_refused(corruption, level, mnist_images):
    with pytest.raises(ConfigError):
        denoising.corrupt_images(mnist_images[:2], corruption, level)


class Spy(torch.nn.Module):
    """Records what its encoder is given; reconstructs perfectly (the identity)."""

    has_prior = False

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen = []

    def posterior(self, x):
        self.seen.append(x.clone())
        return x.flatten(1), None

    def decode(self, z):
        return z.view(-1, 28, 28)


def test_every_model_is_given_the_corrupted_images(mnist_images):
    """The corrupted copy, not the clean image, is what goes into each model."""
    clean = mnist_images[:6]
    a, b = Spy(), Spy()
    result = denoising.compare({"a": a, "b": b}, clean, "gaussian", 0.5, seed=3)
    for spy in (a, b):
        np.testing.assert_array_equal(spy.seen[0].numpy(), result.corrupted)
        assert not np.allclose(spy.seen[0].numpy(), clean)
    # The identity model gives back the corrupted copy, so it scores exactly like the noisy input.
    np.testing.assert_allclose(result.psnr["a"], result.psnr[denoising.NOISY])
    np.testing.assert_allclose(result.mse["b"], metrics.mse_per_image(clean, result.corrupted))


def test_psnr_curve_of_the_identity_falls_with_noise(mnist_images):
    curves = denoising.psnr_curve({"copy": Spy()}, mnist_images[:16], "gaussian", [0.0, 0.2, 0.5, 1.0])
    assert set(curves) == {denoising.NOISY, "copy"}
    assert curves["copy"][0] == pytest.approx(100.0)
    assert np.all(np.diff(curves["copy"]) < 0)


def test_code_shift_is_zero_without_noise_and_grows_with_it(tiny_model, mnist_images):
    model = tiny_model("ae", image_shape=(28, 28), latent_dim=4)
    clean = mnist_images[:16]
    _, _, none = denoising.code_shift(model, clean, clean)
    np.testing.assert_allclose(none, 0.0)
    small = denoising.code_shift(model, clean, denoising.corrupt_images(clean, "gaussian", 0.1))[2]
    large = denoising.code_shift(model, clean, denoising.corrupt_images(clean, "gaussian", 0.8))[2]
    assert small.mean() < large.mean()


def test_trained_level(tiny_model):
    assert denoising.trained_level(tiny_model("ae")) is None
    assert denoising.trained_level(tiny_model("dae", corruption="mask", noise_level=0.2)) == ("mask", 0.2)


def test_relative_shift_known_answers(mnist_images):
    clean = mnist_images[:32]
    copy = Spy()  # codes are the pixels themselves
    assert denoising.relative_shift(copy, clean, clean) == 0.0
    # Replacing every digit by another digit moves codes about as far as digits are apart.
    swapped = np.roll(clean, 1, axis=0)
    assert 0.8 < denoising.relative_shift(copy, clean, swapped) < 1.25
