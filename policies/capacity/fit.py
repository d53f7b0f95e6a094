"""Can a gang of W workers x G GPUs ever fit in a scope, and where does it fit now?

``fit_gang(index, scope, request)`` answers with a ``GangFit``:
- UNRESOLVABLE: no such GPU type here, G exceeds every node's total, the gang exceeds the whole scope (or, for
  a hard topology tier, every group of that tier), or a worker needs more CPUs / memory than any node has;
- UNSCHEDULABLE: it could fit, but not in today's free capacity (within the hard tier, if any);
- OK: the tightest tier where it fits now, one node index per worker (best fit: fullest nodes that still hold
  a worker, inside the tightest group that holds the whole gang) and the GPUs it strands on the touched nodes.

The per-job work reads the indexes (histograms and group lists), never every node, except for CPU-only jobs
(G = 0), which are rare and scanned linearly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dualtrack.broker.domain import FilterStatus, Job
from dualtrack.broker.domain.spec import TopologyMode, TopologyTier
from dualtrack.policies.capacity.index import ScopeIndex, SnapshotIndex, TypeIndex
from dualtrack.policies.capacity.tree import GROUP_TIERS, Tier

GROUP_TRIES = 8  # groups tried per tier before a looser tier (a group can fail on CPU / memory only)
_WANTED = {TopologyTier.NODE: Tier.NODE, TopologyTier.SWITCH: Tier.SWITCH, TopologyTier.ANY: Tier.CLUSTER}


@dataclass(frozen=True)
class GangRequest:
    """What one job asks of a scope."""

    workers: int
    gpus: int  # per worker
    gpu_type: str | None
    cpus: int  # per worker
    memory: int  # bytes per worker
    wanted: Tier  # the tier the job asks for (CLUSTER for "any")
    hard: bool  # True: nothing looser than ``wanted`` is acceptable

    @property
    def total_gpus(self) -> int:
        return self.workers * self.gpus

    @property
    def loosest(self) -> Tier:
        return self.wanted if self.hard else Tier.CLUSTER

    @staticmethod
    def of(job: Job) -> GangRequest:
        spec = job.spec.spec
        res = spec.resources
        return GangRequest(
            workers=res.workers,
            gpus=res.gpus_per_worker,
            gpu_type=res.gpu_type,
            cpus=res.cpus_per_worker,
            memory=res.memory_per_worker,
            wanted=_WANTED[spec.topology.tier],
            hard=spec.topology.mode is TopologyMode.HARD and spec.topology.tier is not TopologyTier.ANY,
        )

    def describe(self) -> str:
        kind = f" {self.gpu_type}" if self.gpu_type else ""
        return f"{self.workers} worker(s) x {self.gpus}{kind} GPU(s)"


@dataclass(frozen=True)
class GangFit:
    status: FilterStatus
    reason: str = ""
    gpu_type: str | None = None
    tier: Tier | None = None
    nodes: tuple[int, ...] = ()  # node index per worker (a node repeats for each worker it hosts)
    stranded: int = 0  # free GPUs left behind on the touched nodes
    used: int = 0  # GPUs the gang takes


def fit_gang(index: SnapshotIndex, scope: ScopeIndex, request: GangRequest) -> GangFit:
    """See the module docstring. Pure with respect to the index's current free capacity."""
    if request.gpus == 0:
        return _fit_cpu_only(index, scope, request)
    if request.gpu_type is not None:
        types = scope.types.get(request.gpu_type)
        if types is None:
            return GangFit(FilterStatus.UNRESOLVABLE, f"no {request.gpu_type} GPUs here (has {scope.describe_types()})")
        return _fit_type(index, types, request)
    if not scope.types:
        return GangFit(FilterStatus.UNRESOLVABLE, "no GPU nodes here")
    fits = [_fit_type(index, types, request) for types in scope.types.values()]
    placed = [f for f in fits if f.status is FilterStatus.OK]
    if placed:
        return min(placed, key=lambda f: (f.tier, f.stranded, f.gpu_type or ""))
    status = (
        FilterStatus.UNRESOLVABLE
        if all(f.status is FilterStatus.UNRESOLVABLE for f in fits)
        else FilterStatus.UNSCHEDULABLE
    )
    return GangFit(status, "; ".join(f"{f.gpu_type}: {f.reason}" for f in fits if f.status is status))


def fit_gang_memo(index: SnapshotIndex, scope: ScopeIndex, request: GangRequest) -> GangFit:
    """``fit_gang``, remembered per (pool, request) until the index's free capacity or bucket order changes.

    ``fit_gang`` is a pure function of those (and GangFit is immutable), so this returns what it would. A batch
    decides many waiting jobs of a few shapes between two assumptions: all but the first of a shape are one
    lookup."""
    key = (scope.pool, request)
    found: GangFit | None = index.fits.get(key)
    if found is None:
        found = index.fits[key] = fit_gang(index, scope, request)
    return found


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"


