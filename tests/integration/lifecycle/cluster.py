"""Shared by the lifecycle integration tests and bench/crash_recovery.py: the real backends (the local Slurm
cluster of scripts/slurm/start.sh and an in-process Kubernetes API simulator), ``dualtrack serve`` as a
process that can be killed with SIGKILL, a client that submits with idempotency keys and retries what was
not acknowledged, and counters of backend objects by name (``dt-<id>-<attempt>``).

Backend objects are counted where they cannot hide: on Slurm from ``sacct`` (slurmdbd keeps every job, also
cancelled and finished ones) united with ``squeue``; on the simulator every vcjob *creation* is counted as it
happens (a wrapper around the simulator's store), so an object created, deleted and created again counts 2.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dualtrack.sim.kubeapi.config import default_cluster, write_kubeconfig
from dualtrack.sim.kubeapi.server import KubeSim
from dualtrack.v1 import broker_pb2 as pb
from dualtrack.v1 import broker_pb2_grpc as pb_grpc

REPO = Path(__file__).resolve().parents[3]
SLURM_DIR = Path(os.environ.get("DUALTRACK_SLURM_DIR", "/var/tmp/dualtrack-slurm"))
SLURM_SKIP = "local Slurm cluster is not running: run scripts/slurm/install.sh && scripts/slurm/start.sh"
SLURM_BACKEND = "slurm-local"
KUBE_BACKEND = "kube-local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- Slurm ------------------------------------------------------------------------------------------
def slurm_env() -> dict[str, str] | None:
    """The environment for Slurm commands, or None when the local cluster does not answer."""
    env_file = SLURM_DIR / "env"
    if not env_file.exists() or shutil.which("scontrol") is None:
        return None
    env = dict(os.environ)
    for line in env_file.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            env[key.strip()] = value.strip()
    try:
        ok = subprocess.run(["scontrol", "ping"], env=env, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return env if ok.returncode == 0 and "UP" in ok.stdout else None


def slurm_run(env: dict[str, str], *args: str, check: bool = True, timeout: float = 30) -> str:
    result = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def slurm_objects(env: dict[str, str], since: float) -> Counter[str]:
    """Slurm jobs named ``dt-*`` submitted since ``since`` (epoch), by name: sacct (every job slurmdbd heard
    of, finished or not) united with squeue (the controller's view; slurmdbd may lag a little)."""
    by_id: dict[str, str] = {}
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(since - 60))
    out = slurm_run(env, "sacct", "-a", "-X", "-n", "-P", "-o", "JobID,JobName%200", "-S", start, "-E", "now",
                check=False)
    for line in out.splitlines():
        job_id, _, name = line.partition("|")
        if name.startswith("dt-"):
            by_id[job_id.strip()] = name.strip()
    for line in slurm_run(env, "squeue", "-h", "-a", "-t", "all", "-o", "%i|%j", check=False).splitlines():
        job_id, _, name = line.partition("|")
        if name.startswith("dt-"):
            by_id[job_id.strip()] = name.strip()
    return Counter(by_id.values())


def slurm_cancel_named(env: dict[str, str], job_ids: Iterable[str]) -> None:
    """scancel every Slurm job of these broker job ids (test cleanup)."""
    wanted = tuple(f"dt-{j}-" for j in job_ids)
    if not wanted:
        return
    ids = [line.partition("|")[0] for line in slurm_run(env, "squeue", "-h", "-o", "%i|%j", check=False).splitlines()
           if line.partition("|")[2].startswith(wanted)]
    for start in range(0, len(ids), 200):
        slurm_run(env, "scancel", *ids[start:start + 200], check=False)


# -- Kubernetes API simulator ------------------------------------------------------------------------
@dataclass
class SimHandle:
    sim: KubeSim
    kubeconfig: Path
    created: Counter[str] = field(default_factory=Counter)  # vcjob name -> creations

    def script(self, pattern: str, run_seconds: float | None = None, exit_code: int = 0, reason: str = "") -> None:
        from dualtrack.sim.kubeapi.controller import Script

        self.sim.controller.scripts.insert(0, Script(pattern, run_seconds, exit_code, reason))

    def stop(self) -> None:
        self.sim.stop()


