"""The other two transports on the local cluster: slurmrestd (JWT) and the JSON CLI over SSH to a local sshd
(Debian's openssh-server, started by the fixture on a loopback port with a key made for the test)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dualtrack.adapters.base import BackendUnavailable
from dualtrack.adapters.slurm import SlurmBackend, from_config
from dualtrack.broker.domain import BackendPhase, FailureKind

from .conftest import TERMINAL, cli_settings, command_job, output_of, placement, wait_for

pytestmark = pytest.mark.slurm

REPORT = 'echo "rank=$NODE_RANK gpus=$CUDA_VISIBLE_DEVICES"; sleep 1'


def submit_observe_cancel(backend: SlurmBackend, env: dict[str, str]) -> None:
    """submit (twice: idempotent) -> observe to SUCCEEDED with the output; submit -> RUNNING -> cancel."""
    job = command_job(["bash", "-c", REPORT], resources={"workers": 2, "gpusPerWorker": 4, "gpuType": "a100",
                                                         "memoryPerWorker": "1Gi"})
    ref = backend.submit(job, placement())
    assert backend.submit(job, placement()) == ref
    seen = wait_for(backend, ref, TERMINAL)
    assert (seen.phase, seen.exit_code, len(seen.nodes)) == (BackendPhase.SUCCEEDED, 0, 2), seen
    assert sorted(output_of(env, ref).splitlines()) == ["rank=0 gpus=0,1,2,3", "rank=1 gpus=0,1,2,3"]

    long = backend.submit(command_job(["sleep", "300"], resources={"gpusPerWorker": 1}), placement())
    wait_for(backend, long, {BackendPhase.RUNNING})
    backend.cancel(long)
    cancelled = wait_for(backend, long, TERMINAL)
    assert (cancelled.phase, cancelled.failure) == (BackendPhase.CANCELLED, FailureKind.CANCELLED)
    backend.cancel(long)  # idempotent

    snap = backend.snapshot()
    assert (len(snap.nodes), snap.gpus_total) == (4, 32)
    assert snap.controller is not None and snap.controller.up and snap.controller.latency_s is not None
    assert snap.controller.backfill_mean_cycle_s is not None  # from diag (REST) / sdiag (CLI)


# ------------------------------------------------------------------------------------------------ REST
def rest_settings(env: dict[str, str], **rest: str) -> dict[str, object]:
    return {
        "transport": "rest",
        "rest": {"url": env["DUALTRACK_SLURM_REST_URL"], "user": env["DUALTRACK_SLURM_REST_USER"],
                 "tokenFile": env["DUALTRACK_SLURM_REST_TOKEN_FILE"],
                 "apiVersion": env.get("DUALTRACK_SLURM_REST_API_VERSION", "v0.0.38"), **rest},
        "outputDir": env["DUALTRACK_SLURM_OUTPUT_DIR"],
        "container": {"runtime": "none"},
    }


def test_rest_transport_submit_observe_cancel(slurm_env: dict[str, str]) -> None:
    backend = from_config("slurm-rest", rest_settings(slurm_env))
    submit_observe_cancel(backend, slurm_env)


def test_rest_transport_with_a_bad_token_is_unavailable(slurm_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jwt"
    bad.write_text("not-a-token\n")
    backend = from_config("slurm-rest", rest_settings(slurm_env, tokenFile=str(bad)))
    with pytest.raises(BackendUnavailable):
        backend.snapshot()


# ------------------------------------------------------------------------------------------------- SSH
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def local_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists() or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        pytest.skip("openssh-server/openssh-client not installed: run scripts/slurm/install.sh")
    home = tmp_path_factory.mktemp("sshd")
    for key in ("host_ed25519", "client_ed25519"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / key)], check=True)
    (home / "authorized_keys").write_text((home / "client_ed25519.pub").read_text())
    port = free_port()
    config = home / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {home}/host_ed25519\n"
        f"AuthorizedKeysFile {home}/authorized_keys\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PidFile {home}/sshd.pid\nLogLevel ERROR\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    with (home / "sshd.log").open("w") as log:
        proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=log)
        try:
            deadline = time.monotonic() + 10
            while not port_open(port):
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"sshd did not listen on {port}: {(home / 'sshd.log').read_text()}")
                time.sleep(0.05)
            yield {"host": "127.0.0.1", "port": port, "user": "root",
                   "identityFile": str(home / "client_ed25519"),
                   "options": ["StrictHostKeyChecking=no", f"UserKnownHostsFile={home}/known_hosts"]}
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_ssh_transport_submit_observe_cancel(slurm_env: dict[str, str], local_sshd: dict[str, object]) -> None:
    backend = from_config("slurm-ssh", cli_settings(slurm_env, transport="ssh", ssh=local_sshd))
    try:
        submit_observe_cancel(backend, slurm_env)
    finally:
        backend.close()


def test_ssh_transport_to_a_closed_port_is_unavailable(slurm_env: dict[str, str]) -> None:
    ssh = {"host": "127.0.0.1", "port": free_port(), "user": "root", "options": ["StrictHostKeyChecking=no"]}
    backend = from_config("slurm-ssh", cli_settings(slurm_env, transport="ssh", ssh=ssh))
    with pytest.raises(BackendUnavailable, match="ssh"):
        backend.snapshot()
    backend.close()
