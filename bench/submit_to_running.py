#!/usr/bin/env python3
"""Submit-to-RUNNING through the broker on a real backend: the time from SubmitJob to the job's RUNNING event.

Starts ``dualtrack serve`` with one backend of the embedded defaults (the local Slurm cluster of
scripts/slurm/start.sh, or the Kubernetes simulator of scripts/kubesim/start.sh), submits N one-GPU jobs
one after another, follows each over WatchJobs until RUNNING, then cancels it. Prints median and p90.

    python bench/submit_to_running.py [--backend slurm-local|kube-local] [--jobs 20] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dualtrack.broker.config import embedded_defaults  # noqa: E402
from dualtrack.v1 import broker_pb2 as pb  # noqa: E402
from dualtrack.v1 import broker_pb2_grpc as pb_grpc  # noqa: E402

SPEC = """
apiVersion: dualtrack/v1
kind: TrainingJob
metadata: {name: bench-start, tenant: bench}
spec:
  image: docker.io/library/busybox:1.36
  command: [sleep, "30"]
  resources: {workers: 1, gpusPerWorker: 1, gpuType: a100, cpusPerWorker: 1, memoryPerWorker: 512Mi}
  timeLimit: 5m
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="slurm-local", choices=["slurm-local", "kube-local"])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5, help="reconciler.intervalSeconds")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dualtrack-bench-start-"))
    port = free_port()
    backends = [b for b in embedded_defaults()["backends"] if b["name"] == args.backend]
    config = {
        "server": {"address": f"127.0.0.1:{port}"},
        "metrics": {"port": None},
        "store": {"url": f"sqlite:///{work / 'jobs.sqlite'}"},
        "reconciler": {"intervalSeconds": args.interval},
        "backends": backends,
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    server = subprocess.Popen([sys.executable, "-m", "dualtrack.broker.cli.main", "serve",
                               "-c", str(work / "config.yaml"), "--log-level", "warning"],
                              stdout=(work / "serve.log").open("w"),
                              stderr=subprocess.STDOUT, cwd=REPO)
    seconds: list[float] = []
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = pb_grpc.BrokerStub(channel)
            time.sleep(2 * args.interval + 1)  # the first capacity snapshot
            for _ in range(args.jobs):
                began = time.perf_counter()
                job = stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=SPEC), timeout=30).job
                for event in stub.WatchJobs(pb.WatchJobsRequest(job_id=job.id, follow_until_terminal=True),
                                            timeout=120):
                    if event.state == pb.RUNNING:
                        seconds.append(time.perf_counter() - began)
                        break
                    if event.state in (pb.FAILED, pb.CANCELLED, pb.SUCCEEDED):
                        raise SystemExit(f"job {job.id} ended {pb.JobState.Name(event.state)}: {event.message}")
                stub.CancelJob(pb.CancelJobRequest(id=job.id, reason="bench"), timeout=30)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    ordered = sorted(seconds)
    print(f"submit-to-RUNNING through the broker on {args.backend} (reconciler interval {args.interval} s, "
          f"{len(seconds)} jobs)")
    print(f"  median {statistics.median(ordered):.2f} s  p90 {ordered[int(0.9 * (len(ordered) - 1))]:.2f} s  "
          f"max {ordered[-1]:.2f} s")


if __name__ == "__main__":
    main()
