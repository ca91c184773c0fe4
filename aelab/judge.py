"""A small digit classifier used as a judge: its features tell real-looking images from blurs.

The completeness measures compare decoded samples with real digits in this classifier's
feature space (a Frechet distance, as in FID), rather than by its confidence, which is
high even on blurry blends. It is trained on the training split only, and saved like a
model: config.json beside model.safetensors, never a pickle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from . import data
from .errors import CheckpointError

FORMAT = "aelab-judge"


class Judge(nn.Module):
    """MLP classifier (pixels -> 256 -> 32 features -> classes) with a feature read-out."""

    def __init__(self, image_shape: tuple[int, int] = (28, 28), n_classes: int = 10, width: int = 256,
                 features: int = 32) -> None:
        super().__init__()
        self.image_shape, self.n_classes = tuple(image_shape), n_classes
        self.width, self.n_features = width, features
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(image_shape[0] * image_shape[1], width), nn.ReLU(),
                                  nn.Dropout(0.3), nn.Linear(width, features), nn.ReLU())
        self.head = nn.Linear(features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    @torch.no_grad()
    def features(self, images: np.ndarray, batch_size: int = 2000) -> np.ndarray:
        """Penultimate-layer features of images (N, H, W) -> (N, features)."""
        self.eval()
        x = torch.as_tensor(np.asarray(images, np.float32))
        return torch.cat([self.body(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]).numpy()

    @torch.no_grad()
    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        self.eval()
        return float((self(torch.as_tensor(images)).argmax(1).numpy() == labels).mean())

    def config(self) -> dict:
        return {"image_shape": list(self.image_shape), "n_classes": self.n_classes, "width": self.width,
                "features": self.n_features}


def train_judge(splits: data.Splits, epochs: int = 40, seed: int = 0) -> Judge:
    """Train a judge on the training split, with small random shifts as augmentation (28x28 and up)."""
    if splits.train.labels is None:
        raise CheckpointError(f"{splits.spec} has no labels, so no judge classifier can be trained for it")
    torch.manual_seed(seed)
    n_classes = int(splits.train.labels.max()) + 1
    judge = Judge(splits.train.image_shape, n_classes)
    x = torch.as_tensor(splits.train.images)
    y = torch.as_tensor(splits.train.labels)
    optimizer = torch.optim.Adam(judge.parameters(), lr=1e-3, weight_decay=1e-4)
    order = torch.Generator().manual_seed(seed)
    reach = min(splits.train.image_shape) // 14  # +-2 px on 28x28 digits; none on tiny images, where a roll wraps
    for _ in range(epochs):
        judge.train()
        perm = torch.randperm(len(x), generator=order)
        for start in range(0, len(x), 64):
            idx = perm[start : start + 64]
            batch = x[idx]
            if reach:
                shift = torch.randint(-reach, reach + 1, (2,), generator=order).tolist()
                batch = torch.roll(batch, shifts=shift, dims=(1, 2))
            loss = nn.functional.cross_entropy(judge(batch), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return judge.eval()


def save_judge(judge: Judge, folder: Path, info: dict) -> None:
    """Write config.json + model.safetensors (each file replaced atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".model.safetensors.tmp"
    save_file({k: v.contiguous() for k, v in judge.state_dict().items()}, str(tmp))
    os.replace(tmp, folder / "model.safetensors")
    tmp = folder / ".config.json.tmp"
    tmp.write_text(json.dumps({"format": FORMAT, "judge": judge.config(), **info}, indent=2) + "\n")
    os.replace(tmp, folder / "config.json")


def load_judge(folder: Path) -> tuple[Judge, dict]:
    """Load a saved judge and its config."""
    try:
        info = json.loads((folder / "config.json").read_text())
        if info.get("format") != FORMAT:
            raise CheckpointError(f"{folder} is not an aelab judge")
        judge = Judge(**info["judge"])
        judge.load_state_dict(load_file(str(folder / "model.safetensors")))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"cannot load the judge classifier in {folder}: {exc}") from None
    return judge.eval(), info


def judge_for(splits: data.Splits, shipped: Path | None = None) -> Judge:
    """The shipped judge when it was trained on this data, else one trained now (seeded)."""
    if shipped is not None and (shipped / "config.json").is_file():
        judge, info = load_judge(shipped)
        if info.get("data") == splits.spec and tuple(info["judge"]["image_shape"]) == splits.train.image_shape:
            return judge
    return train_judge(splits)
