"""One backend of a replay in virtual time: a cluster model behind one small interface the replay drives.

``VolcanoCluster`` wraps ``sim.models.volcano.ClusterModel`` and ``SlurmCluster`` wraps
``sim.models.slurm.SlurmModel``. Both take ``Request``s keyed by backend object name, advance to a time the
caller gives, report starts and ends as ``Change``s, say when they next change by themselves, and give a
start estimate. Finished work is dropped from the models at once, so a long replay keeps them small.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from dualtrack.sim.models import volcano as vc
from dualtrack.sim.models.slurm import CANCELLED, RUNNING, TIMEOUT, Partition, SlurmJob, SlurmModel, SlurmNode
from dualtrack.sim.replay.clusters import BackendSpec, NodeGroup

MIB = 1024 * 1024


@dataclass(frozen=True)
class Request:
    """What a backend is asked to run (from a trace row or a broker job)."""

    workers: int
    gpus_per_worker: int
    gpu_type: str | None
    cpus_per_worker: int
    memory_mib_per_worker: int
    time_limit: float
    run_seconds: float
    priority: int = 0
    pool: str | None = None
    switches: int | None = None  # Slurm --switches=N (Volcano: tier-2 network topology)
    switch_wait: float = 0.0

    @property
    def gpus(self) -> int:
        return self.workers * self.gpus_per_worker


@dataclass(frozen=True)
class Change:
    key: str
    kind: str  # "start" | "end"
    at: float
    state: str = ""  # for ends: COMPLETED | TIMEOUT | CANCELLED
    nodes: tuple[str, ...] = ()  # for starts: one node per worker (a node twice when two workers share it)


@dataclass(frozen=True)
class NodeView:
    name: str
    gpu_type: str | None
    gpus: int
    gpus_used: int
    cpus: int
    cpus_used: int
    memory_mib: int
    memory_mib_used: int
    switch: str | None


def expand_nodes(backend: str, groups: Iterable[NodeGroup]) -> list[tuple[str, NodeGroup, str]]:
    """(node name, its group, its leaf switch) for every node of the groups, in order."""
    out = []
    for index, group in enumerate(groups):
        for i in range(group.count):
            switch = f"{group.switch}-{i // group.nodes_per_switch}" if group.count > group.nodes_per_switch \
                else group.switch
            out.append((f"{backend}-g{index}-n{i}", group, switch))
    return out


class SimCluster:
    """The interface; see the module docstring."""

    name: str
    track: str
    kind: str
    version: int

    def submit(self, key: str, request: Request, now: float) -> None:
        """Queue work. Raises ValueError when this cluster can never run it."""
        raise NotImplementedError

    def cancel(self, key: str, now: float) -> None:
        raise NotImplementedError

    def advance(self, now: float) -> list[Change]:
        raise NotImplementedError

    def next_event_time(self) -> float | None:
        raise NotImplementedError

    def estimate_start(self, request: Request, now: float) -> float | None:
        raise NotImplementedError

    def nodes(self) -> list[NodeView]:
        raise NotImplementedError

    def node(self, name: str) -> NodeView:
        """One node's view (as ``nodes`` lists it)."""
        raise NotImplementedError

    def pending_count(self) -> int:
        raise NotImplementedError

    def pending_demand(self) -> tuple[int, float]:
        """(pending GPUs, pending GPU-seconds by time limit)."""
        raise NotImplementedError

    def gpus_total(self) -> int:
        raise NotImplementedError

    def gpus_used(self) -> int:
        raise NotImplementedError

    def state_of(self, key: str) -> str | None:
        """'PENDING', 'RUNNING' or None (unknown or finished)."""
        raise NotImplementedError


