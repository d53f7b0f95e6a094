"""The one small interface between the Slurm backend and a Slurm site, and how commands are run.

``SlurmTransport`` is implemented by ``CliTransport`` (the JSON CLI through a ``CommandRunner``: a local
subprocess or ``ssh host -- <cmd>`` to a login node) and ``RestTransport`` (slurmrestd with a JWT). Every
method raises ``BackendUnavailable`` when the controller cannot be reached and returns version-neutral records.
``submit`` raises ``SubmitRejected`` with Slurm's message when Slurm refuses the job.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from dualtrack.adapters.base import BackendUnavailable
from dualtrack.adapters.slurm.records import JobRecord, NodeRecord, PartitionRecord, SwitchRecord, TestOnlyResult
from dualtrack.adapters.slurm.render import BatchRequest
from dualtrack.adapters.slurm.settings import SshSettings
from dualtrack.broker.domain import ControllerHealth

# Slurm client messages that mean "could not talk to the controller" (transient), not "bad request".
UNREACHABLE_MARKERS = (
    "unable to contact slurm controller", "socket timed out", "connection refused", "zero bytes were transmitted",
    "transport endpoint", "slurm_persist_conn_open", "communications connection failure", "slurmctld not responding",
    "unable to connect", "connect failure", "protocol authentication error", "munge",
)


def looks_unreachable(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in UNREACHABLE_MARKERS)


class SlurmTransport(Protocol):
    def submit(self, request: BatchRequest) -> str: ...  # the new job id

    def test_only(self, request: BatchRequest) -> TestOnlyResult | None: ...  # None: not supported

    def jobs(self) -> list[JobRecord]: ...  # every job slurmctld holds (squeue)

    def history(self, job_ids: Sequence[str]) -> list[JobRecord]: ...  # from accounting / jobcomp

    def nodes(self) -> list[NodeRecord]: ...

    def partitions(self) -> list[PartitionRecord]: ...

    def topology(self) -> list[SwitchRecord]: ...  # [] where unknown

    def cancel(self, job_id: str) -> None: ...  # idempotent

    def list_dir(self, path: str) -> list[str]: ...  # file names; [] when absent or unreadable

    def controller(self) -> ControllerHealth: ...  # ping + diag; up=False when no slurmctld answers the ping

    def close(self) -> None: ...


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class CommandRunner(Protocol):
    def run(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult: ...

    def close(self) -> None: ...


def run_with_watchdog(
    argv: Sequence[str], stdin: str | None, timeout_s: float, env: Mapping[str, str] | None = None
) -> CommandResult | None:
    """Run ``argv`` (no shell), feeding ``stdin``; None when it had to be killed after ``timeout_s``.

    A timer thread kills the process at the deadline instead of ``subprocess.run(timeout=...)``, whose
    polling loop costs about 1 ms per call: a third of an ``sbatch`` on a small cluster."""
    process = subprocess.Popen(
        list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(env) if env is not None else None,
    )
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        process.kill()

    timer = threading.Timer(timeout_s, kill)
    timer.daemon = True
    timer.start()
    try:
        stdout, stderr = process.communicate(stdin if stdin is not None else "")
    finally:
        timer.cancel()
    if expired.is_set():
        return None
    return CommandResult(process.returncode, stdout, stderr)


class LocalRunner:
    """Runs Slurm commands here, with ``SLURM_CONF`` set when configured. Never through a shell."""

    def __init__(self, slurm_conf: str | None = None, timeout_s: float = 30.0):
        self._env: Mapping[str, str] = {**os.environ, **({"SLURM_CONF": slurm_conf} if slurm_conf else {})}
        self._timeout = timeout_s

    def run(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        try:
            done = run_with_watchdog(argv, stdin, self._timeout, self._env)
        except OSError as exc:
            raise BackendUnavailable(f"cannot run {argv[0]}: {exc}") from exc
        if done is None:
            raise BackendUnavailable(f"{argv[0]} did not answer within {self._timeout:g}s")
        return done

    def close(self) -> None:
        return None


class SshRunner:
    """Runs Slurm commands on a login node: ``ssh [-p port] [-i key] [user@]host -- <quoted argv>``.

    The remote shell sees only words this adapter made, each ``shlex.quote``-d; the sbatch script travels on
    stdin. One master connection is kept (ControlMaster) so each command costs a round trip, not a handshake.
    """

    def __init__(self, ssh: SshSettings, slurm_conf: str | None = None, timeout_s: float = 30.0):
        self._ssh = ssh
        self._slurm_conf = slurm_conf
        self._timeout = timeout_s
        self._control_dir = tempfile.mkdtemp(prefix="dualtrack-ssh-")
        target = f"{ssh.user}@{ssh.host}" if ssh.user else ssh.host
        self._base = [
            "ssh", "-p", str(ssh.port), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
            "-o", "ControlMaster=auto", "-o", f"ControlPath={self._control_dir}/cm", "-o", "ControlPersist=120",
            "-o", "LogLevel=ERROR",
        ]
        if ssh.identity_file:
            self._base += ["-i", ssh.identity_file, "-o", "IdentitiesOnly=yes"]
        for option in ssh.options:
            self._base += ["-o", option]
        self._target = target

    def remote_command(self, argv: Sequence[str]) -> str:
        prefix = ["env", f"SLURM_CONF={self._slurm_conf}"] if self._slurm_conf else []
        return " ".join(shlex.quote(word) for word in [*prefix, *argv])

    def run(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        command = [*self._base, self._target, "--", self.remote_command(argv)]
        try:
            done = run_with_watchdog(command, stdin, self._timeout)
        except OSError as exc:
            raise BackendUnavailable(f"cannot run ssh: {exc}") from exc
        if done is None:
            raise BackendUnavailable(f"ssh {self._target}: no answer within {self._timeout:g}s")
        if done.returncode == 255:
            raise BackendUnavailable(f"ssh {self._target} failed: {done.stderr.strip()[-300:]}")
        return CommandResult(done.returncode, done.stdout, done.stderr)

    def close(self) -> None:
        subprocess.run([*self._base, "-O", "exit", self._target], capture_output=True, timeout=10, check=False)
        try:
            os.rmdir(self._control_dir)
        except OSError:
            pass
