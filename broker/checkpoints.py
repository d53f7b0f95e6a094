"""Where the broker sees a job's checkpoints, so ``dualtrack migrate`` can stop an attempt right after one.

Caller: the reconciler's migrate step. ``latest_checkpoint(job)`` returns the newest checkpoint of a YOLO job
whose run folder the broker can read (``<project>/<name>/weights/last.pt``, the folder ultralytics writes
to; the epoch is the number of rows of ``results.csv``), ``None`` when none is written yet, or raises
``CheckpointsNotVisible`` for a job whose checkpoints the broker cannot see (a command job, or a run folder
that is not an absolute path on a filesystem the broker shares): such a job is migrated at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dualtrack.broker.domain import Job


class CheckpointsNotVisible(Exception):
    """The broker cannot see this job's checkpoints (the message says why)."""


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    written_at: float  # mtime, epoch seconds
    epoch: int | None  # epochs completed, from results.csv, when readable


def run_dir(job: Job) -> Path:
    """The YOLO run folder of ``job``; raises CheckpointsNotVisible when it has none the broker can read."""
    yolo = job.spec.spec.yolo
    if yolo is None:
        raise CheckpointsNotVisible("a command job writes no checkpoints the broker knows of")
    if not yolo.project or not yolo.name or not Path(yolo.project).is_absolute():
        raise CheckpointsNotVisible("its run folder (yolo.project/yolo.name) is not an absolute path")
    folder = Path(yolo.project) / yolo.name
    if not Path(yolo.project).is_dir():
        raise CheckpointsNotVisible(f"{yolo.project} is not visible to the broker")
    return folder


def latest_checkpoint(job: Job) -> Checkpoint | None:
    """See the module docstring."""
    folder = run_dir(job)
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
