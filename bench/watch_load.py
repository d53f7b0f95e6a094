#!/usr/bin/env python3
"""Watch streams under load: idle and active WatchJobs streams while jobs are submitted.

Starts ``dualtrack serve`` (SQLite, in-memory backends, reconciler off so every job has exactly one event,
ACCEPTED) with one bearer token per tenant. Runs twice: once without watchers (the baseline), once with
``--idle`` watchers of a tenant that never gets a job and ``--active`` watchers, each of one of ``--tenants``
tenants (its token scopes its stream). Meanwhile ``--total`` jobs are submitted over ``--connections``
connections (one call at a time each, tenants round-robin) and a reader calls GetJob on submitted jobs.

Prints: errors; GetJob p50/p99; submit throughput with and without watchers and their ratio; whether every
active watcher saw every event of its tenant in order; event delivery lag (store time -> client) p50/p99.

    python bench/watch_load.py [--idle 1000] [--active 100] [--total 5000] [--connections 16] [--tenants 10]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from submit_throughput import cpu_seconds  # noqa: E402

from dualtrack.v1 import broker_pb2 as pb  # noqa: E402
from dualtrack.v1 import broker_pb2_grpc as pb_grpc  # noqa: E402

ADMIN = "tok-admin"
IDLE_TENANT = "idle"
OPTIONS = [("grpc.use_local_subchannel_pool", 1), ("grpc.max_concurrent_streams", 2000)]


def tenant(i: int) -> str:
    return f"tenant-{i}"


def token(name: str) -> str:
    return f"tok-{name}"


def bearer(name: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token(name)}")]


def spec(i: int, tenants: int) -> pb.JobSpec:
    return pb.JobSpec(
        api_version="dualtrack/v1", kind="TrainingJob",
        metadata=pb.Metadata(name=f"w-{i % 1000}", tenant=tenant(i % tenants)),
        spec=pb.TrainingSpec(image="ultralytics/ultralytics:8.3.40",
                             yolo=pb.YoloSpec(model="yolov8n.pt", data="coco8.yaml", epochs=1),
                             resources=pb.Resources(workers=1, gpus_per_worker=1), time_limit="1h"),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- load generators (each in its own process) ---------------------------------------------------------
def submitters(address: str, total: int, connections: int, tenants: int, start: Any, out: Any) -> None:
    async def run() -> None:
        ids: list[str] = []
        errors = 0

        async def one(share: range) -> None:
            nonlocal errors
            async with grpc.aio.insecure_channel(address, options=OPTIONS) as channel:
                stub = pb_grpc.BrokerStub(channel)
                await channel.channel_ready()
                while not start.is_set():
                    await asyncio.sleep(0.01)
                for i in share:
                    try:
                        reply = await stub.SubmitJob(pb.SubmitJobRequest(spec=spec(i, tenants)), timeout=60,
                                                     metadata=[("authorization", f"Bearer {ADMIN}")])
                        ids.append(reply.job.id)
                    except grpc.RpcError:
                        errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(one(range(c, total, connections)) for c in range(connections)))
        out.put(("submit", time.perf_counter() - began, len(ids), errors))

    asyncio.run(run())


def watchers(address: str, idle: int, active: int, tenants: int, expected_per_tenant: int, ready: Any,
             out: Any) -> None:
    async def run() -> None:
        lags: list[float] = []
        in_order = True
        complete = 0
        errors = 0
        opened = 0  # streams connected or refused
        refused: list[str] = []
        # at most 50 streams per connection: servers may cap concurrent streams per connection (often at 100)
        channels = [grpc.aio.insecure_channel(address, options=OPTIONS) for _ in range((idle + active) // 50 + 1)]

        async def watch(n: int, name: str, want: int) -> None:
            nonlocal in_order, complete, errors, opened
            stub = pb_grpc.BrokerStub(channels[n % len(channels)])
            call = stub.WatchJobs(pb.WatchJobsRequest(), metadata=bearer(name))
            try:
                await call.wait_for_connection()
            except grpc.RpcError as exc:  # a stream the server refused: an error, and it stops waiting for it
                errors += 1
                refused.append(f"{exc.code().name}: {exc.details()}")
                return
            finally:
                opened += 1
            if want == 0:  # idle: hold the stream until cancelled
                try:
                    async for _ in call:
                        errors += 1  # an idle tenant never has an event
                except (grpc.RpcError, asyncio.CancelledError):
                    pass
                return
            last = 0
            seen = 0
            try:
                async for event in call:
                    lags.append(time.time() - (event.at.seconds + event.at.nanos / 1e9))
                    in_order &= event.seq > last
                    last = event.seq
                    seen += 1
                    if seen == want:
                        complete += 1
                        call.cancel()
                        return
            except grpc.RpcError as exc:
                if exc.code() is not grpc.StatusCode.CANCELLED:
                    errors += 1

        tasks = [asyncio.create_task(watch(n, IDLE_TENANT, 0)) for n in range(idle)]
        active_tasks = [asyncio.create_task(watch(n, tenant(n % tenants), expected_per_tenant))
                        for n in range(active)]
        while opened < idle + active:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # every stream registered at the broker before the first submit
        if refused:
            print(f"watchers: {len(refused)} streams refused, e.g. {refused[0]}", file=sys.stderr)
        ready.set()
        await asyncio.wait(active_tasks, timeout=600)
        for task in tasks + active_tasks:
            task.cancel()
        await asyncio.gather(*tasks, *active_tasks, return_exceptions=True)
        for channel in channels:
            await channel.close()
        out.put(("watch", lags, in_order, complete, errors))

    asyncio.run(run())


def reader(address: str, start: Any, stop: Any, out: Any) -> None:
    latencies: list[float] = []
    errors = 0
    with grpc.insecure_channel(address, options=OPTIONS) as channel:
        stub = pb_grpc.BrokerStub(channel)
        admin = [("authorization", f"Bearer {ADMIN}")]
        while not start.is_set():
            time.sleep(0.01)
        known: list[str] = []
        while not stop.is_set():
            if not known or random.random() < 0.1:
                page = stub.ListJobs(pb.ListJobsRequest(page_size=100), metadata=admin, timeout=10)
                known = [j.id for j in page.jobs] or known
            if known:
                began = time.perf_counter()
                try:
                    stub.GetJob(pb.GetJobRequest(id=random.choice(known)), metadata=admin, timeout=10)
                    latencies.append(time.perf_counter() - began)
                except grpc.RpcError:
                    errors += 1
            time.sleep(0.02)
    out.put(("get", latencies, errors))


# -- one run --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_once(args: argparse.Namespace, with_watchers: bool) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="dualtrack-watch-load-"))
    port = free_port()
    tokens = {ADMIN: "*", token(IDLE_TENANT): IDLE_TENANT}
    tokens |= {token(tenant(i)): tenant(i) for i in range(args.tenants)}
    config = {
        "server": {"address": f"127.0.0.1:{port}", "workers": args.workers},
        "metrics": {"port": None},
        "store": {"url": f"sqlite:///{work / 'jobs.sqlite'}"},
        "reconciler": {"enabled": False},
        "auth": {"tokens": tokens},
        "backends": [{"name": "slurm-a", "kind": "inmemory", "settings": {"track": "slurm", "nodes": 64}}],
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    log = (work / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "dualtrack.broker.cli.main", "serve", "-c",
                               str(work / "config.yaml"), "--log-level", "warning"],
                              stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    address = f"127.0.0.1:{port}"
    context = mp.get_context("spawn")
    start, stop, ready = context.Event(), context.Event(), context.Event()
    out = context.Queue()
    try:
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
        procs = [context.Process(target=submitters,
                                 args=(address, args.total, args.connections, args.tenants, start, out)),
                 context.Process(target=reader, args=(address, start, stop, out))]
        if with_watchers:
            per_tenant = args.total // args.tenants  # total is a multiple of tenants (checked in main)
            procs.append(context.Process(target=watchers, args=(address, args.idle, args.active, args.tenants,
                                                                per_tenant, ready, out)))
        for p in procs:
            p.daemon = True  # a failed run ends the bench instead of waiting for its helpers forever
            p.start()
        if with_watchers and not ready.wait(300):
            raise RuntimeError("watchers did not connect")
        time.sleep(2.0)
        # CPU seconds of the broker and of each load-generating process while the jobs are submitted: they
        # share the machine's cores, so the throughput ratio is the machine's, not the broker's alone
        roles = {"broker": server.pid, "submitters": procs[0].pid, "reader": procs[1].pid}
        if with_watchers:
            roles["watchers"] = procs[2].pid
        before = {role: cpu_seconds(pid) for role, pid in roles.items() if pid is not None}
        start.set()
        results: dict[str, Any] = {}
        while "submit" not in results:
            item = out.get()
            results[item[0]] = item[1:]
        cpu = {role: cpu_seconds(pid) - before[role] for role, pid in roles.items() if pid is not None}
        stop.set()
        while len(results) < len(procs):
            item = out.get(timeout=900)
            results[item[0]] = item[1:]
        for p in procs:
            p.join(60)
        results["cpu"] = cpu
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--active", type=int, default=100)
    parser.add_argument("--total", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="broker API processes (server.workers)")
    args = parser.parse_args()
    if args.total % args.tenants:
        parser.error("--total must be a multiple of --tenants")

    baseline = run_once(args, with_watchers=False)
    loaded = run_once(args, with_watchers=True)
    b_elapsed, b_ok, b_err = baseline["submit"]
    l_elapsed, l_ok, l_err = loaded["submit"]
    gets, get_errors = loaded["get"]
    lags, in_order, complete, watch_errors = loaded["watch"]
    errors = b_err + l_err + get_errors + watch_errors + baseline["get"][1]
    base_rate, load_rate = b_ok / b_elapsed, l_ok / l_elapsed
    print(f"dualtrack watch load ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{args.workers} broker process(es), SQLite, reconciler off)")
    print(f"  {args.idle} idle + {args.active} active watchers ({args.tenants} tenants), {args.total} submissions "
          f"over {args.connections} connections")
    print(f"  errors: {errors} (submit {b_err}+{l_err}, get {get_errors}, watch {watch_errors})")
    print(f"  submit throughput: {base_rate:,.0f}/s without watchers, {load_rate:,.0f}/s with: "
          f"ratio {load_rate / base_rate:.2f}")
    for label, run in (("without watchers", baseline), ("with watchers", loaded)):
        elapsed = (b_elapsed if run is baseline else l_elapsed)
        shares = ", ".join(f"{role} {cpu:.1f} s ({cpu / elapsed:.2f} cores)" for role, cpu in run["cpu"].items())
        print(f"  CPU while submitting {label}: {shares}")
    print(f"  GetJob under load: {len(gets)} calls, p50 {percentile(gets, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(gets, 0.99) * 1000:.1f} ms")
    print(f"  active watchers complete: {complete}/{args.active}, every stream in order: {in_order}")
    print(f"  delivery lag ({len(lags)} events): p50 {percentile(lags, 0.5) * 1000:.0f} ms, "
          f"p99 {percentile(lags, 0.99) * 1000:.0f} ms, max {max(lags, default=0) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
