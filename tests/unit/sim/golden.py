"""The ``live`` replay's full record on a fixed small trace: what the equivalence test compares.

``live_record(config)`` replays ``tests/fixtures/sim/philly-rfold-300.csv`` on a scaled-down copy of the Philly
clusters under one broker config and returns every job's outcome plus the store's event log (every state
change and every "waiting: ..." note, whose text is the placement explanation's summary). Any change in a
decision, in its timing or in an explanation changes this record.

Regenerate the fixture (only when a decision change is intended and explained):
``.venv/bin/python -m tests.unit.sim.golden`` writes ``tests/fixtures/sim/live-golden.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dualtrack.sim.replay import live
from dualtrack.sim.replay.clusters import Clusters, parse_clusters
from dualtrack.sim.replay.memstore import MemoryJobStore
from dualtrack.sim.replay.metrics import summarize
from dualtrack.sim.replay.runner import ReplayOptions, run_policy
from dualtrack.sim.replay.trace import read_trace

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sim"
TRACE = FIXTURES / "philly-rfold-300.csv"
GOLDEN = FIXTURES / "live-golden.json"
COMPRESS = 4.0

# Philly's machine mix at 1/8 of examples/sim/philly-clusters.yaml: 64 P40 GPUs on Kubernetes, 128 P100 on Slurm
BACKENDS: list[dict[str, Any]] = [
    {"name": "k8s-p40", "track": "kubernetes",
     "nodes": [{"count": 8, "gpus": 8, "gpuType": "p40", "cpus": 64, "memoryMiB": 786432, "switch": "k8s-leaf",
                "nodesPerSwitch": 4}]},
    {"name": "slurm-p100", "track": "slurm", "maxReservations": 8,
     "nodes": [{"count": 12, "gpus": 8, "gpuType": "p100", "cpus": 64, "memoryMiB": 786432,
                "switch": "slurm-leaf", "nodesPerSwitch": 4},
               {"count": 8, "gpus": 4, "gpuType": "p100", "cpus": 32, "memoryMiB": 393216,
                "switch": "slurm-edge", "nodesPerSwitch": 4}],
     "partitions": [{"name": "gpu"}]},
]

# broker configs replayed: the example's queueing profile, the default profile, and queueing with reroutes of jobs
# left pending on a backend
CONFIGS: dict[str, dict[str, Any]] = {
    "queueing": {"reconciler": {"startEstimateJobs": 8},
                 "policies": {"profile": "queueing", "queueAfterSeconds": 1800}},
    "default": {},
    "queueing-reroute": {"reconciler": {"startEstimateJobs": 4, "defaultPendingTimeout": 900},
                         "policies": {"profile": "queueing", "queueAfterSeconds": 600}},
}


def clusters(broker: dict[str, Any]) -> Clusters:
    return parse_clusters({"backends": BACKENDS, "broker": broker})


def live_record(name: str) -> dict[str, Any]:
    """The replay's summary, per-job outcomes and event log for ``CONFIGS[name]`` (deterministic)."""
    stores: list[MemoryJobStore] = []

    class RecordingStore(MemoryJobStore):
        def __init__(self, **kwargs: Any):
            super().__init__(keep_events=True, **kwargs)
            stores.append(self)

    original = live.MemoryJobStore
    live.MemoryJobStore = RecordingStore  # type: ignore[misc]
    try:
        run = run_policy("live", read_trace(TRACE, compress=COMPRESS), clusters(CONFIGS[name]),
                         ReplayOptions(cycle_seconds=30.0, seed=1))
    finally:
        live.MemoryJobStore = original  # type: ignore[misc]
    events = [f"{e.at:.0f}|{e.job_id}|{e.type.value}|{e.state.value if e.state else ''}|{e.attempt}|"
              f"{e.backend or ''}|{e.message}" for e in stores[0].events(limit=10**9)]
    records = [f"{r.id}|{r.start}|{r.end}|{r.backend}|{r.state}" for r in run.records]
    return {"summary": summarize(run), "records": records, "events": events}


def main() -> None:
    GOLDEN.write_text(json.dumps({name: live_record(name) for name in CONFIGS}, indent=0) + "\n")


if __name__ == "__main__":
    main()
