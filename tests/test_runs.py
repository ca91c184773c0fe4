"""A whole training run (aelab.runs): train, check, evaluate, save; and the runs it refuses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab import checkpoint, data, runs
from aelab.metrics import evaluate
from aelab.train import FitResult, TrainConfig

FAST = TrainConfig(epochs=2, batch_size=64, lr=3e-3)
SMALL = {"hidden": [32], "latent_dim": 2}


@pytest.fixture(scope="module")
def splits() -> data.Splits:
    return data.load_splits("digits", seed=0)


def test_a_run_saves_a_described_model_and_shows_it_to_on_model(tmp_path, splits):
    seen = []
    info = runs.train_and_save("dae", SMALL | {"corruption": "mask", "noise_level": 0.2}, splits, FAST,
                               tmp_path / "m", on_model=seen.append)
    loaded = checkpoint.load(tmp_path / "m")
    assert len(seen) == 1 and seen[0].config() == loaded.model.config()
    assert info["description"] == ("denoising autoencoder, 2-D latent, corruption mask, noise level 0.2; "
                                   "2 epochs on digits")
    assert loaded.info["metrics"] == info["metrics"] and info["fit"]["epochs_run"] == 2


def test_metrics_can_be_reported_on_images_that_did_not_choose_the_epoch(tmp_path, splits):
    """A recipe that early-stops on a slice of its training data reports on the untouched held-out images."""
    fit_on, stop_on = splits.train.subset(np.arange(1000)), splits.train.subset(np.arange(1000, 1200))
    inner = data.Splits(fit_on, stop_on, splits.spec)
    info = runs.train_and_save("ae", SMALL, inner, FAST, tmp_path / "m", report_on=splits.val)
    model = checkpoint.load(tmp_path / "m").model
    assert info["data"]["n_train"] == 1000 and info["data"]["n_val"] == 200
    assert info["data"]["n_reported"] == len(splits.val)
    assert info["metrics"] == pytest.approx(evaluate(model, splits.val.images))
    assert info["metrics"]["recon_bce"] != pytest.approx(evaluate(model, stop_on.images)["recon_bce"])


def test_the_description_counts_the_epochs_that_ran(tmp_path, splits):
    info = runs.train_and_save("ae", SMALL, splits, TrainConfig(epochs=30, batch_size=64), tmp_path / "m",
                               callback=lambda log: log.epoch >= 1, data_name="my digits")
    assert info["description"].endswith("; 1 epoch on my digits")


def _result(best: float, untrained: float, epoch: int = 1) -> FitResult:
    return FitResult(best_epoch=epoch, best_val_loss=best, untrained_val_loss=untrained)


def test_a_model_no_better_than_untrained_is_refused(tiny_model, splits):
    model = tiny_model("ae")
    runs.check_usable(model, _result(40.0, 50.0), splits.val.images, FAST)  # learned something: kept
    with pytest.raises(runs.RunFailed, match="no better than it was before"):
        runs.check_usable(model, _result(50.0, 50.0), splits.val.images, FAST)
    with pytest.raises(runs.RunFailed, match="No epoch finished"):
        runs.check_usable(model, _result(40.0, 50.0, epoch=0), splits.val.images, FAST)


def test_collapsed_codes_are_refused(tiny_model, splits):
    model = tiny_model("ae")
    with torch.no_grad():
        model.encoder[-1].weight.zero_()  # every image encodes to the last layer's bias
    with pytest.raises(runs.RunFailed, match="same code"):
        runs.check_usable(model, _result(40.0, 50.0), splits.val.images, TrainConfig(lr=10.0))


def test_collapse_is_measured_against_the_codes_own_scale():
    assert runs.collapsed(np.zeros((10, 3)))
    assert runs.collapsed(np.full((10, 2), 1e6) + np.arange(10)[:, None] * 1e-3)  # rounding at that scale
    assert not runs.collapsed(np.random.default_rng(0).normal(size=(10, 2)))
    assert runs.collapsed(np.array([[np.nan, 0.0], [1.0, 2.0]]))


# ---- server-wide budgets (issue 9) ------------------------------------------------------------


def test_a_huge_model_is_refused_before_anything_is_allocated(monkeypatch, tmp_path, splits):
    """8 hidden layers of 8192 units made a 953M-parameter model (3.55 GiB) just to validate the settings."""
    from aelab import models, train

    monkeypatch.setattr(train, "build", lambda *a, **k: pytest.fail("built the model"))
    huge = {"hidden": [8192] * 8, "latent_dim": 2}
    assert models.parameter_count("ae", image_shape=(28, 28), **huge) > 900_000_000  # counted on the meta device
    with pytest.raises(models.ConfigError, match="million parameters; models are limited to 20 million"):
        runs.train_and_save("ae", huge, splits, FAST, tmp_path / "m")
    assert not (tmp_path / "m").exists()
