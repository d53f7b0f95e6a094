#!/usr/bin/env python3
"""100,000 jobs in the store: broker memory, list and get latency, and one reconciler cycle.

1. In this process: a SQLite store with in-memory backends; ``--terminal`` jobs are stored through the
   store's group commit and then marked SUCCEEDED in one SQL statement (their history is not the subject);
   ``--active`` jobs are submitted through the submit handler and run by reconciler cycles until every one
   is RUNNING on an in-memory backend (jobs that never end). Then ``--cycles`` reconciler cycles are timed:
   each reads the 5,000 active jobs, observes them on their backends and runs every step.
2. ``dualtrack serve`` on the same store (reconciler on, in-memory backends that do not know the old jobs;
   ``missingGraceSeconds`` long, so nothing changes): ListJobs first page and GetJob latency over gRPC,
   then the server's resident memory (VmRSS, VmHWM) after those calls and a few reconciler cycles.

    python bench/scale.py [--terminal 95000] [--active 5000] [--calls 500] [--cycles 10]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import wait
from pathlib import Path
from typing import Any

import grpc
import yaml
from sqlalchemy import update

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dualtrack.broker.config import parse_config  # noqa: E402
from dualtrack.broker.context import build_context  # noqa: E402
from dualtrack.broker.domain import JobState, parse_spec_yaml  # noqa: E402
from dualtrack.broker.handlers.jobs import submit_job  # noqa: E402
from dualtrack.broker.handlers.specs import SpecSource  # noqa: E402
from dualtrack.broker.reconciler import Reconciler  # noqa: E402
from dualtrack.broker.store import NewJob  # noqa: E402
from dualtrack.broker.store.schema import jobs as jobs_table  # noqa: E402
from dualtrack.v1 import broker_pb2 as pb  # noqa: E402
from dualtrack.v1 import broker_pb2_grpc as pb_grpc  # noqa: E402

SPEC = (REPO / "examples" / "yolo-1gpu.yaml").read_text()
NEVER_ENDS = 10**7


def config(db: Path, port: int = 0) -> dict[str, Any]:
    return {
        "server": {"address": f"127.0.0.1:{port}"},
        "metrics": {"port": None},
        "store": {"url": f"sqlite:///{db}"},
        "reconciler": {"intervalSeconds": 2.0, "missingGraceSeconds": 3600, "retryBackoffSeconds": 0},
        "backends": [
            {"name": "slurm-a", "kind": "inmemory",
             "settings": {"track": "slurm", "nodes": 100, "gpusPerNode": 64, "runSeconds": NEVER_ENDS}},
            {"name": "kube-a", "kind": "inmemory",
             "settings": {"track": "kubernetes", "nodes": 100, "gpusPerNode": 64, "runSeconds": NEVER_ENDS}},
        ],
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fill_and_time_cycles(db: Path, terminal: int, active: int, cycles: int) -> list[float]:
    ctx = build_context(parse_config(config(db)))
    try:
        spec = parse_spec_yaml(SPEC)
        began = time.perf_counter()
        futures = [ctx.store.create_future(NewJob(spec=spec, spec_yaml=SPEC)) for _ in range(terminal)]
        wait(futures)
        with ctx.store.engine.begin() as conn:
            conn.execute(update(jobs_table).where(jobs_table.c.state == JobState.ACCEPTED.value)
                         .values(state=JobState.SUCCEEDED.value, terminal=True))
        print(f"  stored {terminal} terminal jobs in {time.perf_counter() - began:.0f} s")
        began = time.perf_counter()
        submitted = [submit_job(ctx, SpecSource(yaml_text=SPEC.replace("yolo-coco8-1gpu", f"s{i % 1000}")))
                     for i in range(active)]
        wait(submitted)
        reconciler = Reconciler(ctx, zombie_interval=0.0)
        while True:
            reconciler.run_cycle()
            running = sum(n for s, _, _, n in ctx.store.counts() if s == JobState.RUNNING.value)
            if running >= active:
                break
            if time.perf_counter() - began > 1800:
                raise RuntimeError(f"only {running} of {active} jobs running after 30 min")
        print(f"  {active} active jobs submitted and running in {time.perf_counter() - began:.0f} s")
        return [reconciler.run_cycle().seconds for _ in range(cycles)]
    finally:
        ctx.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def serve_and_measure(db: Path, work: Path, calls: int) -> tuple[list[float], list[float], dict[str, int]]:
    port = free_port()
    (work / "serve.yaml").write_text(yaml.safe_dump(config(db, port)))
    log = (work / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "dualtrack.broker.cli.main", "serve", "-c",
                               str(work / "serve.yaml"), "--log-level", "warning"],
                              stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            stub = pb_grpc.BrokerStub(channel)
            stub.ListJobs(pb.ListJobsRequest(), timeout=30)  # warm-up
            lists, gets = [], []
            for _ in range(calls):
                began = time.perf_counter()
                page = stub.ListJobs(pb.ListJobsRequest(), timeout=30)
                lists.append(time.perf_counter() - began)
            ids = [j.id for j in page.jobs]
            ids += [j.id for j in stub.ListJobs(pb.ListJobsRequest(states=[pb.SUCCEEDED]), timeout=30).jobs]
            for _ in range(calls):
                job_id = random.choice(ids)
                began = time.perf_counter()
                stub.GetJob(pb.GetJobRequest(id=job_id), timeout=30)
                gets.append(time.perf_counter() - began)
            time.sleep(6)  # a few reconciler cycles over the 5,000 active jobs
            memory = memory_kib(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    return lists, gets, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terminal", type=int, default=95_000)
    parser.add_argument("--active", type=int, default=5_000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dualtrack-scale-"))
    db = work / "jobs.sqlite"
    print(f"dualtrack scale ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, SQLite): "
          f"{args.terminal + args.active} jobs, {args.active} active")
    cycle_times = fill_and_time_cycles(db, args.terminal, args.active, args.cycles)
    lists, gets, memory = serve_and_measure(db, work, args.calls)
    ms = 1000.0
    print(f"  reconciler cycle with {args.active} active jobs: p50 {percentile(cycle_times, 0.5) * ms:.0f} ms, "
          f"max {max(cycle_times) * ms:.0f} ms over {len(cycle_times)} cycles")
    print(f"  ListJobs first page: p50 {percentile(lists, 0.5) * ms:.1f} ms, p99 {percentile(lists, 0.99) * ms:.1f} ms")
    print(f"  GetJob: p50 {percentile(gets, 0.5) * ms:.1f} ms, p99 {percentile(gets, 0.99) * ms:.1f} ms")
    print(f"  broker RSS: {memory.get('VmRSS', 0) / 1024:.0f} MB (peak {memory.get('VmHWM', 0) / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
