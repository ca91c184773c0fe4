"""Training in the background: a job runs ``fit`` in a thread and records what a UI shows.

Every epoch adds its loss terms and a snapshot of where a fixed set of digits sit in the
latent space (2-D, through PCA for larger latents), so a page can draw live curves and
replay the map forming. ``stop()`` is honoured within one batch; the best weights so far
are kept and saved either way.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import explore
from .data import Splits
from .errors import AelabError
from .models import Autoencoder
from .projection import PCAProjection
from .runs import train_and_save
from .train import EpochLog, TrainConfig, configure_cpu


def plane(codes: np.ndarray) -> np.ndarray:
    """Codes as 2-D points: themselves when 2-D (a line along x when 1-D), else their first two
    principal components."""
    if codes.shape[1] == 1:
        return np.column_stack([codes, np.zeros_like(codes)]).astype(np.float32)
    if codes.shape[1] == 2:
        return codes.astype(np.float32)
    return PCAProjection().fit(codes).transform(codes)


MAX_RUNNING = int(os.environ.get("AELAB_MAX_TRAININGS", "2"))  # server-wide: each run takes one core
_running = threading.BoundedSemaphore(MAX_RUNNING)


class ServerBusy(AelabError):
    """Every training slot of the server is taken."""


class TrainingJob:
    """One training run in a background thread; its public attributes are safe to read while it runs."""

    def __init__(self, kind: str, settings: dict[str, Any], splits: Splits, config: TrainConfig, out: Path,
                 data_name: str = "", snapshot_size: int = 1000) -> None:
        self.kind, self.settings, self.splits, self.config = kind, settings, splits, config
        self.out, self.data_name = out, data_name
        pick = np.random.default_rng(0).permutation(len(splits.val))[:snapshot_size]
        self.snapshot_images = splits.val.images[pick]
        self.snapshot_labels = splits.val.labels[pick] if splits.val.labels is not None else np.zeros(len(pick), int)
        self.history: list[EpochLog] = []
        self.snapshots: list[np.ndarray] = []  # (M, 2) per epoch
        self.progress = (0, 0, 1)  # (epoch, batch, batches per epoch)
        self.status = "waiting"  # waiting | running | completed | early_stopping | stopped | diverged | failed
        self.message = ""
        self.info: dict[str, Any] | None = None
        self.started = self.finished = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"aelab-train-{out.name}", daemon=True)

    def start(self) -> TrainingJob:
        """Start training in the background; ServerBusy when :data:`MAX_RUNNING` runs already train."""
        if not _running.acquire(blocking=False):
            raise ServerBusy(f"the server is already training {MAX_RUNNING} models, its limit (each takes one of "
                             "its processor cores); try again when one of them has finished")
        self.started = time.monotonic()
        self.status = "running"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to stop after the current batch; the best weights so far are saved."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for (the run ends after its current batch)."""
        return self._stop.is_set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def seconds_left(self) -> float | None:
        """Time left, from the pace so far (None before the first batches)."""
        epoch, batch, batches = self.progress
        done = (epoch - 1) + batch / max(batches, 1)
        if self.started is None or done <= 0:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / done * (self.config.epochs - done)

    def _run(self) -> None:
        configure_cpu(threads=1)  # per thread: one core per run, whatever thread started it
        try:
            self.info = train_and_save(self.kind, self.settings, self.splits, self.config, self.out,
                                       data_name=self.data_name or None, callback=self._on_epoch,
                                       on_batch=self._on_batch, on_model=self._keep_model)
            self.status, self.message = self.info["fit"]["stop_reason"], self.info["fit"]["message"]
        except AelabError as exc:  # a run with no usable model: the message says why
            self.status, self.message = "failed", str(exc)
        except Exception as exc:  # reported to the user; the thread must not die silently
            self.status, self.message = "failed", f"training failed: {exc}"
        finally:
            self.finished = time.monotonic()
            _running.release()

    @property
    def description(self) -> str:
        return self.info["description"] if self.info else ""

    def _keep_model(self, model: Autoencoder) -> None:
        self._model = model

    def _on_epoch(self, log: EpochLog) -> bool:
        codes, _ = explore.encode(self._model, self.snapshot_images)
        self.snapshots.append(plane(codes))
        self.history.append(log)
        return self._stop.is_set()

    def _on_batch(self, epoch: int, batch: int, batches: int) -> bool:
        self.progress = (epoch, batch + 1, batches)
        return self._stop.is_set()
