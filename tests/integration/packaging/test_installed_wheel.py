"""The built wheel installed into a fresh virtualenv outside the checkout runs the product's paths.

From a temporary folder (so nothing of the checkout is importable): ``dualtrack kubesim serve`` (its Volcano
CRDs from the package), ``dualtrack serve`` with the local clusters' configuration (the Slurm cluster of
scripts/slurm/start.sh and that simulator), a submit that reaches the simulator, and the package's ``sif-run``
running a command inside a SIF. Dependencies come from the package index (pip's cache makes reruns quick).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[3]
SLURM_DIR = Path(os.environ.get("DUALTRACK_SLURM_DIR", "/var/tmp/dualtrack-slurm"))
SIF_TOOLS = ("skopeo", "umoci", "mksquashfs", "siftool", "bwrap", "unshare")

# pip installs every dependency into the fresh venv: minutes when the machine is busy
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Installed:
    """A virtualenv holding only the wheel and its dependencies, used from ``home`` (outside the checkout)."""

    def __init__(self, venv: Path, home: Path):
        self.venv, self.home = venv, home
        clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DUALTRACK_CONFIG")}
        self.env = {**clean, "PATH": f"{venv / 'bin'}:{clean.get('PATH', '/usr/bin:/bin')}", "COLUMNS": "200",
                    "DUALTRACK_DATA_DIR": str(home / "data")}

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, env=self.env, cwd=self.home, timeout=timeout)

    def dualtrack(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.run(str(self.venv / "bin" / "dualtrack"), *args)
        assert done.returncode == 0, f"dualtrack {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done

    def start(self, log: Path, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([str(self.venv / "bin" / "dualtrack"), *args], stdout=log.open("wb"),
                                stderr=subprocess.STDOUT, env=self.env, cwd=self.home)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def installed(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installed")
    assert REPO not in base.parents
    venv, home = base / "venv", base / "home"
    home.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(built_wheel)], capture_output=True,
                          text=True, timeout=900)
    if done.returncode != 0:
        pytest.fail(f"pip install of the wheel failed:\n{done.stdout}\n{done.stderr}")
    return Installed(venv, home)


def test_the_installed_package_comes_from_the_virtualenv(installed: Installed) -> None:
    done = installed.run(str(installed.venv / "bin" / "python"), "-c",
                         "import dualtrack.broker, dualtrack.sim.kubeapi.server as s; print(dualtrack.broker.__file__);"
                         "print(s.DEFAULT_CRD_DIR)")
    assert done.returncode == 0, done.stderr
    module, crd_dir = done.stdout.splitlines()
    assert Path(module).is_relative_to(installed.venv) and Path(crd_dir).is_relative_to(installed.venv)
    assert sorted(p.name for p in Path(crd_dir).glob("*.yaml")) == [
        "batch.volcano.sh_jobs.yaml", "scheduling.volcano.sh_podgroups.yaml", "scheduling.volcano.sh_queues.yaml"]


@pytest.fixture
def kubesim(installed: Installed, tmp_path: Path) -> Iterator[Path]:
    kubeconfig = tmp_path / "kubeconfig"
    process = installed.start(tmp_path / "kubesim.log", "kubesim", "serve", "--port", "0", "--run-seconds", "60",
                              "--kubeconfig-out", str(kubeconfig))
    try:
        deadline = time.monotonic() + 60
        while not kubeconfig.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"kubesim did not start: {(tmp_path / 'kubesim.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield kubeconfig
    finally:
        stop(process)


def wait_serving(address: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"broker exited: {log.read_text()[-3000:]}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    pytest.fail(f"broker not SERVING after {timeout} s: {log.read_text()[-3000:]}")


def test_serve_with_the_local_clusters_and_submit_to_the_simulator(installed: Installed, kubesim: Path,
                                                                     tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"address": address}, "metrics": {"port": None},
        "store": {"url": f"sqlite:///{tmp_path / 'jobs.sqlite'}"}, "reconciler": {"intervalSeconds": 0.5},
        "backends": [
            {"name": "slurm-local", "kind": "slurm",
             "settings": {"transport": "cli", "partition": "gpu", "slurmConf": str(SLURM_DIR / "etc" / "slurm.conf"),
                          "outputDir": str(SLURM_DIR / "output"), "container": {"runtime": "none"}}},
            {"name": "kube-local", "kind": "volcano", "settings": {"kubeconfig": str(kubesim), "namespace": "default"}},
        ],
    }))
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({
        "apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "wheel-check", "tenant": "ci"},
        "spec": {"image": "docker.io/library/busybox:1.36", "command": ["sleep", "30"],
                 "resources": {"workers": 1, "gpusPerWorker": 1, "cpusPerWorker": 1, "memoryPerWorker": "1Gi"},
                 "placement": {"track": "kubernetes"}, "timeLimit": "5m"},
    }))
    log = tmp_path / "broker.log"
    broker = installed.start(log, "serve", "--config", str(config))
    try:
        wait_serving(address, broker, log)
        submitted = json.loads(installed.dualtrack("submit", str(job), "-a", address, "-o", "json").stdout)
        job_id = submitted["job"]["id"]
        deadline, state = time.monotonic() + 60, ""
        while time.monotonic() < deadline:
            got = json.loads(installed.dualtrack("get", job_id, "-a", address, "-o", "json").stdout)
            state = got.get("state", "")
            if state in ("SUBMITTED", "QUEUED", "RUNNING", "SUCCEEDED"):
                break
            assert state not in ("FAILED", "CANCELLED"), got
            time.sleep(0.5)
        assert state in ("SUBMITTED", "QUEUED", "RUNNING", "SUCCEEDED"), got
        assert got.get("backend") == "kube-local", got
        installed.dualtrack("cancel", job_id, "-a", address)
    finally:
        stop(broker)


def test_the_packaged_sif_run_runs_a_command_in_a_sif(installed: Installed, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("sif-run needs root (it loop-mounts the SIF)")
    absent = [tool for tool in SIF_TOOLS if shutil.which(tool) is None]
    if absent:
        pytest.skip(f"the SIF path needs {', '.join(absent)}")
    from tests.integration.images.conftest import build_rootfs

    marker = "only in the image\n"
    build_rootfs(tmp_path / "rootfs", marker)
    image = f"{tmp_path / 'layout'}:t"
    for argv in (["umoci", "init", "--layout", str(tmp_path / "layout")], ["umoci", "new", "--image", image],
                 ["umoci", "insert", "--image", image, str(tmp_path / "rootfs"), "/"],
                 ["umoci", "config", "--image", image, "--config.env", "PATH=/usr/bin:/bin"]):
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
    config = tmp_path / "images.yaml"
    config.write_text(yaml.safe_dump({"images": {"cacheDir": str(tmp_path / "sif"), "builder": "skopeo-umoci"}}))
    installed.dualtrack("image", "convert", "registry.example.local/wheel/check:1", "--source", f"oci:{image}",
                        "--config", str(config))
    (sif,) = (tmp_path / "sif").glob("*.sif")
    runner = installed.run(str(installed.venv / "bin" / "python"), "-c",
                           "from dualtrack.adapters.slurm.settings import DEFAULT_SIF_RUNNER as r; print(r)")
    sif_run = Path(runner.stdout.strip())
    assert sif_run.is_relative_to(installed.venv) and os.access(sif_run, os.X_OK), runner
    done = installed.run(str(sif_run), str(sif), "--", "/usr/bin/cat", "/opt/dualtrack-marker.txt")
    assert (done.returncode, done.stdout) == (0, marker), done.stderr
