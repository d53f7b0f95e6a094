#!/usr/bin/env python3
"""Durable submissions per second through gRPC with N concurrent clients, SubmitJob and SubmitJobs.

For each API asked for (``--api single|bulk|both``) starts ``dualtrack serve`` as a separate process on a fresh
SQLite file (WAL, synchronous=FULL: every accepted job is fsync'd before the reply) with in-memory backends,
then runs N concurrent clients (asyncio coroutines, each with its own connection and one call at a time,
spread over a few processes) for a fixed number of jobs: ``single`` sends one SubmitJob per job, ``bulk`` one
SubmitJobs call of ``--batch`` jobs (one durable commit each). Prints the rate in jobs/s, the broker's CPU per
job and call latencies, and checks that the store holds exactly the accepted jobs.

    python bench/submit_throughput.py [--api both] [--clients 32] [--bulk-clients 8] [--batch 1000]
                                      [--processes 1] [--workers 2] [--total 20000] [--bulk-total 100000]
                                      [--form typed|yaml] [--reconciler on|off]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dualtrack.v1 import broker_pb2 as pb  # noqa: E402
from dualtrack.v1 import broker_pb2_grpc as pb_grpc  # noqa: E402

SPEC_YAML = (REPO / "examples" / "yolo-1gpu.yaml").read_text()


def typed_spec(i: int) -> pb.JobSpec:
    return pb.JobSpec(
        api_version="dualtrack/v1", kind="TrainingJob",
        metadata=pb.Metadata(name=f"bench-{i % 1000}", tenant="bench"),
        spec=pb.TrainingSpec(image="ultralytics/ultralytics:8.3.40",
                             yolo=pb.YoloSpec(model="yolov8n.pt", data="coco8.yaml", epochs=1),
                             resources=pb.Resources(workers=1, gpus_per_worker=1), time_limit="1h"),
    )


def client_process(address: str, clients: int, count: int, form: str, batch: int,  # type: ignore[type-arg]
                   start: mp.Event, out: mp.Queue) -> None:
    """``clients`` concurrent clients (coroutines, each one call at a time) sharing ``count`` jobs; ``batch`` 0
    sends one SubmitJob per job, else SubmitJobs calls of ``batch`` jobs."""
    asyncio.run(_clients(address, clients, count, form, batch, start, out))


def request_for(i: int, form: str) -> pb.SubmitJobRequest:
    return pb.SubmitJobRequest(spec=typed_spec(i)) if form == "typed" else pb.SubmitJobRequest(spec_yaml=SPEC_YAML)


async def _clients(address: str, clients: int, count: int, form: str, batch: int,  # type: ignore[type-arg]
                   start: mp.Event, out: mp.Queue) -> None:
    latencies: list[float] = []
    errors = 0
    accepted = 0
    shares = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
    async def one_client(n: int) -> None:
        """One client: its own connection (so the kernel spreads clients over broker workers), one call at a time."""
        nonlocal errors, accepted
        # a local subchannel pool: a connection of its own, not one shared by every channel of the process
        options = [("grpc.use_local_subchannel_pool", 1), ("grpc.max_send_message_length", 64 << 20),
                   ("grpc.max_receive_message_length", 64 << 20)]
        async with grpc.aio.insecure_channel(address, options=options) as channel:
            stub = pb_grpc.BrokerStub(channel)
            await channel.channel_ready()
            while not start.is_set():
                await asyncio.sleep(0.01)
            if batch:
                for first in range(0, n, batch):
                    items = [request_for(i, form) for i in range(first, min(n, first + batch))]
                    bulk = pb.SubmitJobsRequest(items=items)
                    began = time.perf_counter()
                    try:
                        reply = await stub.SubmitJobs(bulk, timeout=120)
                    except grpc.RpcError:
                        errors += len(bulk.items)
                        continue
                    latencies.append(time.perf_counter() - began)
                    accepted += reply.accepted
                    errors += sum(1 for r in reply.results if r.HasField("error"))
                return
            for i in range(n):
                request = (pb.SubmitJobRequest(spec=typed_spec(i)) if form == "typed"
                           else pb.SubmitJobRequest(spec_yaml=SPEC_YAML))
                began = time.perf_counter()
                try:
                    await stub.SubmitJob(request, timeout=60)
                except grpc.RpcError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - began)
                accepted += 1

    await asyncio.gather(*(one_client(n) for n in shares))
    out.put((latencies, errors, accepted))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (the broker's worker processes)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the broker and its workers stop gracefully), SIGKILL for all of them after 60 s."""
    children = [int(p) for p in _children(server.pid)]
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        for pid in [server.pid, *children]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        server.wait()


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def listeners(port: int) -> int:
    """Sockets listening on 127.0.0.1:``port`` (one per broker worker: they share it with SO_REUSEPORT); gRPC
    listens on the IPv4-mapped IPv6 address, so both tables are read."""
    count = 0
    for table, local in (("tcp", f"0100007F:{port:04X}"), ("tcp6", f"0000000000000000FFFF00000100007F:{port:04X}")):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            count += fields[1] == local and fields[3] == "0A"  # 0A: LISTEN
    return count


