"""Backend-Protocol implementations (adapters/base.py) over the replay's cluster models, for ``live``.

``SimBackend`` lets the broker's reconciler and policies drive a ``SimCluster`` exactly as they drive the real
adapters: ``snapshot`` -> ClusterSnapshot (nodes with free GPUs/CPUs/memory, switches, pools, backlog),
``submit`` (idempotent per object name), ``observe``, ``cancel``, ``managed``, ``render``; the Slurm one is
also a ``StartEstimator`` (the model's ``sbatch --test-only`` answer), as the real Slurm adapter is.

How long a job really runs is not in its spec: ``run_seconds(job)`` (the replay's trace) says it, as the
in-memory test backend's scripts do.

Differences from a real adapter, both for the replay's speed and neither visible to the reconciler:
- ``observe`` answers only the refs whose phase changed since it last answered them (it keeps the set of
  objects changed since); the observe step skips refs without an observation (broker/reconciler/observe.py),
  which is what it does for unchanged ones anyway;
- ``snapshot`` returns the same object while the model is unchanged (the policy engine's index cache then hits)
  and reuses the NodeCapacity of nodes whose usage did not change: only nodes that a start, end or cancel
  touched since the last snapshot are read again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from dualtrack.adapters.base import SubmitRejected
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
from dualtrack.broker.domain.spec import TopologyMode, TopologyTier
from dualtrack.sim.replay.cluster import MIB, Change, NodeView, Request, SimCluster

SWITCH_WAIT_SECONDS = 300.0  # Slurm's max_switch_wait default; the adapter's soft "1@5" is 5 minutes too


def request_of(job: Job, run_seconds: float) -> Request:
    spec = job.spec.spec
    res = spec.resources
    wants_switch = res.workers > 1 and spec.topology.tier is not TopologyTier.ANY
    return Request(
        workers=res.workers, gpus_per_worker=res.gpus_per_worker, gpu_type=res.gpu_type,
        cpus_per_worker=res.cpus_per_worker, memory_mib_per_worker=-(-res.memory_per_worker // MIB),
        time_limit=float(spec.time_limit), run_seconds=run_seconds, priority=spec.priority,
        pool=job.placement.pool if job.placement else None,
        switches=1 if wants_switch else None,
        switch_wait=SWITCH_WAIT_SECONDS if spec.topology.mode is TopologyMode.SOFT else float("inf"),
    )


class SimBackend:
    """See the module docstring."""

    def __init__(self, cluster: SimCluster, run_seconds: Callable[[Job], float], clock: Callable[[], float]):
        self.cluster = cluster
        self.name = cluster.name
        self.kind = cluster.kind
        self.track = cluster.track
        self.unsupported: Mapping[Feature, str] = (
            {Feature.TOPOLOGY_NODE: "one worker is one Slurm node allocation"} if cluster.kind == "slurm" else {})
        self._run_seconds = run_seconds
        self._clock = clock
        self._refs: dict[str, BackendRef] = {}
        self._phase: dict[str, BackendPhase] = {}  # live objects: PENDING / RUNNING
        self._done: dict[str, Observed] = {}  # finished objects not yet reported
        self._started: dict[str, float] = {}
        self._reported: dict[str, BackendPhase] = {}
        self._dirty: set[str] = set()  # objects whose answer may differ from the one last reported
        self._running = 0  # objects in phase RUNNING
        self._snapshot: ClusterSnapshot | None = None
        self._snapshot_version = -1
        self._node_cache: dict[str, tuple[tuple[int, int, int], NodeCapacity]] = {}
        # the last snapshot's nodes in cluster order (None: none built yet), the position of each, the nodes
        # whose usage changed since (starts, ends and cancels touch them) and the nodes of each running object
        self._nodes: list[NodeCapacity] | None = None
        self._position: dict[str, int] = {}
        self._switches: tuple[Switch, ...] = ()
        self._touched: set[str] = set()
        self._nodes_of: dict[str, tuple[str, ...]] = {}

    # -- fed by the replay -----------------------------------------------------------------------
    def apply(self, changes: Sequence[Change]) -> None:
        """Record the model's starts and ends (the replay calls this after every advance)."""
        for change in changes:
            ref = self._refs.get(change.key)
            if ref is None:
                continue
            self._dirty.add(change.key)
            if change.kind == "start":
                self._nodes_of[change.key] = change.nodes
                self._touched.update(change.nodes)
                if self._phase.get(change.key) is not BackendPhase.RUNNING:
                    self._running += 1
                self._phase[change.key] = BackendPhase.RUNNING
                self._started[change.key] = change.at
                continue
            if self._phase.pop(change.key, None) is BackendPhase.RUNNING:
                self._running -= 1
            self._touched.update(self._nodes_of.pop(change.key, ()))
            started = self._started.pop(change.key, None)
            if change.state == "COMPLETED":
                seen = Observed(ref, BackendPhase.SUCCEEDED, "COMPLETED", exit_code=0, started_at=started,
                                finished_at=change.at)
            elif change.state == "TIMEOUT":
                seen = Observed(ref, BackendPhase.FAILED, "TIMEOUT", "time limit reached", failure=FailureKind.TIMEOUT,
                                started_at=started, finished_at=change.at)
            else:
                seen = Observed(ref, BackendPhase.CANCELLED, change.state, started_at=started, finished_at=change.at)
            self._done[change.key] = seen

    # -- Backend protocol ------------------------------------------------------------------------
    def snapshot(self) -> ClusterSnapshot:
        version = self.cluster.version
        if self._snapshot is not None and version == self._snapshot_version:
            return self._snapshot
        nodes = self._current_nodes()
        pending_gpus, pending_seconds = self.cluster.pending_demand()
        pending = self.cluster.pending_count()
        self._snapshot = ClusterSnapshot(
            backend=self.name, kind=self.kind, taken_at=self._clock(), nodes=nodes,
            switches=self._switches,
            running_jobs=self._running,
            pending_jobs=pending, pending_gpu_seconds=pending_seconds,
            pools=self._pools(pending, pending_gpus, pending_seconds),
        )
        self._snapshot_version = version
        return self._snapshot

    def _current_nodes(self) -> tuple[NodeCapacity, ...]:
        """Every node's capacity now: built once, then only the nodes touched since are read again."""
        if self._nodes is None:
            views = self.cluster.nodes()
            self._nodes = [self._node(v) for v in views]
            self._position = {v.name: i for i, v in enumerate(views)}
            switches = sorted({v.switch for v in views if v.switch})
            self._switches = (*(Switch(s, "spine") for s in switches), Switch("spine"))
        else:
            for name in self._touched:
                self._nodes[self._position[name]] = self._node(self.cluster.node(name))
        self._touched.clear()
        return tuple(self._nodes)

    def _pools(self, pending: int, pending_gpus: int, pending_seconds: float) -> tuple[PoolCapacity, ...]:
        model = getattr(self.cluster, "model", None)
        out: list[PoolCapacity] = []
        for queue in getattr(model, "queues", {}).values() if self.kind == "volcano" else ():
            if queue.name == "default" and queue.gpu_capability is None:
                continue
            out.append(PoolCapacity(queue.name, "queue", queue.gpu_capability, queue.allocated_gpus,
                                    open=queue.state == "Open"))
        for partition in getattr(model, "partitions", {}).values() if self.kind == "slurm" else ():
            out.append(PoolCapacity(partition.name, "partition", None, 0, pending, pending_gpus, pending_seconds,
                                    int(partition.max_time) if partition.max_time else None, partition.up))
        return tuple(out)

    def _node(self, view: NodeView) -> NodeCapacity:
        used = (view.gpus_used, view.cpus_used, view.memory_mib_used)
        cached = self._node_cache.get(view.name)
        if cached is not None and cached[0] == used:
            return cached[1]
        node = NodeCapacity(
            name=view.name, gpu_type=view.gpu_type, gpus_total=view.gpus, gpus_free=view.gpus - view.gpus_used,
            cpus_total=view.cpus, cpus_free=view.cpus - view.cpus_used, memory_total=view.memory_mib * MIB,
            memory_free=(view.memory_mib - view.memory_mib_used) * MIB, switch=view.switch)
        self._node_cache[view.name] = (used, node)
        return node

    def submit(self, job: Job, placement: Placement) -> BackendRef:
        key = job.object_name
        if key in self._refs:
            return self._refs[key]
        request = request_of(job.evolve(placement=placement), self._run_seconds(job))
        try:
            self.cluster.submit(key, request, self._clock())
        except ValueError as exc:
            raise SubmitRejected(str(exc)) from None
        ref = BackendRef(self.name, key, key)
        self._refs[key] = ref
        self._phase[key] = BackendPhase.PENDING
        self._dirty.add(key)
        return ref

    def observe(self, refs: Sequence[BackendRef]) -> Mapping[BackendRef, Observed]:
        out: dict[BackendRef, Observed] = {}
        dirty, known = self._dirty, self._refs
        for ref in refs:
            key = ref.name
            if key not in dirty:  # answered already (unchanged since), unless the backend never knew it
                if key not in known:
                    out[ref] = Observed(ref, BackendPhase.MISSING, reason="unknown to the backend")
                continue
            dirty.discard(key)
            done = self._done.pop(key, None)
            if done is not None:
                out[ref] = done
                self._reported.pop(key, None)
                continue
            phase = self._phase.get(key)
            if phase is None:
                if key not in self._refs:
                    out[ref] = Observed(ref, BackendPhase.MISSING, reason="unknown to the backend")
                continue
            if self._reported.get(key) is not phase:
                self._reported[key] = phase
                out[ref] = Observed(ref, phase, phase.value, started_at=self._started.get(key))
        return out

    def cancel(self, ref: BackendRef) -> None:
        if ref.name in self._phase:
            self.cluster.cancel(ref.name, self._clock())
            if self._phase.pop(ref.name, None) is BackendPhase.RUNNING:
                self._running -= 1
            self._touched.update(self._nodes_of.pop(ref.name, ()))
            self._started.pop(ref.name, None)
            self._reported.pop(ref.name, None)

    def managed(self) -> Sequence[ManagedJob]:
        out = []
        for key, phase in self._phase.items():
            parsed = parse_backend_object_name(key)
            if parsed:
                out.append(ManagedJob(self._refs[key], parsed[0], parsed[1], phase))
        return out

    def render(self, job: Job, placement: Placement) -> str:
        request = request_of(job, 0.0)
        return (f"# replay model {self.kind} {self.name}: {request.workers} x {request.gpus_per_worker} "
                f"{request.gpu_type or 'any'} GPU(s), limit {request.time_limit:.0f} s\n")


class SlurmSimBackend(SimBackend):
    """The Slurm model's backend: also a StartEstimator, as the real Slurm adapter is (sbatch --test-only)."""

    def estimate_start(self, job: Job, placement: Placement) -> float | None:
        return self.cluster.estimate_start(request_of(job, self._run_seconds(job)), self._clock())


def sim_backend(cluster: SimCluster, run_seconds: Callable[[Job], float], clock: Callable[[], float]) -> SimBackend:
    cls = SlurmSimBackend if cluster.kind == "slurm" else SimBackend
    return cls(cluster, run_seconds, clock)
