"""The broker image built from ./Dockerfile (scripts/image/build.sh: offline Debian base, buildah, no Docker)
runs its own ENTRYPOINT/CMD as uid 10001 on a read-only root filesystem and answers gRPC health SERVING.

The image's process (args, env, user, working directory) is taken from the runtime config umoci wrote for the
bundle, then run with bubblewrap: root bound read-only, tmpfs on /tmp and the /var/lib/dualtrack volume, the
test's config at /etc/dualtrack/config.yaml, the host network (the test connects to 127.0.0.1:<free port>).
The build is cached by input hash: unchanged inputs reuse the last image (see the script).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[3]
TOOLS = ("mmdebstrap", "buildah", "umoci", "bwrap")

# a build from scratch takes ~7 min on 2 cores (pip downloads every dependency inside the build)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def bundle() -> Path:
    if os.environ.get("DUALTRACK_IMAGE_BUNDLE"):  # an unpacked image made earlier (scripts/image/build.sh)
        return Path(os.environ["DUALTRACK_IMAGE_BUNDLE"])
    if os.geteuid() != 0:
        pytest.skip("the image build needs root (mmdebstrap, buildah with chroot isolation)")
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        pytest.skip(f"the image build needs {', '.join(absent)} (scripts/setup.sh installs them)")
    done = subprocess.run([str(REPO / "scripts" / "image" / "build.sh")], capture_output=True, text=True,
                          timeout=1800, cwd=REPO)
    assert done.returncode == 0, done.stderr[-5000:]
    outputs = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return Path(outputs["BUNDLE"])


def image_process(bundle: Path) -> dict:
    return json.loads((bundle / "config.json").read_text())["process"]


def test_the_image_runs_as_uid_10001_with_the_serve_command(bundle: Path) -> None:
    process = image_process(bundle)
    assert (process["user"]["uid"], process["user"]["gid"]) == (10001, 10001)
    assert process["args"] == ["/opt/dualtrack/bin/dualtrack", "serve", "--config", "/etc/dualtrack/config.yaml"]
    rootfs = bundle / "rootfs"
    assert (rootfs / "opt/dualtrack/bin/dualtrack").exists()
    site = next((rootfs / "opt/dualtrack/lib").glob("python3*/site-packages"))
    assert (site / "psycopg").is_dir(), "the postgres extra belongs in the image"
    assert not (site / "proto").exists() and (site / "dualtrack" / "v1").is_dir()


def test_serve_answers_health_on_a_read_only_root(bundle: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "config.yaml").write_text(yaml.safe_dump({
        "server": {"address": address}, "metrics": {"port": None},
        "backends": [{"name": "kube-a", "kind": "inmemory", "settings": {"track": "kubernetes"}}],
    }))  # the store: the default SQLite file under DUALTRACK_DATA_DIR=/var/lib/dualtrack (the image's volume)
    process = image_process(bundle)
    env = [part for item in process["env"] for part in ("--setenv", *item.split("=", 1))]
    argv = ["bwrap", "--ro-bind", str(bundle / "rootfs"), "/", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--tmpfs", "/var/lib/dualtrack", "--ro-bind", str(etc), "/etc/dualtrack",
            "--unshare-all", "--share-net", "--die-with-parent", "--clearenv", *env,
            "--uid", str(process["user"]["uid"]), "--gid", str(process["user"]["gid"]),
            "--chdir", process.get("cwd", "/"), *process["args"]]
    log = tmp_path / "broker.log"
    broker = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline, status = time.monotonic() + 90, None
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline and status != health_pb2.HealthCheckResponse.SERVING:
                assert broker.poll() is None, log.read_text()[-3000:]
                try:
                    status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                except grpc.RpcError:
                    time.sleep(0.3)
        assert status == health_pb2.HealthCheckResponse.SERVING, log.read_text()[-3000:]
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()
