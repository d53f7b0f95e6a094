"""The attempt fence, run inside a YOLO job's own Python processes (docs/yolo.md#fence).

The broker copies this file to ``<run dir>/.dualtrack/sitecustomize.py`` before it submits an attempt, writes
the attempt number to ``<run dir>/.dualtrack/attempt``, and the adapters put ``<run dir>/.dualtrack`` first on
the job's ``PYTHONPATH`` with ``DUALTRACK_ATTEMPT``, ``DUALTRACK_RUN_DIR`` and, for an attempt that resumes,
``DUALTRACK_RESUME_FROM`` (the checkpoint it resumes from). Python then imports it at start-up, and:

1. an attempt that a later one has replaced (the fence names a higher number) exits at once with
   ``FENCED_EXIT`` before it runs anything, as a late start after a controller restart would;
2. a resuming attempt drops the rows of ``results.csv`` after its checkpoint's epoch: an epoch the previous
   attempt finished and logged but never checkpointed (it was stopped between the two writes), which this
   attempt trains again. Done once per attempt (a marker file), by the first process that starts;
3. every later open for writing of a file inside the run directory checks the fence first; a replaced attempt
   exits with ``FENCED_EXIT`` before the file is touched (a Python audit hook: no ultralytics internals);
4. the ``sitecustomize`` this file shadows (Debian's, for example) is loaded as usual.

Without ``DUALTRACK_RUN_DIR`` and ``DUALTRACK_ATTEMPT`` nothing happens. Standard library only, Python 3.8+ (it
runs in the user's image). ``read_checkpoint_fields`` is also the broker's own reader of ``last.pt``
(``dualtrack.broker.checkpoints``): it unpickles with every class replaced by an inert stand-in, so no code of
the checkpoint runs and torch is not needed.
"""

from __future__ import annotations

import os
import pickle
import sys
import zipfile
from typing import Any

FENCED_EXIT = 75  # EX_TEMPFAIL: this attempt was replaced by a later one
FENCE_FOLDER = ".dualtrack"
FENCE_FILE = "attempt"
RESULTS_FILE = "results.csv"
LAST_CHECKPOINT = "weights/last.pt"
_SAFE_BUILTINS = {("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"),
                  ("builtins", "slice"), ("builtins", "complex"), ("datetime", "datetime")}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


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


def read_checkpoint_fields(path: str) -> Any:
    """The top-level object of a torch zip checkpoint (an ultralytics checkpoint is a dict). Raises ValueError
    for anything that is not a readable torch zip archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if name is None:
                raise ValueError(f"{path}: no data.pkl (not a torch checkpoint)")
            with archive.open(name) as raw:
                return _Unpickler(raw).load()
    except (OSError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


def fenced_attempt(run_dir: str) -> int | None:
    """The attempt the fence file names, or None when there is none (or it is unreadable)."""
    try:
        with open(os.path.join(run_dir, FENCE_FOLDER, FENCE_FILE), encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def trim_results(run_dir: str, checkpoint: str) -> int:
    """Drop the rows of ``results.csv`` after the checkpoint's epoch; returns how many were dropped."""
    try:
        fields = read_checkpoint_fields(checkpoint)
    except ValueError:
        return 0
    epoch = fields.get("epoch") if isinstance(fields, dict) else None
    if not isinstance(epoch, int) or epoch < 0:
        return 0
    path = os.path.join(run_dir, RESULTS_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines(keepends=True)
    except OSError:
        return 0
    kept = [line for index, line in enumerate(lines) if index == 0 or _row_epoch(line) <= epoch + 1]
    if len(kept) == len(lines):
        return 0
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.writelines(kept)
    os.replace(path + ".tmp", path)
    return len(lines) - len(kept)


def _row_epoch(line: str) -> float:
    try:
        return float(line.split(",", 1)[0])
    except ValueError:
        return 0.0  # not a data row: keep it


class Fence:
    """The fence of one attempt: ``check()`` exits the process when a later attempt has taken the run."""

    def __init__(self, run_dir: str, attempt: int) -> None:
        self.run_dir = os.path.abspath(run_dir)
        self.attempt = attempt
        self._prefix = self.run_dir.rstrip("/") + "/"

    def replaced_by(self) -> int | None:
        current = fenced_attempt(self.run_dir)
        return current if current is not None and current > self.attempt else None

    def check(self) -> None:
        later = self.replaced_by()
        if later is not None:
            message = (f"dualtrack: attempt {self.attempt} stops: attempt {later} has taken over {self.run_dir} "
                       f"(docs/yolo.md#fence)\n")
            os.write(2, message.encode())
            os._exit(FENCED_EXIT)

    def writes_inside(self, path: Any, mode: Any, flags: Any) -> bool:
        """Whether an ``open`` audit event writes a file inside the run directory."""
        if isinstance(path, int):
            return False
        try:
            name = os.path.abspath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        if not name.startswith(self._prefix) or name.startswith(self._prefix + FENCE_FOLDER + "/"):
            return False
        if isinstance(mode, str):
            return any(c in mode for c in "wax+")
        return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and len(args) == 3 and self.writes_inside(*args):
            self.check()


def install(environ: Any = os.environ) -> Fence | None:
    """Steps 1 to 3 of the module docstring for the attempt the environment names; None without one."""
    run_dir, attempt = environ.get("DUALTRACK_RUN_DIR"), environ.get("DUALTRACK_ATTEMPT")
    if not run_dir or not attempt or not attempt.isdigit():
        return None
    fence = Fence(run_dir, int(attempt))
    fence.check()
    resume = environ.get("DUALTRACK_RESUME_FROM")
    marker = os.path.join(fence.run_dir, FENCE_FOLDER, f"trimmed-{fence.attempt}")
    if resume and not os.path.exists(marker):
        dropped = trim_results(fence.run_dir, resume)
        if dropped:
            os.write(2, f"dualtrack: dropped {dropped} row(s) of {RESULTS_FILE} after the checkpoint\n".encode())
        try:
            with open(marker, "w", encoding="ascii") as handle:
                handle.write(f"{dropped}\n")
        except OSError:
            pass
    sys.addaudithook(fence.audit)
    return fence


def _load_shadowed() -> None:
    """Import the next ``sitecustomize`` on sys.path, which this file hides (step 4)."""
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if os.path.abspath(entry or ".") == here:
            continue
        candidate = os.path.join(entry or ".", "sitecustomize.py")
        if os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_dualtrack_shadowed_sitecustomize", candidate)
            if spec is not None and spec.loader is not None:
                try:
                    spec.loader.exec_module(importlib.util.module_from_spec(spec))
                except Exception:  # as site.py does: a failing sitecustomize does not stop Python
                    pass
            return


if __name__ == "sitecustomize":
    install()
    _load_shadowed()
