from __future__ import annotations

import shlex

import pytest

from dualtrack.adapters.base import BackendUnavailable
from dualtrack.adapters.slurm.settings import SshSettings
from dualtrack.adapters.slurm.transport import LocalRunner, SshRunner, looks_unreachable, run_with_watchdog


def test_watchdog_returns_output_and_kills_at_the_deadline() -> None:
    done = run_with_watchdog(["cat"], "script on stdin", 10)
    assert done is not None and (done.returncode, done.stdout) == (0, "script on stdin")
    assert run_with_watchdog(["sleep", "5"], None, 0.2) is None


def test_local_runner_sets_slurm_conf_and_maps_failures() -> None:
    runner = LocalRunner(slurm_conf="/etc/x/slurm.conf", timeout_s=0.3)
    assert runner.run(["sh", "-c", 'printf %s "$SLURM_CONF"']).stdout == "/etc/x/slurm.conf"
    with pytest.raises(BackendUnavailable, match="did not answer"):
        runner.run(["sleep", "5"])
    with pytest.raises(BackendUnavailable, match="cannot run"):
        runner.run(["/nonexistent/sbatch"])


def test_ssh_remote_command_quotes_every_word() -> None:
    runner = SshRunner(SshSettings(host="login1"), slurm_conf="/etc/slurm/slurm.conf")
    try:
        command = runner.remote_command(["scancel", "1; rm -rf /", "$(id)"])
        assert shlex.split(command) == ["env", "SLURM_CONF=/etc/slurm/slurm.conf", "scancel", "1; rm -rf /", "$(id)"]
    finally:
        runner.close()


@pytest.mark.parametrize(
    ("message", "unreachable"),
    [("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)", True),
     ("squeue: error: slurm_receive_msg: Socket timed out on send/recv operation", True),
     ("sbatch: error: Batch job submission failed: Requested node configuration is not available", False),
     ("sbatch: error: Batch job submission failed: Invalid account or account/partition combination", False)],
)
def test_unreachable_versus_refused(message: str, unreachable: bool) -> None:
    assert looks_unreachable(message) is unreachable
