"""A stand-in broker for the Prometheus integration test: BrokerMetrics fed by two in-memory clusters.

Run as a process: ``python activity_driver.py`` prints ``PORT <n>`` (its /metrics port on 127.0.0.1), then
plays broker until terminated: submits jobs over a real loopback gRPC server (through the metrics
interceptor), places them on ``slurm-a`` (A100) or ``kube-a`` (H100) in-memory backends, follows them to
running and finished, retries infra failures, reroutes jobs pending too long, publishes snapshots (and a
third backend ``slurm-b`` that is down), times the reconciler steps (``zombies`` fails now and then) and
converts images. The in-memory backends accept jobs in microseconds, so scheduling latencies are drawn
from a distribution with a tail above the 10 s SLO; everything else is measured.

Used until ``dualtrack serve`` exists; the test then drives the real broker instead.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import sys
import threading
import time
from collections import Counter
from concurrent import futures
from dataclasses import dataclass, replace

import grpc

from dualtrack.adapters.base import BackendUnavailable, SubmitRejected
from dualtrack.adapters.inmemory import InMemoryBackend, Outcome
from dualtrack.broker.domain import (
    BackendPhase,
    BackendRef,
    ClusterSnapshot,
    ControllerHealth,
    FailureKind,
    Job,
    JobState,
    Placement,
    new_job_id,
    parse_spec,
)
from dualtrack.broker.metrics import BrokerMetrics

SERVICE = "dualtrack.v1.Broker"
TENANTS = ("vision-qa", "vision-rnd", "platform")
STEPS = ("snapshot", "place", "dispatch", "observe", "limits", "reroute", "zombies")
PENDING_TIMEOUT_S = 3.0


@dataclass
class Tracked:
    job: Job
    accepted_at: float
    ref: BackendRef | None = None
    state: JobState = JobState.ACCEPTED
    submitted_at: float = 0.0


class Driver:
    def __init__(self, metrics: BrokerMetrics, rng: random.Random):
        self.metrics = metrics
        self.rng = rng
        self.backends = {
            "slurm-a": InMemoryBackend("slurm-a", track="slurm", nodes=4, gpus_per_node=8, gpu_type="a100",
                                       run_seconds=2.0),
            "kube-a": InMemoryBackend("kube-a", track="kubernetes", nodes=2, gpus_per_node=8,
                                      gpu_type="h100", run_seconds=3.0),
        }
        self.jobs: dict[str, Tracked] = {}
        self.lock = threading.Lock()
        self.cycle = 0

    def job_counts(self) -> list[tuple[str, str, str, int]]:
        with self.lock:
            counts = Counter((t.state.value, t.ref.backend if t.ref else "", t.job.tenant)
                             for t in self.jobs.values())
        return [(state, backend, tenant, n) for (state, backend, tenant), n in counts.items()]

    # -- the gRPC side: SubmitJob through the interceptor ------------------------------------------
    def submit_rpc(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        tenant, _, kind = request.decode().partition(":")
        if kind == "invalid":
            self.metrics.submission(tenant, "invalid")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "spec.resources.gpusPerWorker: must be >= 0")
        if kind == "duplicate":
            self.metrics.submission(tenant, "duplicate")
            return b"duplicate"
        gpus, workers = self.rng.choice(((1, 1), (2, 1), (4, 1), (8, 1), (2, 4), (4, 2)))
        if kind == "huge":
            gpus = 16
        spec = parse_spec({
            "apiVersion": "dualtrack/v1", "kind": "TrainingJob",
            "metadata": {"name": f"yolo-{self.rng.randrange(10**6)}", "tenant": tenant},
            "spec": {"image": "ultralytics/ultralytics:8.3.40",
                     "yolo": {"model": "yolov8n.pt", "data": "coco8.yaml"},
                     "resources": {"workers": workers, "gpusPerWorker": gpus}},
        })
        job = Job(id=new_job_id(), spec=spec)
        self.metrics.submission(tenant, "accepted")
        with self.lock:
            self.jobs[job.id] = Tracked(job, time.time())
        return job.id.encode()

    def list_backends_rpc(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return ",".join(self.backends).encode()

    # -- reconciler steps ------------------------------------------------------------------------------
    def run_cycle(self) -> None:
        self.cycle += 1
        for step in STEPS:
            started = time.perf_counter()
            failed = False
            try:
                getattr(self, f"step_{step}")()
            except Exception:
                failed = True
            self.metrics.reconciler_step(step, time.perf_counter() - started, error=failed)
        for backend in self.backends.values():
            try:
                self.metrics.observe_snapshot(self._with_controller(backend.track, backend.snapshot()))
            except BackendUnavailable as error:
                self.metrics.observe_snapshot(ClusterSnapshot.down(backend.name, backend.kind, time.time(),
                                                                   str(error)))
        down = ClusterSnapshot.down("slurm-b", "slurm", time.time(), "connection refused")
        self.metrics.observe_snapshot(down)

    def _with_controller(self, track: str, snapshot: ClusterSnapshot) -> ClusterSnapshot:
        """What a Slurm adapter reports of its controller (ping and diag), so the controller panels have data."""
        if track != "slurm":
            return snapshot
        health = ControllerHealth(up=True, latency_s=self.rng.uniform(0.005, 0.05),
                                  controllers=((f"{snapshot.backend}-ctl", True),),
                                  schedule_last_cycle_s=self.rng.uniform(0.001, 0.01), schedule_mean_cycle_s=0.005,
                                  backfill_last_cycle_s=self.rng.uniform(0.01, 0.1), backfill_mean_cycle_s=0.05)
        return replace(snapshot, controller=health)

    def _place(self, tracked: Tracked, exclude: str = "") -> str:
        total = tracked.job.spec.spec.resources.gpus_per_worker
        fitting = [b for b in self.backends.values() if b.name != exclude and total <= 8]
        if not fitting:
            self.metrics.placement("", "unresolvable")
            return ""
        free = {b.name: b.snapshot().gpus_free for b in fitting}
        name = max(free, key=lambda n: (free[n], self.rng.random()))
        self.metrics.placement(name, "placed")
        return name

    def _submit(self, tracked: Tracked, backend: str) -> None:
        if self.rng.random() < 0.15:
            self.backends[backend].script(tracked.job.id, Outcome(exit_code=1, failure=FailureKind.INFRA,
                                                                  reason="node lost"))
        try:
            tracked.ref = self.backends[backend].submit(tracked.job, Placement(backend))
        except SubmitRejected:
            tracked.state = JobState.FAILED
            return
        tracked.state, tracked.submitted_at = JobState.SUBMITTED, time.time()
        tail = self.rng.random() < 0.05
        latency = self.rng.uniform(11.0, 20.0) if tail else self.rng.uniform(0.05, 3.0)
        self.metrics.scheduling_latency(backend, latency)
        if backend.startswith("slurm"):
            if self.rng.random() < 0.2:
                self.metrics.image_conversion(self.rng.uniform(20.0, 150.0), "success")
            else:
                self.metrics.image_cache_hit()

    def step_dispatch(self) -> None:
        with self.lock:
            waiting = [t for t in self.jobs.values() if t.state is JobState.ACCEPTED]
        for tracked in waiting:
            backend = self._place(tracked)
            if backend:
                self._submit(tracked, backend)
            else:
                tracked.state = JobState.FAILED

    def step_observe(self) -> None:
        with self.lock:
            live = [t for t in self.jobs.values() if t.ref is not None and not t.state.terminal]
        for tracked in live:
            assert tracked.ref is not None
            seen = self.backends[tracked.ref.backend].observe([tracked.ref])[tracked.ref]
            if seen.phase is BackendPhase.PENDING:
                tracked.state = JobState.QUEUED
            elif seen.phase is BackendPhase.RUNNING and tracked.state is not JobState.RUNNING:
                tracked.state = JobState.RUNNING
                self.metrics.queue_wait(tracked.ref.backend, time.time() - tracked.accepted_at)
            elif seen.phase in (BackendPhase.SUCCEEDED, BackendPhase.FAILED, BackendPhase.CANCELLED):
                state = JobState(seen.phase.value)
                ran = (seen.finished_at or time.time()) - (seen.started_at or time.time())
                self.metrics.job_finished(tracked.ref.backend, state.value, max(ran, 0.0))
                if seen.failure is FailureKind.INFRA and tracked.job.attempt < 3:
                    self.metrics.retry(tracked.ref.backend, FailureKind.INFRA.value)
                    tracked.job = tracked.job.evolve(attempt=tracked.job.attempt + 1)
                    tracked.ref, tracked.state = None, JobState.ACCEPTED
                else:
                    tracked.state = state

    def step_reroute(self) -> None:
        now = time.time()
        with self.lock:
            stuck = [t for t in self.jobs.values() if t.state is JobState.QUEUED and t.ref is not None
                     and now - t.submitted_at > PENDING_TIMEOUT_S]
        for tracked in stuck:
            assert tracked.ref is not None
            source = tracked.ref.backend
            target = self._place(tracked, exclude=source)
            if not target:
                continue
            self.backends[source].cancel(tracked.ref)
            self.metrics.reroute(source, target, "pending_timeout")
            tracked.job = tracked.job.evolve(attempt=tracked.job.attempt + 1)
            self._submit(tracked, target)

    def step_snapshot(self) -> None:
        """Snapshots are published at the end of the cycle (run_cycle)."""

    def step_place(self) -> None:
        """Placement happens inside dispatch here."""

    def step_limits(self) -> None:
        """The driver's jobs have no time limits."""

    def step_zombies(self) -> None:
        if self.cycle % 7 == 0:
            raise RuntimeError("zombie sweep: backend listing timed out")


