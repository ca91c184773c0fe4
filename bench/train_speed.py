"""Training speed on CPU: aelab's trainer against a plain PyTorch loop, every kind's throughput,
and what the app's live updates cost. All on the embedded digits (mnist5k: 4,500 train /
500 validation), with the shipped architecture (MLP [256, 128], 2-D latent), one process,
an explicit torch thread count (default 1, as the app runs).

Measures:
1. Time to a usable 2-D VAE: wall time until the validation neg_elbo first reaches the
   shipped vae-2d's (pretrained/index.json) + 10 nats. neg_elbo is measured after every
   epoch with ``metrics.evaluate(model, val, samples=1)``, the same for both contenders,
   and that evaluation is kept OFF both clocks (anything a trainer does itself, such as
   fit's own validation loss, stays on). Both contenders run on seeds 0-4 (initialisation and
   batch order; alternated), and the table gives each seed's ratio and the medians:
   - aelab: ``fit`` with ``TrainConfig()`` defaults (30 epochs, the app's and CLI's default;
     batch 48, lr 3e-3, cosine over the 30 epochs, fused Adam), stopped by its callback at the
     target;
   - reference: the PyTorch examples' loop (DataLoader of a TensorDataset, batch 128,
     shuffle, Adam lr 1e-3, ``model.loss(x)["loss"]``), the same model and seed, cap 120 epochs.
   Then aelab's full 30-epoch schedule: its pace early and late, and its final neg_elbo
   against the shipped model's. (Denormal floats are flushed to zero, as the app and CLI do;
   ``--no-flush-denormal`` shows the late epochs slowing down on denormals otherwise.)
2. Training images/s of every model kind: ``fit`` with ``TrainConfig(epochs=5)``, median of
   ``EpochLog.images_per_second``.
3. The cost of live UI updates: a job's run as a Dask worker runs it (``jobs.train_now``: progress
   messages, a latent snapshot per epoch, a stop check, saving at the end) against plain ``fit`` with
   no callbacks, same settings (VAE, 5 epochs), and plain ``fit`` in a fresh thread to tell
   the thread's cost from the hooks'; order rotated, 3 runs each, median (and fastest run).
   Images/s here come from the wall time between the first and last epoch's end, so they
   include the per-epoch snapshot.

One epoch of training runs first, off every clock, so that one-off start-up costs land on no
contender. This machine may be shared: the load average printed at the end says whether
other processes took CPU time (times then vary; the fastest runs are the least disturbed).

Run: python bench/train_speed.py [--threads 1] [--seeds 5] [--repeats 3] [--no-flush-denormal]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import argparse
import math
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, TensorDataset

from aelab import data, pretrained
from aelab.jobs import JobSpec, train_now
from aelab.metrics import evaluate
from aelab.models import KINDS
from aelab.train import EpochLog, TrainConfig, fit, make_model

DEFAULTS = TrainConfig()

ARCH = {"hidden": [256, 128], "latent_dim": 2}  # the shipped vae-2d's
MARGIN = 10.0  # nats above the shipped vae-2d's neg_elbo that count as "usable"
REFERENCE_CAP = 120  # epochs
SPEED_EPOCHS = 5


class TargetWatch:
    """Evaluates neg_elbo after each epoch, off the clock, and notes when it first reaches the target."""

    def __init__(self, model, val_images, target: float) -> None:
        self.model, self.val_images, self.target = model, val_images, target
        self.start = time.perf_counter()
        self.excluded = 0.0  # seconds spent in our own evaluation
        self.seconds: float | None = None  # to the target, None until reached
        self.epochs = 0  # at the target, or run so far
        self.neg_elbo = float("nan")  # at the target, or the latest

    def after_epoch(self, epoch: int) -> bool:
        """Evaluate; True when the target was reached (now or before)."""
        now = time.perf_counter()
        neg_elbo = evaluate(self.model, self.val_images, samples=1)["neg_elbo"]
        if self.seconds is None:
            self.epochs, self.neg_elbo = epoch, neg_elbo
            if neg_elbo <= self.target:
                self.seconds = now - self.start - self.excluded
        self.excluded += time.perf_counter() - now
        return self.seconds is not None

    def clock(self) -> float:
        return time.perf_counter() - self.start - self.excluded


def aelab_run(splits, target: float, config: TrainConfig, stop_at_target: bool = True):
    """aelab's fit as the app runs it; returns the watch, the model and fit's result."""
    model = make_model("vae", ARCH, splits.train.image_shape, config.seed)
    watch = TargetWatch(model, splits.val.images, target)
    result = fit(model, splits.train.images, splits.val.images, config,
                 callback=lambda log: watch.after_epoch(log.epoch) and stop_at_target)
    return watch, model, result


def reference_run(splits, target: float, seed: int) -> TargetWatch:
    """The PyTorch examples' loop: DataLoader, Adam 1e-3, batch 128, no schedule."""
    model = make_model("vae", ARCH, splits.train.image_shape, seed)
    watch = TargetWatch(model, splits.val.images, target)
    torch.manual_seed(seed)
    loader = DataLoader(TensorDataset(torch.as_tensor(splits.train.images)), batch_size=128, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, REFERENCE_CAP + 1):
        model.train()
        for (x,) in loader:
            loss = model.loss(x)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if watch.after_epoch(epoch):
            break
    return watch


