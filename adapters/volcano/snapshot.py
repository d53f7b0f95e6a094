"""Builds a ClusterSnapshot from what the Kubernetes API lists: Nodes, Pods, Volcano Queues, PodGroups,
vcjobs and HyperNodes.

Caller: ``VolcanoBackend.snapshot`` after listing everything (all lists are JSON dicts, as the API sends them).
``build_snapshot`` is pure and never raises for odd objects: a node without GPUs counts 0, a quantity it
cannot parse counts 0.

Topology: a node's NVLink domain is its ``topologyLabels.nvlinkDomain`` label, else the tier-1 HyperNode that
lists it; its switch is the ``topologyLabels.switch`` label, else the tier-2 HyperNode above its tier-1 one
(the same convention as ``networkTopology``: tier 1 = NVLink domain, tier 2 = leaf switch). A switch's parent
is the HyperNode one tier up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from kubernetes.utils import parse_quantity as _parse_quantity

from dualtrack.adapters.volcano.settings import VolcanoSettings
from dualtrack.broker.domain import ClusterSnapshot, NodeCapacity, PoolCapacity, Switch

Obj = Mapping[str, Any]
TERMINAL_POD_PHASES = frozenset({"Succeeded", "Failed"})
PENDING_PODGROUP_PHASES = frozenset({"Pending", "Inqueue"})
parse_quantity: Callable[[Any], Decimal] = _parse_quantity
_GPU_MODEL = re.compile(r"^(gb|[abhltvk])\d{1,3}[a-z]?$")


def quantity(value: Any) -> Decimal:
    """A Kubernetes quantity (``8``, ``500m``, ``64Gi``) as a Decimal; 0 for anything unparsable."""
    if value is None:
        return Decimal(0)
    try:
        return Decimal(parse_quantity(value))
    except (ValueError, TypeError, ArithmeticError):
        return Decimal(0)


def gpu_type_of(product: str | None, settings: VolcanoSettings) -> str | None:
    """The broker's gpuType for a product label value: the configured mapping, else the model token found in
    the product (``NVIDIA-A100-SXM4-80GB`` -> ``a100``), else the product lowercased."""
    if not product:
        return None
    for gpu_type, value in settings.gpu_products.items():
        if value == product:
            return gpu_type
    tokens = re.split(r"[-_ .]+", product.lower())
    for token in tokens:
        if _GPU_MODEL.match(token):
            return token
    cleaned = re.sub(r"[^a-z0-9_.-]+", "-", product.lower()).strip("-.")
    return cleaned[:63] or None


def _pod_gpus(pod: Obj, resource: str) -> int:
    total = Decimal(0)
    for container in pod.get("spec", {}).get("containers") or ():
        res = container.get("resources") or {}
        value = (res.get("limits") or {}).get(resource, (res.get("requests") or {}).get(resource))
        total += quantity(value)
    return int(total)


def _pod_cpu_mem(pod: Obj) -> tuple[Decimal, Decimal]:
    cpu, mem = Decimal(0), Decimal(0)
    for container in pod.get("spec", {}).get("containers") or ():
        req = (container.get("resources") or {}).get("requests") or {}
        cpu += quantity(req.get("cpu"))
        mem += quantity(req.get("memory"))
    return cpu, mem


def _tolerated(taint: Obj, tolerations: Iterable[Obj]) -> bool:
    for tol in tolerations:
        if tol.get("effect") not in (None, "", taint.get("effect")):
            continue
        if tol.get("operator") == "Exists":
            if not tol.get("key") or tol.get("key") == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def _node_ready(node: Obj) -> bool:
    for cond in node.get("status", {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _node_schedulable(node: Obj, settings: VolcanoSettings) -> bool:
    if node.get("spec", {}).get("unschedulable") or not _node_ready(node):
        return False
    for taint in node.get("spec", {}).get("taints") or ():
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(taint, settings.tolerations):
            return False
    return True


def _members(hypernode: Obj, kind: str, candidates: Iterable[str]) -> set[str]:
    """The names among ``candidates`` that ``hypernode`` lists as members of type ``kind``."""
    out: set[str] = set()
    names = list(candidates)
    for member in hypernode.get("spec", {}).get("members") or ():
        if member.get("type") != kind:
            continue
        selector = member.get("selector") or {}
        exact = (selector.get("exactMatch") or {}).get("name")
        if exact:
            out.update(n for n in names if n == exact)
        pattern = (selector.get("regexMatch") or {}).get("pattern")
        if pattern:
            try:
                regex = re.compile(pattern)
            except re.error:
                continue
            out.update(n for n in names if regex.fullmatch(n))
    return out


class _HyperNodeTree:
    """Which tier-1 HyperNode holds each node and which HyperNode holds each HyperNode."""

    def __init__(self, hypernodes: Sequence[Obj], node_names: Sequence[str]):
        self.tier: dict[str, int] = {}
        self.parent: dict[str, str] = {}
        self.leaf_of_node: dict[str, str] = {}
        names = [h.get("metadata", {}).get("name", "") for h in hypernodes]
        for hn, name in zip(hypernodes, names, strict=True):
            self.tier[name] = int(hn.get("spec", {}).get("tier", 0) or 0)
        for hn, name in zip(hypernodes, names, strict=True):
            for node in _members(hn, "Node", node_names):
                current = self.leaf_of_node.get(node)
                if current is None or self.tier[name] < self.tier[current]:
                    self.leaf_of_node[node] = name
            for child in _members(hn, "HyperNode", names):
                self.parent[child] = name

    def at_tier(self, node: str, tier: int) -> str | None:
        current = self.leaf_of_node.get(node)
        while current is not None and self.tier.get(current, 0) < tier:
            current = self.parent.get(current)
        return current if current is not None and self.tier.get(current) == tier else None


def _nodes(nodes: Sequence[Obj], pods: Sequence[Obj], tree: _HyperNodeTree,
           settings: VolcanoSettings) -> tuple[NodeCapacity, ...]:
    used_gpus: dict[str, int] = {}
    used_cpu: dict[str, Decimal] = {}
    used_mem: dict[str, Decimal] = {}
    for pod in pods:
        host = pod.get("spec", {}).get("nodeName")
        if not host or pod.get("status", {}).get("phase") in TERMINAL_POD_PHASES:
            continue
        used_gpus[host] = used_gpus.get(host, 0) + _pod_gpus(pod, settings.gpu_resource)
        cpu, mem = _pod_cpu_mem(pod)
        used_cpu[host] = used_cpu.get(host, Decimal(0)) + cpu
        used_mem[host] = used_mem.get(host, Decimal(0)) + mem
    out = []
    for node in nodes:
        meta = node.get("metadata", {})
        name = meta.get("name", "")
        labels = dict(meta.get("labels") or {})
        alloc = node.get("status", {}).get("allocatable") or {}
        gpus = int(quantity(alloc.get(settings.gpu_resource)))
        cpus = quantity(alloc.get("cpu"))
        mem = quantity(alloc.get("memory"))
        out.append(NodeCapacity(
            name=name,
            gpu_type=gpu_type_of(labels.get(settings.gpu_product_label), settings) if gpus else None,
            gpus_total=gpus,
            gpus_free=max(gpus - used_gpus.get(name, 0), 0),
            cpus_total=int(cpus),
            cpus_free=max(int(cpus - used_cpu.get(name, Decimal(0))), 0),
            memory_total=int(mem),
            memory_free=max(int(mem - used_mem.get(name, Decimal(0))), 0),
            switch=labels.get(settings.topology_labels.switch) or tree.at_tier(name, 2),
            nvlink_domain=labels.get(settings.topology_labels.nvlink_domain) or tree.at_tier(name, 1),
            schedulable=_node_schedulable(node, settings),
            labels=labels,
        ))
    return tuple(out)


def _switches(nodes: Sequence[NodeCapacity], tree: _HyperNodeTree) -> tuple[Switch, ...]:
    seen: dict[str, Switch] = {}
    pending = [n.switch for n in nodes if n.switch]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        parent = tree.parent.get(name)
        seen[name] = Switch(name, parent)
        if parent:
            pending.append(parent)
    return tuple(sorted(seen.values(), key=lambda s: s.name))


def _deadline_by_owner(vcjobs: Sequence[Obj]) -> dict[str, int]:
    out: dict[str, int] = {}
    for job in vcjobs:
        uid = job.get("metadata", {}).get("uid")
        deadlines = [
            (t.get("template", {}).get("spec") or {}).get("activeDeadlineSeconds")
            for t in job.get("spec", {}).get("tasks") or ()
        ]
        known = [d for d in deadlines if isinstance(d, int)]
        if uid and known:
            out[uid] = max(known)
    return out


def _pools(queues: Sequence[Obj], podgroups: Sequence[Obj], vcjobs: Sequence[Obj],
           settings: VolcanoSettings) -> tuple[tuple[PoolCapacity, ...], int, int, float]:
    deadlines = _deadline_by_owner(vcjobs)
    demand: dict[str, list[float]] = {}  # queue -> [jobs, gpus, gpu-seconds]
    running = pending = 0
    pending_seconds = 0.0
    for pg in podgroups:
        phase = pg.get("status", {}).get("phase", "Pending")
        if phase == "Running":
            running += 1
        if phase not in PENDING_PODGROUP_PHASES:
            continue
        pending += 1
        queue = pg.get("spec", {}).get("queue") or "default"
        gpus = float(quantity((pg.get("spec", {}).get("minResources") or {}).get(settings.gpu_resource)))
        owners = [o.get("uid") for o in pg.get("metadata", {}).get("ownerReferences") or ()]
        seconds = next((deadlines[u] for u in owners if u in deadlines), settings.pending_estimate_seconds)
        entry = demand.setdefault(queue, [0, 0, 0.0])
        entry[0] += 1
        entry[1] += gpus
        entry[2] += gpus * seconds
        pending_seconds += gpus * seconds
    pools = []
    for q in queues:
        name = q.get("metadata", {}).get("name", "")
        capability = (q.get("spec", {}).get("capability") or {}).get(settings.gpu_resource)
        allocated = (q.get("status", {}).get("allocated") or {}).get(settings.gpu_resource)
        jobs, gpus, gpu_seconds = demand.get(name, [0, 0, 0.0])
        pools.append(PoolCapacity(
            name=name, kind="queue",
            gpu_limit=int(quantity(capability)) if capability is not None else None,
            gpus_allocated=int(quantity(allocated)),
            pending_jobs=int(jobs), pending_gpus=int(gpus), pending_gpu_seconds=float(gpu_seconds),
            open=q.get("status", {}).get("state", "Open") in ("Open", ""),
        ))
    return tuple(pools), running, pending, pending_seconds


def build_snapshot(backend: str, taken_at: float, settings: VolcanoSettings, *, nodes: Sequence[Obj],
                   pods: Sequence[Obj], queues: Sequence[Obj], podgroups: Sequence[Obj],
                   vcjobs: Sequence[Obj], hypernodes: Sequence[Obj]) -> ClusterSnapshot:
    """The snapshot of one Volcano cluster (see the module docstring)."""
    tree = _HyperNodeTree(hypernodes, [n.get("metadata", {}).get("name", "") for n in nodes])
    node_caps = _nodes(nodes, pods, tree, settings)
    pools, running, pending, pending_seconds = _pools(queues, podgroups, vcjobs, settings)
    return ClusterSnapshot(
        backend=backend, kind="volcano", taken_at=taken_at, nodes=node_caps, pools=pools,
        switches=_switches(node_caps, tree), running_jobs=running, pending_jobs=pending,
        pending_gpu_seconds=pending_seconds,
    )
