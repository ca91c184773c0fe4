"""Tests for aelab.train: fit learns, is repeatable, stops when told, survives divergence."""

import copy
import math

import pytest
import torch

from aelab import models, train
from aelab.errors import ConfigError
from aelab.train import EpochLog, TrainConfig, evaluate_loss, fit, train_model

SMALL = {"latent_dim": 8, "hidden": [32]}
FAST = {"batch_size": 64, "lr": 3e-3}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def all_finite(model: torch.nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


@pytest.fixture()
def train_val(digits_split) -> tuple[torch.Tensor, torch.Tensor]:
    """600 training and all 180 validation digits, as tensors."""
    tr, va = digits_split
    return torch.as_tensor(tr.images[:600]), torch.as_tensor(va.images)


@pytest.mark.parametrize("kind", models.KINDS)
def test_training_lowers_the_validation_loss(kind, digits_split):
    tr, va = digits_split
    torch.manual_seed(0)
    untrained = models.build(kind, image_shape=(8, 8), **SMALL)
    before = evaluate_loss(untrained, torch.as_tensor(va.images), seed=1)["loss"]
    model, result = train_model(kind, SMALL, tr.images, va.images, TrainConfig(epochs=4, **FAST))
    after = evaluate_loss(model, torch.as_tensor(va.images), seed=1)["loss"]
    assert result.stop_reason == "completed" and len(result.history) == 4
    assert after < 0.8 * before, f"{kind}: val loss {before:.2f} -> {after:.2f}"
    assert after == pytest.approx(result.best_val_loss)
    assert model.image_shape == (8, 8)  # taken from the data
    assert not model.training


@pytest.mark.parametrize("kind", models.KINDS)
def test_same_seed_gives_identical_weights(kind, train_val):
    tr, va = train_val
    config = TrainConfig(epochs=2, seed=3, **FAST)
    first, _ = train_model(kind, SMALL, tr, va, config)
    second, _ = train_model(kind, SMALL, tr, va, config)
    other, _ = train_model(kind, SMALL, tr, va, TrainConfig(epochs=2, seed=4, **FAST))
    assert same_weights(first.state_dict(), second.state_dict())
    assert not same_weights(first.state_dict(), other.state_dict())


@pytest.mark.parametrize("kind", models.KINDS)
def test_fused_and_unfused_adam_are_the_same_algorithm(kind, train_val):
    """The fused kernel (the default) only rounds differently from torch's per-parameter loop:
    after one step the weights agree to float precision, after four epochs the losses to 1%."""
    tr, va = train_val
    step = {"epochs": 1, "seed": 2, "batch_size": len(tr), "lr": 1e-3}  # one step: one batch, one epoch
    fused, _ = train_model(kind, SMALL, tr, va, TrainConfig(**step))
    plain, _ = train_model(kind, SMALL, tr, va, TrainConfig(**step, fused_adam=False))
    for name, weight in fused.state_dict().items():
        torch.testing.assert_close(weight, plain.state_dict()[name], rtol=1e-5, atol=1e-6, msg=name)
    longer = {"epochs": 4, "seed": 2, **FAST}
    fused, fused_run = train_model(kind, SMALL, tr, va, TrainConfig(**longer))
    plain, plain_run = train_model(kind, SMALL, tr, va, TrainConfig(**longer, fused_adam=False))
    assert fused_run.best_val_loss == pytest.approx(plain_run.best_val_loss, rel=0.01)
    assert not same_weights(fused.state_dict(), plain.state_dict())  # the flag did pick another kernel


def test_callback_gets_an_epoch_log_after_every_epoch(train_val, tiny_model):
    tr, va = train_val
    logs: list[EpochLog] = []
    result = fit(tiny_model("ae"), tr, va, TrainConfig(epochs=3, **FAST), callback=logs.append)
    assert result.history == logs
    assert [log.epoch for log in logs] == [1, 2, 3]
    for log in logs:
        assert isinstance(log, EpochLog)
        assert log.epochs == 3
        assert set(log.train) == set(log.val) == {"recon", "loss"}
        assert log.seconds > 0 and log.elapsed >= log.seconds and log.images_per_second > 0
    assert [log.elapsed for log in logs] == sorted(log.elapsed for log in logs)
    assert result.best_val_loss == min(log.val["loss"] for log in logs)


@pytest.mark.parametrize("kind", models.KINDS)
def test_logs_carry_every_loss_term(kind, train_val, tiny_model):
    tr, va = train_val
    model = tiny_model(kind)
    result = fit(model, tr, va, TrainConfig(epochs=1, **FAST))
    with torch.no_grad():
        terms = set(model.loss(va[:8]))
    assert set(result.history[0].train) == set(result.history[0].val) == terms


def test_callback_returning_true_stops_training(train_val, tiny_model):
    tr, va = train_val
    seen = []

    def stop_after_two(log: EpochLog) -> bool:
        seen.append(log.epoch)
        return log.epoch == 2

    result = fit(tiny_model("ae"), tr, va, TrainConfig(epochs=10, **FAST), callback=stop_after_two)
    assert seen == [1, 2]
    assert len(result.history) == 2
    assert result.stop_reason == "stopped"
    assert "2" in result.message
    assert result.summary()["epochs_run"] == 2


def test_early_stopping_after_patience_epochs_without_improvement(monkeypatch, train_val, tiny_model):
    tr, va = train_val
    val_losses = iter([10.0, 5.0, 4.0, 4.5, 4.0, 3.0, 2.0])  # best at epoch 2; epoch 4 only ties it
    real = train.evaluate_loss
    monkeypatch.setattr(train, "evaluate_loss",
                        lambda *a, **k: real(*a, **k) | {"loss": next(val_losses)})
    result = fit(tiny_model("ae"), tr, va, TrainConfig(epochs=6, patience=2, **FAST))
    assert result.stop_reason == "early_stopping"
    assert len(result.history) == 4
    assert result.best_epoch == 2 and result.best_val_loss == 4.0
    assert "2 epochs" in result.message


def test_early_stopping_when_nothing_is_learned(train_val, tiny_model):
    """An lr far below float32 resolution leaves the weights, and so the val loss, unchanged."""
    tr, va = train_val
    config = TrainConfig(epochs=20, patience=3, lr=1e-30, lr_schedule="constant", batch_size=64)
    result = fit(tiny_model("ae"), tr, va, config)
    assert result.stop_reason == "early_stopping"
    assert len(result.history) == 4 and result.best_epoch == 1


def test_no_early_stopping_without_patience(monkeypatch, train_val, tiny_model):
    tr, va = train_val
    val_losses = iter([10.0, 1.0, 2.0, 3.0, 4.0])
    real = train.evaluate_loss
    monkeypatch.setattr(train, "evaluate_loss",
                        lambda *a, **k: real(*a, **k) | {"loss": next(val_losses)})
    result = fit(tiny_model("ae"), tr, va, TrainConfig(epochs=4, **FAST))
    assert result.stop_reason == "completed" and len(result.history) == 4
    assert result.best_epoch == 1


def test_best_validation_weights_are_kept(train_val, tiny_model):
    """Wreck the weights after epoch 2: epoch 3 is then worse, and fit returns epoch 2's weights."""
    tr, va = train_val
    model = tiny_model("ae")
    snapshots = {}

    def wreck_after_two(log: EpochLog) -> None:
        snapshots[log.epoch] = copy.deepcopy(model.state_dict())
        if log.epoch == 2:
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.5 * torch.randn_like(p))  # worse, but not the explosion that counts as divergence

    result = fit(model, tr, va, TrainConfig(epochs=3, **FAST), callback=wreck_after_two)
    val = [log.val["loss"] for log in result.history]
    assert val[2] > val[1], "the test needs a worse last epoch"
    assert result.best_epoch == 2 and result.best_val_loss == val[1]
    assert same_weights(model.state_dict(), snapshots[2])
    assert evaluate_loss(model, va, seed=1)["loss"] == pytest.approx(val[1])


