"""A small digit classifier used as a judge: its features tell real-looking images from blurs.

The completeness measures compare decoded samples with real digits in this classifier's
feature space (a Frechet distance, as in FID; density, coverage, precision and recall in
aelab.labs.fidelity), rather than by its confidence, which is high even on blurry blends.
On digits of MNIST's size it is a small convolutional network with 128 features; on tiny
images (the 8x8 digits) an MLP with 32. It is a model like the others (aelab.models.judge.Judge):
trained by the same ``fit`` on the training split, with the held-out split choosing its
best epoch, and saved as config.json beside model.safetensors, never a pickle.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import checkpoint, data
from .errors import CheckpointError
from .models import Judge
from .train import TrainConfig, fit

# Adam at 1e-3 with light weight decay, constant rate, 40 epochs of 64 digits.
TRAINING = TrainConfig(epochs=40, batch_size=64, lr=1e-3, lr_schedule="constant", weight_decay=1e-4, seed=0)
CONV_MIN_SIDE = 16  # smaller images (the 8x8 digits) get the MLP: two poolings would leave 2x2 pixels
CONV_FEATURES = 128  # the conv judge's feature layer


def judge_settings(image_shape: tuple[int, int], n_classes: int) -> dict:
    """The judge a data set gets: conv with 128 features from 16 px sides up, else the MLP's defaults;
    random shifts of up to 2 px on 28x28 digits (none on tiny images)."""
    conv = min(image_shape) >= CONV_MIN_SIDE
    return {"n_classes": max(n_classes, 2), "max_shift": min(image_shape) // 14,
            **({"arch": "conv", "n_features": CONV_FEATURES} if conv else {})}


def train_judge(splits: data.Splits, config: TrainConfig = TRAINING) -> Judge:
    """Train a judge (see :func:`judge_settings`) on the training split; the held-out split picks its best epoch."""
    if splits.train.labels is None or splits.val.labels is None:
        raise CheckpointError(f"{splits.spec} has no labels, so no judge classifier can be trained for it")
    torch.manual_seed(config.seed)
    n_classes = int(max(splits.train.labels.max(), splits.val.labels.max())) + 1
    judge = Judge(splits.train.image_shape, **judge_settings(splits.train.image_shape, n_classes))
    fit(judge, splits.train.images, splits.val.images, config,
        train_labels=splits.train.labels, val_labels=splits.val.labels)
    return judge.eval()


def save_judge(judge: Judge, folder: Path, info: dict) -> None:
    """Write config.json + model.safetensors, as every model is saved (atomically)."""
    checkpoint.save(judge, folder, info)


def load_judge(folder: Path) -> tuple[Judge, dict]:
    """Load a saved judge and its config."""
    try:
        loaded = checkpoint.load(folder, any_kind=True)
    except CheckpointError as exc:
        raise CheckpointError(f"cannot load the judge classifier in {folder}: {exc}") from None
    if not isinstance(loaded.model, Judge):
        raise CheckpointError(f"{folder} is not an aelab judge: it holds a {loaded.info['kind']} model")
    return loaded.model.eval(), loaded.info


def judge_for(splits: data.Splits, shipped: Path | None = None) -> Judge:
    """The shipped judge when it was trained on this data, else one trained now (seeded)."""
    if shipped is not None and (shipped / checkpoint.CONFIG_NAME).is_file():
        judge, info = load_judge(shipped)
        if info.get("data") == splits.spec and judge.image_shape == splits.train.image_shape:
            return judge
    return train_judge(splits)
