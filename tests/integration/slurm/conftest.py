"""Fixtures of the Slurm integration tests: the local cluster of scripts/slurm/start.sh, adapters on it,
job builders and a poller. Every test here is marked ``slurm`` and skips when the cluster is not running."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dualtrack.adapters.slurm import SlurmBackend, from_config
from dualtrack.broker.domain import BackendPhase, BackendRef, Job, Observed, Placement, new_job_id, parse_spec

REPO = Path(__file__).resolve().parents[3]
STATE_DIR = Path(os.environ.get("DUALTRACK_SLURM_DIR", "/var/tmp/dualtrack-slurm"))
SKIP_MESSAGE = "local Slurm cluster is not running: run scripts/slurm/install.sh && scripts/slurm/start.sh"

pytestmark = pytest.mark.slurm


def read_env_file(path: Path) -> dict[str, str]:
    """The ``export K=V`` lines start.sh writes."""
    out = {}
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            out[key.strip()] = value.strip()
    return out


@pytest.fixture(scope="session")
def slurm_env() -> dict[str, str]:
    env_file = STATE_DIR / "env"
    if not env_file.exists():
        pytest.skip(f"{SKIP_MESSAGE} (no {env_file})")
    env = read_env_file(env_file)
    ping = subprocess.run(["scontrol", "ping"], env={**os.environ, "SLURM_CONF": env["SLURM_CONF"]},
                          capture_output=True, text=True, timeout=30, check=False)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        pytest.skip(f"{SKIP_MESSAGE} (scontrol ping: {ping.stdout.strip() or ping.stderr.strip()})")
    return env


def cli_settings(env: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "slurmConf": env["SLURM_CONF"],
        "partition": env.get("DUALTRACK_SLURM_PARTITION", "gpu"),
        "outputDir": env["DUALTRACK_SLURM_OUTPUT_DIR"],
        "container": {"runtime": "none"},
        **extra,
    }


@pytest.fixture(scope="session")
def backend(slurm_env: dict[str, str]) -> Iterator[SlurmBackend]:
    built = from_config("slurm-local", cli_settings(slurm_env))
    yield built
    # leave the shared cluster clean: cancel whatever this session's adapter started and did not finish
    for managed in built.managed():
        if managed.phase in (BackendPhase.PENDING, BackendPhase.RUNNING) and managed.job_id.startswith("jit"):
            built.cancel(managed.ref)
    built.close()


def command_job(command: list[str], *, env: dict[str, str] | None = None, **spec: Any) -> Job:
    """A command-style job with a fresh id (prefixed ``jit`` so clean-up finds only this suite's jobs)."""
    doc = {
        "apiVersion": "dualtrack/v1",
        "kind": "TrainingJob",
        "metadata": {"name": "it", "tenant": "it"},
        "spec": {"image": "busybox", "command": command, "env": env or {}, **spec},
    }
    return Job(id="jit" + new_job_id()[3:], spec=parse_spec(doc))


def placement() -> Placement:
    return Placement("slurm-local")


def wait_for(backend: SlurmBackend, ref: BackendRef, phases: set[BackendPhase], timeout: float = 60) -> Observed:
    """Poll observe() until the job reaches one of ``phases``; fails with the last observation."""
    deadline = time.monotonic() + timeout
    seen = backend.observe([ref])[ref]
    while seen.phase not in phases:
        if time.monotonic() > deadline:
            pytest.fail(f"{ref} still {seen.phase} ({seen.native_state} {seen.reason}) after {timeout:.0f}s")
        time.sleep(0.25)
        seen = backend.observe([ref])[ref]
    return seen


def output_of(env: dict[str, str], ref: BackendRef) -> str:
    return (Path(env["DUALTRACK_SLURM_OUTPUT_DIR"]) / f"slurm-{ref.native_id}.out").read_text()


TERMINAL = {BackendPhase.SUCCEEDED, BackendPhase.FAILED, BackendPhase.CANCELLED}
