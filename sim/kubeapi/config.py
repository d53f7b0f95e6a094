"""What the simulated cluster is made of: nodes, GPUs, topology, queues, namespaces.

Caller: ``sim.kubeapi.main`` (command line) and tests. ``default_cluster()`` is 4 nodes x 8 A100 under 2
switches; ``load_cluster(path)`` reads a YAML file:

    nodes:                                   # single nodes or groups with count
      - {count: 4, namePrefix: gpu-, gpus: 8, product: NVIDIA-A100-SXM4-80GB, nodesPerSwitch: 2,
         cpus: 64, memory: 512Gi, taintGpus: true}
      - {name: cpu-1, gpus: 0, cpus: 32, memory: 128Gi, switch: leaf9}
    queues: [{name: default}, {name: vision, gpuCapability: 8}]
    namespaces: [default, team-a]
    kubelet: {...}                           # the process kubelet (sim.kubeapi.kubelet.config)

A node entry's ``run: process`` makes its pods run as local processes (default ``run: simulated``: timers).

Raises ValueError naming the bad key. ``write_kubeconfig(path, url, token)`` writes a kubeconfig for clients.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dualtrack.broker.domain.quantity import parse_memory
from dualtrack.sim.kubeapi.kubelet.config import RUN_PROCESS, KubeletConfig, parse_kubelet, parse_run
from dualtrack.sim.kubeapi.model import SimNode, SimQueue

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


@dataclass
class ClusterConfig:
    nodes: list[SimNode]
    queues: list[SimQueue] = field(default_factory=lambda: [SimQueue("default")])
    namespaces: list[str] = field(default_factory=lambda: ["default"])
    process_nodes: set[str] = field(default_factory=set)  # nodes whose pods run as processes
    kubelet: KubeletConfig = field(default_factory=KubeletConfig)


def node_group(count: int, *, prefix: str = "gpu-", gpus: int = 8, product: str = "NVIDIA-A100-SXM4-80GB",
               nodes_per_switch: int = 2, cpus: int = 64, memory: int = 512 * 1024**3,
               taint_gpus: bool = True, start: int = 1) -> list[SimNode]:
    """``count`` identical nodes named ``<prefix><i>``, ``nodes_per_switch`` under each ``leaf<k>`` switch."""
    out = []
    for i in range(count):
        out.append(SimNode(
            name=f"{prefix}{start + i}", gpus=gpus, gpu_product=product, cpu_millis=cpus * 1000, memory=memory,
            switch=f"leaf{1 + i // max(nodes_per_switch, 1)}",
            taints=[dict(GPU_TAINT)] if gpus and taint_gpus else [],
        ))
    return out


def default_cluster(nodes: int = 4, gpus_per_node: int = 8, nodes_per_switch: int = 2,
                    product: str = "NVIDIA-A100-SXM4-80GB") -> ClusterConfig:
    return ClusterConfig(node_group(nodes, gpus=gpus_per_node, nodes_per_switch=nodes_per_switch,
                                    product=product))


def _int(entry: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}.{key}: must be a non-negative integer")
    return value


def _node_entry(entry: Any, where: str, start: int) -> list[SimNode]:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: must be a mapping")
    try:
        memory = parse_memory(entry.get("memory", "512Gi"))
    except ValueError as exc:
        raise ValueError(f"{where}.memory: {exc}") from None
    gpus, cpus = _int(entry, "gpus", 8, where), _int(entry, "cpus", 64, where)
    product, taint = str(entry.get("product", "NVIDIA-A100-SXM4-80GB")), bool(entry.get("taintGpus", True))
    if "count" in entry:
        return node_group(_int(entry, "count", 1, where), prefix=str(entry.get("namePrefix", "gpu-")),
                          nodes_per_switch=_int(entry, "nodesPerSwitch", 2, where), start=start, gpus=gpus,
                          product=product, cpus=cpus, memory=memory, taint_gpus=taint)
    if not entry.get("name"):
        raise ValueError(f"{where}.name: required for a single node (or give count)")
    node = node_group(1, prefix="", gpus=gpus, product=product, cpus=cpus, memory=memory, taint_gpus=taint)[0]
    node.name = str(entry["name"])
    node.switch = entry.get("switch")
    node.clique = entry.get("clique")
    node.labels = {str(k): str(v) for k, v in (entry.get("labels") or {}).items()}
    if "taints" in entry:
        node.taints = list(entry["taints"] or [])
    return [node]


def load_cluster(path: Path) -> ClusterConfig:
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: must be a mapping with nodes, queues, namespaces")
    nodes: list[SimNode] = []
    process_nodes: set[str] = set()
    for i, entry in enumerate(data.get("nodes") or ()):
        added = _node_entry(entry, f"nodes[{i}]", start=len(nodes) + 1)
        if parse_run(entry.get("run"), f"nodes[{i}]") == RUN_PROCESS:
            process_nodes.update(n.name for n in added)
        nodes += added
    if not nodes:
        raise ValueError(f"{path}: nodes: at least one node is needed")
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: nodes: duplicate node names")
    queues = []
    for i, q in enumerate(data.get("queues") or [{"name": "default"}]):
        if not isinstance(q, Mapping) or not q.get("name"):
            raise ValueError(f"queues[{i}].name: required")
        cap = q.get("gpuCapability")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
            raise ValueError(f"queues[{i}].gpuCapability: must be a non-negative integer")
        queues.append(SimQueue(str(q["name"]), cap))
    if not any(q.name == "default" for q in queues):
        queues.insert(0, SimQueue("default"))
    namespaces = [str(n) for n in data.get("namespaces") or ["default"]]
    return ClusterConfig(nodes, queues, namespaces if "default" in namespaces else ["default", *namespaces],
                         process_nodes=process_nodes, kubelet=parse_kubelet(data.get("kubelet")))


def write_kubeconfig(path: Path, url: str, token: str, name: str = "kubesim") -> None:
    """A kubeconfig with one cluster (plain HTTP), one token user and one current context, mode 0600."""
    doc = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": url}}],
        "users": [{"name": f"{name}-admin", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin", "namespace": "default"}}],
        "current-context": name,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