@dataclass
class Row:
    name: str
    value: str


def fmt_race(watch: TargetWatch) -> str:
    if watch.seconds is None:
        return f"not reached in {watch.epochs} epochs (last neg_elbo {watch.neg_elbo:.2f})"
    return f"{watch.seconds:6.2f} s, {watch.epochs:>3} epochs, neg_elbo {watch.neg_elbo:.2f}"


def race(splits, target: float, seeds: int) -> list[Row]:
    """Both contenders on the same seeds 0..seeds-1 (model initialisation and batch order),
    alternating which goes first; per-seed ratios, and the medians over the seeds.

    Seeds matter: how many epochs a 2-D VAE needs to reach the target varies by half from
    one seed to another, for both contenders, so a single seed can flatter either side."""
    runs: dict[str, list[TargetWatch]] = {"aelab": [], "reference": []}
    for seed in range(seeds):
        for name in ["aelab", "reference"][:: 1 if seed % 2 == 0 else -1]:
            if name == "aelab":
                runs[name].append(aelab_run(splits, target, TrainConfig(seed=seed))[0])
            else:
                runs[name].append(reference_run(splits, target, seed))
    rows, medians = [], {}
    ours = f"aelab fit, TrainConfig() (batch {DEFAULTS.batch_size}, lr {DEFAULTS.lr:g} cosine, 30 ep, fused Adam)"
    for name, label in (("aelab", ours),
                        ("reference", "reference loop (DataLoader batch 128, Adam 1e-3)")):
        times = [math.inf if w.seconds is None else w.seconds for w in runs[name]]
        medians[name] = statistics.median(times)
        median_run = sorted(runs[name], key=lambda w: math.inf if w.seconds is None else w.seconds)[seeds // 2]
        rows.append(Row(f"{label}, median of {seeds} seeds", fmt_race(median_run)))
        rows.append(Row("  per seed 0.. (s / epochs)",
                        ", ".join(f"{t:.2f}/{w.epochs}" for t, w in zip(times, runs[name], strict=True))))
    ratios = [(r.seconds or math.inf) / (a.seconds or math.inf) for a, r in zip(runs["aelab"], runs["reference"],
                                                                                 strict=True)]
    rows.append(Row("ratio reference / aelab per seed", ", ".join(f"{r:.2f}x" for r in ratios)))
    rows.append(Row("ratio of the medians (target >= 2x; aelab < 30 s)",
                    f"{medians['reference'] / medians['aelab']:.2f}x (lowest seed {min(ratios):.2f}x)"))
    return rows


def full_schedule(splits, target: float, shipped: float) -> list[Row]:
    """aelab's whole 30-epoch schedule: final quality, and how the pace changes over the run."""
    watch, model, result = aelab_run(splits, target, TrainConfig(), stop_at_target=False)
    total = watch.clock()
    rates = [h.images_per_second for h in result.history]
    final = {s: evaluate(model, splits.val.images, samples=s)["neg_elbo"] for s in (1, 16)}
    return [
        Row("aelab full schedule (TrainConfig())", f"{total:.2f} s for {len(result.history)} epochs; "
                                                   f"target reached at {fmt_race(watch)}"),
        Row("  images/s, median of epochs 1-10 | 11-30",
            f"{statistics.median(rates[:10]):,.0f} | {statistics.median(rates[10:]):,.0f}"),
        Row(f"  final neg_elbo (best epoch {result.best_epoch}), 1 | 16 samples",
            f"{final[1]:.2f} | {final[16]:.2f}  (shipped vae-2d, 150 epochs, 16 samples: {shipped:.2f})"),
    ]


def kind_speeds(splits) -> list[Row]:
    rows = []
    for kind in KINDS:
        model = make_model(kind, ARCH, splits.train.image_shape, 0)
        result = fit(model, splits.train.images, splits.val.images, TrainConfig(epochs=SPEED_EPOCHS))
        rates = [h.images_per_second for h in result.history]
        rows.append(Row(f"{kind}: images/s, median of {SPEED_EPOCHS} epochs",
                        f"{statistics.median(rates):>7,.0f}  (fastest epoch {max(rates):,.0f}; "
                        f"{result.seconds:.2f} s in all)"))
    return rows


def epoch_pace(history: list[EpochLog], n_train: int) -> float:
    """Images/s from the wall time between the first and last epoch's end; between them lie
    whole epochs, each with its epoch-end callback (the snapshot), which EpochLog's own
    images_per_second does not count."""
    return n_train * (len(history) - 1) / (history[-1].elapsed - history[0].elapsed)


def in_a_thread(work):
    """Run ``work()`` in a fresh thread and return its result (a diagnostic: what a thread alone costs)."""
    out = []
    worker = threading.Thread(target=lambda: out.append(work()))
    worker.start()
    worker.join()
    return out[0]


def one_contender(name: str, splits, config: TrainConfig, out: Path) -> list[EpochLog]:
    """Train once as `name` (fit | fit-thread | job) and return the epoch logs."""
    if name == "job":  # what a worker does: progress messages, snapshots and the stop check, then the save
        job = train_now(JobSpec("vae", ARCH, splits.spec, config, out))
        if job.status not in ("completed", "early_stopping"):
            raise RuntimeError(f"the training job ended {job.status}: {job.message}")
        return job.history

    def plain() -> list[EpochLog]:
        model = make_model("vae", ARCH, splits.train.image_shape, config.seed)
        return fit(model, splits.train.images, splits.val.images, config).history

    return plain() if name == "fit" else in_a_thread(plain)


def job_vs_fit(splits, repeats: int) -> list[Row]:
    """A job's run against plain fit (and, to split the difference, plain fit in a thread)."""
    config, names = TrainConfig(epochs=SPEED_EPOCHS), ["job", "fit", "fit-thread"]
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}  # (images/s, wall s)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            for name in names[i % 3:] + names[: i % 3]:  # rotate the order
                tic = time.perf_counter()
                history = one_contender(name, splits, config, Path(tmp) / f"{name}{i}")
                runs[name].append((epoch_pace(history, len(splits.train)), time.perf_counter() - tic))
    pace = {name: statistics.median(r[0] for r in rs) for name, rs in runs.items()}
    top = {name: max(r[0] for r in rs) for name, rs in runs.items()}
    wall = {name: statistics.median(r[1] for r in rs) for name, rs in runs.items()}
    labels = {"fit": "plain fit, no callbacks, main thread",
              "fit-thread": "  plain fit, no callbacks, in a fresh thread (diagnostic)",
              "job": "a job's run (progress, snapshot/epoch, stop check; as a worker runs it)"}
    rows = [Row(f"{labels[name]}, median of {repeats}",
                f"{pace[name]:>7,.0f} img/s (fastest run {top[name]:,.0f}); {wall[name]:.2f} s wall"
                + (" incl. build + save" if name == "job" else ""))
            for name in ("fit", "fit-thread", "job")]
    rows.append(Row("overhead of live updates: fit / job - 1 (target < 10%)",
                    f"{100 * (pace['fit'] / pace['job'] - 1):+.1f}% (fastest runs: "
                    f"{100 * (top['fit'] / top['job'] - 1):+.1f}%)"))
    rows.append(Row("  of which the thread: fit / fit-thread - 1",
                    f"{100 * (pace['fit'] / pace['fit-thread'] - 1):+.1f}% (fastest runs: "
                    f"{100 * (top['fit'] / top['fit-thread'] - 1):+.1f}%)"))
    rows.append(Row("  of which hooks + snapshot: fit-thread / job - 1",
                    f"{100 * (pace['fit-thread'] / pace['job'] - 1):+.1f}% (fastest runs: "
                    f"{100 * (top['fit-thread'] / top['job'] - 1):+.1f}%)"))
    return rows