def serve_grpc(driver: Driver, metrics: BrokerMetrics) -> tuple[grpc.Server, grpc.Channel]:
    methods = [f"/{SERVICE}/SubmitJob", f"/{SERVICE}/ListBackends"]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         interceptors=[metrics.grpc_interceptor(methods)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {
        "SubmitJob": grpc.unary_unary_rpc_method_handler(driver.submit_rpc),
        "ListBackends": grpc.unary_unary_rpc_method_handler(driver.list_backends_rpc),
    }),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, grpc.insecure_channel(f"127.0.0.1:{port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="metrics port on 127.0.0.1 (0 = any)")
    parser.add_argument("--tick", type=float, default=0.2, help="seconds between reconciler cycles")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()

    metrics = BrokerMetrics()
    rng = random.Random(args.seed)
    driver = Driver(metrics, rng)
    metrics.set_job_counts_source(driver.job_counts)
    for name in (*driver.backends, "slurm-b"):
        metrics.register_backend(name)
    server, channel = serve_grpc(driver, metrics)
    submit = channel.unary_unary(f"/{SERVICE}/SubmitJob")
    list_backends = channel.unary_unary(f"/{SERVICE}/ListBackends")
    port = metrics.serve("127.0.0.1", args.port)
    print(f"PORT {port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        if rng.random() < 0.6:
            kind = rng.choices(("ok", "invalid", "duplicate", "huge"), (80, 8, 7, 5))[0]
            with contextlib.suppress(grpc.RpcError):  # INVALID_ARGUMENT for the invalid ones
                submit(f"{rng.choice(TENANTS)}:{kind}".encode(), timeout=5)
        list_backends(b"", timeout=5)
        driver.run_cycle()
        stop.wait(args.tick)
    channel.close()
    server.stop(None)
    metrics.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
