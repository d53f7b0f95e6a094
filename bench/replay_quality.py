"""Routing quality and replay speed on the 20,000-job Philly-derived slice (docs/simulation.md, "Measured").

Replays the trace on examples/sim/philly-clusters.yaml under every policy (live, static, round-robin,
most-free, earliest-start, single-pool) at a compress factor that loads ``static`` (its mean wait well over
10 minutes), then prints each policy's figures, ``live``'s ratios to ``static`` and ``single-pool`` and the
targets, and the replay speed (trace jobs per second of wall time and of process CPU time, per policy; the CPU
figure is what other processes on a shared machine cannot inflate).

Run: .venv/bin/python bench/replay_quality.py [--trace T.csv] [--clusters C.yaml] [--compress 1]
     [--policies live,static,...] [--cycle-seconds 30] [--parallel N] [--json OUT]
(``--parallel N`` replays N policies at once in separate processes; each policy's speed is still its own.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dualtrack.sim.replay.clusters import Clusters, load_clusters  # noqa: E402
from dualtrack.sim.replay.metrics import summarize  # noqa: E402
from dualtrack.sim.replay.runner import POLICIES, ReplayOptions, run_policy  # noqa: E402
from dualtrack.sim.replay.trace import TraceJob, read_trace  # noqa: E402

TRACE = Path("/work/shared/reference/traces/jobs/philly-rfold.csv")
COLUMNS = ("jobs", "mean_wait_s", "p50_wait_s", "p95_wait_s", "max_wait_s", "mean_jct_s", "utilization",
           "jain_fairness", "reroutes")


def replay_one(policy: str, jobs: list[TraceJob], clusters: Clusters,
               cycle_seconds: float) -> tuple[str, dict[str, Any], float, float]:
    """One policy's figures with its wall and CPU seconds (runs in a worker process with --parallel)."""
    wall, cpu = time.perf_counter(), time.process_time()
    run = run_policy(policy, jobs, clusters, ReplayOptions(cycle_seconds=cycle_seconds))
    return policy, summarize(run), time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--clusters", type=Path, default=ROOT / "examples" / "sim" / "philly-clusters.yaml")
    parser.add_argument("--compress", type=float, default=1.0)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--cycle-seconds", type=float, default=30.0)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    if not args.trace.exists():
        sys.exit(f"trace {args.trace} not found (see docs/simulation.md for the format)")
    jobs = read_trace(args.trace, compress=args.compress, limit=args.limit)
    clusters = load_clusters(args.clusters)
    print(f"{len(jobs)} jobs from {args.trace.name}, compress {args.compress:g}, clusters {args.clusters.name} "
          f"({', '.join(f'{b.name} {b.gpus} GPUs' for b in clusters.backends)}), cycle {args.cycle_seconds:g} s")
    figures: dict[str, dict[str, Any]] = {}
    speed: dict[str, tuple[float, float]] = {}
    policies = args.policies.split(",")
    with ProcessPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        futures = [pool.submit(replay_one, p, jobs, clusters, args.cycle_seconds) for p in policies]
        for future in futures:
            policy, row, wall, cpu = future.result()
            figures[policy] = row
            speed[policy] = (len(jobs) / wall, len(jobs) / max(cpu, 1e-9))
            print(f"{policy:<15} " + " ".join(f"{c}={row[c]}" for c in COLUMNS)
                  + f"  [{wall:.1f} s wall, {cpu:.1f} s cpu: {speed[policy][0]:,.0f} jobs/s wall, "
                  f"{speed[policy][1]:,.0f} jobs/s cpu]", flush=True)
    report: dict[str, Any] = {"policies": figures, "speed_jobs_per_s": {p: {"wall": round(w), "cpu": round(c)}
                                                         for p, (w, c) in speed.items()}}
    live = figures.get("live")
    if live is not None:
        ratios = {}
        for base in ("static", "single-pool"):
            if base in figures:
                ratios[base] = {k: round(live[k] / figures[base][k], 3) if figures[base][k] else None
                                for k in ("mean_wait_s", "p95_wait_s", "max_wait_s", "utilization")}
                print(f"live / {base:<12} " + " ".join(f"{k}={v}" for k, v in ratios[base].items()))
        report["ratios"] = ratios
        targets = []
        if "single-pool" in ratios:
            r = ratios["single-pool"]
            targets += [("mean <= 1.15x single-pool", r["mean_wait_s"] is not None and r["mean_wait_s"] <= 1.15),
                        ("p95 <= 1.15x single-pool", r["p95_wait_s"] is not None and r["p95_wait_s"] <= 1.15),
                        ("max <= 1.5x single-pool", r["max_wait_s"] is not None and r["max_wait_s"] <= 1.5)]
        others = [p for p in figures if p not in ("live", "single-pool")]
        for key in ("mean_wait_s", "p95_wait_s", "max_wait_s"):
            targets.append((f"{key} better than {', '.join(others)}",
                            all(live[key] < figures[p][key] for p in others)))
        if "static" in figures:
            targets.append(("utilization >= static", live["utilization"] >= figures["static"]["utilization"]))
        targets.append(("replay >= 1,000 jobs/s (wall)", speed["live"][0] >= 1000))
        targets.append(("replay >= 1,000 jobs/s (cpu)", speed["live"][1] >= 1000))
        for name, ok in targets:
            print(f"target {'MET   ' if ok else 'MISSED'} {name}")
        report["targets"] = {name: ok for name, ok in targets}
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
