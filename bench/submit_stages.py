#!/usr/bin/env python3
"""Where a SubmitJobs item's time goes: the CPU per job of each stage of a 1,000-job bulk submission, measured in
process (no gRPC) against a fresh SQLite store (WAL, synchronous=FULL) with in-memory backends; best of three.
The collector is set as ``dualtrack serve`` sets it (broker/gc_tuning.py). Complements submit_throughput.py,
which measures the whole path through gRPC.

    python bench/submit_stages.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from submit_throughput import typed_spec

from dualtrack.broker.api import convert
from dualtrack.broker.config import parse_config
from dualtrack.broker.context import build_context
from dualtrack.broker.gc_tuning import tune_for_serving
from dualtrack.broker.handlers.jobs import validate_submission
from dualtrack.broker.store.codec import canonical_json, spec_hash
from dualtrack.v1 import broker_pb2 as pb

JOBS = 1000


def stage(label: str, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    best, out = float("inf"), []
    for _ in range(3):
        began = time.process_time()
        out = [fn(x) for x in items]
        best = min(best, time.process_time() - began)
    print(f"  {label:30s} {best / len(items) * 1e6:7.1f} us/job CPU")
    return out


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="dualtrack-stages-"))
    config = parse_config({"store": {"url": f"sqlite:///{work}/jobs.sqlite"}, "metrics": {"port": None},
                           "backends": [{"name": "slurm-a", "kind": "inmemory", "settings": {"track": "slurm"}},
                                        {"name": "kube-a", "kind": "inmemory",
                                         "settings": {"track": "kubernetes"}}]}, "bench")
    ctx = build_context(config)
    tune_for_serving()
    try:
        requests = [pb.SubmitJobRequest(spec=typed_spec(i)) for i in range(JOBS)]
        print(f"one SubmitJobs call of {JOBS} typed specs, per job:")
        sources = stage("typed spec -> document", convert.spec_source, requests)
        news = stage("validate + resolvability", lambda s: validate_submission(
            ctx, s, idempotency_key="", track="", tenant=None), sources)
        stage("canonical JSON + sha256", lambda n: spec_hash(canonical_json(n.spec)), news)
        best_cpu, best_wall, outcomes = float("inf"), float("inf"), []
        for _ in range(3):
            cpu, wall = time.process_time(), time.perf_counter()
            outcomes = ctx.store.create_many(news)
            best_cpu, best_wall = min(best_cpu, time.process_time() - cpu), min(best_wall, time.perf_counter() - wall)
        print(f"  {'store: one transaction':30s} {best_cpu / JOBS * 1e6:7.1f} us/job CPU (writer thread included), "
              f"{best_wall / JOBS * 1e6:.1f} us/job wall (with the fsync)")
        stage("reply Job message", lambda c: convert.job_to_pb(c.job, "", full=False), outcomes)
    finally:
        ctx.close()


if __name__ == "__main__":
    main()
