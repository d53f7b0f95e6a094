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

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from dualtrack.adapters.base import Backend
from dualtrack.broker.domain import Job
from dualtrack.broker.domain.launch import CHECKPOINT_MOUNT, host_run_dir, yolo_run
from dualtrack.broker.jobside import fence as fence_module
from dualtrack.broker.jobside.fence import FENCE_FILE, FENCE_FOLDER, fenced_attempt, read_checkpoint_fields

LAST_CHECKPOINT = "weights/last.pt"


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


def read_checkpoint(path: Path) -> CheckpointInfo:
    """Read ``epoch``, ``train_args.epochs`` and whether ``optimizer`` is set. Raises CheckpointUnreadable."""
    try:
        data = read_checkpoint_fields(str(path))
    except ValueError as exc:
        raise CheckpointUnreadable(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("epoch"), int):
        raise CheckpointUnreadable(f"{path}: no integer 'epoch' (not an ultralytics checkpoint)")
    train_args = data.get("train_args")
    epochs = train_args.get("epochs") if isinstance(train_args, dict) else None
    return CheckpointInfo(epoch=data["epoch"], epochs=epochs if isinstance(epochs, int) else None,
                          has_optimizer=data.get("optimizer") is not None)


def output_dir(job: Job, backend: Backend | None) -> str | None:
    """The host path of a YOLO job's run directory on ``backend``; None for command jobs, before placement,
    without a checkpoint root, or when the user's project lies outside /checkpoints."""
    root = checkpoint_root(backend)
    if not root:  # before placement: no backend, so no run to look up
        return None
    run = yolo_run(job)
    return host_run_dir(run, root) if run is not None else None


def checkpoint_root(backend: Backend | None) -> str | None:
    """The backend's ``checkpoint_root`` (the CheckpointHolder capability), None without one. Looked up
    directly: isinstance against a runtime Protocol costs ~9 us, and ListJobs asks for every job of a page."""
    return getattr(backend, "checkpoint_root", None) if backend is not None else None


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


def write_fence(job: Job, backend: Backend) -> str | None:
    """Fence the run folder for this attempt of a YOLO job (docs/yolo.md#fence): put the job-side hook
    (``dualtrack.broker.jobside.fence``) in ``<run>/.dualtrack/sitecustomize.py`` and raise the attempt number
    in ``<run>/.dualtrack/attempt`` to ``job.attempt`` (never lower it). Returns None when fenced, else why not
    (a command job, a run folder the broker cannot see or write); never raises."""
    host, root_path = output_dir(job, backend), checkpoint_root(backend)
    if host is None or root_path is None:
        return "no run folder under a checkpoint root of this backend"
    root = Path(root_path)
    try:
        if not root.is_dir():
            return f"its checkpoint root {root} is not visible to the broker"
        folder = Path(host) / FENCE_FOLDER
        _make_folders(folder, root)
        hook = _hook_source()
        target = folder / "sitecustomize.py"
        if not target.is_file() or target.read_bytes() != hook:
            _replace(target, hook)
        current = fenced_attempt(str(folder.parent))
        if current is None or current < job.attempt:
            _replace(folder / FENCE_FILE, f"{job.attempt}\n".encode())
    except OSError as exc:
        return f"cannot write its fence: {exc}"
    return None


@functools.cache
def _hook_source() -> bytes:
    """The job-side hook's source, read once per broker process (every YOLO dispatch copies it)."""
    return Path(fence_module.__file__).read_bytes()


def _make_folders(folder: Path, root: Path) -> None:
    """Create ``folder`` and its missing parents below ``root`` with the root's permission bits, so that the
    job, which may run as another user than the broker, can write its run folder as it could the root."""
    missing = [p for p in (folder, *folder.parents) if p != root and root in p.parents and not p.exists()]
    mode = root.stat().st_mode & 0o7777
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        os.chmod(path, mode)


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees the old or the new content, never a part)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
