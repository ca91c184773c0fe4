"""One ``fit`` for every model kind; progress reaches the caller through a callback.

The trainer knows nothing about a particular model: it calls ``model.loss(batch)`` and
minimises the ``loss`` entry of the returned dict, logging every term. Inside a process group
of several processes (``torchrun``, see :mod:`aelab.distributed`) the same ``fit`` trains the
model data-parallel, each process taking its slice of every batch.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from . import distributed
from .errors import ConfigError
from .i18n import _
from .models import Autoencoder, Model, build, check_size


@dataclass
class TrainConfig:
    """How to train; every field but ``fused_adam`` is a CLI option, and all but it and the
    ``augment_*`` fields are widgets on the app's Train page."""

    epochs: int = 30
    batch_size: int = 48  # with lr 3e-3: the fastest to a good 2-D VAE on CPU (bench/train_speed.py),
    lr: float = 3e-3  # and after 30 epochs within half a nat of the shipped 150-epoch model
    lr_schedule: str = "cosine"  # "cosine" anneals to 0 over `epochs`; "constant" keeps lr
    weight_decay: float = 0.0
    patience: int | None = None  # stop after this many epochs without a better val loss
    seed: int = 0
    device: str = "cpu"  # "cpu", "cuda", or "auto" (cuda when present)
    # Adam's fused kernel updates every parameter in one pass: at batch 48 on one CPU thread the
    # per-parameter loop took about half of each step, and fused training runs ~1.35x faster
    # (bench/train_speed.py). False keeps torch's default loop, which rounds differently; the
    # shipped models were trained with it, and their recipes say so to rebuild bit for bit.
    fused_adam: bool = True
    # Data augmentation, drawn afresh for every training batch (never for validation): each image
    # moves by a whole number of pixels in [-augment_shift, augment_shift] along each axis and turns
    # by an angle in [-augment_rotate, augment_rotate] degrees. 0 and 0 (the default) train exactly
    # as before; bench/recipe_cv.py measures what 1-2 pixels and 10 degrees do to a 2-D VAE.
    augment_shift: int = 0
    augment_rotate: float = 0.0

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, lambda: _("epochs must be >= 1, got {value}", value=self.epochs)),
            (self.batch_size >= 1, lambda: _("batch_size must be >= 1, got {value}", value=self.batch_size)),
            (self.lr > 0 and math.isfinite(self.lr), lambda: _("lr must be a positive number, got {value}",
                                                                value=self.lr)),
            (self.lr_schedule in ("cosine", "constant"),
             lambda: _("lr_schedule must be cosine or constant, got {value!r}", value=self.lr_schedule)),
            (self.weight_decay >= 0, lambda: _("weight_decay must be >= 0, got {value}", value=self.weight_decay)),
            (self.patience is None or self.patience >= 1,
             lambda: _("patience must be >= 1, got {value}", value=self.patience)),
            (isinstance(self.augment_shift, int) and not isinstance(self.augment_shift, bool)
             and self.augment_shift >= 0,
             lambda: _("augment_shift must be a whole number of pixels >= 0 (0 = off), got {value!r}",
                       value=self.augment_shift)),
            (isinstance(self.augment_rotate, int | float) and 0 <= self.augment_rotate <= 180,
             lambda: _("augment_rotate must be between 0 and 180 degrees (0 = off), got {value!r}",
                       value=self.augment_rotate)),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message())


@dataclass
class EpochLog:
    """What one epoch did: mean loss terms on train and validation data, and timing."""

    epoch: int  # 1-based
    epochs: int
    train: dict[str, float]
    val: dict[str, float]
    seconds: float
    elapsed: float
    images_per_second: float


