"""YOLO run directories on the backends' checkpoint roots, and reading an ultralytics checkpoint without torch.

See docs/yolo.md#checkpoints and #resume. ``output_dir(job, backend)`` is the host path of a YOLO job's run
directory (``<checkpointRoot>/<tenant>/<job id>`` unless the user chose project/name elsewhere), the same for
every attempt. ``read_checkpoint(path)`` reads the few scalars the broker needs from ``weights/last.pt``
(a torch zip archive whose ``data.pkl`` is a pickle) with a restricted unpickler: no torch import, no code of the
checkpoint runs (every class it names becomes an inert stand-in, tensors are not loaded).
``resume_point(job, backend)`` says whether a new attempt resumes, and from which epoch.
``latest_checkpoint(job, backend)`` is the newest ``last.pt`` of a running job, for ``dualtrack migrate``'s
"after the next checkpoint" (docs/lifecycle.md#migration); it raises ``CheckpointsNotVisible`` for a job whose
checkpoints the broker cannot see (a command job, no checkpoint root, a folder it does not share).
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dualtrack.adapters.base import Backend, CheckpointHolder
from dualtrack.broker.domain import Job
from dualtrack.broker.domain.launch import CHECKPOINT_MOUNT, host_run_dir, yolo_run

LAST_CHECKPOINT = "weights/last.pt"
_SAFE_BUILTINS = {("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"),
                  ("builtins", "slice"), ("builtins", "complex"), ("datetime", "datetime")}


class CheckpointUnreadable(ValueError):
    """The file is not an ultralytics checkpoint this reader understands."""


@dataclass(frozen=True)
class CheckpointInfo:
    """``epoch``: the last finished epoch, 0-based (-1 once ultralytics stripped a finished run);
    ``epochs``: the run's total; ``has_optimizer``: optimizer state kept (only in an unfinished run)."""

    epoch: int
    epochs: int | None
    has_optimizer: bool

    @property
    def resumable(self) -> bool:
        """What ultralytics' trainer accepts for resume: an unfinished run with its optimizer state."""
        if not self.has_optimizer or self.epoch < 0:
            return False
        return self.epochs is None or self.epoch + 1 < self.epochs

    @property
    def next_epoch(self) -> int:
        """The 1-based epoch a resumed run starts with (ultralytics' own count in its log)."""
        return self.epoch + 2


class _Inert:
    """Stands in for any class a checkpoint names (models, tensors, namespaces)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert(*args)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_BUILTINS:
            return super().find_class(module, name)
        return _Inert

    def persistent_load(self, pid: Any) -> Any:
        return None  # tensor storages stay in the archive


def read_checkpoint(path: Path) -> CheckpointInfo:
    """Read ``epoch``, ``train_args.epochs`` and whether ``optimizer`` is set. Raises CheckpointUnreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if name is None:
                raise CheckpointUnreadable(f"{path}: no data.pkl (not a torch checkpoint)")
            with archive.open(name) as raw:
                data = _Unpickler(raw).load()
    except (OSError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as exc:
        raise CheckpointUnreadable(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("epoch"), int):
        raise CheckpointUnreadable(f"{path}: no integer 'epoch' (not an ultralytics checkpoint)")
    train_args = data.get("train_args")
    epochs = train_args.get("epochs") if isinstance(train_args, dict) else None
    return CheckpointInfo(epoch=data["epoch"], epochs=epochs if isinstance(epochs, int) else None,
                          has_optimizer=data.get("optimizer") is not None)


def output_dir(job: Job, backend: Backend | None) -> str | None:
    """The host path of a YOLO job's run directory on ``backend``; None for command jobs, before placement,
    without a checkpoint root, or when the user's project lies outside /checkpoints."""
    run = yolo_run(job)
    if run is None or backend is None or not isinstance(backend, CheckpointHolder):
        return None
    root = backend.checkpoint_root
    return host_run_dir(run, root) if root else None


@dataclass(frozen=True)
class ResumePoint:
    """A new attempt resumes from ``container_path`` (as the job sees it); ``info`` read from the file."""

    container_path: str
    host_path: str
    info: CheckpointInfo


def resume_point(job: Job, backend: Backend) -> tuple[ResumePoint | None, str]:
    """Whether this attempt of a YOLO job resumes, with the reason either way (for the job's events).

    Only an unfinished checkpoint is resumed; a finished run (ultralytics strips it) or an unreadable file is
    not, and the attempt trains from the start. Never raises for a missing or bad file."""
    run = yolo_run(job)
    host = output_dir(job, backend)
    if run is None or host is None:
        return None, "no run directory on this backend"
    path = Path(host) / LAST_CHECKPOINT
    if not path.is_file():
        return None, f"no checkpoint at {path}"
    try:
        info = read_checkpoint(path)
    except CheckpointUnreadable as exc:
        return None, f"checkpoint not readable ({exc})"
    if not info.resumable:
        return None, f"{path} is a finished run (epoch {info.epoch}), not resumed"
    return ResumePoint(f"{run.run_dir}/{LAST_CHECKPOINT}", str(path), info), (
        f"resuming from epoch {info.next_epoch}" + (f" of {info.epochs}" if info.epochs else "") + f" ({path})")


class CheckpointsNotVisible(Exception):
    """The broker cannot see this job's checkpoints (the message says why)."""


@dataclass(frozen=True)
class Checkpoint:
    """The newest ``last.pt`` of a run: when it was written and the epochs finished (1-based, when readable)."""

    path: Path
    written_at: float
    epochs_done: int | None


def host_run_folder(job: Job, backend: Backend | None) -> Path:
    """The run directory as the broker sees it: ``output_dir`` on the backend's checkpoint root, or the user's
    own absolute project outside /checkpoints. Raises CheckpointsNotVisible."""
    run = yolo_run(job)
    if run is None:
        raise CheckpointsNotVisible("a command job writes no checkpoints the broker knows of")
    host = output_dir(job, backend)
    if host is None and run.run_dir.startswith(CHECKPOINT_MOUNT + "/"):
        raise CheckpointsNotVisible(f"its backend has no checkpointRoot for {CHECKPOINT_MOUNT}")
    folder = Path(host or run.run_dir)
    root = folder.parent
    if not folder.is_absolute() or not root.is_dir():
        raise CheckpointsNotVisible(f"its run folder {folder} is not visible to the broker")
    return folder


def latest_checkpoint(job: Job, backend: Backend | None) -> Checkpoint | None:
    """See the module docstring; None while no checkpoint is written."""
    path = host_run_folder(job, backend) / LAST_CHECKPOINT
    try:
        written = path.stat().st_mtime
    except OSError:
        return None
    try:
        done: int | None = read_checkpoint(path).epoch + 1
    except CheckpointUnreadable:
        done = None
    return Checkpoint(path, written, done if done and done > 0 else None)
