"""Where the broker sees a job's checkpoints, so ``dualtrack migrate`` can stop an attempt right after one.

Caller: the reconciler's migrate step. ``host_run_folder(job, checkpoint_root)`` is a YOLO job's run folder
(``broker.domain.launch.yolo_run``) on the broker's filesystem: under ``/checkpoints`` it is translated with
the backend's ``checkpoint_root`` (``CheckpointStorage``, docs/yolo.md); a user's absolute ``project`` is
taken as is. ``latest_checkpoint(job, checkpoint_root)`` returns the newest ``weights/last.pt`` there
(ultralytics rewrites it every epoch; the epoch is the row count of ``results.csv``), None when none is
written yet, or raises ``CheckpointsNotVisible`` for a job whose checkpoints the broker cannot see (a command
job, no checkpoint root, a folder the broker does not share): such a job is migrated at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from dualtrack.broker.domain import Job
from dualtrack.broker.domain.launch import CHECKPOINT_MOUNT, host_run_dir, yolo_run


@runtime_checkable
class CheckpointStorage(Protocol):
    """A backend whose jobs mount a host folder at /checkpoints (Slurm and Volcano adapters)."""

    @property
    def checkpoint_root(self) -> str | None: ...


class CheckpointsNotVisible(Exception):
    """The broker cannot see this job's checkpoints (the message says why)."""


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    written_at: float  # mtime, epoch seconds
    epoch: int | None  # epochs completed, from results.csv, when readable


def host_run_folder(job: Job, checkpoint_root: str | None) -> Path:
    """See the module docstring; raises CheckpointsNotVisible."""
    run = yolo_run(job)
    if run is None:
        raise CheckpointsNotVisible("a command job writes no checkpoints the broker knows of")
    if run.run_dir.startswith(CHECKPOINT_MOUNT + "/"):
        if not checkpoint_root:
            raise CheckpointsNotVisible(f"its backend has no checkpointRoot for {CHECKPOINT_MOUNT}")
        folder = Path(host_run_dir(run, checkpoint_root) or "")
        root = Path(checkpoint_root)
    else:
        folder = Path(run.run_dir)
        root = Path(run.project)
    if not folder.is_absolute() or not root.is_dir():
        raise CheckpointsNotVisible(f"its run folder {folder} is not visible to the broker")
    return folder


def latest_checkpoint(job: Job, checkpoint_root: str | None) -> Checkpoint | None:
    """See the module docstring."""
    folder = host_run_folder(job, checkpoint_root)
    last = folder / "weights" / "last.pt"
    try:
        written = last.stat().st_mtime
    except OSError:
        return None
    epoch = None
    try:
        rows = [line for line in (folder / "results.csv").read_text().splitlines()[1:] if line.strip()]
        epoch = len(rows)
    except OSError:
        pass
    return Checkpoint(last, written, epoch)