def start_sim(folder: Path, run_seconds: float = 1.0) -> SimHandle:
    """An in-process simulator (4 nodes x 8 A100) on a free loopback port; every vcjob creation is counted."""
    sim = KubeSim(default_cluster(), port=0, default_run_seconds=run_seconds, tick_seconds=0.1).start()
    sim.httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]  # killed brokers
    kubeconfig = folder / "kubeconfig"
    write_kubeconfig(kubeconfig, sim.url, sim.token)
    handle = SimHandle(sim, kubeconfig)
    original = sim.store.create
    lock = threading.Lock()

    def counting_create(res: Any, namespace: str, obj: Any) -> Any:
        made = original(res, namespace, obj)
        if res.plural == "jobs" and res.group == "batch.volcano.sh":
            with lock:
                handle.created[made["metadata"]["name"]] += 1
        return made

    sim.store.create = counting_create  # type: ignore[method-assign]
    return handle


# -- the broker process ------------------------------------------------------------------------------
def broker_config(*, port: int, store_url: str, kubeconfig: Path | None, slurm: bool = True,
                  reconciler: dict[str, Any] | None = None, workers: int = 1,
                  kube_settings: dict[str, Any] | None = None,
                  slurm_settings: dict[str, Any] | None = None) -> dict[str, Any]:
    backends: list[dict[str, Any]] = []
    if slurm:
        backends.append({"name": SLURM_BACKEND, "kind": "slurm", "settings": {
            "transport": "cli", "partition": "gpu", "slurmConf": str(SLURM_DIR / "etc" / "slurm.conf"),
            "outputDir": str(SLURM_DIR / "output"), "container": {"runtime": "none"}, "commandTimeout": 20,
            **(slurm_settings or {})}})
    if kubeconfig is not None:
        backends.append({"name": KUBE_BACKEND, "kind": "volcano", "settings": {
            "kubeconfig": str(kubeconfig), "namespace": "default", "requestTimeoutSeconds": 10,
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            **(kube_settings or {})}})
    return {
        "server": {"address": f"127.0.0.1:{port}", "workers": workers},
        "metrics": {"port": None},
        "store": {"url": store_url},
        "reconciler": {"intervalSeconds": 0.5, "retryBackoffSeconds": 0, "missingGraceSeconds": 20,
                       "leaderLeaseSeconds": 3, "backendDownAfter": 2, **(reconciler or {})},
        "backends": backends,
    }


@dataclass
class Broker:
    """``dualtrack serve`` as a child process (its own session, so SIGKILL hits only the broker)."""

    config: dict[str, Any]
    folder: Path
    name: str = "broker"
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def address(self) -> str:
        return str(self.config["server"]["address"])

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until the health service says SERVING; returns the seconds it took."""
        path = self.folder / f"{self.name}.yaml"
        path.write_text(yaml.safe_dump(self.config))
        began = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "dualtrack.broker.cli.main", "serve",
                                             "--config", str(path)],
                                            stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.starts += 1
        with grpc.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() - began < timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(f"broker exited: {self.log.read_text()[-3000:]}")
                try:
                    if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == \
                            health_pb2.HealthCheckResponse.SERVING:
                        return time.monotonic() - began
                except grpc.RpcError:
                    time.sleep(0.05)
        raise RuntimeError(f"broker did not start in {timeout} s: {self.log.read_text()[-3000:]}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        """SIGKILL the broker's process group (the API workers die with it; an sbatch in flight may not)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


