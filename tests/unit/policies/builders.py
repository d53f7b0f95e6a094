"""Small builders for jobs, snapshots and contexts used by every policies test (imported, not a conftest)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dualtrack.broker.domain import ClusterSnapshot, Feature, Job, NodeCapacity, PoolCapacity, Switch, parse_spec
from dualtrack.policies import BackendInfo, PlacementContext, TenantUsage

GiB = 1024**3
TRACK_OF = {"slurm": "slurm", "volcano": "kubernetes"}
DIGEST = "sha256:" + "ab" * 32
IMAGE_REF = f"ultralytics/ultralytics@{DIGEST}"


def make_job(
    job_id: str = "j1",
    *,
    tenant: str = "team",
    workers: int = 1,
    gpus: int = 8,
    gpu_type: str | None = None,
    tier: str = "any",
    mode: str = "soft",
    track: str = "auto",
    backends: Sequence[str] = (),
    datasets: Sequence[str] = (),
    priority: int = 100,
    cpus: int = 4,
    memory: str = "16Gi",
    time_limit: str = "24h",
    image_ref: str | None = IMAGE_REF,
    excluded: Sequence[str] = (),
    created_at: float = 0.0,
) -> Job:
    resources: dict[str, Any] = {
        "workers": workers,
        "gpusPerWorker": gpus,
        "cpusPerWorker": cpus,
        "memoryPerWorker": memory,
    }
    if gpu_type:
        resources["gpuType"] = gpu_type
    spec = parse_spec(
        {
            "apiVersion": "dualtrack/v1",
            "kind": "TrainingJob",
            "metadata": {"name": f"n-{job_id}", "tenant": tenant},
            "spec": {
                "image": "ultralytics/ultralytics:8.3.40",
                "command": ["python", "train.py"],
                "resources": resources,
                "topology": {"tier": tier, "mode": mode},
                "datasets": list(datasets),
                "placement": {"track": track, "backends": list(backends)},
                "priority": priority,
                "timeLimit": time_limit,
            },
        }
    )
    return Job(id=job_id, spec=spec, image_ref=image_ref, excluded_backends=tuple(excluded), created_at=created_at)


def node(
    name: str,
    total: int = 8,
    free: int | None = None,
    *,
    gpu_type: str | None = "a100",
    switch: str | None = None,
    domain: str | None = None,
    pools: Iterable[str] = (),
    cpus: int = 64,
    memory: int = 512 * GiB,
    schedulable: bool = True,
) -> NodeCapacity:
    return NodeCapacity(
        name=name,
        gpu_type=gpu_type,
        gpus_total=total,
        gpus_free=total if free is None else free,
        cpus_total=cpus,
        cpus_free=cpus,
        memory_total=memory,
        memory_free=memory,
        switch=switch,
        nvlink_domain=domain,
        pools=tuple(pools),
        schedulable=schedulable,
    )


def snapshot(
    backend: str,
    kind: str,
    nodes: Iterable[NodeCapacity],
    *,
    switches: Mapping[str, str | None] | None = None,
    pools: Iterable[PoolCapacity] = (),
    pending_gpu_seconds: float = 0.0,
    images: Iterable[str] = (DIGEST,),
    healthy: bool = True,
    error: str = "",
) -> ClusterSnapshot:
    return ClusterSnapshot(
        backend=backend,
        kind=kind,
        taken_at=1000.0,
        healthy=healthy,
        error=error,
        nodes=tuple(nodes),
        pools=tuple(pools),
        switches=tuple(Switch(n, p) for n, p in (switches or {}).items()),
        pending_gpu_seconds=pending_gpu_seconds,
        images=frozenset(images),
    )


def context(
    *snapshots: ClusterSnapshot,
    gpus: Mapping[str, int] | None = None,
    jobs: Mapping[str, int] | None = None,
    estimates: Mapping[tuple[str, str], float] | None = None,
    unsupported: Mapping[str, Mapping[Feature, str]] | None = None,
    now: float = 1000.0,
) -> PlacementContext:
    return PlacementContext(
        now=now,
        snapshots={s.backend: s for s in snapshots},
        backends={
            s.backend: BackendInfo(s.backend, TRACK_OF[s.kind], s.kind, (unsupported or {}).get(s.backend, {}))
            for s in snapshots
        },
        usage=TenantUsage(gpus=dict(gpus or {}), running_jobs=dict(jobs or {})),
        start_estimates=dict(estimates or {}),
    )


def rack(prefix: str, count: int, total: int = 8, free: int | None = None, **kw: Any) -> list[NodeCapacity]:
    """``count`` identical nodes named ``<prefix>-<i>``."""
    return [node(f"{prefix}-{i}", total, free, **kw) for i in range(count)]