class VolcanoCluster(SimCluster):
    def __init__(self, spec: BackendSpec):
        self.name, self.track, self.kind = spec.name, "kubernetes", "volcano"
        self.now = 0.0
        nodes = [vc.SimNode(name, gpus=g.gpus, gpu_product=g.gpu_type or "gpu", cpu_millis=g.cpus * 1000,
                            memory=g.memory_mib * MIB, switch=switch)
                 for name, g, switch in expand_nodes(spec.name, spec.nodes)]
        queues = [vc.SimQueue(q.name, gpu_capability=q.gpu_capability) for q in spec.pools]
        self.model = vc.ClusterModel(nodes, queues, clock=lambda: self.now, fast_reject=True)
        self._ends: list[tuple[float, str]] = []
        self._dirty = True
        self.version = 0
        self._gpus_total = sum(n.gpus for n in self.model.nodes.values())  # the node set never changes
        self._used, self._used_at = 0, -1

    def submit(self, key: str, request: Request, now: float) -> None:
        gpu_type = request.gpu_type
        able = [n for n in self.model.nodes.values() if gpu_type in (None, n.gpu_product)
                and n.gpus >= request.gpus_per_worker and n.cpu_millis >= request.cpus_per_worker * 1000
                and n.memory >= request.memory_mib_per_worker * MIB]
        slots = sum(min(n.gpus // max(request.gpus_per_worker, 1), n.cpu_millis // (request.cpus_per_worker * 1000))
                    for n in able)
        if slots < request.workers:
            raise ValueError(f"{self.name}: no room for {request.workers} worker(s) of {request.gpus_per_worker} "
                             f"{gpu_type or 'any'} GPU(s), {request.cpus_per_worker} CPUs, "
                             f"{request.memory_mib_per_worker} MiB ({slots} fit the whole cluster)")
        selector = {"nvidia.com/gpu.product": gpu_type} if gpu_type else {}
        pods = [vc.PodRequest(f"{key}-{i}", gpus=request.gpus_per_worker, cpu_millis=request.cpus_per_worker * 1000,
                              memory=request.memory_mib_per_worker * MIB, node_selector=selector)
                for i in range(request.workers)]
        queue = request.pool if request.pool in self.model.queues else "default"
        self.now = now
        self.model.add_gang(vc.Gang(key, pods, min_member=request.workers, queue=queue, priority=request.priority,
                                    run_seconds=request.run_seconds, deadline_seconds=request.time_limit,
                                    topology_tier=2 if request.switches else None, created_at=now))
        self._dirty = True
        self.version += 1

    def cancel(self, key: str, now: float) -> None:
        if self.model.remove_gang(key) is not None:
            self._dirty = True
            self.version += 1

    def advance(self, now: float) -> list[Change]:
        self.now = now
        due = bool(self._ends) and self._ends[0][0] <= now
        if not (self._dirty or due):
            return []
        self._dirty = False
        out: list[Change] = []
        for gang in self.model.step():
            if gang.state == vc.RUNNING and gang.started_at == now:
                run = min(gang.run_seconds, gang.deadline_seconds or gang.run_seconds)
                heapq.heappush(self._ends, (now + run, gang.key))
                nodes = tuple(r.node for r in gang.results.values() if r.node)  # one entry per pod
                out.append(Change(gang.key, "start", now, nodes=nodes))
            elif gang.state in (vc.SUCCEEDED, vc.FAILED):
                timed_out = gang.deadline_seconds is not None and gang.run_seconds > gang.deadline_seconds
                out.append(Change(gang.key, "end", gang.finished_at or now, TIMEOUT if timed_out else "COMPLETED"))
                self.model.gangs.pop(gang.key, None)
        while self._ends and (self._ends[0][1] not in self.model.gangs
                              or self.model.gangs[self._ends[0][1]].state != vc.RUNNING):
            heapq.heappop(self._ends)
        if out:
            self.version += 1
        return out

    def next_event_time(self) -> float | None:
        while self._ends and (self._ends[0][1] not in self.model.gangs
                              or self.model.gangs[self._ends[0][1]].state != vc.RUNNING):
            heapq.heappop(self._ends)
        return self._ends[0][0] if self._ends else None

    def estimate_start(self, request: Request, now: float) -> float | None:
        """Aggregate estimate: GPUs free now plus those the running gangs release by their deadlines, after the
        GPUs of pending gangs queued ahead (Volcano has no reservations to ask)."""
        matching = [n for n in self.model.nodes.values() if request.gpu_type in (None, n.gpu_product)]
        if not matching:
            return None
        names = {n.name for n in matching}
        free = sum(n.free_gpus for n in matching)
        ahead = sum(g.min_gpus for g in self.model.gangs.values() if g.state == vc.PENDING)
        need = request.gpus + ahead
        if free >= need:
            return now
        releases = []
        for gang in self.model.gangs.values():
            if gang.state != vc.RUNNING or gang.started_at is None:
                continue
            held = sum(p.gpus for p in gang.pods if gang.results.get(p.name, vc.PodResult()).node in names)
            limit = gang.deadline_seconds if gang.deadline_seconds is not None else gang.run_seconds
            releases.append((gang.started_at + limit, held))
        for when, gpus in sorted(releases):
            free += gpus
            if free >= need:
                return max(now, when)
        return None

    def nodes(self) -> list[NodeView]:
        return [self.node(name) for name in self.model.nodes]

    def node(self, name: str) -> NodeView:
        n = self.model.nodes[name]
        return NodeView(n.name, n.gpu_product, n.gpus, n.used_gpus, n.cpu_millis // 1000,
                        -(-n.used_cpu_millis // 1000), n.memory // MIB, -(-n.used_memory // MIB), n.switch)

    def pending_count(self) -> int:
        return sum(1 for g in self.model.gangs.values() if g.state == vc.PENDING)

    def pending_demand(self) -> tuple[int, float]:
        gpus, seconds = 0, 0.0
        for g in self.model.gangs.values():
            if g.state == vc.PENDING:
                gpus += g.min_gpus
                seconds += g.min_gpus * (g.deadline_seconds or g.run_seconds)
        return gpus, seconds

    def gpus_total(self) -> int:
        return self._gpus_total

    def gpus_used(self) -> int:
        """Summed over the nodes once per version: every change of node usage (a gang started, ended or
        removed) bumps it."""
        if self._used_at != self.version:
            self._used, self._used_at = sum(n.used_gpus for n in self.model.nodes.values()), self.version
        return self._used

    def state_of(self, key: str) -> str | None:
        gang = self.model.gangs.get(key)
        if gang is None:
            return None
        return "RUNNING" if gang.state == vc.RUNNING else "PENDING" if gang.state == vc.PENDING else None


class SlurmCluster(SimCluster):
    def __init__(self, spec: BackendSpec, *, name: str | None = None, groups: Iterable[NodeGroup] | None = None):
        self.name, self.track, self.kind = name or spec.name, "slurm", "slurm"
        nodes = [SlurmNode(node, gpus=g.gpus, cpus=g.cpus, memory_mib=g.memory_mib, gpu_type=g.gpu_type,
                           switch=switch)
                 for node, g, switch in expand_nodes(self.name, groups if groups is not None else spec.nodes)]
        partitions = [Partition(p.name, max_time=p.max_time) for p in spec.pools]
        self.model = SlurmModel(nodes, partitions, max_reservations=spec.max_reservations)
        self._views: dict[str, NodeView] = {}

    @property
    def version(self) -> int:  # type: ignore[override]
        return self.model.version

    def _job(self, key: str, request: Request) -> SlurmJob:
        pool = request.pool if request.pool in self.model.partitions else None
        return SlurmJob(key, nodes=request.workers, gpus_per_node=request.gpus_per_worker,
                        cpus_per_node=request.cpus_per_worker, memory_mib_per_node=request.memory_mib_per_worker,
                        gpu_type=request.gpu_type, time_limit=request.time_limit, run_seconds=request.run_seconds,
                        priority=request.priority, partition=pool, switches=request.switches,
                        switch_wait=request.switch_wait)

    def submit(self, key: str, request: Request, now: float) -> None:
        self.model.submit(self._job(key, request), now)

    def cancel(self, key: str, now: float) -> None:
        self.model.cancel(key, now)
        self.model.forget(key)

    def advance(self, now: float) -> list[Change]:
        out = []
        for job in self.model.advance(now):
            if job.state == RUNNING:
                out.append(Change(job.key, "start", now, nodes=job.allocation))
            else:
                out.append(Change(job.key, "end", job.end_time or now, job.state))
                self.model.forget(job.key)
        return out

    def next_event_time(self) -> float | None:
        return self.model.next_event_time()

    def estimate_start(self, request: Request, now: float) -> float | None:
        return self.model.estimate_start(self._job("~probe", request), now)

    def nodes(self) -> list[NodeView]:
        return [self.node(name) for name in self.model.nodes]

    def node(self, name: str) -> NodeView:
        n = self.model.nodes[name]
        view = self._views.get(name)
        if view is None or (view.gpus_used, view.cpus_used, view.memory_mib_used) != (
                n.used_gpus, n.used_cpus, n.used_memory_mib):
            view = self._views[name] = NodeView(n.name, n.gpu_type, n.gpus, n.used_gpus, n.cpus, n.used_cpus,
                                                n.memory_mib, n.used_memory_mib, n.switch)
        return view

    def pending_count(self) -> int:
        return len(self.model.pending())

    def pending_demand(self) -> tuple[int, float]:
        pending = self.model.pending()
        return sum(j.gpus for j in pending), sum(j.gpus * j.time_limit for j in pending)

    def gpus_total(self) -> int:
        return self.model.gpus_total()

    def gpus_used(self) -> int:
        return self.model.gpus_used()

    def state_of(self, key: str) -> str | None:
        job = self.model.jobs.get(key)
        if job is None or job.state == CANCELLED:
            return None
        return job.state if job.state in ("PENDING", "RUNNING") else None


def build_cluster(spec: BackendSpec) -> SimCluster:
    return VolcanoCluster(spec) if spec.track == "kubernetes" else SlurmCluster(spec)


def single_pool(specs: Iterable[BackendSpec]) -> SlurmCluster:
    """Every backend's nodes merged into one Slurm-like cluster: the bound a broker over them can approach."""
    specs = list(specs)
    groups = [g for s in specs for g in s.nodes]
    merged = BackendSpec("single-pool", "slurm", tuple(groups), (),
                         max(s.max_reservations for s in specs))
    return SlurmCluster(merged)
