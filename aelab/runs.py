"""A training run from start to finish: load the data, build, fit, check, evaluate, save.

The one path every trained model takes: the CLI's ``train``, the app's background jobs
and the rebuild of the shipped models all call :func:`train_and_save`. A run that
produced no usable model (no epoch finished, worse than before training, or every image
encoded to one code) raises :class:`RunFailed` and saves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from . import checkpoint, data, explore
from .errors import AelabError
from .i18n import _
from .metrics import evaluate
from .models import Autoencoder
from .train import BatchCallback, Callback, FitResult, TrainConfig, fit, make_model


class RunFailed(AelabError):
    """Training produced no model worth keeping; the message says why and what to try."""


def train_and_save(
    kind: str,
    settings: dict[str, Any],
    source: str | data.Splits,
    config: TrainConfig,
    out: Path,
    *,
    description: str | None = None,
    data_name: str | None = None,
    callback: Callback | None = None,
    on_batch: BatchCallback | None = None,
    on_model: Callable[[Autoencoder], None] | None = None,
    report_on: data.ImageSet | None = None,
) -> dict[str, Any]:
    """Train a ``kind`` model with ``settings`` on ``source`` (a data spec or loaded splits) and
    save it to ``out``; returns what its config.json records beside the model.

    ``description`` defaults to one generated from the model and the epochs it ran;
    ``data_name`` is how it names the data (default: the data set's own name). ``on_model``
    receives the model once it is built, before training starts. The saved metrics are measured
    on ``report_on`` when given, else on the validation split, which also chose the best epoch.
    """
    splits = data.load_splits(source, seed=config.seed) if isinstance(source, str) else source
    model = make_model(kind, settings, splits.train.image_shape, config.seed)
    if on_model is not None:
        on_model(model)
    result = fit(model, splits.train.images, splits.val.images, config, callback, on_batch)
    check_usable(model, result, splits.val.images, config)
    if description is None:
        description = describe(model, result, data_name or splits.train.name.removesuffix(" (train)"))
    return save(model, result, splits, config, out, description, report_on)


def describe(model: Autoencoder, result: FitResult, data_name: str) -> str:
    """What a trained model is, e.g. "denoising autoencoder, 2-D latent, corruption mask, noise level
    0.3; 12 epochs on mnist5k" (the epochs it ran, not the ones it was asked for)."""
    epochs = len(result.history)
    return f"{model.describe()}; {epochs} epoch{'' if epochs == 1 else 's'} on {data_name}"


def check_usable(model: Autoencoder, result: FitResult, val_images: np.ndarray, config: TrainConfig) -> None:
    """Refuse a run whose model is no use: RunFailed with the reason and what to try."""
    smaller_lr = config.lr > TrainConfig().lr
    if result.best_epoch == 0:
        raise RunFailed(_("{why}. No epoch finished, so there is no model to keep.",
                          why=result.message or _("Training stopped")))
    if result.best_val_loss >= result.untrained_val_loss:
        said = _("Training made the model no better than it was before the first step: its best validation loss "
                 "was {best:.4g}, against {untrained:.4g} untrained, so it was not kept.",
                 best=result.best_val_loss, untrained=result.untrained_val_loss)
        if result.stop_reason == "diverged":
            said = f"{result.message[0].upper()}{result.message[1:]} {said}"
        raise RunFailed(_try_smaller_lr(said, config) if smaller_lr else said)
    codes = explore.encode(model, val_images[:500])[0]
    if collapsed(codes):
        said = _("Every held-out image encodes to the same code, so the model decodes every digit alike; it was "
                 "not kept.")
        raise RunFailed(_try_smaller_lr(said, config) if smaller_lr else
                        _("{said} A weaker regularizer (a smaller sparsity weight or beta) may help.", said=said))


def _try_smaller_lr(said: str, config: TrainConfig) -> str:
    return _("{said} Try a smaller learning rate than {lr:g}.", said=said, lr=config.lr)


def collapsed(codes: np.ndarray) -> bool:
    """True when all codes (N, D) are the same point, up to rounding."""
    spread = np.ptp(codes, axis=0).max() if len(codes) > 1 else np.inf
    return not np.isfinite(codes).all() or spread <= 1e-6 * max(1.0, float(np.abs(codes).max()))


def save(model: Autoencoder, result: FitResult, splits: data.Splits, config: TrainConfig, out: Path,
         description: str, report_on: data.ImageSet | None = None) -> dict[str, Any]:
    """Evaluate on the held-out images (``report_on``, default the validation split) and save the model
    with everything about its training."""
    report_on = report_on or splits.val
    info = {
        "description": description,
        "data": {"spec": splits.spec, "image_shape": list(splits.train.image_shape),
                 "n_train": len(splits.train), "n_val": len(splits.val),
                 **({"n_reported": len(report_on)} if report_on is not splits.val else {})},
        "training": asdict(config),
        "fit": result.summary(),
        "history": [{"epoch": h.epoch, "train": h.train, "val": h.val} for h in result.history],
        "metrics": evaluate(model, report_on.images),
    }
    checkpoint.save(model, out, info)
    return info
