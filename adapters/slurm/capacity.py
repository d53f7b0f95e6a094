"""Records from a Slurm site -> one immutable ``ClusterSnapshot`` (pure; called by ``SlurmBackend.snapshot``).

Nodes: GPUs per type from GRES (``gpu:a100:8``; ``gpu:h100:2,gpu:h200:4`` gives a node with two
``gpu_groups``), free = total - GRES in use (per type), CPUs and memory
(MiB -> bytes) free = total - allocated, leaf switch from the topology, pools = partitions. A node that is down,
drained/draining, failing, in maintenance, not responding, powered down or otherwise unusable is kept with
``schedulable=False`` (the snapshot's totals skip it). Pools: one per partition with its allocated GPUs, open
flag, max time, and the pending backlog from squeue (jobs, GPUs, GPU-seconds = GPUs x time limit).
"""

from __future__ import annotations

from collections.abc import Sequence

from dualtrack.adapters.slurm.gpus import gpus_by_type
from dualtrack.adapters.slurm.records import JobRecord, NodeRecord, PartitionRecord, SwitchRecord
from dualtrack.adapters.slurm.states import phase_of
from dualtrack.broker.domain import BackendPhase, ClusterSnapshot, GpuGroup, NodeCapacity, PoolCapacity, Switch

MIB = 1024**2
UNSCHEDULABLE = frozenset({
    "DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "MAINT", "MAINTENANCE", "NOT_RESPONDING",
    "NO_RESPOND", "POWERED_DOWN", "POWER_DOWN", "POWERING_DOWN", "FUTURE", "INVAL", "REBOOT_REQUESTED",
    "REBOOT_ISSUED", "UNKNOWN", "RESERVED_FOR_MAINT",
})
DEFAULT_PENDING_SECONDS = 3600  # GPU-seconds of a pending job without a time limit


def _leaf_of(switches: Sequence[SwitchRecord]) -> dict[str, str]:
    leaf: dict[str, tuple[int, str]] = {}
    for switch in switches:
        for node in switch.nodes:
            if node not in leaf or switch.level < leaf[node][0]:
                leaf[node] = (switch.level, switch.name)
    return {node: name for node, (_, name) in leaf.items()}


def switch_tree(switches: Sequence[SwitchRecord]) -> tuple[Switch, ...]:
    parent = {child: s.name for s in switches for child in s.children}
    return tuple(Switch(s.name, parent.get(s.name)) for s in switches)


def gpu_groups(gres: str, gres_used: str) -> tuple[GpuGroup, ...]:
    """GPUs per type of one node: totals from its GRES, in use from its GRES in use (``gpu:h100:2,gpu:h200:4``
    with ``gpu:h100:1(IDX:0),gpu:h200:0(IDX:N/A)`` -> h100 2/1 free, h200 4/4 free). Untyped GPUs in use on
    a typed node are taken from the types in GRES order."""
    totals = gpus_by_type(gres)
    used = gpus_by_type(gres_used)
    loose = sum(count for kind, count in used.items() if kind not in totals)
    groups = []
    for kind, total in totals.items():
        taken = min(used.get(kind, 0), total)
        extra = min(loose, total - taken)
        loose -= extra
        groups.append(GpuGroup(kind, total, total - taken - extra))
    return tuple(groups)


def node_capacity(node: NodeRecord, leaf: dict[str, str]) -> NodeCapacity:
    groups = gpu_groups(node.gres, node.gres_used)
    typed = [g for g in groups if g.gpu_type is not None]
    return NodeCapacity(
        name=node.name,
        gpu_type=typed[0].gpu_type if typed else None,
        gpus_total=sum(g.total for g in groups),
        gpus_free=sum(g.free for g in groups),
        gpu_groups=groups if len(groups) > 1 else (),
        cpus_total=node.cpus,
        cpus_free=max(node.cpus - node.alloc_cpus, 0),
        memory_total=node.memory_mb * MIB,
        memory_free=max(node.memory_mb - node.alloc_memory_mb, 0) * MIB,
        switch=leaf.get(node.name),
        pools=node.partitions,
        schedulable=not (node.states & UNSCHEDULABLE),
    )


def build_snapshot(
    backend: str,
    taken_at: float,
    nodes: Sequence[NodeRecord],
    partitions: Sequence[PartitionRecord],
    switches: Sequence[SwitchRecord],
    jobs: Sequence[JobRecord],
) -> ClusterSnapshot:
    leaf = _leaf_of(switches)
    capacities = tuple(node_capacity(n, leaf) for n in nodes)
    phases = [(job, phase_of(job).phase) for job in jobs]
    pending = [job for job, phase in phases if phase is BackendPhase.PENDING]
    running = [job for job, phase in phases if phase is BackendPhase.RUNNING]

    def gpu_seconds(job: JobRecord) -> float:
        return float(job.gpus * (job.time_limit_s or DEFAULT_PENDING_SECONDS))

    pools = []
    for part in partitions:
        in_pool = [c for c in capacities if part.name in c.pools]
        waiting = [j for j in pending if part.name in j.partition.split(",")]
        pools.append(PoolCapacity(
            name=part.name,
            kind="partition",
            gpus_allocated=sum(c.gpus_total - c.gpus_free for c in in_pool),
            pending_jobs=len(waiting),
            pending_gpus=sum(j.gpus for j in waiting),
            pending_gpu_seconds=sum(gpu_seconds(j) for j in waiting),
            max_time_s=part.max_time_s,
            open=part.up,
        ))
    return ClusterSnapshot(
        backend=backend,
        kind="slurm",
        taken_at=taken_at,
        nodes=capacities,
        pools=tuple(pools),
        switches=switch_tree(switches),
        running_jobs=len(running),
        pending_jobs=len(pending),
        pending_gpu_seconds=sum(gpu_seconds(j) for j in pending),
    )
