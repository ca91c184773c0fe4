"""Tests for aelab.losses: every reconstruction loss against its docstring formula."""

import numpy as np
import pytest
import torch

from aelab import losses
from aelab.errors import ConfigError

NAMES = list(losses.RECON_LOSSES)
# Losses that read both images as distributions over pixel positions (brightness-free).
SHAPE_ONLY = {"cce", "kl", "cosine"}


def logit(p: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The logits whose sigmoid is ``p`` (clamped away from 0 and 1)."""
    return torch.logit(p.clamp(eps, 1 - eps))


def _np_sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _np_normalise(img: np.ndarray) -> np.ndarray:
    flat = img.reshape(len(img), -1)
    return flat / flat.sum(1, keepdims=True)


def reference(name: str, logits: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The docstring formulas, written independently in float64 numpy; one value per image."""
    x_hat = _np_sigmoid(logits).reshape(len(x), -1)
    xf = x.reshape(len(x), -1)
    if name == "mse":
        return ((xf - x_hat) ** 2).sum(1)
    if name == "bce":
        return -(xf * np.log(x_hat) + (1 - xf) * np.log(1 - x_hat)).sum(1)
    p, q = _np_normalise(xf), _np_normalise(x_hat)
    if name == "cce":
        return -(p * np.log(q)).sum(1)
    if name == "kl":
        return (p * np.log(p / q)).sum(1)
    if name == "cosine":
        return 1 - (xf * x_hat).sum(1) / (np.linalg.norm(xf, axis=1) * np.linalg.norm(x_hat, axis=1))
    raise AssertionError(f"no reference formula for the loss {name!r}; add one here")


def small_example() -> tuple[torch.Tensor, torch.Tensor]:
    """Three 2x3 images: moderate logits and targets strictly inside (0, 1)."""
    gen = torch.Generator().manual_seed(1)
    logits = 2 * torch.randn(3, 2, 3, generator=gen)
    x = 0.05 + 0.9 * torch.rand(3, 2, 3, generator=gen)
    return logits, x


def bernoulli_entropy(x: torch.Tensor) -> torch.Tensor:
    """-sum_i [x_i log x_i + (1 - x_i) log(1 - x_i)] per image."""
    x = x.double().flatten(1)
    return -(x * x.log() + (1 - x) * (1 - x).log()).sum(1)


def pixel_entropy(x: torch.Tensor) -> torch.Tensor:
    """-sum_i p_i log p_i with p = x / sum(x), per image."""
    p = x.double().flatten(1)
    p = p / p.sum(1, keepdim=True)
    return -(p * p.log()).sum(1)


@pytest.mark.parametrize("name", NAMES)
def test_one_value_per_image(name, digits_batch):
    logits = torch.randn(digits_batch.shape)
    value = losses.get(name)(logits, digits_batch)
    assert value.shape == (len(digits_batch),)
    assert value.dtype == torch.float32
    assert torch.isfinite(value).all()


@pytest.mark.parametrize("name", NAMES)
def test_matches_docstring_formula(name):
    logits, x = small_example()
    got = losses.get(name)(logits, x).double().numpy()
    want = reference(name, logits.double().numpy(), x.double().numpy())
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_non_negative(name, digits_batch):
    gen = torch.Generator().manual_seed(2)
    targets = torch.cat([digits_batch, torch.zeros(2, 8, 8), torch.ones(2, 8, 8)])
    for scale in (0.1, 3.0, 50.0):
        logits = scale * torch.randn(targets.shape, generator=gen)
        assert (losses.get(name)(logits, targets) >= -1e-6).all()


@pytest.mark.parametrize("name", ["mse", "kl", "cosine"])
def test_zero_for_a_perfect_reconstruction(name, digits_batch):
    value = losses.get(name)(logit(digits_batch), digits_batch)
    assert value.abs().max() < 1e-4


@pytest.mark.parametrize(("name", "entropy", "margin"),
                         [("bce", bernoulli_entropy, 1e-4), ("cce", pixel_entropy, 1e-5)])
def test_minimum_is_the_entropy_of_the_target(name, entropy, margin):
    """bce's minimum is the target's Bernoulli entropy; cce's the entropy of the normalised target."""
    loss = losses.get(name)
    _, x = small_example()
    at_target = loss(logit(x), x).double()
    torch.testing.assert_close(at_target, entropy(x), rtol=1e-5, atol=1e-5)
    gen = torch.Generator().manual_seed(3)
    for _ in range(5):
        nudged = logit(x) + 0.3 * torch.randn(x.shape, generator=gen)
        assert (loss(nudged, x) > at_target + margin).all()


def test_kl_is_cce_minus_the_target_entropy():
    logits, x = small_example()
    torch.testing.assert_close(
        losses.kl(logits, x).double(), losses.cce(logits, x).double() - pixel_entropy(x),
        rtol=1e-4, atol=1e-5,
    )


@pytest.mark.parametrize("name", NAMES)
def test_grows_as_the_reconstruction_gets_worse(name, digits_batch):
    """Sliding x_hat from the target towards a different digit raises every image's loss."""
    other = digits_batch.roll(1, dims=0)
    values = [losses.get(name)(logit((1 - t) * digits_batch + t * other, eps=1e-4), digits_batch)
              for t in (0.0, 0.3, 0.7, 1.0)]
    for better, worse in zip(values[:-1], values[1:], strict=True):
        assert (worse > better).all()
    assert (values[-1] - values[0]).min() > 1e-3  # a clear gap, not rounding noise


@pytest.mark.parametrize("name", sorted(SHAPE_ONLY))
def test_brightness_does_not_matter(name, digits_batch):
    """cce, kl and cosine compare where the ink is, not how bright it is."""
    x = 0.05 + 0.9 * digits_batch  # no exact zeros, so halving x_hat is exact
    other = x.roll(1, dims=0)
    for x_hat in (x, other):
        full = losses.get(name)(logit(x_hat), x)
        dimmed = losses.get(name)(logit(0.5 * x_hat), x)
        torch.testing.assert_close(dimmed, full, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_are_finite_even_at_extremes(name, digits_batch):
    targets = torch.cat([digits_batch[:4], torch.zeros(1, 8, 8), torch.ones(1, 8, 8)])
    for fill in (-100.0, 0.0, 100.0, None):
        start = torch.randn(targets.shape) if fill is None else torch.full(targets.shape, fill)
        logits = start.requires_grad_()
        value = losses.get(name)(logits, targets)
        value.sum().backward()
        assert torch.isfinite(value).all()
        assert torch.isfinite(logits.grad).all()
    if name != "bce":  # saturated sigmoid: bce's gradient there is exactly x_hat - x
        return
    logits = torch.zeros(targets.shape, requires_grad=True)
    losses.bce(logits, targets).sum().backward()
    torch.testing.assert_close(logits.grad, 0.5 - targets)


@pytest.mark.parametrize("name", NAMES)
def test_get_returns_the_registered_function(name):
    assert losses.get(name) is losses.RECON_LOSSES[name]


@pytest.mark.parametrize("bad", ["", "MSE", "l2", "cross_entropy"])
def test_get_refuses_an_unknown_name(bad):
    with pytest.raises(ConfigError, match="unknown reconstruction loss") as info:
        losses.get(bad)
    assert all(name in str(info.value) for name in NAMES)  # tells the user the choices
