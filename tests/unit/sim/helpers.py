"""Builders shared by the replay tests: small clusters and traces written to tmp files or built in memory."""

from __future__ import annotations

from typing import Any

from dualtrack.sim.replay.clusters import Clusters, parse_clusters
from dualtrack.sim.replay.trace import TraceJob


def trace_job(job_id: str, submit: float, duration: float, *, workers: int = 1, gpus: int = 1, tenant: str = "a",
              gpu_type: str | None = None, limit_factor: float = 2.0) -> TraceJob:
    return TraceJob(job_id, submit, duration, workers, gpus, gpu_type, 4, 8192, tenant, (),
                    float(int(duration * limit_factor)))


def two_backends(k8s_nodes: int = 1, slurm_nodes: int = 1, gpus: int = 4, split: dict[str, str] | None = None,
                 broker: dict[str, Any] | None = None) -> Clusters:
    """A Kubernetes backend ``k`` and a Slurm backend ``s`` of ``gpus``-GPU nodes (32 CPUs, 256 GiB each)."""
    node = {"gpus": gpus, "cpus": 32, "memoryMiB": 262144}
    data: dict[str, Any] = {
        "backends": [
            {"name": "k", "track": "kubernetes", "nodes": [{"count": k8s_nodes, **node}]},
            {"name": "s", "track": "slurm", "nodes": [{"count": slurm_nodes, **node}]},
        ],
    }
    if split is not None:
        data["staticSplit"] = split
    if broker is not None:
        data["broker"] = broker
    return parse_clusters(data)