def print_table(title: str, rows: list[Row]) -> None:
    width = max(len(r.name) for r in rows)
    print(f"\n{title}")
    for r in rows:
        print(f"  {r.name:<{width}}  {r.value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1, as the app runs: aelab.train.configure_cpu)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the race to a usable VAE (0..N-1)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each contender in the UI-cost comparison")
    parser.add_argument("--no-flush-denormal", dest="flush_denormal", action="store_false",
                        help="keep denormal floats (the app and the CLI flush them: aelab.train.configure_cpu)")
    args = parser.parse_args()
    torch.set_flush_denormal(args.flush_denormal)  # first, so every worker thread inherits it
    torch.set_num_threads(args.threads)
    tic, load = time.perf_counter(), os.getloadavg()[0]
    splits = data.load_splits("mnist5k")
    shipped = next(e for e in pretrained.read_index() if e["name"] == "vae-2d")["metrics"]["neg_elbo"]
    target = shipped + MARGIN
    print(f"torch {torch.__version__}, torch.set_num_threads({args.threads}): {torch.get_num_threads()} threads "
          f"(a new thread sees {in_a_thread(torch.get_num_threads)}); {len(splits.train)} train / "
          f"{len(splits.val)} validation digits; flush denormals {'ON' if args.flush_denormal else 'off'}")
    print(f"target: validation neg_elbo <= {target:.2f} (shipped vae-2d {shipped:.2f} + {MARGIN:g}); "
          "evaluation (1 sample, after every epoch) excluded from both clocks")
    warm_up = make_model("vae", ARCH, splits.train.image_shape, 0)  # first-call costs off every clock
    fit(warm_up, splits.train.images, splits.val.images, TrainConfig(epochs=1))
    print_table("1. time to a usable 2-D VAE", race(splits, target, args.seeds)
                + full_schedule(splits, target, shipped))
    print_table("2. training throughput per model kind (fit, TrainConfig defaults)", kind_speeds(splits))
    print_table("3. cost of live UI updates (VAE)", job_vs_fit(splits, args.repeats))
    print(f"\nwhole benchmark: {time.perf_counter() - tic:.0f} s; 1-minute load average "
          f"{load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
          f"(if well above {args.threads}, other processes shared the cores and the times are inflated)")


if __name__ == "__main__":
    main()
