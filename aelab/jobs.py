"""Training as jobs on Dask distributed: the web server submits, worker processes train.

A job is a :class:`JobSpec` (what to train, on which data spec, into which folder); a worker
runs :func:`run`, which calls ``runs.train_and_save``, the one path every trained model takes,
and saves into ``spec.out``: a folder on a filesystem the worker shares with the server (on one
machine, the same folder). The save is atomic (``aelab.checkpoint``), so a folder is listed
whole or not at all.

:class:`Engine` wraps a ``distributed.Client``: :meth:`Engine.from_env` starts a local cluster
of worker processes on demand, sized to the machine (one per core but one, one thread each:
on 2 cores one training at a time, the server keeps a core), or connects to the scheduler
named by ``AELAB_SCHEDULER`` (``tcp://host:8786``) and trains on its workers instead.

How the pieces travel, and why:

- Progress (a start message, the batch position twice a second, and each epoch's loss terms
  with a latent snapshot of 1,000 held-out digits as float32 bytes) goes through one
  ``distributed.Queue`` per engine, drained by the engine's own thread. It rides the
  connection the client already has, so it needs no shared folder beyond the output one,
  no directory polling and no cleanup; messages arrive in order and stay small (about 8 kB
  per epoch). Progress files would survive a server restart, a queue does not: a job whose
  server died is not resumed, and its folder holds either a whole model or nothing.
- Records: a job submitted with a ``records`` folder has a small JSON record there
  (``<id>.json``: what it trains, its status, the epoch reached, and the server's host, pid and
  boot id), written atomically when it is queued, starts and ends, and every
  :data:`HEARTBEAT_S` while it is unfinished. A server killed mid-run leaves a record still
  "queued" or "running"; :func:`records` finds it on the next start (its server's process is
  gone, or the record went :data:`aelab.job_records.STALE_S` without a heartbeat) and marks it "interrupted".
- Stop: one ``distributed.Event`` per job, read by the worker's ``on_batch`` callback at most
  every 0.2 s (each read is a round trip to the scheduler; a small model's batch takes a
  millisecond). A stopped run saves its best epoch so far, as ``fit`` always does.
- Queueing: queued jobs wait here, first in, first out, and go to Dask as worker threads
  fall idle (Dask would place them all on workers at once, out of order after stealing, and
  a worker's death would take its waiting jobs with it). Each owner (a browser session) has
  at most one job running and :data:`MAX_QUEUED` waiting; a queued job's position and
  expected start are estimated from the running jobs' pace.
- A job nobody has asked about for :data:`GRACE_S` (its tab was closed) is stopped, keeping
  its best epoch so far; its queued jobs are cancelled.
- A worker that dies mid-job: the scheduler reports the task as lost (``allowed-failures`` is
  0 on the local cluster); on a scheduler that retries, the retry sees the job already started
  and gives up. Either way the job is failed with a message and the next job runs.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import data, explore, i18n
from ._files import atomic_write_json
from .errors import AelabError
from .i18n import _
from .job_records import SERVER
from .projection import PCAProjection
from .runs import train_and_save
from .train import EpochLog, TrainConfig, configure_cpu

MAX_QUEUED = 3  # per owner, beside its running job
GRACE_S = float(os.environ.get("AELAB_JOB_GRACE_S", "60"))  # unpolled this long: its tab is gone
STOP_CHECK_S, BATCH_REPORT_S = 0.2, 0.5
DONE = ("completed", "early_stopping", "stopped", "diverged", "failed", "cancelled")
HEARTBEAT_S = 10.0  # an unfinished job's record is rewritten this often by its server
_log = logging.getLogger(__name__)
_T = TypeVar("_T")


class QueueFull(AelabError):
    """This owner already has a job training and :data:`MAX_QUEUED` waiting."""


def plane(codes: np.ndarray) -> np.ndarray:
    """Codes as 2-D points: themselves when 2-D (a line along x when 1-D), else their first two
    principal components."""
    if codes.shape[1] == 1:
        return np.column_stack([codes, np.zeros_like(codes)]).astype(np.float32)
    if codes.shape[1] == 2:
        return codes.astype(np.float32)
    return PCAProjection().fit(codes).transform(codes)


@dataclass(frozen=True)
class JobSpec:
    """One training run: a ``kind`` model with ``settings`` on the data ``spec``, saved to ``out``."""

    kind: str
    settings: dict[str, Any]
    data: str  # a data spec the worker can read: "mnist5k", "digits", "npz:/shared/path.npz" ...
    config: TrainConfig
    out: Path
    data_name: str = ""  # how the description names the data (default: the data set's own name)
    snapshot_size: int = 1000  # held-out digits whose codes are sent after every epoch
    # the language of the session that made it (by default the current one): the run's messages speak it
    language: str = field(default_factory=i18n.language)


def in_language(language: str, make: Callable[[], _T]) -> _T:
    """``make()`` with its texts in ``language``; this thread's own language stays as it was."""
    def made() -> _T:
        i18n.set_language(language)
        return make()

    return contextvars.copy_context().run(made)


