"""The clusters file of a replay (docs/simulation.md, "Clusters YAML").

    backends:
      - name: k8s-p40
        track: kubernetes            # kubernetes (Volcano model) | slurm (Slurm model)
        nodes: [{count: 40, gpus: 8, gpuType: p40, cpus: 48, memoryMiB: 393216, switch: k8s-leaf, nodesPerSwitch: 8}]
        queues: [{name: research, gpuCapability: 160, tenants: [team-1]}]      # kubernetes only, optional
      - name: slurm-p100
        track: slurm
        nodes: [...]
        partitions: [{name: gpu, maxTime: 2592000}]                             # slurm only, optional
        maxReservations: 8                                                      # slurm only, optional
    staticSplit: {team-0: k8s-p40, ...}   # optional: made by the fixed rule of ``static_split`` when absent
    datasets: {weld: [k8s-p40]}           # optional: where each dataset has a copy
    broker: {policies: {...}, reconciler: {...}}   # optional: the broker's config sections for ``live``

``load_clusters`` raises ClustersError naming the field path of the first problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dualtrack.sim.replay.trace import TraceJob

TRACKS = ("kubernetes", "slurm")


class ClustersError(ValueError):
    """A clusters file that does not follow the format; the message starts with the field path."""


@dataclass(frozen=True)
class NodeGroup:
    count: int
    gpus: int
    gpu_type: str | None
    cpus: int
    memory_mib: int
    switch: str
    nodes_per_switch: int


@dataclass(frozen=True)
class QueueSpec:
    name: str
    gpu_capability: int | None = None
    tenants: tuple[str, ...] = ()
    max_time: float | None = None  # partitions only


@dataclass(frozen=True)
class BackendSpec:
    name: str
    track: str
    nodes: tuple[NodeGroup, ...]
    pools: tuple[QueueSpec, ...] = ()
    max_reservations: int = 8

    @property
    def gpus(self) -> int:
        return sum(g.count * g.gpus for g in self.nodes)

    def pool_of(self, tenant: str) -> str | None:
        return next((p.name for p in self.pools if tenant in p.tenants), None)


@dataclass(frozen=True)
class Clusters:
    backends: tuple[BackendSpec, ...]
    static_split: Mapping[str, str] = field(default_factory=dict)
    datasets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    broker: Mapping[str, Any] = field(default_factory=dict)

    def backend(self, name: str) -> BackendSpec:
        return next(b for b in self.backends if b.name == name)

    @property
    def gpus(self) -> int:
        return sum(b.gpus for b in self.backends)


def load_clusters(path: str | Path) -> Clusters:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise ClustersError(f"{path}: not YAML: {exc}") from None
    return parse_clusters(data)


def parse_clusters(data: Any) -> Clusters:
    root = _mapping(data, "clusters")
    _known(root, {"backends", "staticSplit", "datasets", "broker"}, "")
    raw_backends = root.get("backends")
    if not isinstance(raw_backends, list) or not raw_backends:
        raise ClustersError("backends: must be a non-empty list")
    backends = tuple(_backend(b, f"backends[{i}]") for i, b in enumerate(raw_backends))
    names = [b.name for b in backends]
    if len(set(names)) != len(names):
        raise ClustersError(f"backends: names must be unique (got {', '.join(names)})")
    split = {str(t): str(b) for t, b in _mapping(root.get("staticSplit", {}), "staticSplit").items()}
    for tenant, backend in split.items():
        if backend not in names:
            raise ClustersError(f"staticSplit.{tenant}: no backend named {backend!r}")
    datasets: dict[str, tuple[str, ...]] = {}
    for name, where in _mapping(root.get("datasets", {}), "datasets").items():
        if not isinstance(where, list) or any(w not in names for w in where):
            raise ClustersError(f"datasets.{name}: must be a list of backend names")
        datasets[str(name)] = tuple(where)
    broker = dict(_mapping(root.get("broker", {}), "broker"))
    return Clusters(backends, split, datasets, broker)


def _backend(raw: Any, path: str) -> BackendSpec:
    data = _mapping(raw, path)
    _known(data, {"name", "track", "nodes", "queues", "partitions", "maxReservations"}, path)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ClustersError(f"{path}.name: must be a non-empty string")
    track = data.get("track")
    if track not in TRACKS:
        raise ClustersError(f"{path}.track: must be one of {', '.join(TRACKS)} (got {track!r})")
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise ClustersError(f"{path}.nodes: must be a non-empty list")
    groups = tuple(_group(n, f"{path}.nodes[{i}]", name, i) for i, n in enumerate(raw_nodes))
    pool_key = "queues" if track == "kubernetes" else "partitions"
    other = "partitions" if track == "kubernetes" else "queues"
    if other in data:
        raise ClustersError(f"{path}.{other}: a {track} backend has {pool_key}, not {other}")
    raw_pools = data.get(pool_key, [])
    if not isinstance(raw_pools, list):
        raise ClustersError(f"{path}.{pool_key}: must be a list")
    pools = tuple(_pool(p, f"{path}.{pool_key}[{i}]") for i, p in enumerate(raw_pools))
    reservations = _int(data.get("maxReservations", 8), f"{path}.maxReservations", minimum=0)
    return BackendSpec(name, track, groups, pools, reservations)


def _group(raw: Any, path: str, backend: str, index: int) -> NodeGroup:
    data = _mapping(raw, path)
    _known(data, {"count", "gpus", "gpuType", "cpus", "memoryMiB", "switch", "nodesPerSwitch"}, path)
    count = _int(data.get("count"), f"{path}.count", minimum=1)
    gpu_type = data.get("gpuType")
    if gpu_type is not None and (not isinstance(gpu_type, str) or not gpu_type):
        raise ClustersError(f"{path}.gpuType: must be a non-empty string")
    switch = data.get("switch", f"{backend}-g{index}")
    if not isinstance(switch, str) or not switch:
        raise ClustersError(f"{path}.switch: must be a non-empty string")
    return NodeGroup(
        count=count,
        gpus=_int(data.get("gpus"), f"{path}.gpus", minimum=0),
        gpu_type=gpu_type,
        cpus=_int(data.get("cpus", 64), f"{path}.cpus", minimum=1),
        memory_mib=_int(data.get("memoryMiB", 512 * 1024), f"{path}.memoryMiB", minimum=1),
        switch=switch,
        nodes_per_switch=_int(data.get("nodesPerSwitch", count), f"{path}.nodesPerSwitch", minimum=1),
    )


def _pool(raw: Any, path: str) -> QueueSpec:
    data = _mapping(raw, path)
    _known(data, {"name", "gpuCapability", "tenants", "maxTime"}, path)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ClustersError(f"{path}.name: must be a non-empty string")
    cap = data.get("gpuCapability")
    tenants = data.get("tenants", [])
    if not isinstance(tenants, list):
        raise ClustersError(f"{path}.tenants: must be a list of tenant names")
    max_time = data.get("maxTime")
    return QueueSpec(name, None if cap is None else _int(cap, f"{path}.gpuCapability", minimum=0),
                     tuple(str(t) for t in tenants),
                     None if max_time is None else float(_int(max_time, f"{path}.maxTime", minimum=1)))


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ClustersError(f"{path or 'clusters'}: must be a mapping")
    return value


def _known(data: Mapping[str, Any], known: set[str], path: str) -> None:
    for key in data:
        if key not in known:
            where = f"{path}.{key}" if path else str(key)
            raise ClustersError(f"{where}: unknown key (known: {', '.join(sorted(known))})")


def _int(value: Any, path: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClustersError(f"{path}: must be a whole number (got {value!r})")
    if value < minimum:
        raise ClustersError(f"{path}: must be >= {minimum} (got {value})")
    return value


def static_split(clusters: Clusters, jobs: Sequence[TraceJob]) -> dict[str, str]:
    """The clusters file's ``staticSplit``, completed by the fixed rule for tenants it does not name: tenants
    by total GPU-seconds, largest first, each to the backend with the fewest GPU-seconds so far per GPU
    (ties: the backend listed first)."""
    demand: dict[str, float] = {}
    for job in jobs:
        demand[job.tenant] = demand.get(job.tenant, 0.0) + job.gpus * job.duration
    split = dict(clusters.static_split)
    load = {b.name: 0.0 for b in clusters.backends}
    for tenant, backend in split.items():
        load[backend] += demand.get(tenant, 0.0)
    for tenant in sorted(demand, key=lambda t: (-demand[t], t)):
        if tenant in split:
            continue
        best = min(clusters.backends, key=lambda b: load[b.name] / max(b.gpus, 1))
        split[tenant] = best.name
        load[best.name] += demand[tenant]
    return split