@dataclass
class FitResult:
    """The outcome of ``fit``; the model itself holds the kept (best) weights."""

    history: list[EpochLog] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    untrained_val_loss: float = math.inf  # the validation loss before the first step
    stop_reason: str = "completed"  # completed | early_stopping | stopped | diverged
    message: str = ""
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-ready facts about the run (no per-epoch history)."""
        return {k: v for k, v in asdict(self).items() if k != "history"} | {
            "epochs_run": len(self.history)
        }


Callback = Callable[[EpochLog], bool | None]
BatchCallback = Callable[[int, int, int], bool | None]  # (epoch, batch, batches per epoch) -> stop?
EXPLODED = 100.0  # a validation loss this many times the best so far counts as divergence


def configure_cpu(threads: int | None = 1) -> None:
    """Set torch up for small models on a laptop CPU, before any training starts.

    One thread: these MLPs train about as fast on one core, and two threads on a busy
    2-core machine (another session training, the server) collapse many times over.
    Denormal floats flushed to zero: late in training Adam's moments for weights that never
    get a gradient (blank border pixels, dead units) decay into denormals, which the CPU
    handles slowly; flushing them kept epochs at full speed with the same final loss.

    Both settings belong to the calling thread (OpenMP's thread count and the CPU's
    denormal flag are per thread): a server must call this in every thread that runs torch.
    Without it, each Streamlit script thread ran torch with as many threads as cores, and a
    6-digit forward pass that takes 0.6 ms took about 40 ms beside a busy browser.
    """
    torch.set_flush_denormal(True)
    if threads is not None:
        torch.set_num_threads(threads)


def resolve_device(device: str) -> torch.device:
    """Turn "auto" into cuda when present, else cpu; refuse cuda when it is absent."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(_("device 'cuda' was asked for, but no CUDA GPU is available; use --device cpu"))
    return torch.device(device)


