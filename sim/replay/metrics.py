"""Figures of a policy run (docs/simulation.md, "Report fields").

- wait = start - submit of each job that ran; mean, p50, p95 (nearest rank), max;
- jct (job completion time) = end - submit;
- utilization = busy GPU-seconds / (total GPUs x makespan), makespan = last end - first submit;
- jain_fairness = Jain's index over tenants' mean slowdown, slowdown = (wait + run) / run with run >= 1 s:
  (sum x)^2 / (n x sum x^2), 1.0 = every tenant slowed down alike;
- reroutes: attempts beyond the first (``live`` only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dualtrack.sim.replay.runner import JobRecord, PolicyRun


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return float(ordered[rank - 1])


def waits(records: Sequence[JobRecord]) -> list[float]:
    return [r.start - r.submit for r in records if r.start is not None and r.end is not None]


def jain(values: Sequence[float]) -> float:
    if not values:
        return 1.0
    total, squares = sum(values), sum(v * v for v in values)
    return (total * total) / (len(values) * squares) if squares > 0 else 1.0


def summarize(run: PolicyRun) -> dict[str, Any]:
    done = [r for r in run.records if r.start is not None and r.end is not None]
    w = waits(run.records)
    first = min((r.submit for r in run.records), default=0.0)
    last = max((r.end for r in done if r.end is not None), default=first)
    makespan = last - first
    total_gpus = sum(run.gpus.values())
    slow: dict[str, list[float]] = {}
    for r in done:
        assert r.start is not None
        slow.setdefault(r.tenant, []).append((r.start - r.submit + max(r.duration, 1.0)) / max(r.duration, 1.0))
    tenant_slowdown = {t: sum(v) / len(v) for t, v in sorted(slow.items())}
    return {
        "jobs": len(done),
        "rejected": sum(1 for r in run.records if r.state == "REJECTED"),
        "unfinished": sum(1 for r in run.records if r.state == "UNFINISHED"),
        "mean_wait_s": round(sum(w) / len(w), 3) if w else 0.0,
        "p50_wait_s": round(percentile(w, 50), 3),
        "p95_wait_s": round(percentile(w, 95), 3),
        "max_wait_s": round(max(w), 3) if w else 0.0,
        "mean_jct_s": round(sum(r.end - r.submit for r in done if r.end is not None) / len(done), 3) if done else 0.0,
        "utilization": round(run.busy_gpu_seconds / (total_gpus * makespan), 5) if makespan > 0 and total_gpus else 0.0,
        "makespan_s": round(makespan, 3),
        "jain_fairness": round(jain(list(tenant_slowdown.values())), 5),
        "reroutes": run.reroutes,
    }


def tenant_waits(run: PolicyRun) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for r in run.records:
        if r.start is not None and r.end is not None:
            out.setdefault(r.tenant, []).append(r.start - r.submit)
    return {t: sum(v) / len(v) for t, v in sorted(out.items())}


def to_json(runs: Mapping[str, PolicyRun], *, seed: int, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``--json`` document: ``{"policies": {NAME: {...}}}`` plus the replay's parameters."""
    doc: dict[str, Any] = {"policies": {name: summarize(run) for name, run in runs.items()}, "seed": seed}
    if extra:
        doc.update(extra)
    return doc
