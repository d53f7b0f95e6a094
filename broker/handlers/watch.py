"""The job event stream behind WatchJobs: replay from a sequence number, then follow new events.

One ``EventFanout`` per API server process reads the store's event log once and hands every new event to all
of its subscribers (asyncio queues), so a waiting watcher holds no thread and costs no query: the store's
commit signal wakes the reader at once, and a short poll picks up events other processes wrote (several
``server.workers``, or replicas on one PostgreSQL). See docs/api.md (WatchJobs).

Contract for callers: create it inside the running event loop that serves the streams; ``watch`` is an async
iterator of domain events; ``close`` ends every stream. Blocking store reads run through ``run_blocking``
(the server's bounded executor), never on the loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import JobEvent
from dualtrack.broker.handlers.jobs import get_job

T = TypeVar("T")
RunBlocking = Callable[..., Awaitable[Any]]

READ_BATCH = 1000  # events per store read
YIELD_EVERY = 64  # events handled between two yields to the event loop (fair share for unary calls)
TENANT_CACHE_MAX = 200_000  # job id -> tenant entries kept for the tenant filter before the cache starts over


@dataclass(eq=False)
class _Subscriber:
    """One stream's mailbox: the fan-out appends, the stream's coroutine drains."""

    job_id: str
    tenant: str | None
    limit: int
    pending: collections.deque[JobEvent] = field(default_factory=collections.deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False
    closed: bool = False

    def offer(self, event: JobEvent, tenant: str | None) -> None:
        if self.job_id and event.job_id != self.job_id:
            return
        if self.tenant is not None and tenant != self.tenant:
            return
        if len(self.pending) >= self.limit:  # a slow reader: drop the backlog, it re-reads it from the store
            self.pending.clear()
            self.overflowed = True
        else:
            self.pending.append(event)
        self.ready.set()


class EventFanout:
    """Reads new events once and fans them out to every WatchJobs stream of this process."""

    def __init__(self, ctx: BrokerContext, run_blocking: RunBlocking, *, poll_seconds: float = 0.5,
                 queue_limit: int = 10_000):
        self._ctx = ctx
        self._run = run_blocking
        self._poll = poll_seconds
        self._queue_limit = queue_limit
        self._subscribers: set[_Subscriber] = set()
        # the same subscribers indexed by their filter, so an event costs only its matching streams: by job id,
        # by tenant (tenant-scoped streams of every job), and the streams of every event
        self._by_job: dict[str, set[_Subscriber]] = collections.defaultdict(set)
        self._by_tenant: dict[str, set[_Subscriber]] = collections.defaultdict(set)
        self._everyone: set[_Subscriber] = set()
        self._cursor = 0  # every event with seq <= cursor has been offered to the subscribers of its time
        self._tenants: dict[str, str] = {}
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        ctx.store.add_commit_listener(self._committed)

    # -- the reader ------------------------------------------------------------------------------
    def _committed(self) -> None:
        """Store commit signal (any thread)."""
        if not self._closed:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(self._wake.set)

    async def _read_forever(self) -> None:
        while not self._closed:
            if not self._subscribers:
                self._wake.clear()
                await self._wake.wait()  # parked until the next subscriber (or commit) arrives
                continue
            self._wake.clear()
            batch: list[JobEvent] = await self._run(self._ctx.store.events, after_seq=self._cursor,
                                                    limit=READ_BATCH)
            batch = [e for e in batch if e.seq > self._cursor]
            if batch:
                tenants = await self._tenants_of(batch) if self._wants_tenants() else {}
                for count, event in enumerate(batch, 1):
                    self._cursor = event.seq  # a subscriber registering meanwhile is fed from here on
                    self._offer(event, tenants.get(event.job_id))
                    if count % YIELD_EVERY == 0:
                        await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)

    def _offer(self, event: JobEvent, tenant: str | None) -> None:
        """Hand the event to the streams whose filter can match it (``offer`` checks the filter itself)."""
        for subscriber in self._everyone:
            subscriber.offer(event, tenant)
        for subscriber in self._by_job.get(event.job_id, ()):
            subscriber.offer(event, tenant)
        if tenant is not None:
            for subscriber in self._by_tenant.get(tenant, ()):
                subscriber.offer(event, tenant)

    def _index(self, subscriber: _Subscriber) -> set[_Subscriber]:
        if subscriber.job_id:
            return self._by_job[subscriber.job_id]
        if subscriber.tenant is not None:
            return self._by_tenant[subscriber.tenant]
        return self._everyone

    def _unregister(self, subscriber: _Subscriber) -> None:
        """Remove a stream; an emptied job or tenant group goes too (``_wants_tenants`` reads the groups)."""
        self._subscribers.discard(subscriber)
        self._index(subscriber).discard(subscriber)
        if subscriber.job_id:
            if not self._by_job[subscriber.job_id]:
                del self._by_job[subscriber.job_id]
        elif subscriber.tenant is not None and not self._by_tenant[subscriber.tenant]:
            del self._by_tenant[subscriber.tenant]

    def _wants_tenants(self) -> bool:
        return bool(self._by_tenant)

    async def _tenants_of(self, events: list[JobEvent]) -> dict[str, str]:
        unknown = sorted({e.job_id for e in events if e.job_id not in self._tenants})
        if unknown:
            found = await self._run(self._ctx.store.get_many, unknown)
            if len(self._tenants) + len(found) > TENANT_CACHE_MAX:
                self._tenants.clear()
            self._tenants.update({job_id: job.tenant for job_id, job in found.items()})
        return {e.job_id: self._tenants.get(e.job_id, "") for e in events}

    async def _register(self, subscriber: _Subscriber) -> int:
        """Add a subscriber; returns the cursor from which the fan-out feeds it (older events it reads itself)."""
        if not self._subscribers:
            latest = await self._run(self._ctx.store.last_seq)
            self._cursor = max(self._cursor, latest)  # nobody needed the events in between
        self._subscribers.add(subscriber)
        self._index(subscriber).add(subscriber)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._read_forever(), name="watch-fanout")
        self._wake.set()
        return self._cursor

    # -- the streams -----------------------------------------------------------------------------
    async def watch(self, *, job_id: str = "", since_seq: int = 0, tenant: str | None = None,
                    follow_until_terminal: bool = False) -> AsyncIterator[JobEvent]:
        """Events with seq > since_seq (0: only events from now on), in order, until the caller stops, the
        fan-out closes, or (with ``follow_until_terminal`` and a job id) the job reaches a terminal state.
        A follower of one job (job id, follow_until_terminal, since_seq 0) gets the job's whole history first.
        Raises JobNotFound for an unknown job id, or another tenant's, before yielding anything."""
        if job_id:
            job = await self._run(get_job, self._ctx, job_id, tenant=tenant)
            if follow_until_terminal and job.state.terminal and since_seq == 0:
                for event in await self._run(self._ctx.store.events, job_id=job_id, limit=1_000_000):
                    yield event
                return
        subscriber = _Subscriber(job_id, tenant, self._queue_limit)
        fed_after = await self._register(subscriber)
        try:
            if since_seq > 0:
                last = since_seq
            elif job_id and follow_until_terminal:
                last = 0
            else:
                last = fed_after
            stop = functools.partial(_ends_stream, job_id=job_id, follow=follow_until_terminal)
            while not self._closed:
                if last < fed_after:  # history the fan-out will not offer: read it from the store
                    async for event in self._history(last, fed_after, job_id, tenant):
                        last = event.seq
                        yield event
                        if stop(event):
                            return
                    last = max(last, fed_after)
                sent = 0
                while subscriber.pending and not subscriber.overflowed:
                    event = subscriber.pending.popleft()
                    if event.seq <= last:
                        continue
                    last = event.seq
                    yield event
                    if stop(event):
                        return
                    sent += 1
                    if sent % YIELD_EVERY == 0:  # a long backlog does not hold the loop from other calls
                        await asyncio.sleep(0)
                if subscriber.overflowed:
                    subscriber.overflowed = False
                    fed_after = self._cursor  # events after it are (again) in the mailbox
                    continue
                subscriber.ready.clear()
                if not subscriber.pending:
                    await subscriber.ready.wait()
        finally:
            subscriber.closed = True
            self._unregister(subscriber)

    async def _history(self, after: int, until: int, job_id: str, tenant: str | None) -> AsyncIterator[JobEvent]:
        while after < until:
            batch: list[JobEvent] = await self._run(self._ctx.store.events, after_seq=after,
                                                    job_id=job_id or None, limit=READ_BATCH)
            batch = [e for e in batch if e.seq <= until]
            if not batch:
                return
            tenants = await self._tenants_of(batch) if tenant is not None and not job_id else {}
            for event in batch:
                after = event.seq
                if tenant is None or job_id or tenants.get(event.job_id) == tenant:
                    yield event

    def close(self) -> None:
        """End every stream (broker shutdown) and stop the reader."""
        self._closed = True
        self._ctx.store.remove_commit_listener(self._committed)
        for subscriber in list(self._subscribers):
            subscriber.ready.set()
        self._wake.set()
        if self._task is not None:
            self._task.cancel()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)


def _ends_stream(event: JobEvent, *, job_id: str, follow: bool) -> bool:
    return follow and bool(job_id) and event.state is not None and event.state.terminal
