"""scripts/kubesim/start.sh and stop.sh: background start on a chosen port, kubeconfig, idempotence, stop."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from dualtrack.adapters.volcano import from_config

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_start_stop_scripts(tmp_path: Path) -> None:
    env = {**os.environ, "DUALTRACK_KUBESIM_DIR": str(tmp_path), "DUALTRACK_KUBESIM_PORT": str(free_port())}

    def script(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(REPO / "scripts" / "kubesim" / name)], env=env, capture_output=True,
                              text=True, timeout=60, check=False)

    started = script("start.sh")
    try:
        assert started.returncode == 0, started.stderr
        pid = int((tmp_path / "kubesim.pid").read_text())
        again = script("start.sh")
        assert again.returncode == 0 and "already running" in again.stdout
        backend = from_config("kube-local", {"kubeconfig": str(tmp_path / "kubeconfig")})
        assert backend.snapshot().gpus_total == 32
    finally:
        stopped = script("stop.sh")
    assert stopped.returncode == 0 and f"stopped pid {pid}" in stopped.stdout
    assert not (tmp_path / "kubesim.pid").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
