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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from adapters.base import BackendUnavailable
from adapters.slurm.records import JobRecord, NodeRecord, PartitionRecord, SwitchRecord, TestOnlyResult
from adapters.slurm.render import BatchRequest
from adapters.slurm.settings import SshSettings

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

    def close(self) -> None: ...


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class CommandRunner(Protocol):
    def run(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult: ...

    def close(self) -> None: ...


class LocalRunner:
    """Runs Slurm commands here, with ``SLURM_CONF`` set when configured. Never through a shell."""

    def __init__(self, slurm_conf: str | None = None, timeout_s: float = 30.0):
        self._env: Mapping[str, str] = {**os.environ, **({"SLURM_CONF": slurm_conf} if slurm_conf else {})}
        self._timeout = timeout_s

    def run(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        try:
            done = subprocess.run(
                list(argv), input=stdin, capture_output=True, text=True, env=dict(self._env),
                timeout=self._timeout, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BackendUnavailable(f"{argv[0]} did not answer within {self._timeout:g}s") from exc
        except OSError as exc:
            raise BackendUnavailable(f"cannot run {argv[0]}: {exc}") from exc
        return CommandResult(done.returncode, done.stdout, done.stderr)

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
            done = subprocess.run(command, input=stdin if stdin is not None else "", capture_output=True,
                                  text=True, timeout=self._timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BackendUnavailable(f"ssh {self._target}: no answer within {self._timeout:g}s") from exc
        except OSError as exc:
            raise BackendUnavailable(f"cannot run ssh: {exc}") from exc
        if done.returncode == 255:
            raise BackendUnavailable(f"ssh {self._target} failed: {done.stderr.strip()[-300:]}")
        return CommandResult(done.returncode, done.stdout, done.stderr)

    def close(self) -> None:
        subprocess.run([*self._base, "-O", "exit", self._target], capture_output=True, timeout=10, check=False)
        try:
            os.rmdir(self._control_dir)
        except OSError:
            pass