def as_tensor(images: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Images as a float32 tensor on the device, (N, H, W)."""
    return torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images,
                           dtype=torch.float32).to(device)


@torch.no_grad()
def evaluate_loss(model: Model, images: torch.Tensor, seed: int, batch_size: int = 1000,
                  labels: torch.Tensor | None = None) -> dict[str, float]:
    """Mean loss terms over a data set, with a fixed seed for any sampling or noise."""
    model.eval()
    totals: dict[str, float] = {}
    with torch.random.fork_rng(devices=[images.device] if images.is_cuda else []):
        torch.manual_seed(seed)
        for start in range(0, len(images), batch_size):
            batch = _batch(images, labels, slice(start, start + batch_size))
            for name, value in model.loss(*batch).items():
                totals[name] = totals.get(name, 0.0) + float(value) * len(batch[0])
    return {name: total / len(images) for name, total in totals.items()}


def _batch(images: torch.Tensor, labels: torch.Tensor | None, index) -> tuple[torch.Tensor, ...]:
    """The arguments of ``model.loss`` for some rows: the images, and the labels when the model takes them."""
    return (images[index],) if labels is None else (images[index], labels[index])


def fit(
    model: Model,
    train_images: np.ndarray | torch.Tensor,
    val_images: np.ndarray | torch.Tensor,
    config: TrainConfig | None = None,
    callback: Callback | None = None,
    on_batch: BatchCallback | None = None,
    *,
    train_labels: np.ndarray | None = None,
    val_labels: np.ndarray | None = None,
) -> FitResult:
    """Train ``model`` in place and keep the weights of its best validation epoch.

    The data stay in memory as one tensor; each epoch is a seeded permutation sliced into
    batches, and each batch goes to ``model.loss(images)``, or ``model.loss(images, labels)``
    when labels are given (a classifier). ``callback`` gets an :class:`EpochLog` after every
    epoch, ``on_batch`` a call after every batch; either may return True to stop (the best
    weights so far are kept). A loss that turns NaN or infinite, or a validation loss that
    explodes to :data:`EXPLODED` times the best so far, stops training as diverged, with the
    last good weights restored.

    Called in every process of a process group (under ``torchrun``), it trains one model
    together: the same batches split across the processes, gradients averaged by
    DistributedDataParallel, and the same history, best epoch and stop on every rank (a stop
    asked for by any rank's callback stops all). See :mod:`aelab.distributed`.
    """
    run = _Run(model, config or TrainConfig(), (train_images, train_labels), (val_images, val_labels))
    for epoch in range(1, run.config.epochs + 1):
        if run.epoch(epoch, callback, on_batch):
            break
    return run.finish()


class _Run:
    """The state of one ``fit``: data on the device, optimizer, best weights so far, and the result."""

    def __init__(self, model: Model, config: TrainConfig, train: tuple, val: tuple) -> None:
        self.model, self.config = model, config
        device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        model.to(device)
        (self.train_x, self.train_y), (self.val_x, self.val_y) = (_on_device(*part, device) for part in (train, val))
        if len(self.train_x) == 0 or len(self.val_x) == 0:
            raise ConfigError(_("need training and validation images, got {train} and {val}", train=len(self.train_x),
                                val=len(self.val_x)))
        self.team = distributed.Team(model, config.seed) if distributed.active() else None
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                          fused=True if config.fused_adam else None)
        self.schedule = _schedule(self.optimizer, config, math.ceil(len(self.train_x) / config.batch_size))
        self.order = torch.Generator().manual_seed(config.seed)  # batch order, and augmentation after it
        self.augment = _augmenter(config, self.train_x.shape[1:3], self.order)
        self.result = FitResult()
        self.best_state = copy.deepcopy(model.state_dict())
        self.start = time.perf_counter()
        # what "exploded" (and, in aelab.runs, "learned nothing") is measured against
        self.result.untrained_val_loss = self.validate()["loss"]

    def validate(self) -> dict[str, float]:
        """The validation loss terms (in a team, as rank 0 measures them, so every rank decides alike)."""
        def measure() -> dict[str, float]:
            return evaluate_loss(self.model, self.val_x, seed=self.config.seed + 1, labels=self.val_y)
        return measure() if self.team is None else self.team.from_first(measure)

    def epoch(self, epoch: int, callback: Callback | None, on_batch: BatchCallback | None) -> bool:
        """Train one epoch and judge it; True when training should stop."""
        result, config, tic = self.result, self.config, time.perf_counter()
        train_terms = _train_epoch(self.model, (self.train_x, self.train_y), self.optimizer, self.schedule,
                                   config.batch_size, self.order, _batch_hook(on_batch, epoch), self.augment,
                                   self.team)
        if train_terms is None:  # stopped by on_batch in the middle of the epoch
            result.stop_reason, result.message = "stopped", _("stopped by request during epoch {epoch}", epoch=epoch)
            return True
        val_terms = self.validate() if train_terms else {}
        problem = _divergence(val_terms, min(result.best_val_loss, result.untrained_val_loss))
        if problem:
            self.model.load_state_dict(self.best_state)
            kept = (_("kept the weights from epoch {epoch}", epoch=result.best_epoch) if result.best_epoch
                    else _("no epoch finished"))
            result.stop_reason = "diverged"
            result.message = _("training diverged in epoch {epoch} ({problem}); {kept}. Try a smaller learning rate "
                               "than {lr:g}.", epoch=epoch, problem=problem, kept=kept, lr=config.lr)
            return True
        seconds = time.perf_counter() - tic
        log = EpochLog(epoch, config.epochs, train_terms, val_terms, seconds,
                       time.perf_counter() - self.start, len(self.train_x) / seconds)
        result.history.append(log)
        if val_terms["loss"] < result.best_val_loss:
            result.best_val_loss, result.best_epoch = val_terms["loss"], epoch
            self.best_state = copy.deepcopy(self.model.state_dict())
        asked = callback is not None and bool(callback(log))
        if asked if self.team is None else self.team.any(asked):
            result.stop_reason, result.message = "stopped", _("stopped by request after epoch {epoch}", epoch=epoch)
            return True
        if config.patience and epoch - result.best_epoch >= config.patience:
            result.stop_reason = "early_stopping"
            result.message = _("no better validation loss for {n} epochs", n=config.patience)
            return True
        return False

    def finish(self) -> FitResult:
        self.model.load_state_dict(self.best_state)
        self.model.eval()
        self.result.seconds = time.perf_counter() - self.start
        return self.result


def _on_device(images, labels, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = as_tensor(images, device)
    return x, (None if labels is None else torch.as_tensor(np.asarray(labels), device=device))


def _divergence(val_terms: dict[str, float], reference: float) -> str | None:
    """Why an epoch's validation loss means training has diverged, or None.

    ``reference`` is the lower of the best validation loss so far and the untrained model's.
    """
    if not val_terms or not math.isfinite(val_terms["loss"]):
        return _("the loss became NaN or infinite")
    if math.isfinite(reference) and val_terms["loss"] > EXPLODED * max(reference, 1e-12):
        return _("the validation loss exploded to {loss:.3g}, over {factor:g} times its best or its untrained value "
                 "({reference:.3g})", loss=val_terms["loss"], factor=EXPLODED, reference=reference)
    return None


def _batch_hook(on_batch: BatchCallback | None, epoch: int):
    return None if on_batch is None else (lambda batch, batches: bool(on_batch(epoch, batch, batches)))


def _schedule(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    total = config.epochs * steps_per_epoch
    if config.lr_schedule == "constant":
        return None
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    )


def _train_epoch(model, data, optimizer, schedule, batch_size, order, stop=None,
                 augment=None, team: distributed.Team | None = None) -> dict[str, float] | None:
    """One pass over the shuffled data (images, labels or None), each batch's images through
    ``augment`` when given; returns mean terms, {} if a loss was not finite, or None if
    ``stop(batch, batches)`` asked to stop. A ``team`` runs its rank's slice of each batch."""
    model.train()
    train_x, train_y = data
    totals: dict[str, torch.Tensor] = {}
    perm = torch.randperm(len(train_x), generator=order).to(train_x.device)
    batches = math.ceil(len(train_x) / batch_size)
    for batch, start in enumerate(range(0, len(train_x), batch_size)):
        asked = stop is not None and bool(stop(batch, batches))
        if asked and team is None:
            return None
        batch = _batch(train_x, train_y, perm[start : start + batch_size])
        if augment is not None:
            batch = (augment(batch[0]), *batch[1:])
        loss, sums, verdict = _solo_step(model, batch) if team is None else team.step(batch, asked)
        if verdict:
            return None if verdict == "stopped" else {}
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        for name, value in sums.items():
            totals[name] = totals.get(name, 0) + value
    return {name: float(total) / len(train_x) for name, total in totals.items()}


def _solo_step(model, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, torch.Tensor], str]:
    """The batch through ``model.loss``: (loss, each term summed over the batch, "diverged" or "")."""
    terms = model.loss(*batch)
    sums = {name: value.detach() * len(batch[0]) for name, value in terms.items()}
    return terms["loss"], sums, "" if torch.isfinite(terms["loss"]) else "diverged"


def _augmenter(config: TrainConfig, image_shape, generator: torch.Generator):
    """The run's per-batch augmentation, or None when the config asks for none."""
    shift, rotate = config.augment_shift, float(config.augment_rotate)
    if not shift and not rotate:
        return None
    if 2 * shift >= min(image_shape):
        raise ConfigError(_("augment_shift {shift} would move {h}x{w} images out of view; use fewer than {most:g} "
                            "pixels (1 or 2 for digits)", shift=shift, h=image_shape[0], w=image_shape[1],
                            most=min(image_shape) / 2))
    return lambda images: augment_batch(images, shift, rotate, generator)


def augment_batch(images: torch.Tensor, shift: int, rotate: float, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted by whole pixels drawn from [-shift, shift] per axis and rotated about its centre
    by degrees drawn from [-rotate, rotate], bilinearly resampled, zeros moved in: (B, H, W) -> (B, H, W).

    The draws come from ``generator`` (a CPU generator), so a seeded run is repeatable.
    """
    b, h, w = images.shape
    dx, dy = torch.randint(-shift, shift + 1, (2, b), generator=generator).float()  # (B,) pixels each
    angle = (2 * torch.rand(b, generator=generator, dtype=torch.float64) - 1) * math.radians(rotate)
    cos, sin = angle.cos().float(), angle.sin().float()
    # affine_grid maps each output position to where it reads the input, in [-1, 1] units per axis:
    # source = R(angle) output - 2 shift / size, with the aspect ratio undone around the rotation.
    theta = torch.stack([torch.stack([cos, -sin * h / w, -2 * dx / w], 1),
                         torch.stack([sin * w / h, cos, -2 * dy / h], 1)], 1).to(images.device)  # (B, 2, 3)
    grid = torch.nn.functional.affine_grid(theta, [b, 1, h, w], align_corners=False)  # (B, H, W, 2)
    moved = torch.nn.functional.grid_sample(images[:, None], grid, mode="bilinear", padding_mode="zeros",
                                            align_corners=False)  # (B, 1, H, W)
    return moved[:, 0]


def train_model(
    kind: str,
    model_config: dict[str, Any],
    train_images: np.ndarray,
    val_images: np.ndarray,
    config: TrainConfig | None = None,
    callback: Callback | None = None,
    on_batch: BatchCallback | None = None,
) -> tuple[Autoencoder, FitResult]:
    """Build a model with a seeded initialisation and fit it (nothing is checked or saved: see aelab.runs)."""
    config = config or TrainConfig()
    model = make_model(kind, model_config, tuple(np.asarray(train_images).shape[1:3]), config.seed)
    return model, fit(model, train_images, val_images, config, callback, on_batch)


def make_model(kind: str, model_config: dict[str, Any], image_shape: tuple[int, int], seed: int) -> Autoencoder:
    """A model of ``kind`` for images of ``image_shape``, initialised from ``seed``."""
    config = {"image_shape": image_shape} | model_config
    check_size(kind, **config)  # before anything is allocated
    torch.manual_seed(seed)
    return build(kind, **config)
