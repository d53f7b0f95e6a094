"""WatchJobs streams wait without holding a thread: idle watchers never starve unary calls, and every watcher
sees every event of its filter, in order, even when it reads slower than events arrive."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from dualtrack.broker.config import parse_config
from dualtrack.broker.context import build_context
from dualtrack.broker.handlers.jobs import submit_job
from dualtrack.broker.handlers.specs import SpecSource
from dualtrack.broker.handlers.watch import EventFanout
from dualtrack.v1 import broker_pb2 as pb
from tests.inprocess import InProcessBroker, broker_config
from tests.unit.api.conftest import spec_text


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_idle_watchers_leave_unary_calls_their_capacity(make_server: Callable[..., InProcessBroker]) -> None:
    # Four handler threads and ten times as many idle watchers: a watcher that held a thread while it waited
    # would leave GetJob, ListJobs and CancelJob none (they would hit their deadline).
    server = make_server({"server": {"maxWorkers": 4}})
    with server.channel() as channel:
        stub = server.stub(channel)
        job = stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=spec_text()), timeout=10).job
        watchers = [stub.WatchJobs(pb.WatchJobsRequest()) for _ in range(40)]
        wait_until(lambda: server.bound is not None and server.bound.servicer._watch.subscribers == 40)
        assert stub.GetJob(pb.GetJobRequest(id=job.id), timeout=5).id == job.id
        assert [j.id for j in stub.ListJobs(pb.ListJobsRequest(), timeout=5).jobs] == [job.id]
        assert stub.CancelJob(pb.CancelJobRequest(id=job.id), timeout=5).state == pb.CANCELLED
        assert threading.active_count() < 40  # no thread per watcher anywhere in the process
        # and the idle watchers were not idle in vain: each saw the cancellation
        for watcher in watchers[:3]:
            event = next(watcher)
            assert event.job_id == job.id and event.state == pb.CANCELLED
        for watcher in watchers:
            watcher.cancel()


def test_a_slow_watcher_sees_every_event_in_order(tmp_path: Path) -> None:
    ctx = build_context(parse_config(broker_config(tmp_path)))

    async def scenario() -> list[int]:
        fanout = EventFanout(ctx, asyncio.to_thread, queue_limit=5)  # a mailbox of 5 events overflows at once
        seen: list[int] = []
        stream = fanout.watch()
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.2)  # the watcher is registered and waiting
        for i in range(40):
            await asyncio.wrap_future(submit_job(ctx, SpecSource(yaml_text=spec_text(f"job-{i}"))))
        seen.append((await first).seq)
        while len(seen) < 40:
            seen.append((await asyncio.wait_for(stream.__anext__(), 10)).seq)
            await asyncio.sleep(0.01)  # slower than the writer
        await stream.aclose()
        fanout.close()
        return seen

    try:
        seen = asyncio.run(scenario())
        expected = [e.seq for e in ctx.store.events(limit=100)]
    finally:
        ctx.close()
    assert seen == expected


def test_a_tenant_watcher_sees_only_its_tenants_events(tmp_path: Path) -> None:
    ctx = build_context(parse_config(broker_config(tmp_path)))

    async def scenario() -> list[str]:
        fanout = EventFanout(ctx, asyncio.to_thread)
        stream = fanout.watch(tenant="vision-qa")
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.2)
        names = []
        for i in range(6):
            tenant = "vision-qa" if i % 2 else "vision-rnd"
            created = await asyncio.wrap_future(submit_job(ctx, SpecSource(yaml_text=spec_text(f"j{i}", tenant))))
            names.append((created.job.id, tenant))
        events = [await first] + [await asyncio.wait_for(stream.__anext__(), 10) for _ in range(2)]
        fanout.close()
        assert {job_id for job_id, tenant in names if tenant == "vision-qa"} == {e.job_id for e in events}
        return [e.job_id for e in events]

    try:
        asyncio.run(scenario())
    finally:
        ctx.close()


def test_a_watch_for_one_job_replays_from_since_seq(server: InProcessBroker) -> None:
    with server.channel() as channel:
        stub = server.stub(channel)
        job = stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=spec_text()), timeout=10).job
        stub.CancelJob(pb.CancelJobRequest(id=job.id), timeout=10)
        events = list(stub.WatchJobs(pb.WatchJobsRequest(job_id=job.id, follow_until_terminal=True), timeout=10))
        assert [e.state for e in events] == [pb.ACCEPTED, pb.CANCELLED]
        later = stub.WatchJobs(pb.WatchJobsRequest(since_seq=events[0].seq), timeout=10)
        assert next(later).seq == events[1].seq
        later.cancel()


def test_broker_shutdown_ends_idle_streams(make_server: Callable[..., InProcessBroker]) -> None:
    server = make_server()
    with server.channel() as channel:
        watcher = server.stub(channel).WatchJobs(pb.WatchJobsRequest())
        wait_until(lambda: server.bound is not None and server.bound.servicer._watch.subscribers == 1)
        server.stop()
        try:
            assert list(watcher) == []
        except grpc.RpcError as exc:  # ended by the server's stop, not a client deadline
            assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