# ---- the worker's side ---------------------------------------------------------------------------


def run(spec: JobSpec, report=lambda message: None, should_stop=lambda: False) -> dict[str, Any]:
    """Train and save ``spec``, sending progress messages to ``report``; returns the outcome
    (status, message, and the saved config's info when a model was kept). Its messages are in
    ``spec.language``."""
    return in_language(spec.language, lambda: _run(spec, report, should_stop))


def _run(spec: JobSpec, report, should_stop) -> dict[str, Any]:
    configure_cpu(threads=1)
    try:
        splits = data.load_splits(spec.data, seed=spec.config.seed)
        pick = np.random.default_rng(0).permutation(len(splits.val))[:spec.snapshot_size]
        images = splits.val.images[pick]
        labels = splits.val.labels[pick] if splits.val.labels is not None else np.zeros(len(pick), int)
        report({"type": "started", "labels": labels.astype(int).tolist(), "pid": os.getpid()})
        model, last = [], [0.0]

        def on_epoch(log: EpochLog) -> bool:
            points = plane(explore.encode(model[0], images)[0]).astype(np.float32)
            report({"type": "epoch", "log": json.loads(json.dumps(vars(log), default=float)),  # msgpack-safe
                    "points": points.tobytes()})
            return should_stop()

        def on_batch(epoch: int, batch: int, batches: int) -> bool:
            if time.monotonic() - last[0] >= BATCH_REPORT_S:
                last[0] = time.monotonic()
                report({"type": "batch", "progress": [epoch, batch + 1, batches]})
            return should_stop()

        info = train_and_save(spec.kind, spec.settings, splits, spec.config, spec.out,
                              data_name=spec.data_name or None, callback=on_epoch, on_batch=on_batch,
                              on_model=model.append)
        return {"status": info["fit"]["stop_reason"], "message": info["fit"]["message"], "info": info}
    except AelabError as exc:  # a run with no usable model: the message says why
        return {"status": "failed", "message": str(exc), "info": None}
    except Exception as exc:  # reported to the user, never lost in a worker's log
        return {"status": "failed", "message": _("training failed: {why}", why=exc), "info": None}


def _task(spec: JobSpec, job_id: str, reply_to: str) -> dict[str, Any]:
    """What a Dask worker runs: :func:`run`, reporting through the engine's queue."""
    from distributed import Event, Queue, get_worker

    started = Event(f"aelab-started-{job_id}")
    if started.is_set():  # a retry after the worker running it died: not started twice
        return {"status": "failed", "info": None, "message": in_language(spec.language, _not_retried)}
    started.set()
    queue, stop = Queue(reply_to), Event(f"aelab-stop-{job_id}")
    if stop.is_set():  # cancelled while it waited
        return {"status": "cancelled", "message": in_language(spec.language, _cancelled), "info": None}
    worker, checked, stopping = get_worker().address, [0.0], [False]

    def should_stop() -> bool:
        if not stopping[0] and time.monotonic() - checked[0] >= STOP_CHECK_S:
            checked[0], stopping[0] = time.monotonic(), stop.is_set()
        return stopping[0]

    return run(spec, lambda message: queue.put({"job": job_id, "worker": worker, **message}), should_stop)


# ---- the server's side ---------------------------------------------------------------------------