def wait_for_listeners(port: int, workers: int, timeout: float = 60.0) -> None:
    """Worker 0 answers first; the spawned workers bind seconds later. Clients that connect before then all
    land on worker 0, and the run measures one worker."""
    deadline = time.monotonic() + timeout
    while listeners(port) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {listeners(port)} of {workers} broker workers listen on port {port}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", choices=["single", "bulk", "both"], default="both",
                        help="single: SubmitJob per job; bulk: SubmitJobs of --batch jobs; both: one after the other")
    parser.add_argument("--clients", type=int, default=32, help="concurrent SubmitJob clients, one call at a time")
    parser.add_argument("--bulk-clients", type=int, default=8,
                        help="concurrent SubmitJobs clients (8: the kernel spreads their connections over the workers)")
    parser.add_argument("--batch", type=int, default=1000, help="jobs per SubmitJobs call (at most 1000)")
    parser.add_argument("--processes", type=int, default=1, help="client processes the clients are spread over")
    parser.add_argument("--workers", type=int, default=2, help="broker API processes (server.workers)")
    parser.add_argument("--total", type=int, default=20000, help="jobs for SubmitJob")
    parser.add_argument("--bulk-total", type=int, default=100000, help="jobs for SubmitJobs")
    parser.add_argument("--form", choices=["typed", "yaml"], default="typed", help="typed JobSpec or spec_yaml")
    parser.add_argument("--reconciler", choices=["on", "off"], default="on",
                        help="on: the reconciler places and dispatches while submissions arrive")
    args = parser.parse_args()
    print(f"dualtrack submit throughput ({os.cpu_count()} cores, SQLite WAL synchronous=FULL, "
          f"reconciler {args.reconciler}, {args.form} specs, {args.workers} broker worker processes)")
    failed = False
    if args.api in ("single", "both"):
        failed |= run(args, "SubmitJob", args.clients, args.total, 0)
    if args.api in ("bulk", "both"):
        failed |= run(args, f"SubmitJobs x{args.batch}", args.bulk_clients, args.bulk_total, args.batch)
    if failed:
        sys.exit(1)


def run(args: argparse.Namespace, label: str, clients: int, total: int, batch: int) -> bool:
    """One measurement against a fresh broker and store; True when the store disagrees with the replies."""
    work = Path(tempfile.mkdtemp(prefix="dualtrack-bench-"))
    port = free_port()
    db = work / "jobs.sqlite"
    config = {
        "server": {"address": f"127.0.0.1:{port}", "workers": args.workers},
        "metrics": {"port": None},
        "store": {"url": f"sqlite:///{db}"},
        "reconciler": {"enabled": args.reconciler == "on", "intervalSeconds": 1.0},
        "backends": [
            {"name": "slurm-a", "kind": "inmemory", "settings": {"track": "slurm", "nodes": 64, "runSeconds": 5}},
            {"name": "kube-a", "kind": "inmemory", "settings": {"track": "kubernetes", "nodes": 64, "runSeconds": 5}},
        ],
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    log = (work / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "dualtrack.broker.cli.main", "serve",
                               "-c", str(work / "config.yaml"), "--log-level", "warning"],
                              stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    address = f"127.0.0.1:{port}"
    processes = min(args.processes, clients)
    try:
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
        wait_for_listeners(port, args.workers)
        start = mp.Event()
        out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        per_process = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
        procs = [mp.Process(target=client_process,
                            args=(address, c, total * c // clients, args.form, batch, start, out))
                 for c in per_process]
        for p in procs:
            p.start()
        time.sleep(2.0)  # let every client connect before the clock starts
        cpu_before = cpu_seconds(server.pid)
        client_before = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
        began = time.perf_counter()
        start.set()
        results = [out.get() for _ in procs]
        elapsed = time.perf_counter() - began
        server_cpu = cpu_seconds(server.pid) - cpu_before
        for p in procs:
            p.join()
        client_cpu = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]) - client_before
        latencies = sorted(x for lat, _, _ in results for x in lat)
        errors = sum(e for _, e, _ in results)
        ok = sum(a for _, _, a in results)
    finally:
        stop(server)
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM jobs").fetchone()[0]
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(f"{label}: {clients} concurrent clients over {processes} processes, {total} jobs")
    print(f"  accepted {ok}, errors {errors}, stored {stored}")
    print(f"  throughput {ok / elapsed:,.0f} durable jobs/s over {elapsed:.2f} s")
    print(f"  broker CPU {server_cpu:.1f} s in {elapsed:.1f} s ({server_cpu / elapsed:.2f} cores), "
          f"{server_cpu / max(ok, 1) * 1e6:.0f} us of broker CPU per job")
    print(f"  load generator CPU {client_cpu:.1f} s ({client_cpu / elapsed:.2f} cores) on the same machine")
    if latencies:
        print(f"  call latency p50 {pct(0.50):.1f} ms  p99 {pct(0.99):.1f} ms  max {latencies[-1] * 1000:.1f} ms")
    if stored != ok:
        print(f"  MISMATCH: {ok} accepted but {stored} stored")
        return True
    return False


if __name__ == "__main__":
    main()
