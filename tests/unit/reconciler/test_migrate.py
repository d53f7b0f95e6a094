"""``dualtrack migrate``'s handler and the reconciler's migrate step, on two in-memory backends: at once
with ``now``; after the next checkpoint of a YOLO job whose run folder the broker sees; refused for a job
not on a backend or a target that does not exist; a named target overrides the spec's track."""

from __future__ import annotations

import os
import pickle
import time
import zipfile
from pathlib import Path

import pytest

from dualtrack.adapters.inmemory import Outcome
from dualtrack.broker.domain import JobState
from dualtrack.broker.errors import InvalidRequest, JobNotMovable
from dualtrack.broker.handlers.migrate import request_migration
from dualtrack.broker.store import Changes
from tests.unit.reconciler.conftest import Harness

LONG = Outcome(run_seconds=60)


def _running_on_kube(harness: Harness, **replace: str) -> str:
    job = harness.submit("yolo-1gpu", **{"  priority: normal": "  priority: normal\n  placement: {track: kubernetes}",
                                         **replace})
    harness.backend("kube-a").script(job.id, LONG)
    harness.backend("slurm-a").script(job.id, LONG)
    harness.until(job.id, lambda j: j.state is JobState.RUNNING and j.backend == "kube-a")
    return job.id


def _write_checkpoint(path: Path, epoch: int) -> None:
    """A torch-style zip whose data.pkl holds what ultralytics' last.pt holds (epoch is 0-based)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("last/data.pkl", pickle.dumps({"epoch": epoch, "optimizer": {}, "train_args": {"epochs": 5}}))


def _messages(harness: Harness, job_id: str) -> list[str]:
    return [e.message for e in harness.ctx.store.events(job_id=job_id)]


def test_migrate_now_moves_to_the_named_backend_despite_the_track(harness: Harness) -> None:
    job_id = _running_on_kube(harness)
    requested = request_migration(harness.ctx, job_id, to_backend="slurm-a", now=True, reason="draining kube-a")
    assert requested.migration is not None and requested.migration.to_backend == "slurm-a"
    moved = harness.until(job_id, lambda j: j.state is JobState.RUNNING and j.backend == "slurm-a")
    assert moved.attempt == 2 and moved.migration is None and "kube-a" in moved.excluded_backends
    assert harness.backend("kube-a").jobs_named(f"dt-{job_id}-1") in (0, 1)
    messages = _messages(harness, job_id)
    assert any("migration from kube-a to slurm-a requested: draining kube-a; stopping it now" in m for m in messages)
    assert any(m.startswith("migrating from kube-a to slurm-a (draining kube-a): stopped at once (--now)")
               for m in messages)
    assert any("attempt 2 on slurm-a" in m for m in messages)


def test_migrate_waits_for_the_next_checkpoint(harness: Harness, tmp_path: Path) -> None:
    project = tmp_path / "runs"
    project.mkdir()
    job_id = _running_on_kube(harness, **{"batch: 16}": f"batch: 16, project: {project}, name: weld}}"})
    weights = project / "weld" / "weights"
    weights.mkdir(parents=True)
    _write_checkpoint(weights / "last.pt", 0)
    old = time.time() - 30
    os.utime(weights / "last.pt", (old, old))
    request_migration(harness.ctx, job_id, to_backend="slurm-a")
    for _ in range(5):
        harness.cycle()
    waiting = harness.ctx.store.get(job_id)
    assert waiting.state is JobState.RUNNING and waiting.backend == "kube-a" and waiting.migration is not None
    _write_checkpoint(weights / "last.pt", 1)
    moved = harness.until(job_id, lambda j: j.backend == "slurm-a" and j.state is JobState.RUNNING)
    assert any("after its checkpoint of epoch 2 (last.pt" in m for m in _messages(harness, job_id))
    assert moved.attempt == 2


def test_a_command_job_moves_at_once(harness: Harness) -> None:
    job = harness.submit("yolo-1gpu", **{"  yolo: {task: detect, model: yolov8n.pt, data: coco8.yaml, epochs: 3, "
                                         "imgsz: 640, batch: 16}": "  command: [sleep, '600']"})
    harness.backend("kube-a").script(job.id, LONG)
    harness.backend("slurm-a").script(job.id, LONG)
    running = harness.until(job.id, lambda j: j.state is JobState.RUNNING)
    request_migration(harness.ctx, job.id)
    moved = harness.until(job.id, lambda j: j.attempt == 2 and j.state is JobState.RUNNING)
    assert moved.backend != running.backend
    assert any("a command job writes no checkpoints" in m for m in _messages(harness, job.id))


def test_requests_that_cannot_be_carried_out_are_refused(harness: Harness) -> None:
    job = harness.submit()
    with pytest.raises(JobNotMovable, match="ACCEPTED"):
        request_migration(harness.ctx, job.id)
    job_id = _running_on_kube(harness)
    with pytest.raises(InvalidRequest, match="to_backend: no backend named 'nope'"):
        request_migration(harness.ctx, job_id, to_backend="nope")
    with pytest.raises(InvalidRequest, match="already on kube-a"):
        request_migration(harness.ctx, job_id, to_backend="kube-a")


def test_a_request_for_an_older_attempt_is_dropped(harness: Harness) -> None:
    job_id = _running_on_kube(harness)
    job = request_migration(harness.ctx, job_id, to_backend="slurm-a")
    stale = job.migration.__class__(**{**job.migration.__dict__, "attempt": 7}) if job.migration else None
    harness.ctx.store.update(job, "", Changes(migration=stale))
    harness.cycle()
    after = harness.ctx.store.get(job_id)
    assert after.migration is None and after.backend == "kube-a"
    assert any("migration request of attempt 7 dropped" in m for m in _messages(harness, job_id))
