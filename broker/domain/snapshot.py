"""An immutable picture of one backend's capacity, taken once per decision cycle.

Adapters build it (``Backend.snapshot()``); policies read it and never change it. Memory is in bytes,
time in seconds. Topology: every node names its leaf ``switch`` (None where unknown) and an NVLink domain
(defaults to the node itself); ``switches`` gives each switch's parent so the tree can be walked up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


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

    @property
    def domain(self) -> str:
        return self.nvlink_domain or self.name


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
            if node.gpus_total == 0:
                continue
            key = node.gpu_type or "unknown"
            total, free = out.get(key, (0, 0))
            out[key] = (total + node.gpus_total, free + node.gpus_free)
        return out

    def pool(self, name: str) -> PoolCapacity | None:
        return next((p for p in self.pools if p.name == name), None)

    @staticmethod
    def down(backend: str, kind: str, taken_at: float, error: str) -> ClusterSnapshot:
        """The snapshot of a backend that could not be reached."""
        return ClusterSnapshot(backend=backend, kind=kind, taken_at=taken_at, healthy=False, error=error)
