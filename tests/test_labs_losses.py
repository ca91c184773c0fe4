"""The losses page's measures, on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab import losses
from aelab.labs import losses as lab


class Copy(torch.nn.Module):
    """Gives back exactly what it is shown."""

    has_prior = False

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def posterior(self, x):
        return x.flatten(1), None

    def decode(self, z):
        return z.view(-1, 28, 28)


def test_ink_and_entropy_known_answers():
    images = np.zeros((2, 28, 28))
    images[0] = 0.5
    images[1, 3, 4] = 1.0
    np.testing.assert_allclose(lab.ink(images), [0.5 * 784, 1.0])
    entropy = lab.target_entropy(images)
    assert entropy[0] == pytest.approx(np.log(784), rel=1e-4)  # uniform over 784 pixels
    assert entropy[1] < 0.01  # all the ink in one pixel


def test_kl_is_cross_entropy_minus_the_targets_entropy(mnist_images):
    x = torch.as_tensor(mnist_images[:16])
    logits = torch.randn(16, 28, 28, generator=torch.Generator().manual_seed(0))
    gap = (losses.cce(logits, x) - losses.kl(logits, x)).numpy()
    np.testing.assert_allclose(gap, lab.target_entropy(mnist_images[:16]), rtol=1e-4)


@pytest.mark.parametrize("name", list(losses.RECON_LOSSES))
def test_which_losses_ignore_a_reconstructions_brightness(name, mnist_images):
    x = torch.as_tensor(mnist_images[:8])
    x_hat = torch.rand(8, 28, 28, generator=torch.Generator().manual_seed(1)) * 0.8 + 0.1
    dimmer = x_hat * 0.5
    loss = losses.get(name)
    same = torch.allclose(loss(torch.logit(x_hat), x), loss(torch.logit(dimmer), x), rtol=1e-3, atol=1e-4)
    assert same == (name in lab.BRIGHTNESS_FREE)


def test_a_copying_model_follows_the_dimming_exactly(mnist_images):
    sweep = lab.brightness_sweep({"copy": Copy()}, mnist_images[:10], [1.0, 0.5, 0.25])
    np.testing.assert_allclose(sweep["copy"], [1.0, 0.5, 0.25])
    np.testing.assert_allclose(lab.ink_ratio(Copy(), mnist_images[:10]), 1.0)


def test_same_model_and_loss_gap(tiny_model, digits_batch):
    a = tiny_model("ae")
    assert lab.same_model(a, a, digits_batch.numpy()) == {"max_weight_difference": 0.0, "mean_pixel_difference": 0.0}
    b = tiny_model("ae", seed=1)
    assert lab.same_model(a, b, digits_batch.numpy())["max_weight_difference"] > 0
    gap = lab.loss_gap([{"val": {"recon": 5.0}}, {"val": {"recon": 4.0}}], [{"val": {"recon": 3.0}}])
    np.testing.assert_allclose(gap, [2.0])
