"""The real broker for the Prometheus integration test: ``dualtrack serve`` fed with jobs over gRPC while
the test runs, on the local clusters (the real Slurm cluster of scripts/slurm/start.sh and a private
Kubernetes API simulator) when the Slurm cluster is up, else on two in-memory clusters.

``start_serve(workdir, backends)`` writes a config (the given backends, or ``slurm-a`` A100 and ``kube-a``
H100 in-memory backends; SQLite store, gRPC and metrics on free loopback ports), starts the process and
returns it with both addresses read from its banner. ``JobFeeder`` submits a stream of YAML specs through
the Broker service: valid jobs of 1 to 16 GPUs (more than the clusters hold at once, so some pend), a few
invalid ones, duplicates by idempotency key, and jobs with a short pending timeout so stuck ones are rerouted.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import grpc

from dualtrack.v1 import broker_pb2 as pb
from dualtrack.v1 import broker_pb2_grpc

TENANTS = ("vision-qa", "vision-rnd", "platform")
SPEC = """apiVersion: dualtrack/v1
kind: TrainingJob
metadata: {{name: {name}, tenant: {tenant}}}
spec:
  image: ultralytics/ultralytics:8.3.40
  yolo: {{task: detect, model: yolov8n.pt, data: coco8.yaml, epochs: 1}}
  resources: {{workers: {workers}, gpusPerWorker: {gpus}}}
  timeLimit: 10m
  reroute: {{pendingTimeout: 4s}}
"""
# On the local clusters: a command that really runs on Slurm (container runtime none) and a simulated pod.
COMMAND_SPEC = """apiVersion: dualtrack/v1
kind: TrainingJob
metadata: {{name: {name}, tenant: {tenant}}}
spec:
  image: docker.io/library/busybox:1.36
  command: [sleep, "2"]
  resources: {{workers: {workers}, gpusPerWorker: {gpus}, gpuType: a100, cpusPerWorker: 1, memoryPerWorker: 1Gi}}
  timeLimit: 10m
  reroute: {{pendingTimeout: 4s}}
"""
IN_MEMORY_BACKENDS = """  - name: slurm-a
    kind: inmemory
    settings: {track: slurm, nodes: 4, gpusPerNode: 8, gpuType: a100, runSeconds: 3}
  - name: kube-a
    kind: inmemory
    settings: {track: kubernetes, nodes: 2, gpusPerNode: 8, gpuType: h100, runSeconds: 4}
"""


def dualtrack_command() -> list[str]:
    script = Path(sys.executable).with_name("dualtrack")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dualtrack.broker.cli.main"]


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    grpc_address: str
    metrics_target: str
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_serve(workdir: Path, backends: str = IN_MEMORY_BACKENDS, timeout_s: float = 60.0) -> ServeProcess:
    """Start ``dualtrack serve``; raises RuntimeError with its log when it does not come up."""
    config = workdir / "config.yaml"
    config.write_text(f"""server: {{address: "127.0.0.1:0"}}
metrics: {{host: 127.0.0.1, port: 0}}
store: {{url: "sqlite:///{workdir / 'dualtrack.sqlite'}"}}
reconciler: {{intervalSeconds: 0.5}}
backends:
{backends}""")
    log = workdir / "serve.log"
    banner = workdir / "serve.out"
    process = subprocess.Popen([*dualtrack_command(), "serve", "--config", str(config), "--log-level", "warning"],
                               stdout=banner.open("w"), stderr=log.open("w"), text=True,
                               env={**os.environ, "COLUMNS": "200"})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = banner.read_text()
        grpc_match = re.search(r"listening on (127\.0\.0\.1:\d+)", text)
        metrics_match = re.search(r"http://(127\.0\.0\.1:\d+)/metrics", text)
        if grpc_match and metrics_match:
            return ServeProcess(process, grpc_match.group(1), metrics_match.group(1), log)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError(f"dualtrack serve did not start: {banner.read_text()}\n{log.read_text()[-3000:]}")


class JobFeeder:
    """Submits jobs to the broker on a background thread until ``stop()``; counts what it sent."""

    def __init__(self, grpc_address: str, seed: int = 8, interval_s: float = 0.3, spec: str = SPEC):
        self._spec = spec
        self._channel = grpc.insecure_channel(grpc_address)
        self._stub = broker_pb2_grpc.BrokerStub(self._channel)
        self._rng = random.Random(seed)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-feeder", daemon=True)
        self.sent: dict[str, int] = {"ok": 0, "invalid": 0, "duplicate": 0, "errors": 0}

    def start(self) -> JobFeeder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._channel.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            kind = self._rng.choices(("ok", "invalid", "duplicate"), (85, 8, 7))[0]
            gpus, workers = self._rng.choice(((1, 1), (2, 1), (4, 1), (8, 1), (4, 2), (8, 2)))
            spec = self._spec.format(name=f"job-{self._rng.randrange(10**6)}", tenant=self._rng.choice(TENANTS),
                               workers=workers, gpus=gpus)
            request = pb.SubmitJobRequest(spec_yaml=spec)
            if kind == "invalid":
                request = pb.SubmitJobRequest(spec_yaml=spec.replace("gpusPerWorker: ", "gpusPerWorker: -"))
            elif kind == "duplicate":
                request = pb.SubmitJobRequest(spec_yaml=self._spec.format(name="job-same", tenant="platform",
                                                                    workers=1, gpus=1),
                                              idempotency_key="prometheus-test-duplicate")
            try:
                self._stub.SubmitJob(request, timeout=10)
                self._stub.ListBackends(pb.ListBackendsRequest(), timeout=10)
                self.sent[kind] += 1
            except grpc.RpcError as error:
                self.sent["invalid" if error.code() == grpc.StatusCode.INVALID_ARGUMENT else "errors"] += 1
            self._stop.wait(self._interval_s)
