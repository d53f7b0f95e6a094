"""A scriptable in-memory backend. TEST DOUBLE: it runs nothing; it only plays a cluster's bookkeeping.

Used by unit tests of the broker (handlers, reconciler, store recovery) and by the submit-throughput bench,
where a real cluster would measure the cluster instead of the broker. Never configure it for real work.

Behaviour: nodes with GPUs; a submitted gang starts all-or-nothing when every worker fits on some node
(first fit), holds its GPUs for ``run_seconds`` of the injected clock, then finishes with the scripted
outcome (``script(job_id, ...)``) or exit 0. ``set_available(False)`` makes every call raise
BackendUnavailable, as a dead controller would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dualtrack.adapters.base import BackendUnavailable, SubmitRejected
from dualtrack.adapters.inmemory.settings import parse_settings
from dualtrack.broker.domain import (
    BackendPhase,
    BackendRef,
    ClusterSnapshot,
    FailureKind,
    Feature,
    Job,
    ManagedJob,
    NodeCapacity,
    Observed,
    Placement,
    PoolCapacity,
    Switch,
    parse_backend_object_name,
)
from dualtrack.broker.domain.launch import job_argv, render_shell


@dataclass
class Outcome:
    """What a scripted attempt does when it finishes."""

    exit_code: int = 0
    failure: FailureKind | None = None
    reason: str = ""
    run_seconds: float | None = None


@dataclass
class _FakeJob:
    ref: BackendRef
    workers: int
    gpus_per_worker: int
    gpu_type: str | None
    submitted_at: float
    outcome: Outcome
    phase: BackendPhase = BackendPhase.PENDING
    started_at: float | None = None
    finished_at: float | None = None
    allocation: list[str] = field(default_factory=list)
    artefact: str = ""  # what submit received: the job as render() shows it


@dataclass
class _FakeNode:
    name: str
    gpus: int
    gpu_type: str
    switch: str
    used: int = 0
    external: int = 0  # GPUs held by work the broker does not know (occupy())

    @property
    def free(self) -> int:
        return self.gpus - self.used - self.external


class InMemoryBackend:
    """See the module docstring. Thread-safe."""

    def __init__(
        self,
        name: str,
        *,
        track: str = "slurm",
        nodes: int = 4,
        gpus_per_node: int = 8,
        gpu_type: str = "a100",
        nodes_per_switch: int = 2,
        run_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ):
        self.name = name
        self.kind = "inmemory"
        self.track = track
        self.unsupported: Mapping[Feature, str] = {}
        self.run_seconds = run_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._nodes = [
            _FakeNode(f"{name}-n{i}", gpus_per_node, gpu_type, f"leaf{i // max(nodes_per_switch, 1)}")
            for i in range(nodes)
        ]
        self._jobs: dict[str, _FakeJob] = {}
        self._scripts: dict[str, list[Outcome]] = {}
        self._available = True
        self._next_id = 1000
        self.submit_calls = 0

    # -- scripting -----------------------------------------------------------------------------
    def script(self, job_id: str, *outcomes: Outcome) -> None:
        """Queue outcomes for the next attempts of ``job_id`` (first attempt first)."""
        with self._lock:
            self._scripts.setdefault(job_id, []).extend(outcomes)

    def occupy(self, gpus_per_node: int) -> None:
        """Simulate load from outside the broker: hold ``gpus_per_node`` GPUs on every node (0 frees them)."""
        with self._lock:
            for node in self._nodes:
                node.external = min(gpus_per_node, node.gpus)

    def set_available(self, available: bool) -> None:
        with self._lock:
            self._available = available

    def received(self, ref: BackendRef) -> str:
        """The artefact ``submit`` took for ``ref`` (KeyError for refs it never took)."""
        with self._lock:
            return self._jobs[ref.native_id].artefact

    def jobs_named(self, name: str) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.ref.name == name)

    # -- Backend protocol ----------------------------------------------------------------------
    def _check(self) -> None:
        if not self._available:
            raise BackendUnavailable(f"{self.name}: controller unreachable")

    def snapshot(self) -> ClusterSnapshot:
        with self._lock:
            self._check()
            self._advance()
            nodes = tuple(
                NodeCapacity(
                    name=n.name, gpu_type=n.gpu_type, gpus_total=n.gpus, gpus_free=n.free,
                    cpus_total=64, cpus_free=64, memory_total=512 * 1024**3, memory_free=512 * 1024**3,
                    switch=n.switch,
                )
                for n in self._nodes
            )
            pending = [j for j in self._jobs.values() if j.phase is BackendPhase.PENDING]
            running = [j for j in self._jobs.values() if j.phase is BackendPhase.RUNNING]
            switches = tuple(Switch(s, "spine") for s in sorted({n.switch for n in self._nodes}))
            pending_gpus = sum(j.workers * j.gpus_per_worker for j in pending)
            return ClusterSnapshot(
                backend=self.name, kind=self.kind, taken_at=self._clock(), nodes=nodes,
                pools=(PoolCapacity(name="default", kind="partition", pending_jobs=len(pending),
                                    pending_gpus=pending_gpus,
                                    pending_gpu_seconds=pending_gpus * self.run_seconds),),
                switches=(*switches, Switch("spine")), running_jobs=len(running), pending_jobs=len(pending),
                pending_gpu_seconds=pending_gpus * self.run_seconds,
            )

    def submit(self, job: Job, placement: Placement) -> BackendRef:
        with self._lock:
            self._check()
            name = job.object_name
            for existing in self._jobs.values():
                if existing.ref.name == name:
                    return existing.ref
            res = job.spec.spec.resources
            if res.gpus_per_worker > max((n.gpus for n in self._nodes), default=0):
                raise SubmitRejected(f"{self.name}: no node has {res.gpus_per_worker} GPUs")
            self.submit_calls += 1
            self._next_id += 1
            ref = BackendRef(self.name, name, str(self._next_id))
            queued = self._scripts.get(job.id, [])
            outcome = queued.pop(0) if queued else Outcome()
            self._jobs[ref.native_id] = _FakeJob(
                ref, res.workers, res.gpus_per_worker, res.gpu_type, self._clock(), outcome,
                artefact=self.render(job, placement),
            )
            self._advance()
            return ref

    def observe(self, refs: Sequence[BackendRef]) -> Mapping[BackendRef, Observed]:
        with self._lock:
            self._check()
            self._advance()
            out: dict[BackendRef, Observed] = {}
            for ref in refs:
                fake = self._jobs.get(ref.native_id)
                if fake is None:
                    out[ref] = Observed(ref, BackendPhase.MISSING, reason="unknown to the backend")
                    continue
                out[ref] = Observed(
                    ref, fake.phase, native_state=fake.phase.value, reason=fake.outcome.reason
                    if fake.phase is BackendPhase.FAILED else "",
                    exit_code=fake.outcome.exit_code if fake.finished_at else None,
                    failure=fake.outcome.failure if fake.phase is BackendPhase.FAILED else None,
                    started_at=fake.started_at, finished_at=fake.finished_at, nodes=tuple(fake.allocation),
                )
            return out

    def cancel(self, ref: BackendRef) -> None:
        with self._lock:
            self._check()
            fake = self._jobs.get(ref.native_id)
            if fake is None or fake.phase not in (BackendPhase.PENDING, BackendPhase.RUNNING):
                return
            self._release(fake)
            fake.phase = BackendPhase.CANCELLED
            fake.finished_at = self._clock()

    def managed(self) -> Sequence[ManagedJob]:
        with self._lock:
            self._check()
            self._advance()
            out = []
            for fake in self._jobs.values():
                parsed = parse_backend_object_name(fake.ref.name)
                if parsed:
                    out.append(ManagedJob(fake.ref, parsed[0], parsed[1], fake.phase))
            return out

    def render(self, job: Job, placement: Placement) -> str:
        return f"# in-memory test backend {self.name}\n{render_shell(job_argv(job))}\n"

    # -- simulation ----------------------------------------------------------------------------
    def _release(self, fake: _FakeJob) -> None:
        for node_name in fake.allocation:
            node = next(n for n in self._nodes if n.name == node_name)
            node.used -= fake.gpus_per_worker
        fake.allocation = []

    def _advance(self) -> None:
        now = self._clock()
        for fake in self._jobs.values():
            if fake.phase is BackendPhase.RUNNING and fake.started_at is not None:
                duration = fake.outcome.run_seconds if fake.outcome.run_seconds is not None else self.run_seconds
                if now - fake.started_at >= duration:
                    self._release(fake)
                    fake.finished_at = now
                    failed = fake.outcome.exit_code != 0 or fake.outcome.failure is not None
                    fake.phase = BackendPhase.FAILED if failed else BackendPhase.SUCCEEDED
        for fake in sorted(self._jobs.values(), key=lambda j: j.submitted_at):
            if fake.phase is BackendPhase.PENDING:
                self._try_start(fake, now)

    def _try_start(self, fake: _FakeJob, now: float) -> None:
        free = {n.name: n.free for n in self._nodes if fake.gpu_type in (None, n.gpu_type)}
        allocation: list[str] = []
        for _ in range(fake.workers):
            host = next((name for name, gpus in free.items() if gpus >= fake.gpus_per_worker), None)
            if host is None:
                return  # the gang does not fit: all or nothing
            free[host] -= fake.gpus_per_worker
            allocation.append(host)
        for host in allocation:
            next(n for n in self._nodes if n.name == host).used += fake.gpus_per_worker
        fake.allocation = allocation
        fake.phase = BackendPhase.RUNNING
        fake.started_at = now


def from_config(name: str, settings: Mapping[str, Any]) -> InMemoryBackend:
    """Build from a config mapping (``adapters.inmemory.settings``); raises SettingsError naming every bad key."""
    s = parse_settings(name, settings)
    return InMemoryBackend(name, track=s.track, nodes=s.nodes, gpus_per_node=s.gpus_per_node, gpu_type=s.gpu_type,
                           nodes_per_switch=s.nodes_per_switch, run_seconds=s.run_seconds)
