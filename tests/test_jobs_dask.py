"""Training jobs on a real Dask cluster: a local scheduler with two worker processes, one thread each.

Tiny models on scikit-learn's 8x8 digits, so the whole file runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from aelab import checkpoint, job_records, jobs
from aelab.train import TrainConfig

pytest.importorskip("distributed")

TINY = {"hidden": [16], "latent_dim": 2}


@pytest.fixture(scope="module")
def engine():
    engine = jobs.Engine.local(n_workers=2, grace=600)
    yield engine
    engine.close()


def _spec(tmp_path, name: str, epochs: int = 3, **settings) -> jobs.JobSpec:
    return jobs.JobSpec("ae", TINY | settings, "digits", TrainConfig(epochs=epochs), tmp_path / name,
                        snapshot_size=200)


def _wait(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _running(engine, tmp_path, owner: str) -> jobs.Job:
    """A long run for ``owner``, once it has finished an epoch on a worker."""
    job = engine.submit(_spec(tmp_path, f"long-{owner}", epochs=500), owner)
    _wait(lambda: len(job.history) >= 1 or not job.active)
    assert job.status == "running", job.message
    return job


def test_a_job_reports_progress_and_saves_its_model(engine, tmp_path):
    job = engine.submit(_spec(tmp_path, "first", epochs=4), "alice", tag="train", records=tmp_path / "jobs")
    assert job.status == "queued" and job.position == 1
    [record] = job_records.records(tmp_path / "jobs")  # kept beside the models, so a restarted server knows of it
    assert (record["id"], record["name"], record["tag"], record["server"]) == (job.id, "first", "train", jobs.SERVER)
    seen = set()
    while job.active:
        seen.add(job.status)
        time.sleep(0.02)
    assert job.status == "completed", job.message
    assert "running" in seen and job.worker.startswith("tcp://") and job.pid != os.getpid()
    assert [h.epoch for h in job.history] == [1, 2, 3, 4] and set(job.history[0].train) >= {"loss"}
    assert len(job.snapshots) == 4 and all(s.shape == (179, 2) for s in job.snapshots)  # all 179 held out
    assert len(job.snapshot_labels) == 179 and set(job.snapshot_labels.tolist()) <= set(range(10))
    assert np.isfinite(job.snapshots[-1]).all() and not np.array_equal(job.snapshots[0], job.snapshots[-1])
    saved = checkpoint.load(job.out)  # trained in another process, into the folder it was given
    assert saved.info["training"]["epochs"] == 4 and job.description == saved.info["description"]
    assert "4 epochs on digits" in job.description
    [record] = job_records.records(tmp_path / "jobs")
    assert (record["status"], record["kept"], record["epochs"]) == ("completed", True, 4)


def test_a_stopped_job_keeps_its_best_epoch_so_far(engine, tmp_path):
    job = _running(engine, tmp_path, "bob")
    assert engine.jobs("bob") == engine.jobs("bob", tag="") == [job] and engine.jobs("bob", tag="train") == []
    job.stop()
    assert job.stopping
    job.join(30)
    assert job.status == "stopped", job.message
    ran = len(checkpoint.load(job.out).info["history"])
    assert 1 <= ran < 500 and ran == len(job.history)


def test_queued_jobs_show_their_place_and_start_in_order(engine, tmp_path):
    busy = [_running(engine, tmp_path, owner) for owner in ("carol", "dave")]  # both workers taken
    first = engine.submit(_spec(tmp_path, "erin-1"), "erin")
    second = engine.submit(_spec(tmp_path, "frank"), "frank")
    held = [engine.submit(_spec(tmp_path, f"erin-{i}"), "erin") for i in (2, 3, 4)]  # one per owner in Dask
    with pytest.raises(jobs.QueueFull, match="4 trainings running or waiting, the most it may have"):
        engine.submit(_spec(tmp_path, "erin-5"), "erin")
    time.sleep(0.6)  # an estimate from the running jobs' pace
    assert [j.position for j in (first, second, *held)] == [1, 2, 3, 4, 5]
    starts = [j.starts_in() for j in (first, second, *held)]
    assert all(s is not None for s in starts) and starts == sorted(starts)
    held[-1].stop()  # a queued job is cancelled
    assert held[-1].status == "cancelled"
    _wait(lambda: held[-1].position == 5 and [j.position for j in held[:2]] == [3, 4])
    busy[0].stop()
    _wait(lambda: first.status != "queued")
    assert second.status == "queued"  # first in, first out
    busy[1].stop()
    for job in (first, second, *held[:2]):
        job.join(30)
        assert job.status == "completed", job.message
    assert first.started < second.started and held[0].started > first.finished  # erin's one at a time
    assert held[-1].status == "cancelled" and not held[-1].out.exists()


def test_a_killed_worker_fails_its_job_and_the_queue_goes_on(engine, tmp_path):
    doomed = _running(engine, tmp_path, "gina")
    other = _running(engine, tmp_path, "hal")
    after = engine.submit(_spec(tmp_path, "after"), "ivan")
    assert doomed.pid in engine.client.run(os.getpid).values()
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.join(30)
    assert doomed.status == "failed" and "worker process training it stopped" in doomed.message
    assert not doomed.out.exists()  # nothing half-written
    other.stop()
    after.join(60)
    assert after.status == "completed", after.message
    assert checkpoint.load(after.out).info["training"]["epochs"] == 3
