"""One container run as a local process: started from a thread (preparing may unpack an image), polled by the
kubelet's loop step, killed as a process group.

Caller: ``sim.kubeapi.kubelet.kubelet.ProcessKubelet``. ``PodProcess(prepare, log_path).start()`` runs
``prepare()`` in a thread (it returns the argv and environment, or raises: the container then ends with exit
code 128, reason ``StartError``, and the error goes to the log); ``launch()``, called from the simulator's
loop thread, spawns the prepared argv in a new session, stdout and stderr appended to ``log_path``. The loop
thread lives as long as the simulator, so bwrap's ``--die-with-parent`` (a death signal bound to the thread
that forked) kills the container only when the simulator goes. ``exited()`` returns (exit code, reason) once
the process ended by itself (a signal N gives 128+N, as container runtimes report it). ``kill(grace)`` sends
SIGTERM to the process group and SIGKILL ``grace`` seconds later (from ``reap``); a kill before the process
started cancels the start. ``reap()`` is True once nothing of it is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

START_ERROR_CODE = 128
Prepared = tuple[Sequence[str], Mapping[str, str]]


class PodProcess:
    """See the module docstring. Thread-safe."""

    def __init__(self, prepare: Callable[[], Prepared], log_path: Path, *, clock: Callable[[], float] = time.monotonic):
        self._prepare = prepare
        self.log_path = log_path
        self._clock = clock
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._start_error: str | None = None
        self._started = threading.Event()
        self._cancelled = False
        self._kill_at: float | None = None
        self._thread: threading.Thread | None = None
        self._prepared: Prepared | None = None

    def start(self) -> PodProcess:
        self._thread = threading.Thread(target=self._run, name=f"kubelet-{self.log_path.parent.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            prepared = self._prepare()
            with self._lock:
                self._prepared = prepared
        except Exception as exc:  # whatever prevents the start is the StartError
            self._fail_start(exc)
            self._started.set()

    def _fail_start(self, exc: Exception) -> None:
        with self._lock:
            self._start_error = str(exc) or type(exc).__name__
        with open(self.log_path, "a") as log:
            log.write(f"kubelet: the container could not start: {self._start_error}\n")

    def launch(self) -> None:
        """Spawn the prepared argv (from the loop thread); nothing before it is prepared, nothing twice."""
        with self._lock:
            if self._prepared is None or self._proc is not None or self._cancelled or self._start_error:
                return
            argv, env = self._prepared
            try:
                with open(self.log_path, "ab") as log:
                    self._proc = subprocess.Popen(list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=log,
                                                  stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as exc:
                self._start_error = str(exc)
                with open(self.log_path, "a") as text:
                    text.write(f"kubelet: the container could not start: {exc}\n")
            finally:
                self._started.set()

    @property
    def start_error(self) -> str | None:
        return self._start_error

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def exited(self) -> tuple[int, str] | None:
        """(exit code, reason) when the container ended by itself; None while it runs, starts or was killed."""
        with self._lock:
            if self._kill_at is not None or self._cancelled:
                return None
            if self._start_error is not None:
                return START_ERROR_CODE, "StartError"
            if self._proc is None:
                return None
            code = self._proc.poll()
        if code is None:
            return None
        if code < 0:
            return 128 - code, "Error"
        return code, "Completed" if code == 0 else "Error"

    def kill(self, grace: float) -> None:
        """SIGTERM to the process group now, SIGKILL after ``grace`` seconds (see ``reap``). Idempotent."""
        with self._lock:
            if self._kill_at is not None:
                return
            self._kill_at = self._clock() + grace
            if self._proc is None:
                self._cancelled = True
                return
            self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    def reap(self) -> bool:
        """True once the process is gone (after a kill: SIGKILL when the grace period has passed)."""
        with self._lock:
            if self._proc is None:
                return self._cancelled or self._start_error is not None
            if self._proc.poll() is not None:
                return True
            if self._kill_at is not None and self._clock() >= self._kill_at:
                self._signal(signal.SIGKILL)
            return self._proc.poll() is not None

    def wait_started(self, timeout: float) -> bool:
        return self._started.wait(timeout)