@dataclass(eq=False)
class Job:
    """A submitted run as the server sees it; its attributes are safe to read at any time.

    ``status``: queued | running | completed | early_stopping | stopped | diverged | failed |
    cancelled. ``history`` and ``snapshots`` ((M, 2) per epoch) grow epoch by epoch.
    """

    spec: JobSpec
    owner: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    tag: str = ""  # what submitted it (e.g. the page), so a new session of the same owner can find it
    records: Path | None = None  # the folder of its record, when it keeps one (see :func:`records`)
    submitted: float = field(default_factory=time.time)
    status: str = "queued"
    message: str = ""
    info: dict[str, Any] | None = None
    history: list[EpochLog] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)
    snapshot_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    progress: tuple[int, int, int] = (0, 0, 1)  # (epoch, batch, batches per epoch)
    worker: str = ""  # the address of the worker training it
    pid: int = 0  # and its process id
    position: int | None = None  # 1 = next to start, while queued
    expected_start: float | None = None  # seconds from the last estimate, while queued
    started: float | None = None
    finished: float | None = None
    seen: float = field(default_factory=time.monotonic)
    _engine: Engine | None = field(default=None, repr=False)
    _future: Any = field(default=None, repr=False)
    _stop_asked: bool = False

    @property
    def out(self) -> Path:
        return Path(self.spec.out)

    @property
    def config(self) -> TrainConfig:
        return self.spec.config

    @property
    def settings(self) -> dict[str, Any]:
        return self.spec.settings

    @property
    def description(self) -> str:
        return self.info["description"] if self.info else ""

    @property
    def active(self) -> bool:
        """Queued or running: not yet finished."""
        return self.status not in DONE

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for (the run ends within a fraction of a second)."""
        return self._stop_asked

    def touch(self) -> Job:
        """Note that a page is still showing this job (see :data:`GRACE_S`)."""
        self.seen = time.monotonic()
        return self

    def stop(self) -> None:
        """Stop the run after the current batch (its best epoch so far is saved), or cancel it if queued."""
        self._stop_asked = True
        if self._engine is not None:
            self._engine.stop(self)

    def starts_in(self) -> float | None:
        """Seconds until a queued job is expected to start (None when no pace is known yet)."""
        return None if self.expected_start is None else max(0.0, self.expected_start - time.monotonic())

    def join(self, timeout: float | None = None) -> None:
        """Wait until the job has finished, or ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.active and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.05)

    def seconds_left(self) -> float | None:
        """Time left, from the pace so far (None before the first batches)."""
        epoch, batch, batches = self.progress
        done = (epoch - 1) + batch / max(batches, 1)
        if self.started is None or done <= 0:
            return None
        return (time.monotonic() - self.started) / done * (self.config.epochs - done)

    def apply(self, message: dict[str, Any]) -> None:
        """Record one progress message from :func:`run`."""
        if message["type"] == "started":
            self.status, self.started, self.position, self.expected_start = "running", time.monotonic(), None, None
            self.worker, self.pid = message.get("worker", ""), message["pid"]
            self.snapshot_labels = np.asarray(message["labels"], int)
            self.write_record()
        elif message["type"] == "batch":
            self.progress = tuple(message["progress"])
        elif message["type"] == "epoch":
            points = np.frombuffer(message["points"], np.float32).reshape(-1, 2)
            self.snapshots.append(points)
            self.history.append(EpochLog(**message["log"]))
            batches = self.progress[2]
            self.progress = max(self.progress, (self.history[-1].epoch, batches, batches))  # batches are sampled

    def end(self, outcome: dict[str, Any]) -> None:
        self.info, self.message = outcome.get("info"), outcome.get("message", "")
        self.finished = time.monotonic()
        self.write_record(outcome["status"])  # the record first: whoever sees the job ended finds it saying so
        self.status = outcome["status"]

    def record(self, status: str | None = None) -> dict[str, Any]:
        """What its record says: what it trains, where it stands (or ``status``), and which server follows it."""
        return {"id": self.id, "name": self.out.name, "kind": self.spec.kind, "tag": self.tag,
                "data": self.spec.data_name or self.spec.data.split(":")[0], "epochs": self.config.epochs,
                "epoch": len(self.history), "status": status or self.status, "message": self.message[:500],
                "kept": self.info is not None, "submitted": self.submitted, "server": SERVER}

    def write_record(self, status: str | None = None) -> None:
        """Write its record (atomically) when it keeps one; a failed write is logged, the job goes on."""
        if self.records is None:
            return
        try:
            atomic_write_json(Path(self.records) / f"{self.id}.json", self.record(status))
        except OSError:
            _log.exception("aelab: could not write the record of job %s", self.id)


