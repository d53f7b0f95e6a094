"""The objects a fresh simulator starts with: Node objects of the model's nodes and the HyperNode tree.

Caller: ``sim.kubeapi.server.KubeSim``.
"""

from __future__ import annotations

from dualtrack.sim.kubeapi.model import GPU, SimNode
from dualtrack.sim.kubeapi.store import Obj

KUBELET_VERSION = "v1.32.0-kubesim"


def node_object(node: SimNode) -> Obj:
    alloc = {"cpu": str(node.cpu_millis // 1000), "memory": str(node.memory), "pods": "110"}
    if node.gpus:
        alloc[GPU] = str(node.gpus)
    return {"metadata": {"name": node.name, "labels": node.all_labels()},
            "spec": {"taints": list(node.taints)} if node.taints else {},
            "status": {"capacity": dict(alloc), "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True" if node.ready else "False",
                                       "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                     {"type": "Hostname", "address": node.name}],
                       "nodeInfo": {"kubeletVersion": KUBELET_VERSION, "architecture": "amd64",
                                    "operatingSystem": "linux", "containerRuntimeVersion": "kubesim://1",
                                    "bootID": node.name, "kernelVersion": "6.1.0-kubesim", "kubeProxyVersion": "",
                                    "machineID": node.name, "osImage": "kubesim", "systemUUID": node.name}}}


def hypernode_objects(nodes: list[SimNode]) -> list[Obj]:
    """Tier 1: one HyperNode per NVLink domain; tier 2: one per switch; tier 3: a spine over the switches."""
    out: list[Obj] = []
    domains: dict[str, list[str]] = {}
    for node in nodes:
        domains.setdefault(node.clique or node.name, []).append(node.name)
    switch_of_domain: dict[str, str] = {}
    for node in nodes:
        if node.switch:
            switch_of_domain[node.clique or node.name] = node.switch
    for domain, members in sorted(domains.items()):
        out.append({"metadata": {"name": f"nvl-{domain}"}, "spec": {"tier": 1, "members": [
            {"type": "Node", "selector": {"exactMatch": {"name": m}}} for m in members]}})
    switches: dict[str, list[str]] = {}
    for domain, switch in switch_of_domain.items():
        switches.setdefault(switch, []).append(f"nvl-{domain}")
    for switch, members in sorted(switches.items()):
        out.append({"metadata": {"name": switch}, "spec": {"tier": 2, "members": [
            {"type": "HyperNode", "selector": {"exactMatch": {"name": m}}} for m in sorted(members)]}})
    if len(switches) > 1:
        out.append({"metadata": {"name": "spine"}, "spec": {"tier": 3, "members": [
            {"type": "HyperNode", "selector": {"exactMatch": {"name": s}}} for s in sorted(switches)]}})
    return out
