"""Placement decision latency at 1k, 10k and 50k nodes (issue 5): p50 / p99 per decision, index build apart.

Two backends (a Slurm-track and a Kubernetes-track one) share the nodes half and half. Every node has 8 GPUs;
leaf switches of 32 nodes, spines of 16 leaves. About 70 % of the nodes are fully busy, the rest have a random
0..8 GPUs free, so a 16-GPU gang usually fits at switch tier after a short search.

Measured separately:
- index build: SnapshotIndex + the per-pool scope + the gang view for the job's width, per backend. Paid once
  per snapshot, i.e. once per decision cycle, not per decision;
- place(): one decision on the warm index (filters, scores, explanation), p50 / p99 over many runs;
- place_batch(): 200 jobs in one batch with assume/undo, the mean per job.

Run: .venv/bin/python bench/placement_latency.py [--runs 2000] [--sizes 1000,10000,50000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker.domain import ClusterSnapshot, Job, NodeCapacity, Switch, parse_spec
from policies import BackendInfo, PlacementContext, PlacementEngine, PolicyConfig, TenantUsage

LEAF_NODES = 32
SPINE_LEAVES = 16


def build_snapshot(backend: str, kind: str, nodes: int, rng: random.Random) -> ClusterSnapshot:
    out = []
    for i in range(nodes):
        free = 0 if rng.random() < 0.7 else rng.randint(0, 8)
        leaf = f"{backend}-leaf{i // LEAF_NODES}"
        out.append(
            NodeCapacity(
                name=f"{backend}-n{i}",
                gpu_type="a100",
                gpus_total=8,
                gpus_free=free,
                cpus_total=128,
                cpus_free=128 - 16 * (8 - free),
                memory_total=1 << 40,
                memory_free=1 << 39,
                switch=leaf,
            )
        )
    leaves = (nodes + LEAF_NODES - 1) // LEAF_NODES
    switches = [Switch(f"{backend}-leaf{j}", f"{backend}-spine{j // SPINE_LEAVES}") for j in range(leaves)]
    switches += [Switch(f"{backend}-spine{k}", None) for k in range((leaves + SPINE_LEAVES - 1) // SPINE_LEAVES)]
    return ClusterSnapshot(
        backend=backend,
        kind=kind,
        taken_at=0.0,
        nodes=tuple(out),
        switches=tuple(switches),
        pending_gpu_seconds=nodes * 8 * 600.0 * rng.random(),
    )


def make_job(job_id: str, workers: int, gpus: int, tenant: str = "bench") -> Job:
    spec = parse_spec(
        {
            "apiVersion": "dualtrack/v1",
            "kind": "TrainingJob",
            "metadata": {"name": f"b-{job_id}", "tenant": tenant},
            "spec": {
                "image": "ultralytics/ultralytics:8.3.40",
                "command": ["python", "train.py"],
                "resources": {"workers": workers, "gpusPerWorker": gpus, "gpuType": "a100", "cpusPerWorker": 8},
                "datasets": ["weld"],
            },
        }
    )
    return Job(id=job_id, spec=spec)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(total_nodes: int, runs: int, workers: int, gpus: int) -> dict[str, float]:
    rng = random.Random(total_nodes)
    config = PolicyConfig.from_mapping({"datasets": {"weld": {"sizeBytes": 2e11, "locations": {"kube": "pvc/weld"}}}})
    snapshots = {
        "slurm": build_snapshot("slurm", "slurm", total_nodes // 2, rng),
        "kube": build_snapshot("kube", "volcano", total_nodes - total_nodes // 2, rng),
    }
    ctx = PlacementContext(
        now=0.0,
        snapshots=snapshots,
        backends={
            "slurm": BackendInfo("slurm", "slurm", "slurm"),
            "kube": BackendInfo("kube", "kubernetes", "volcano"),
        },
        usage=TenantUsage(),
    )
    engine = PlacementEngine(config)
    job = make_job("probe", workers, gpus)

    started = time.perf_counter()
    for snap in snapshots.values():  # what the first decision of a cycle pays: index, scope, gang view
        scope = engine.index(snap).scope(None)
        scope.types["a100"].view(gpus)
        scope.types["a100"].ever_slots(gpus)
    build_ms = (time.perf_counter() - started) * 1000

    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        decision = engine.place(job, ctx)
        samples.append((time.perf_counter() - t0) * 1000)
    assert decision.placement is not None, decision.explanation.summary

    batch = [make_job(f"b{i}", workers, gpus, tenant=f"t{i % 4}") for i in range(200)]
    t0 = time.perf_counter()
    decisions = engine.place_batch(batch, ctx)
    batch_ms = (time.perf_counter() - t0) * 1000 / len(batch)
    placed = sum(d.placement is not None for d in decisions)
    return {
        "build_ms": build_ms,
        "p50": statistics.median(samples),
        "p99": percentile(samples, 0.99),
        "batch_ms": batch_ms,
        "placed": placed,
        "tier": 0.0 if decision.placement.tier is None else 1.0,
        "tier_name": decision.placement.tier or "?",  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--sizes", default="1000,10000,50000")
    args = parser.parse_args()
    print(
        f"{'nodes':>7} {'gang':>5} {'index build ms':>15} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'batch ms/job':>13} {'placed/200':>10} {'tier':>7}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        for workers, gpus in ((2, 8), (4, 4)):
            r = run(size, args.runs, workers, gpus)
            print(
                f"{size:>7} {f'{workers}x{gpus}':>5} {r['build_ms']:>15.1f} {r['p50']:>8.3f} {r['p99']:>8.3f} "
                f"{r['batch_ms']:>13.3f} {int(r['placed']):>10} {r['tier_name']!s:>7}"
            )


if __name__ == "__main__":
    main()