def test_huge_learning_rate_diverges_and_keeps_finite_weights(train_val, tiny_model):
    tr, va = train_val
    model = tiny_model("ae")
    initial = copy.deepcopy(model.state_dict())
    result = fit(model, tr, va, TrainConfig(epochs=3, batch_size=64, lr=1e10))
    assert result.stop_reason == "diverged"
    assert "learning rate" in result.message
    assert result.best_epoch == 0 and result.history == []
    assert all_finite(model)
    assert same_weights(model.state_dict(), initial)  # the last good weights: the start


@pytest.mark.parametrize("kind", models.KINDS)
def test_nan_loss_mid_epoch_restores_the_last_good_weights(kind, train_val, tiny_model):
    """A loss that turns NaN after a few steps of epoch 2 leaves epoch 1's weights."""
    tr, va = train_val
    model = tiny_model(kind)
    real_loss = model.loss
    state = {"poisoned": False, "steps": 0, "snapshot": None}

    def loss(x):
        terms = real_loss(x)
        if model.training and state["poisoned"]:
            state["steps"] += 1
            if state["steps"] > 3:  # three good steps change the weights first
                return terms | {"loss": terms["loss"] * math.nan}
        return terms

    def poison_after_one(log: EpochLog) -> None:
        state["snapshot"] = copy.deepcopy(model.state_dict())
        state["poisoned"] = True

    model.loss = loss
    result = fit(model, tr, va, TrainConfig(epochs=5, **FAST), callback=poison_after_one)
    assert result.stop_reason == "diverged"
    assert "epoch 2" in result.message and "learning rate" in result.message
    assert result.best_epoch == 1 and len(result.history) == 1
    assert all_finite(model)
    assert same_weights(model.state_dict(), state["snapshot"])


