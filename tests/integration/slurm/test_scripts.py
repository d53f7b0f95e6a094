"""scripts/slurm/*.sh on the running local cluster: idempotent start, status, and the env file contract."""

from __future__ import annotations

import os
import subprocess

import pytest

from .conftest import REPO, STATE_DIR

pytestmark = pytest.mark.slurm


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "scripts" / "slurm" / script), *args], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "DUALTRACK_SLURM_DIR": str(STATE_DIR)})


def test_start_again_changes_nothing_and_status_is_clean(slurm_env: dict[str, str]) -> None:
    started = run("start.sh")
    assert started.returncode == 0, started.stderr
    for daemon in ("munged", "mariadb", "slurmdbd", "slurmctld", "slurmd n1", "slurmd n4", "slurmrestd"):
        assert f"{daemon} already running" in started.stdout
    assert "nodes ready: n1=" in started.stdout
    status = run("status.sh")
    assert status.returncode == 0, status.stdout
    assert "STOPPED" not in status.stdout


def test_env_file_names_every_variable_the_adapters_use(slurm_env: dict[str, str]) -> None:
    for key in ("SLURM_CONF", "DUALTRACK_SLURM_OUTPUT_DIR", "DUALTRACK_SLURM_REST_URL",
                "DUALTRACK_SLURM_REST_TOKEN_FILE", "DUALTRACK_SLURM_REST_USER", "DUALTRACK_SLURM_PARTITION"):
        assert slurm_env.get(key), key
    assert os.path.isfile(slurm_env["SLURM_CONF"]) and os.path.isdir(slurm_env["DUALTRACK_SLURM_OUTPUT_DIR"])


def test_stop_refuses_unknown_components() -> None:
    refused = run("stop.sh", "everything")
    assert refused.returncode == 2 and "unknown component" in refused.stderr


def test_every_slurm_daemon_works_in_the_state_folder(slurm_env: dict[str, str]) -> None:
    """No daemon keeps the folder start.sh was run from as its working folder: a checkout deleted while the
    cluster runs made slurmrestd fail every job submission (``getcwd failed``)."""
    pid_files = sorted((STATE_DIR / "run").glob("slurm*.pid"))
    assert {p.stem for p in pid_files} >= {"slurmctld", "slurmdbd", "slurmrestd", "slurmd-n1"}
    for pid_file in pid_files:
        cwd = os.readlink(f"/proc/{pid_file.read_text().split()[0]}/cwd")
        assert cwd.startswith(str(STATE_DIR)), (pid_file.stem, cwd)
