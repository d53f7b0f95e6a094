"""build_snapshot over API-shaped dicts: free GPUs, GPU types, topology, schedulability, queues, demand."""

from __future__ import annotations

from typing import Any

import pytest

from dualtrack.adapters.volcano.settings import parse_settings
from dualtrack.adapters.volcano.snapshot import build_snapshot, gpu_type_of

SETTINGS = parse_settings("kube", {"gpuProducts": {"a100-80g": "NVIDIA-A100-SXM4-80GB"}})


def node(name: str, gpus: int, product: str = "NVIDIA-A100-SXM4-80GB", *, ready: bool = True,
         labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None,
         cordoned: bool = False) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"nvidia.com/gpu.product": product, **(labels or {})}},
            "spec": {"unschedulable": cordoned, "taints": taints or []},
            "status": {"allocatable": {"nvidia.com/gpu": str(gpus), "cpu": "64", "memory": "512Gi"},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def pod(host: str, gpus: int, phase: str = "Running") -> dict[str, Any]:
    return {"spec": {"nodeName": host, "containers": [
        {"resources": {"limits": {"nvidia.com/gpu": gpus}, "requests": {"cpu": "500m", "memory": "1Gi"}}}]},
            "status": {"phase": phase}}


def test_nodes_topology_and_free_gpus() -> None:
    hypernodes = [
        {"metadata": {"name": "nvl-a"}, "spec": {"tier": 1, "members": [
            {"type": "Node", "selector": {"regexMatch": {"pattern": "n[12]"}}}]}},
        {"metadata": {"name": "sw-1"}, "spec": {"tier": 2, "members": [
            {"type": "HyperNode", "selector": {"exactMatch": {"name": "nvl-a"}}}]}},
        {"metadata": {"name": "spine"}, "spec": {"tier": 3, "members": [
            {"type": "HyperNode", "selector": {"exactMatch": {"name": "sw-1"}}}]}},
    ]
    nodes = [node("n1", 8), node("n2", 8, labels={"nvidia.com/gpu.clique": "clq-7"}),
             node("n3", 8, "NVIDIA-H100-80GB-HBM3", labels={"topology.kubernetes.io/switch": "sw-9"}),
             node("n4", 8, ready=False), node("n5", 8, cordoned=True),
             node("n6", 8, taints=[{"key": "maintenance", "effect": "NoSchedule"}]),
             node("n7", 8, taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}])]
    pods = [pod("n1", 3), pod("n1", 2, phase="Succeeded"), pod("n3", 8), pod("n2", 1, phase="Pending")]
    snap = build_snapshot("kube", 1.0, SETTINGS, nodes=nodes, pods=pods, queues=[], podgroups=[], vcjobs=[],
                          hypernodes=hypernodes)
    by = {n.name: n for n in snap.nodes}
    assert (by["n1"].gpus_free, by["n2"].gpus_free, by["n3"].gpus_free) == (5, 7, 0)
    assert by["n1"].cpus_free == 63 and by["n1"].memory_free == 511 * 1024**3
    assert (by["n1"].gpu_type, by["n3"].gpu_type) == ("a100-80g", "h100")
    assert (by["n1"].nvlink_domain, by["n2"].nvlink_domain) == ("nvl-a", "clq-7")  # label beats HyperNode
    assert (by["n1"].switch, by["n3"].switch, by["n6"].switch) == ("sw-1", "sw-9", None)
    assert [n.name for n in snap.nodes if not n.schedulable] == ["n4", "n5", "n6"]  # n7's taint is tolerated
    assert {s.name: s.parent for s in snap.switches} == {"sw-1": "spine", "spine": None, "sw-9": None}
    assert snap.gpus_total == 32 and snap.gpus_free == 5 + 7 + 0 + 8


def test_queues_and_pending_demand() -> None:
    queues = [{"metadata": {"name": "default"}, "spec": {}, "status": {"state": "Open"}},
              {"metadata": {"name": "vision"}, "spec": {"capability": {"nvidia.com/gpu": 16}},
               "status": {"state": "Closed", "allocated": {"nvidia.com/gpu": "12"}}}]
    vcjobs = [{"metadata": {"uid": "u1"}, "spec": {"tasks": [{"template": {"spec": {"activeDeadlineSeconds": 600}}}]}}]
    podgroups = [
        {"metadata": {"ownerReferences": [{"uid": "u1"}]}, "status": {"phase": "Pending"},
         "spec": {"queue": "vision", "minResources": {"nvidia.com/gpu": "4"}}},
        {"metadata": {}, "status": {"phase": "Inqueue"}, "spec": {"queue": "vision",
                                                                  "minResources": {"nvidia.com/gpu": "2"}}},
        {"metadata": {}, "status": {"phase": "Running"}, "spec": {"queue": "default"}},
    ]
    snap = build_snapshot("kube", 1.0, SETTINGS, nodes=[], pods=[], queues=queues, podgroups=podgroups,
                          vcjobs=vcjobs, hypernodes=[])
    vision = snap.pool("vision")
    assert vision is not None
    assert (vision.gpu_limit, vision.gpus_allocated, vision.pending_jobs, vision.pending_gpus) == (16, 12, 2, 6)
    assert vision.pending_gpu_seconds == 4 * 600 + 2 * 3600  # deadline when known, else the default estimate
    assert vision.open is False and snap.pool("default").gpu_limit is None  # type: ignore[union-attr]
    assert (snap.running_jobs, snap.pending_jobs, snap.pending_gpu_seconds) == (1, 2, 9600.0)


@pytest.mark.parametrize(("product", "gpu_type"), [
    ("NVIDIA-A100-SXM4-80GB", "a100-80g"), ("NVIDIA-A100-PCIE-40GB", "a100"), ("Tesla-V100-SXM2-16GB", "v100"),
    ("NVIDIA-H100-80GB-HBM3", "h100"), ("NVIDIA-L40S", "l40s"), ("NVIDIA-GeForce-RTX-4090", "nvidia-geforce-rtx-4090"),
    (None, None),
])
def test_gpu_type_of(product: str | None, gpu_type: str | None) -> None:
    assert gpu_type_of(product, SETTINGS) == gpu_type
