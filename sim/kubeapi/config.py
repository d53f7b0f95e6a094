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

The file as written is ``sim.kubeapi.config_model.ClusterFile``; ``load_cluster`` raises SettingsError (a
ValueError) listing every bad key with its path. ``write_kubeconfig(path, url, token)`` writes a kubeconfig for clients.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dualtrack.broker.domain.settings_model import SettingsError, validate_block
from dualtrack.broker.domain.spec_errors import FieldIssue
from dualtrack.sim.kubeapi.config_model import ClusterFile, NodeEntry, QueueEntry
from dualtrack.sim.kubeapi.kubelet.config import RUN_PROCESS, KubeletConfig
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


def _nodes(entry: NodeEntry, start: int) -> list[SimNode]:
    """The ``SimNode``s of one validated entry (a group is numbered from ``start``)."""
    if entry.count is not None:
        return node_group(entry.count, prefix=entry.name_prefix, nodes_per_switch=entry.nodes_per_switch,
                          start=start, gpus=entry.gpus, product=entry.product, cpus=entry.cpus,
                          memory=entry.memory, taint_gpus=entry.taint_gpus)
    node = node_group(1, prefix="", gpus=entry.gpus, product=entry.product, cpus=entry.cpus, memory=entry.memory,
                      taint_gpus=entry.taint_gpus)[0]
    node.name = str(entry.name)
    node.switch = entry.switch
    node.clique = entry.clique
    node.labels = dict(entry.labels)
    if entry.taints is not None:
        node.taints = [dict(t) for t in entry.taints]
    return [node]


def load_cluster(path: Path) -> ClusterConfig:
    """The cluster described by the YAML file at ``path``. Raises SettingsError (a ValueError) listing every
    problem with its path (``nodes[0].memory: ...``)."""
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: must be a mapping with nodes, queues, namespaces")
    written = validate_block(ClusterFile, data, "")
    nodes: list[SimNode] = []
    process_nodes: set[str] = set()
    for entry in written.nodes:
        added = _nodes(entry, start=len(nodes) + 1)
        if entry.run == RUN_PROCESS:
            process_nodes.update(n.name for n in added)
        nodes += added
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise SettingsError([FieldIssue("nodes", "duplicate node names")])
    queues = [SimQueue(q.name, q.gpu_capability) for q in written.queues or [QueueEntry(name="default")]]
    if not any(q.name == "default" for q in queues):
        queues.insert(0, SimQueue("default"))
    namespaces = list(written.namespaces or ["default"])
    kubelet = written.kubelet.to_config() if written.kubelet is not None else KubeletConfig()
    return ClusterConfig(nodes, queues, namespaces if "default" in namespaces else ["default", *namespaces],
                         process_nodes=process_nodes, kubelet=kubelet)


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
