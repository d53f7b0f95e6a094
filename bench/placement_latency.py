"""Placement decision latency at 1k, 10k and 50k nodes (issue 5): p50 / p99 per decision, index build apart.

Two backends (a Slurm-track and a Kubernetes-track one) share the nodes half and half. Every node has 8 GPUs;
leaf switches of 32 nodes, spines of 16 leaves. About 70 % of the nodes are fully busy, the rest have a random
0..8 GPUs free, so a 16-GPU gang usually fits at switch tier after a short search.

Measured separately:
- index build: SnapshotIndex + the per-pool scope + the gang view for the job's width, per backend. Paid once
  per snapshot, i.e. once per decision cycle, not per decision;
- next cycle: the same for the next cycle's snapshots, in which 1 % of the nodes' free GPUs changed: the engine
  derives those indexes from the previous ones (policies/capacity/derive.py);
- place(): one decision on the warm index (filters, scores, explanation), p50 / p99 over many runs, wall
  clock; "cpu p99" is the same in thread CPU time, which other processes on a busy machine cannot inflate;
- place_batch(): 200 jobs in one batch with assume/undo: p50 / p99 of the decisions inside it.

Run: .venv/bin/python bench/placement_latency.py [--runs 2000] [--sizes 1000,10000,50000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dualtrack.broker.domain import ClusterSnapshot, Job, NodeCapacity, Switch, parse_spec
from dualtrack.policies import BackendInfo, PlacementContext, PlacementEngine, PolicyConfig, TenantUsage

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


def next_cycle(snapshot: ClusterSnapshot, rng: random.Random) -> ClusterSnapshot:
    """``snapshot`` one cycle later: 1 % of the nodes (new objects) with other free GPUs, the rest unchanged."""
    nodes = list(snapshot.nodes)
    for i in rng.sample(range(len(nodes)), max(1, len(nodes) // 100)):
        free = rng.randint(0, 8)
        nodes[i] = replace(nodes[i], gpus_free=free, cpus_free=128 - 16 * (8 - free))
    return replace(snapshot, nodes=tuple(nodes))


@dataclass
class Result:
    build_ms: float  # per cycle: indexes of both snapshots (+ scope and gang view for the job's width)
    next_ms: float  # the same for the next cycle's snapshots (1 % of the nodes changed): derived
    p50_ms: float  # place(): one decision on the warm indexes, wall clock
    p99_ms: float
    cpu_p99_ms: float  # the same, thread CPU time (immune to other processes preempting this one)
    batch_p50_ms: float  # decisions inside place_batch (with assume after each placement)
    batch_p99_ms: float
    placed: int  # of BATCH jobs
    tier: str  # where the probe job fits


BATCH = 200


def run(total_nodes: int, runs: int, workers: int, gpus: int) -> Result:
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
        types = engine.index(snap).scope(None).types["a100"]
        types.view(gpus)
        types.ever_slots(gpus)
    build_ms = (time.perf_counter() - started) * 1000
    following = {name: next_cycle(snap, rng) for name, snap in snapshots.items()}
    started = time.perf_counter()
    for snap in following.values():
        types = engine.index(snap).scope(None).types["a100"]
        types.view(gpus)
        types.ever_slots(gpus)
    next_ms = (time.perf_counter() - started) * 1000

    samples: list[float] = []
    cpu_samples: list[float] = []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.thread_time()
        decision = engine.place(job, ctx)
        samples.append((time.perf_counter() - t0) * 1000)
        cpu_samples.append((time.thread_time() - c0) * 1000)
    assert decision.placement is not None, decision.explanation.summary

    batch_samples: list[float] = []
    decide = engine._decide  # time each decision of the batch (assume happens right after it)

    def timed(*args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return decide(*args)
        finally:
            batch_samples.append((time.perf_counter() - t0) * 1000)

    engine._decide = timed  # type: ignore[method-assign]
    batch = [make_job(f"b{i}", workers, gpus, tenant=f"t{i % 4}") for i in range(BATCH)]
    decisions = engine.place_batch(batch, ctx)
    return Result(
        build_ms=build_ms,
        next_ms=next_ms,
        p50_ms=statistics.median(samples),
        p99_ms=percentile(samples, 0.99),
        cpu_p99_ms=percentile(cpu_samples, 0.99),
        batch_p50_ms=statistics.median(batch_samples),
        batch_p99_ms=percentile(batch_samples, 0.99),
        placed=sum(d.placement is not None for d in decisions),
        tier=decision.placement.tier or "?",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--sizes", default="1000,10000,50000")
    args = parser.parse_args()
    print(
        f"{'nodes':>7} {'gang':>5} {'index build ms':>15} {'next cycle ms':>14} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'cpu p99':>8} "
        f"{'batch p50':>10} {'batch p99':>10} {f'placed/{BATCH}':>10} {'tier':>7}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        for workers, gpus in ((2, 8), (4, 4)):
            r = run(size, args.runs, workers, gpus)
            print(
                f"{size:>7} {f'{workers}x{gpus}':>5} {r.build_ms:>15.1f} {r.next_ms:>14.1f} "
                f"{r.p50_ms:>8.3f} {r.p99_ms:>8.3f} {r.cpu_p99_ms:>8.3f} "
                f"{r.batch_p50_ms:>10.3f} {r.batch_p99_ms:>10.3f} {r.placed:>10} {r.tier:>7}"
            )


if __name__ == "__main__":
    main()
