"""WatchJobs streams wait without holding a thread: idle watchers never starve unary calls, and every watcher
sees every event of its filter, in order, even when it reads slower than events arrive."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from dualtrack.broker.config import parse_config
from dualtrack.broker.context import build_context
from dualtrack.broker.domain import JobEvent
from dualtrack.broker.handlers.jobs import submit_job
from dualtrack.broker.handlers.specs import SpecSource
from dualtrack.broker.handlers.watch import EventFanout, _Subscriber
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


def test_events_reach_only_the_streams_whose_filter_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams are indexed by filter: an event is offered to the streams of its job, of its tenant and of every
    event, never to the idle watchers of a tenant that has no jobs (1,000 of them cost nothing per event)."""
    ctx = build_context(parse_config(broker_config(tmp_path)))
    offered: Counter[str] = Counter()
    original = _Subscriber.offer

    def counting(self: _Subscriber, event: JobEvent, tenant: str | None) -> None:
        offered[self.job_id or self.tenant or "*"] += 1
        original(self, event, tenant)

    monkeypatch.setattr(_Subscriber, "offer", counting)

    async def scenario() -> dict[str, list[str]]:
        fanout = EventFanout(ctx, asyncio.to_thread)
        streams = {"*": fanout.watch(), "vision-qa": fanout.watch(tenant="vision-qa"),
                   **{f"idle-{i}": fanout.watch(tenant="idle") for i in range(50)}}
        firsts = {name: asyncio.ensure_future(stream.__anext__()) for name, stream in streams.items()}
        await asyncio.sleep(0.2)
        created = [await asyncio.wrap_future(submit_job(ctx, SpecSource(yaml_text=spec_text(
            f"j{i}", "vision-qa" if i % 2 else "vision-rnd")))) for i in range(4)]
        one = created[1].job.id
        job_stream = fanout.watch(job_id=one, since_seq=1)
        seen = {"*": [(await firsts["*"]).job_id], "vision-qa": [(await firsts["vision-qa"]).job_id]}
        seen["*"] += [(await asyncio.wait_for(streams["*"].__anext__(), 10)).job_id for _ in range(3)]
        seen["vision-qa"].append((await asyncio.wait_for(streams["vision-qa"].__anext__(), 10)).job_id)
        seen[one] = [(await asyncio.wait_for(job_stream.__anext__(), 10)).job_id]
        waiting = [future for future in firsts.values() if not future.done()]
        for future in waiting:
            future.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)  # the idle streams end their wait
        for stream in [*streams.values(), job_stream]:
            await stream.aclose()
        assert fanout.subscribers == 0 and not fanout._by_tenant and not fanout._by_job and not fanout._everyone
        fanout.close()
        return seen

    try:
        seen = asyncio.run(scenario())
        jobs = [e.job_id for e in ctx.store.events(limit=100)]
    finally:
        ctx.close()
    assert seen["*"] == jobs
    assert seen["vision-qa"] == [jobs[1], jobs[3]]
    assert seen[jobs[1]] == [jobs[1]]
    assert offered["vision-qa"] == 2 and offered["*"] == 4
    assert not any(name.startswith("idle") or name == "idle" for name in offered), offered
