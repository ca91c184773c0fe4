"""Tests for training-time data augmentation (TrainConfig.augment_shift / augment_rotate)."""

import math

import numpy as np
import pytest
import torch

from aelab import checkpoint, train
from aelab.errors import ConfigError
from aelab.train import TrainConfig, augment_batch, train_model

SMALL = {"latent_dim": 8, "hidden": [32]}
FAST = {"epochs": 2, "batch_size": 64, "lr": 3e-3}


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def centre_of_mass(images: torch.Tensor) -> torch.Tensor:
    """(B, H, W) -> (B, 2): each image's (row, column) centre of brightness."""
    rows = torch.arange(images.shape[1], dtype=torch.float32)
    cols = torch.arange(images.shape[2], dtype=torch.float32)
    mass = images.sum((1, 2))
    return torch.stack([(images.sum(2) * rows).sum(1) / mass, (images.sum(1) * cols).sum(1) / mass], 1)


@pytest.fixture()
def mnist(mnist_images) -> torch.Tensor:
    return torch.as_tensor(mnist_images)


@pytest.mark.parametrize(("shift", "rotate"), [(0, 0.0), (2, 0.0), (0, 10.0), (1, 15.0)])
def test_shapes_dtype_and_range_are_kept(mnist, shift, rotate):
    out = augment_batch(mnist, shift, rotate, torch.Generator().manual_seed(0))
    assert out.shape == mnist.shape and out.dtype == mnist.dtype
    assert out.min() >= 0 and out.max() <= 1 + 1e-6


def test_no_shift_and_no_rotation_leave_images_alone(mnist):
    out = augment_batch(mnist, 0, 0.0, torch.Generator().manual_seed(0))
    assert torch.allclose(out, mnist, atol=1e-5)  # up to the rounding of the sampling grid


def test_a_shift_moves_each_digit_by_whole_pixels(mnist):
    """MNIST digits sit inside a blank border, so a shift of up to 2 pixels is an exact move: the
    brightness is kept and the centre of mass moves by whole pixels within +-2."""
    out = augment_batch(mnist, 2, 0.0, torch.Generator().manual_seed(0))
    assert torch.allclose(out.sum((1, 2)), mnist.sum((1, 2)), rtol=1e-4)
    moved = centre_of_mass(out) - centre_of_mass(mnist)
    assert torch.allclose(moved, moved.round(), atol=1e-3)
    assert moved.abs().max() <= 2 + 1e-3
    assert (moved.abs().sum(1) > 0.5).float().mean() > 0.5  # most digits moved (4 in 25 draws stay)
    assert len({tuple(m) for m in moved.round().int().tolist()}) > 10  # in many directions


def test_a_rotation_turns_the_digit_about_its_centre(mnist):
    out = augment_batch(mnist, 0, 10.0, torch.Generator().manual_seed(0))
    assert not torch.allclose(out, mnist, atol=1e-3)
    assert torch.allclose(out.sum((1, 2)), mnist.sum((1, 2)), rtol=0.05)  # bilinear resampling blurs a little
    assert (centre_of_mass(out) - centre_of_mass(mnist)).norm(dim=1).max() < 1.5


def test_augmentation_is_repeatable_from_the_seed(mnist):
    first, second, other = (augment_batch(mnist, 2, 10.0, torch.Generator().manual_seed(s)) for s in (3, 3, 4))
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_the_default_config_never_augments(monkeypatch, digits_split):
    """The defaults leave training exactly as it was: no augmentation call, no draw from the run's generator."""
    assert (TrainConfig().augment_shift, TrainConfig().augment_rotate) == (0, 0.0)
    monkeypatch.setattr(train, "augment_batch", lambda *a: pytest.fail("augment_batch was called"))
    tr, va = digits_split
    default, _ = train_model("vae", SMALL, tr.images[:600], va.images, TrainConfig(**FAST))
    explicit, _ = train_model("vae", SMALL, tr.images[:600], va.images,
                              TrainConfig(**FAST, augment_shift=0, augment_rotate=0.0))
    assert same_weights(default, explicit)


def test_only_training_batches_are_augmented_and_training_is_repeatable(monkeypatch, digits_split):
    tr, va = digits_split
    sizes = []
    real = train.augment_batch
    monkeypatch.setattr(train, "augment_batch", lambda images, *a: sizes.append(len(images)) or real(images, *a))
    config = TrainConfig(**FAST, augment_shift=1, augment_rotate=10.0)
    first, _ = train_model("vae", SMALL, tr.images[:600], va.images, config)
    assert len(sizes) == 2 * math.ceil(600 / 64) and sum(sizes) == 2 * 600  # every training batch, no validation
    second, _ = train_model("vae", SMALL, tr.images[:600], va.images, config)
    plain, _ = train_model("vae", SMALL, tr.images[:600], va.images, TrainConfig(**FAST))
    assert same_weights(first, second)
    assert not same_weights(first, plain)


@pytest.mark.parametrize(
    ("settings", "words"),
    [({"augment_shift": -1}, "augment_shift must be a whole number of pixels >= 0"),
     ({"augment_shift": 1.5}, "augment_shift must be a whole number"),
     ({"augment_shift": True}, "augment_shift must be a whole number"),
     ({"augment_rotate": -5.0}, "augment_rotate must be between 0 and 180 degrees"),
     ({"augment_rotate": 270.0}, "augment_rotate must be between 0 and 180 degrees"),
     ({"augment_rotate": math.nan}, "augment_rotate must be between 0 and 180 degrees")],
)
def test_bad_augmentation_settings_say_what_is_wrong(settings, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig(**settings)


def test_a_shift_too_large_for_the_images_is_refused(digits_split):
    tr, va = digits_split
    with pytest.raises(ConfigError, match=r"augment_shift 4 would move 8x8 images out of view"):
        train_model("ae", SMALL, tr.images[:100], va.images, TrainConfig(**FAST, augment_shift=4))


def test_the_cli_trains_with_augmentation_and_records_it(tmp_path, capsys):
    from aelab.cli import main

    code = main(["train", "--model", "vae", "--data", "digits", "--hidden", "32", "--latent-dim", "8",
                 "--epochs", "1", "--augment-shift", "1", "--augment-rotate", "10", "--out", str(tmp_path / "m")])
    assert code == 0, capsys.readouterr().err
    training = checkpoint.load(tmp_path / "m").info["training"]
    assert (training["augment_shift"], training["augment_rotate"]) == (1, 10.0)
    assert main(["train", "--model", "vae", "--data", "digits", "--augment-shift", "-1", "--out",
                 str(tmp_path / "bad")]) == 2
    assert "augment_shift must be a whole number of pixels >= 0" in capsys.readouterr().err
    assert not np.any([p.name == "bad" for p in tmp_path.iterdir()])