def never_fits(types: TypeIndex, request: GangRequest, has_switches: bool) -> str | None:
    """Why the gang can never fit on these nodes, or None."""
    g, w = request.gpus, request.workers
    if g > types.max_total:
        return f"a worker needs {g} GPUs; the largest {types.key} node has {types.max_total}"
    if types.max_cpus and request.cpus > types.max_cpus:
        return f"a worker needs {request.cpus} CPUs; the largest {types.key} node has {types.max_cpus}"
    if types.max_memory and request.memory > types.max_memory:
        return (f"a worker needs {_gib(request.memory)} of memory; the largest {types.key} node has "
                f"{_gib(types.max_memory)}")
    ever = types.ever_slots(g)
    if ever[Tier.CLUSTER] < w:
        return (
            f"the gang needs {request.total_gpus} GPUs ({w} x {g}); at most {ever[Tier.CLUSTER]} worker(s) of "
            f"{g} fit in all {types.total_gpus} {types.key} GPUs"
        )
    if request.hard and request.loosest is not Tier.CLUSTER:
        tier = request.loosest
        if tier is Tier.SWITCH and not has_switches:
            return "topology tier switch (hard): this backend reports no switch topology"
        best = ever[tier]  # a group of a tighter tier lies inside one of this tier
        if best < w:
            return f"topology tier {tier} (hard): at most {best} worker(s) of {g} GPUs ever fit in {tier.label}"
    return None


def _fit_type(index: SnapshotIndex, types: TypeIndex, request: GangRequest) -> GangFit:
    impossible = never_fits(types, request, index.has_switches)
    if impossible:
        return GangFit(FilterStatus.UNRESOLVABLE, impossible, types.key)
    view = types.view(request.gpus)
    for tier in GROUP_TIERS:
        if tier > request.loosest:
            break
        for tries, group in enumerate(view.fitting(tier, request.workers), start=1):
            picked = _pick(index, _best_fit(index, types.group_members[tier][group], request.gpus), request)
            if picked is not None:
                return _placed(index, types.key, tier, picked, request)
            if tries >= GROUP_TRIES:
                break
    if request.loosest is Tier.CLUSTER and view.cluster >= request.workers:
        picked = _pick(index, _by_free_level(types, request.gpus), request)
        if picked is not None:
            return _placed(index, types.key, Tier.CLUSTER, picked, request)
        return GangFit(
            FilterStatus.UNSCHEDULABLE,
            f"{view.cluster} worker slot(s) of {request.gpus} {types.key} GPUs are free, but not with "
            f"{request.cpus} CPUs and {_gib(request.memory)} of memory each",
            types.key,
        )
    tier = request.loosest
    return GangFit(
        FilterStatus.UNSCHEDULABLE,
        f"needs {request.describe()} in {tier.label}; free now: at most {view.best(tier)} worker(s) there "
        f"({types.free_gpus} {types.key} GPUs free in all)",
        types.key,
    )


def _by_free_level(types: TypeIndex, gpus: int) -> Iterable[int]:
    for level in sorted(k for k in types.free_buckets if k >= gpus):
        yield from types.free_buckets[level]


def _worker_room(index: SnapshotIndex, i: int, request: GangRequest) -> int:
    """How many of the request's workers node ``i`` can host now."""
    node = index.snapshot.nodes[i]
    room = index.free[i] // request.gpus if request.gpus else request.workers
    if node.cpus_total and request.cpus:
        room = min(room, index.cpus_free[i] // request.cpus)
    if node.memory_total and request.memory:
        room = min(room, index.memory_free[i] // request.memory)
    return max(room, 0)


def _best_fit(index: SnapshotIndex, members: list[int], gpus: int) -> list[int]:
    """The members that hold a worker now, fullest first (fewest free GPUs), then by node order."""
    free = index.free
    return sorted((i for i in members if free[i] >= gpus), key=lambda i: (free[i], i))


def _pick(index: SnapshotIndex, ordered: Iterable[int], request: GangRequest) -> list[int] | None:
    """Take workers from nodes in the given order until the gang is complete; None if it never is."""
    chosen: list[int] = []
    need = request.workers
    for i in ordered:
        room = min(_worker_room(index, i, request), need)
        chosen.extend([i] * room)
        need -= room
        if need == 0:
            return chosen
    return None


def _placed(index: SnapshotIndex, key: str, tier: Tier, picked: list[int], request: GangRequest) -> GangFit:
    stranded = sum(index.free[i] for i in set(picked)) - request.total_gpus
    return GangFit(FilterStatus.OK, "", key, tier, tuple(picked), stranded=stranded, used=request.total_gpus)


def _fit_cpu_only(index: SnapshotIndex, scope: ScopeIndex, request: GangRequest) -> GangFit:
    nodes = index.snapshot.nodes
    if not scope.members:
        return GangFit(FilterStatus.UNRESOLVABLE, "no nodes here")
    max_cpus = max(nodes[i].cpus_total for i in scope.members)
    if max_cpus and request.cpus > max_cpus:
        reason = f"a worker needs {request.cpus} CPUs; the largest node has {max_cpus}"
        return GangFit(FilterStatus.UNRESOLVABLE, reason)
    rooms = [(i, _worker_room(index, i, request)) for i in scope.members if nodes[i].schedulable]
    single = next((i for i, room in rooms if room >= request.workers), None)
    if single is not None:
        return GangFit(FilterStatus.OK, "", None, Tier.NODE, (single,) * request.workers)
    if request.loosest is Tier.NODE:
        return GangFit(FilterStatus.UNSCHEDULABLE, f"no node has room for {request.workers} CPU worker(s) now")
    chosen: list[int] = []
    for i, room in rooms:
        chosen.extend([i] * min(room, request.workers - len(chosen)))
        if len(chosen) == request.workers:
            return GangFit(FilterStatus.OK, "", None, Tier.CLUSTER, tuple(chosen))
    return GangFit(FilterStatus.UNSCHEDULABLE, f"not enough free CPUs / memory for {request.workers} worker(s) now")
