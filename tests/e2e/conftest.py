"""Start ``dualtrack serve`` as a real process on a free port and talk to it over a real socket.

The backends are the in-memory test double (tests of the real Slurm and Kubernetes tracks live in
tests/integration); what is under test here is the broker process: CLI, gRPC, store, reconciler.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BrokerProcess:
    address: str
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dualtrack.broker.cli.main", "serve", "--config", str(self.config)],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, cwd=REPO,
        )
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"broker exited: {self.log.read_text()[-3000:]}")
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    time.sleep(0.1)
        raise RuntimeError(f"broker did not start in {timeout} s: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cli(self, *args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DUALTRACK_ADDRESS": self.address, "COLUMNS": "200"}
        result = subprocess.run([sys.executable, "-m", "dualtrack.broker.cli.main", *args], capture_output=True,
                                text=True, env=env, cwd=REPO, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"dualtrack {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n"
                                 f"{result.stderr}")
        return result


def write_config(path: Path, port: int, store: Path, run_seconds: float = 1.0, extra: dict | None = None) -> None:
    config = {
        "server": {"address": f"127.0.0.1:{port}"},
        "metrics": {"port": None},
        "store": {"url": f"sqlite:///{store}"},
        "reconciler": {"intervalSeconds": 0.3, "retryBackoffSeconds": 0},
        "backends": [
            {"name": "slurm-a", "kind": "inmemory", "settings": {"track": "slurm", "runSeconds": run_seconds}},
            {"name": "kube-a", "kind": "inmemory",
             "settings": {"track": "kubernetes", "nodes": 8, "gpusPerNode": 1, "runSeconds": run_seconds}},
        ],
        **(extra or {}),
    }
    path.write_text(yaml.safe_dump(config))


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[Callable[..., BrokerProcess]]:
    started: list[BrokerProcess] = []

    def make(run_seconds: float = 1.0, extra: dict | None = None) -> BrokerProcess:
        port = free_port()
        config = tmp_path / f"config-{port}.yaml"
        write_config(config, port, tmp_path / "jobs.sqlite", run_seconds, extra)
        broker = BrokerProcess(f"127.0.0.1:{port}", config, tmp_path / f"broker-{port}.log")
        broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


@pytest.fixture
def broker(make_broker: Callable[..., BrokerProcess]) -> BrokerProcess:
    return make_broker()
