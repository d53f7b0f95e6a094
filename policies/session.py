"""One decision cycle over one set of snapshots, with assume/undo (Volcano's session and statement).

The engine opens a Session per ``place`` / ``place_batch`` call. ``assume`` records that a placed gang uses its
nodes' GPUs, CPUs and memory, its pool's GPU allowance and its tenant's quota, so the next job of the same batch
sees them as taken; ``undo`` reverses one assumption and ``discard`` all of them, newest first. The engine
always discards at the end of the call: the cached per-snapshot indexes return to the snapshot's own figures,
and the broker, not the engine, remembers what was placed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dualtrack.broker.domain import ClusterSnapshot, Job
from dualtrack.policies.capacity import GangFit, SnapshotIndex
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.context import BackendInfo, PlacementContext


@dataclass(frozen=True)
class Assumption:
    """What one assumed placement took; ``undo`` gives exactly this back."""

    job_id: str
    tenant: str
    backend: str
    pool: str | None
    gpus_per_worker: int
    cpus_per_worker: int
    memory_per_worker: int
    nodes: tuple[int, ...]  # node index per worker

    @property
    def gpus(self) -> int:
        return self.gpus_per_worker * len(self.nodes)


class Session:
    """Per-call bookkeeping over a PlacementContext. Not thread-safe; the engine serialises calls."""

    def __init__(self, ctx: PlacementContext, config: PolicyConfig, index_of: Callable[[str], SnapshotIndex]):
        self.ctx = ctx
        self.config = config
        self._index_of = index_of
        self._indexes: dict[str, SnapshotIndex] = {}
        self._tenant_gpus: dict[str, int] = {}
        self._tenant_jobs: dict[str, int] = {}
        self._pool_gpus: dict[tuple[str, str], int] = {}
        self._assumed: list[Assumption] = []
        self._total_gpus: int | None = None
        # the same for every job of this call, built at first use by policies/candidates.py: every backend as
        # (name, info, snapshot), and the pools a tenant may use on a backend, by (tenant, backend)
        self.candidate_backends: list[tuple[str, BackendInfo, ClusterSnapshot]] | None = None
        self.candidate_pools: dict[tuple[str, str], list[str]] = {}

    @property
    def total_gpus(self) -> int:
        """Schedulable GPUs over every healthy backend (from the cached indexes: no walk over the nodes)."""
        if self._total_gpus is None:
            self._total_gpus = sum(self.index(b).gpus_total for b, s in self.ctx.snapshots.items() if s.healthy)
        return self._total_gpus

    def index(self, backend: str) -> SnapshotIndex:
        found = self._indexes.get(backend)
        if found is None:
            found = self._indexes[backend] = self._index_of(backend)
        return found

    def tenant_gpus(self, tenant: str) -> int:
        """GPUs the tenant holds over both tracks, plus those assumed in this session."""
        return self.ctx.usage.gpus.get(tenant, 0) + self._tenant_gpus.get(tenant, 0)

    def tenant_jobs(self, tenant: str) -> int:
        return self.ctx.usage.running_jobs.get(tenant, 0) + self._tenant_jobs.get(tenant, 0)

    def pool_gpus(self, backend: str, pool: str) -> int:
        """GPUs allocated in the pool: the snapshot's figure plus those assumed in this session."""
        snapshot_pool = self.ctx.snapshots[backend].pool(pool)
        base = snapshot_pool.gpus_allocated if snapshot_pool is not None else 0
        return base + self._pool_gpus.get((backend, pool), 0)

    def dominant_share(self, tenant: str) -> float:
        """The tenant's DRF share: GPUs held over all healthy GPUs, divided by its configured weight."""
        if self.total_gpus <= 0:
            return 0.0
        return self.tenant_gpus(tenant) / self.total_gpus / self.config.tenant(tenant).weight

    def assume(self, job: Job, backend: str, pool: str | None, fit: GangFit) -> Assumption:
        res = job.spec.spec.resources
        assumption = Assumption(
            job.id,
            job.tenant,
            backend,
            pool,
            res.gpus_per_worker,
            res.cpus_per_worker,
            res.memory_per_worker,
            fit.nodes,
        )
        self._apply(assumption, +1)
        self._assumed.append(assumption)
        return assumption

    def undo(self, assumption: Assumption) -> None:
        self._assumed.remove(assumption)
        self._apply(assumption, -1)

    def discard(self) -> None:
        """Undo every assumption, newest first, and leave the indexes in canonical order."""
        while self._assumed:
            self._apply(self._assumed.pop(), -1)
        for index in self._indexes.values():
            index.canonicalize()

    def _apply(self, a: Assumption, sign: int) -> None:
        index = self.index(a.backend)
        for node in a.nodes:
            if sign > 0:
                index.take(node, a.gpus_per_worker, a.cpus_per_worker, a.memory_per_worker)
            else:
                index.give(node, a.gpus_per_worker, a.cpus_per_worker, a.memory_per_worker)
        self._tenant_gpus[a.tenant] = self._tenant_gpus.get(a.tenant, 0) + sign * a.gpus
        self._tenant_jobs[a.tenant] = self._tenant_jobs.get(a.tenant, 0) + sign
        if a.pool is not None:
            key = (a.backend, a.pool)
            self._pool_gpus[key] = self._pool_gpus.get(key, 0) + sign * a.gpus
