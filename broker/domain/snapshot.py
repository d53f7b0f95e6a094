"""An immutable picture of one backend's capacity, taken once per decision cycle.

Adapters build it (``Backend.snapshot()``); policies read it and never change it. Memory is in bytes,
time in seconds. Topology: every node names its leaf ``switch`` (None where unknown) and an NVLink domain
(defaults to the node itself); ``switches`` gives each switch's parent so the tree can be walked up.

GPUs: a node's ``gpu_type`` / ``gpus_total`` / ``gpus_free`` are its totals (``gpu_type`` is the first type).
A node with several GPU types (Slurm ``gres: gpu:h100:2,gpu:h200:4``) also lists ``gpu_groups``, one per
type; ``groups()`` gives them for every node, and ``ClusterSnapshot.split_by_gpu_type()`` turns each
mixed node into one node per type (same name, CPUs and memory shared) for per-type placement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType


@dataclass(frozen=True)
class GpuGroup:
    """The GPUs of one type on one node."""

    gpu_type: str | None
    total: int
    free: int


@dataclass(frozen=True)
class NodeCapacity:
    name: str
    gpu_type: str | None
    gpus_total: int
    gpus_free: int
    cpus_total: int = 0
    cpus_free: int = 0
    memory_total: int = 0
    memory_free: int = 0
    switch: str | None = None
    nvlink_domain: str | None = None
    pools: tuple[str, ...] = ()  # partitions / queues this node serves; empty = every pool
    schedulable: bool = True  # False for drained, down, cordoned or NotReady nodes
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    gpu_groups: tuple[GpuGroup, ...] = ()  # per GPU type, when the node has more than one; else empty

    @property
    def domain(self) -> str:
        return self.nvlink_domain or self.name

    def groups(self) -> tuple[GpuGroup, ...]:
        """GPUs per type: ``gpu_groups`` when given, else one group from the node's totals."""
        if self.gpu_groups:
            return self.gpu_groups
        return (GpuGroup(self.gpu_type, self.gpus_total, self.gpus_free),)

    def by_gpu_type(self) -> tuple[NodeCapacity, ...]:
        """This node as one node per GPU type (itself when it has one type). The parts share the node's
        name, place, CPUs and memory, so each part sees all of them (a worker uses one type only)."""
        if len(self.gpu_groups) <= 1:
            return (self,)
        return tuple(replace(self, gpu_type=g.gpu_type, gpus_total=g.total, gpus_free=g.free, gpu_groups=())
                     for g in self.gpu_groups)


@dataclass(frozen=True)
class PoolCapacity:
    """A Slurm partition or a Volcano queue."""

    name: str
    kind: str  # "partition" | "queue"
    gpu_limit: int | None = None  # queue capability / partition GPU cap; None = unbounded
    gpus_allocated: int = 0
    pending_jobs: int = 0
    pending_gpus: int = 0
    pending_gpu_seconds: float = 0.0
    max_time_s: int | None = None
    open: bool = True  # partition UP / queue Open


@dataclass(frozen=True)
class Switch:
    name: str
    parent: str | None = None


@dataclass(frozen=True)
class ControllerHealth:
    """A backend controller's own report of itself (Slurm: ``ping`` / ``scontrol ping`` and ``diag`` /
    ``sdiag``). ``up`` is True when some controller answered; ``controllers`` lists (host, responding), primary
    first. Cycle times are seconds; None where the backend does not say."""

    up: bool
    latency_s: float | None = None  # round trip of the ping
    controllers: tuple[tuple[str, bool], ...] = ()
    schedule_last_cycle_s: float | None = None
    schedule_mean_cycle_s: float | None = None
    backfill_last_cycle_s: float | None = None
    backfill_mean_cycle_s: float | None = None
    backfill_last_depth: int | None = None
    server_threads: int | None = None
    agent_queue: int | None = None


@dataclass(frozen=True)
class ClusterSnapshot:
    backend: str
    kind: str
    taken_at: float
    healthy: bool = True
    error: str = ""
    nodes: tuple[NodeCapacity, ...] = ()
    pools: tuple[PoolCapacity, ...] = ()
    switches: tuple[Switch, ...] = ()
    running_jobs: int = 0
    pending_jobs: int = 0
    pending_gpu_seconds: float = 0.0
    images: frozenset[str] = frozenset()  # image digests already converted / cached on this backend
    controller: ControllerHealth | None = None  # None where the backend does not report one

    @property
    def schedulable_nodes(self) -> tuple[NodeCapacity, ...]:
        return tuple(n for n in self.nodes if n.schedulable)

    @property
    def gpus_total(self) -> int:
        return sum(n.gpus_total for n in self.schedulable_nodes)

    @property
    def gpus_free(self) -> int:
        return sum(n.gpus_free for n in self.schedulable_nodes)

    def gpus_by_type(self) -> dict[str, tuple[int, int]]:
        """GPU type -> (total, free) over schedulable nodes; nodes without a type count as ``unknown``."""
        out: dict[str, tuple[int, int]] = {}
        for node in self.schedulable_nodes:
            for group in node.groups():
                if group.total == 0:
                    continue
                key = group.gpu_type or "unknown"
                total, free = out.get(key, (0, 0))
                out[key] = (total + group.total, free + group.free)
        return out

    def split_by_gpu_type(self) -> ClusterSnapshot:
        """This snapshot with every mixed-GPU node split into one node per type (itself when none is mixed)."""
        if not any(len(n.gpu_groups) > 1 for n in self.nodes):
            return self
        return replace(self, nodes=tuple(part for n in self.nodes for part in n.by_gpu_type()))

    def pool(self, name: str) -> PoolCapacity | None:
        return next((p for p in self.pools if p.name == name), None)

    @staticmethod
    def down(backend: str, kind: str, taken_at: float, error: str) -> ClusterSnapshot:
        """The snapshot of a backend that could not be reached."""
        return ClusterSnapshot(backend=backend, kind=kind, taken_at=taken_at, healthy=False, error=error)
