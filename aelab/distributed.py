"""Training in several processes at once under ``torchrun``, with PyTorch's DistributedDataParallel.

``torchrun --nproc_per_node=N -m aelab train ...`` starts N copies of the same command, telling each
its place through the environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).
:func:`process_group` joins them (gloo on CPU, NCCL on CUDA, one GPU per process) and
:func:`aelab.train.fit` then trains as one :class:`Team`:

- **The global batch stays ``batch_size``.** Every process draws the same seeded permutation (and the
  same augmentation) and takes its own contiguous slice of each batch, so an epoch has the same batches
  and the same number of optimizer steps as in one process, and the learning rate, its schedule and
  the saved config mean what they mean there. N processes share the work of a step, not its size.
- **Gradients are averaged by DDP.** Models compute their loss with ``model.loss(x)`` rather than
  ``forward``, so the team wraps a tiny module whose ``forward`` is that call (:class:`_LossOf`) in
  DistributedDataParallel: its backward hooks all-reduce the gradients in buckets while the backward
  pass runs, and ranks hold identical weights after every step without a second copy of the model or
  a hand-written reduction. Each rank's loss is weighted by its share of the batch, so the average
  DDP takes is the gradient of the whole batch's mean loss even when the last batch does not divide
  evenly (a rank left without rows runs one row at weight 0, because every rank must join each step).
- **Every decision is taken together.** The loss terms of each step are summed over ranks in one small
  all-reduce, which also carries a stop request and shows every rank a non-finite loss; rank 0 measures
  the validation loss and broadcasts it, so the best epoch, early stopping and divergence are decided
  identically everywhere.

Sharded batches change one thing: a term computed over a batch rather than per image (the SAE's KL
sparsity penalty compares the batch's mean activation with rho) is computed over each rank's slice.
Noise inside ``model.loss`` (a VAE's samples, a DAE's corruption) comes from a stream seeded per rank,
so ranks do not repeat each other's draws. Saving and printing are the caller's: rank 0 does them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .errors import ConfigError

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """True when a launcher such as torchrun started this process as one of several."""
    return all(name in os.environ for name in LAUNCH_VARIABLES) and int(os.environ["WORLD_SIZE"]) > 1


def active() -> bool:
    """True inside a process group of more than one process, where ``fit`` trains as a :class:`Team`."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@contextmanager
def process_group(device: str) -> Iterator[int]:
    """Join the launcher's process group for the duration, and yield this process's rank.

    Yields 0 and does nothing when the process was not launched as one of several. gloo serves a
    CPU run; a CUDA run (``device`` "cuda" or "auto" with a GPU) uses NCCL with GPU LOCAL_RANK.
    The group is destroyed when the block ends normally; after an exception it is left alone,
    since peers may be blocked in a collective (torchrun stops them when this process exits).
    """
    if not launched():
        yield 0
        return
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    backend = "nccl" if cuda else "gloo"
    if not dist.is_available() or not _has_backend(backend):
        raise ConfigError(f"torchrun started {os.environ['WORLD_SIZE']} processes, but this PyTorch build has "
                          f"no {backend} backend to join them; run a single process instead")
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))  # "cuda" now means this process's GPU
    dist.init_process_group(backend)
    yield dist.get_rank()
    dist.destroy_process_group()


def exit_now(code: int) -> NoReturn:
    """Flush the output and end this process with ``code``, skipping the interpreter's teardown.

    With torch 2.13, a process that ran DistributedDataParallel over gloo aborted (SIGABRT,
    "terminate called without an active exception") while the interpreter shut down, after
    destroy_process_group, in about 1 of 7 runs of a bare DDP script here (0 of 14 with this exit).
    Call it only after everything is written and the process group destroyed.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _has_backend(backend: str) -> bool:
    return dist.is_gloo_available() if backend == "gloo" else dist.is_nccl_available()


class _LossOf(torch.nn.Module):
    """A model whose ``forward`` is its ``loss``, so that DDP's forward returns the loss terms."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *batch: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model.loss(*batch)


class Team:
    """This process's part in a data-parallel ``fit``: its slice of each batch and the collectives."""

    def __init__(self, model: torch.nn.Module, seed: int) -> None:
        self.rank, self.size = dist.get_rank(), dist.get_world_size()
        device = next(model.parameters()).device
        self.device = device
        # DDP broadcasts rank 0's weights here, so every rank starts from the same model
        self.ddp = DistributedDataParallel(_LossOf(model), device_ids=[device.index] if device.type == "cuda" else None)
        torch.manual_seed(seed + self.rank)  # noise drawn inside model.loss differs between ranks

    def share(self, rows: int) -> tuple[slice, int]:
        """This rank's contiguous slice of a batch of ``rows``, and how many of the batch's rows it holds."""
        start, stop = self.rank * rows // self.size, (self.rank + 1) * rows // self.size
        if start == stop:  # fewer rows than ranks: run one row, weighted 0, to join the gradient all-reduce
            return slice(0, 1), 0
        return slice(start, stop), stop - start

    def step(self, batch: tuple[torch.Tensor, ...], stop: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor], str]:
        """This rank's slice of ``batch`` through the model: (loss to backward, each term summed over the
        whole batch, verdict), the verdict "stopped" when any rank asked to stop, "diverged" when any
        rank's loss is not finite, else "".

        The loss to backward is the slice's mean loss times its share of the batch times the number of
        ranks, so the average DDP takes over the ranks during ``backward`` is the batch's mean gradient.
        """
        rows, mine = self.share(len(batch[0]))
        terms = self.ddp(*(part[rows] for part in batch))
        flag = torch.tensor(float(stop), device=self.device)
        packed = torch.stack([value.detach() * mine for value in terms.values()] + [flag])
        dist.all_reduce(packed)  # (terms + 1,): sums over the batch, and how many ranks asked to stop
        sums = dict(zip(terms, packed[:-1], strict=True))
        verdict = "stopped" if packed[-1] > 0 else "" if torch.isfinite(sums["loss"]) else "diverged"
        return terms["loss"] * (mine * self.size / len(batch[0])), sums, verdict

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is True on any rank."""
        packed = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(packed)
        return bool(packed[0] > 0)

    def from_first(self, measure: Callable[[], dict[str, float]]) -> dict[str, float]:
        """``measure()`` as rank 0 computes it, handed to every rank (the others wait instead)."""
        box = [measure() if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]