def test_nan_validation_loss_counts_as_divergence(monkeypatch, train_val, tiny_model):
    tr, va = train_val
    model = tiny_model("ae")
    snapshots = []
    val_losses = iter([10.0, 2.0, math.nan])
    real = train.evaluate_loss
    monkeypatch.setattr(train, "evaluate_loss",
                        lambda *a, **k: real(*a, **k) | {"loss": next(val_losses)})
    result = fit(model, tr, va, TrainConfig(epochs=5, **FAST),
                 callback=lambda log: snapshots.append(copy.deepcopy(model.state_dict())))
    assert result.stop_reason == "diverged"
    assert result.best_epoch == 1
    assert same_weights(model.state_dict(), snapshots[0])


@pytest.mark.parametrize(
    "settings",
    [
        {"epochs": 0},
        {"batch_size": 0},
        {"lr": 0.0},
        {"lr": -1e-3},
        {"lr": math.nan},
        {"lr": math.inf},
        {"lr_schedule": "step"},
        {"weight_decay": -0.1},
        {"patience": 0},
    ],
)
def test_bad_train_config_raises_config_error(settings):
    (name,) = settings
    with pytest.raises(ConfigError, match=name):
        TrainConfig(**settings)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_a_gpu_is_a_config_error():
    with pytest.raises(ConfigError, match="cuda"):
        train.resolve_device("cuda")
    assert train.resolve_device("auto") == torch.device("cpu")


def test_constant_schedule_trains_too(train_val, tiny_model):
    tr, va = train_val
    model = tiny_model("ae")
    before = evaluate_loss(model, va, seed=1)["loss"]
    fit(model, tr, va, TrainConfig(epochs=3, lr_schedule="constant", **FAST))
    assert evaluate_loss(model, va, seed=1)["loss"] < 0.85 * before


def test_evaluate_loss_is_repeatable_and_leaves_the_global_rng_alone(tiny_model, digits_batch):
    model = tiny_model("vae")  # samples, so the seed matters
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = evaluate_loss(model, digits_batch, seed=7, batch_size=10)
    assert torch.equal(torch.rand(3), expected_next)
    assert evaluate_loss(model, digits_batch, seed=7, batch_size=10) == first
    assert evaluate_loss(model, digits_batch, seed=8, batch_size=10) != first


def test_a_huge_learning_rate_that_wrecks_the_first_epoch_is_caught(train_val, tiny_model):
    """With lr 10 the first epoch itself explodes; measured against the untrained model it is caught."""
    tr, va = train_val
    result = fit(tiny_model("ae"), tr, va, TrainConfig(epochs=3, batch_size=64, lr=10.0))
    assert result.stop_reason == "diverged" and "exploded" in result.message
    assert result.best_epoch == 0


def test_an_exploding_validation_loss_counts_as_divergence(monkeypatch, train_val, tiny_model):
    tr, va = train_val
    val_losses = iter([10.0, 1.0, 2.0, 1000.0, 1.0])
    real = train.evaluate_loss
    monkeypatch.setattr(train, "evaluate_loss", lambda *a, **k: real(*a, **k) | {"loss": next(val_losses)})
    result = fit(tiny_model("ae"), tr, va, TrainConfig(epochs=4, **FAST))
    assert result.stop_reason == "diverged" and "exploded" in result.message
    assert result.best_epoch == 1 and len(result.history) == 2


def test_on_batch_is_called_every_batch_and_can_stop_mid_epoch(train_val, tiny_model):
    tr, va = train_val
    calls = []

    def stop_in_second_epoch(epoch: int, batch: int, batches: int) -> bool:
        calls.append((epoch, batch, batches))
        return epoch == 2 and batch == 3

    result = fit(tiny_model("ae"), tr, va, TrainConfig(epochs=5, **FAST), on_batch=stop_in_second_epoch)
    batches = -(-len(tr) // FAST["batch_size"])
    assert calls[:batches] == [(1, b, batches) for b in range(batches)]
    assert calls[-1] == (2, 3, batches)
    assert result.stop_reason == "stopped" and len(result.history) == 1 and result.best_epoch == 1