def train_now(spec: JobSpec) -> Job:
    """Run ``spec`` here, in this thread, and return its finished record (for notebooks and tests)."""
    job = Job(spec, owner="local")
    job.end(run(spec, job.apply))
    return job


class Engine:
    """Jobs on a Dask cluster: submit, follow, stop; one thread here drains progress and ends jobs."""

    def __init__(self, client, *, cluster=None, grace: float = GRACE_S, max_queued: int = MAX_QUEUED) -> None:
        from distributed import Queue

        self.client, self.cluster, self.grace, self.max_queued = client, cluster, grace, max_queued
        self._queue = Queue(f"aelab-progress-{uuid.uuid4().hex[:12]}", client=client)
        self._jobs: list[Job] = []  # in submission order
        self._pace: dict[str, float] = {}  # seconds per epoch, by data spec, from the latest epoch seen
        self._lock, self._closed = threading.RLock(), threading.Event()
        self._beat = time.monotonic()
        self.slots = self._count_slots()
        self._thread = threading.Thread(target=self._loop, name="aelab-jobs", daemon=True)
        self._thread.start()

    @classmethod
    def local(cls, n_workers: int | None = None, **kwargs) -> Engine:
        """Start a local cluster of worker processes: ``n_workers`` (default: one per core but one, so
        the web server keeps a core), one thread each, so each trains one model at a time."""
        import dask
        from distributed import Client, LocalCluster

        n_workers = n_workers or max(1, (os.cpu_count() or 2) - 1)
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # a lost job fails, never reruns
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
        return cls(Client(cluster), cluster=cluster, **kwargs)

    @classmethod
    def from_env(cls, **kwargs) -> Engine:
        """The scheduler at ``AELAB_SCHEDULER`` (e.g. tcp://host:8786) when set, else a local cluster
        (``AELAB_WORKERS`` worker processes when set)."""
        from distributed import Client

        if address := os.environ.get("AELAB_SCHEDULER"):
            return cls(Client(address), **kwargs)
        return cls.local(int(os.environ.get("AELAB_WORKERS", "0")) or None, **kwargs)

    def submit(self, spec: JobSpec, owner: str, *, tag: str = "", records: Path | None = None) -> Job:
        """Queue ``spec`` for ``owner``; QueueFull when it already has a job running and enough waiting.

        ``tag`` says what submitted it (see :meth:`jobs`); with ``records``, the job keeps its record
        in that folder (see :func:`records`)."""
        with self._lock:
            mine = self.jobs(owner)
            if len(mine) > self.max_queued:
                raise QueueFull(_("this session already has {n} trainings running or waiting, the most it may have "
                                  "(one trains, {waiting} wait); stop one or wait for one to finish", n=len(mine),
                                  waiting=self.max_queued))
            job = Job(spec, owner, tag=tag, records=records, _engine=self)
            job.write_record()
            self._jobs.append(job)
            self._dispatch()
            self._estimate(time.monotonic())
        return job

    def jobs(self, owner: str, tag: str | None = None) -> list[Job]:
        """The owner's unfinished jobs (those submitted with ``tag``, when given), oldest first."""
        return [j for j in self._jobs if j.owner == owner and j.active and tag in (None, j.tag)]

    def stop(self, job: Job) -> None:
        """Stop a running job (its best epoch so far is saved) or cancel a queued one."""
        from distributed import Event

        Event(f"aelab-stop-{job.id}", client=self.client).set()
        with self._lock:
            if job.status == "queued":
                if job._future is not None:
                    job._future.cancel()
                job.end({"status": "cancelled", "message": in_language(job.spec.language, _cancelled)})

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    # -- the engine's thread

    def _dispatch(self) -> None:
        """Hand Dask the oldest queued jobs, as many as workers are idle, one per owner at a time.

        Dask would place every submitted task on a worker at once, where it waits behind the
        running one, may be stolen out of order, and dies with that worker; held here, a job
        waits its turn in submission order."""
        sent = [j for j in self._jobs if j._future is not None]
        waiting = [j for j in self._jobs if j.status == "queued" and j._future is None]
        if not waiting:
            return
        busy = {key for keys in self.client.processing().values() for key in keys}
        idle = self.slots - len(busy) - sum(j._future.key not in busy for j in sent)
        owners = {j.owner for j in sent}
        for job in waiting:
            if idle <= 0:
                break
            if job.owner not in owners:
                self._send(job)
                owners.add(job.owner)
                idle -= 1

    def _send(self, job: Job) -> None:
        job._future = self.client.submit(_task, job.spec, job.id, self._queue.name, key=f"aelab-train-{job.id}",
                                         pure=False, retries=0)

    def _count_slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def _loop(self) -> None:
        for tick in itertools.count():
            if self._closed.wait(0.25) or self.client.status in ("closing", "closed"):
                return  # closed, or the process is exiting
            try:
                if tick % 20 == 0:
                    self.slots = self._count_slots()  # workers come and go
                with self._lock:
                    self._step(time.monotonic())
            except Exception:  # a lost scheduler connection must not kill the thread; jobs fail by their futures
                logging.getLogger(__name__).exception("aelab job engine")

    def _step(self, now: float) -> None:
        if now - self._beat >= HEARTBEAT_S:  # the records say this server still follows its jobs
            self._beat = now
            for job in (j for j in self._jobs if j.active):
                job.write_record()
        self._drain()
        for job in [j for j in self._jobs if j._future is not None and j._future.done()]:
            self._drain()  # the task put its last messages before it returned
            self._finish(job)
        for job in [j for j in self._jobs if j.active and not j.stopping and now - j.seen > self.grace]:
            job.stop()  # its page stopped asking: the tab was closed
        self._jobs = [j for j in self._jobs if j.active or now - (j.finished or now) < 3600]
        self._dispatch()
        self._estimate(now)

    def _drain(self) -> None:
        by_id = {j.id: j for j in self._jobs if j.active}
        for message in self._queue.get(batch=True):
            if (job := by_id.get(message["job"])) is not None:
                job.apply(message)
                if message["type"] == "epoch":
                    self._pace[job.spec.data] = message["log"]["elapsed"] / message["log"]["epoch"]

    def _finish(self, job: Job) -> None:
        from distributed import Event

        future, job._future = job._future, None
        if future.status == "finished":
            outcome = future.result()
        elif future.status == "cancelled":
            outcome = {"status": "cancelled", "message": in_language(job.spec.language, _cancelled)}
        else:
            exc = future.exception()
            outcome = {"status": "failed", "message": in_language(job.spec.language, lambda: _failure(exc))}
        if job.active:
            job.end(outcome)
        for name in ("stop", "started"):
            Event(f"aelab-{name}-{job.id}", client=self.client).clear()

    def _estimate(self, now: float) -> None:
        """Each queued job's position and expected start: slots free up as running jobs end (at their
        pace so far), queued ones take them in order, an owner's next job after its previous one."""
        free, owner_free = [], {}
        for job in (j for j in self._jobs if j.status == "running"):
            left = job.seconds_left()
            end = now + left if left is not None else self._end(job, now)
            free.append(end)
            owner_free[job.owner] = end
        free = sorted(free + [now] * max(0, self.slots - len(free)))
        for position, job in enumerate((j for j in self._jobs if j.status == "queued"), 1):
            start = max(free.pop(0), owner_free.get(job.owner, now))
            job.position, job.expected_start = position, start if start < math.inf else None
            free, owner_free[job.owner] = sorted([*free, self._end(job, start)]), self._end(job, start)

    def _end(self, job: Job, start: float) -> float:
        """When ``job`` would end if it started at ``start``: from the pace of the latest epochs seen
        on its data (any data's when none), inf while no job has finished an epoch."""
        pace = self._pace.get(job.spec.data) or max(self._pace.values(), default=math.inf)
        return start + pace * job.config.epochs


def _failure(exc: BaseException | None) -> str:
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        return _("the worker process training it stopped (killed, or out of memory) before the run ended, so "
                 "nothing was saved; the jobs after it go on")
    return _("training failed: {why}", why=exc)


def _cancelled() -> str:
    return _("cancelled before it started")


def _not_retried() -> str:
    return _("the worker process training it stopped (killed, or out of memory) and the run was not retried")