def job_yaml(name: str, track: str, command: str = "true", time_limit: str = "5m", extra: str = "",
             workers: int = 1, gpus: int | None = None) -> str:
    """A short command job for ``track`` (slurm, kubernetes or auto). Unless ``gpus`` says otherwise it asks
    for no GPU on Slurm and one elsewhere (the simulator's nodes are all tainted GPU nodes; the adapter adds
    the toleration to GPU pods only)."""
    if gpus is None:
        gpus = 0 if track == "slurm" else 1
    return (
        "apiVersion: dualtrack/v1\nkind: TrainingJob\n"
        f"metadata: {{name: {name}, tenant: lifecycle}}\n"
        "spec:\n  image: busybox:1.36\n"
        f"  command: [bash, -c, {command!r}]\n"
        f"  resources: {{workers: {workers}, gpusPerWorker: {gpus}, cpusPerWorker: 1, memoryPerWorker: 1Gi}}\n"
        f"  placement: {{track: {track}}}\n  timeLimit: {time_limit}\n{extra}"
    )


# -- clients -----------------------------------------------------------------------------------------
class Client:
    """gRPC calls to any of ``addresses`` (the first that answers), each call retried until it succeeds."""

    def __init__(self, addresses: list[str]):
        self.addresses = addresses
        self._channels = [grpc.insecure_channel(a) for a in addresses]
        self.stubs = [pb_grpc.BrokerStub(c) for c in self._channels]

    def call(self, method: str, request: Any, give_up: float = 120.0) -> Any:
        deadline = time.monotonic() + give_up
        turn = 0
        while True:
            stub = self.stubs[turn % len(self.stubs)]
            try:
                return getattr(stub, method)(request, timeout=5)
            except grpc.RpcError as exc:
                if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                                      grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN) \
                        or time.monotonic() > deadline:
                    raise
                turn += 1
                time.sleep(0.05)

    def submit(self, text: str, key: str) -> Any:
        return self.call("SubmitJob", pb.SubmitJobRequest(spec_yaml=text, idempotency_key=key))

    def get(self, job_id: str) -> Any:
        return self.call("GetJob", pb.GetJobRequest(id=job_id))

    def cancel(self, job_id: str) -> Any:
        return self.call("CancelJob", pb.CancelJobRequest(id=job_id))

    def close(self) -> None:
        for channel in self._channels:
            channel.close()


@dataclass
class Burst:
    """Submits ``total`` jobs (alternating tracks) from ``threads`` client threads at about ``rate`` per second.
    A submission counts as acknowledged only when the broker answered it; one that failed (the broker died
    under it) is sent again with the same idempotency key until it is acknowledged."""

    client: Client
    total: int
    tracks: tuple[str, ...] = ("slurm", "kubernetes")
    rate: float = 50.0
    threads: int = 4
    make_text: Callable[[int, str], str] = lambda i, track: job_yaml(f"burst-{i}", track)
    acked: dict[str, str] = field(default_factory=dict)  # idempotency key -> job id
    retried: int = 0
    duplicates_answered: int = 0
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key(self, i: int) -> str:
        return f"burst-{i}"

    def run(self) -> None:
        started = time.monotonic()
        queue = iter(range(self.total))
        queue_lock = threading.Lock()

        def worker() -> None:
            while True:
                with queue_lock:
                    i = next(queue, None)
                if i is None:
                    return
                due = started + i / self.rate
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
                track = self.tracks[i % len(self.tracks)]
                text = self.make_text(i, track)
                while True:
                    try:
                        reply = self.client.stubs[i % len(self.client.stubs)].SubmitJob(
                            pb.SubmitJobRequest(spec_yaml=text, idempotency_key=self.key(i)), timeout=5)
                    except grpc.RpcError as exc:
                        if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                                              grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN):
                            with self._lock:
                                self.errors.append(f"{self.key(i)}: {exc.code()} {exc.details()}")
                            break
                        with self._lock:
                            self.retried += 1
                        time.sleep(0.1)
                        continue
                    with self._lock:
                        self.acked[self.key(i)] = reply.job.id
                        self.duplicates_answered += int(reply.duplicate)
                    break

        workers = [threading.Thread(target=worker, daemon=True) for _ in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
