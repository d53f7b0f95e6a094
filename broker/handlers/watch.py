"""The job event stream behind WatchJobs: replay from a sequence number, then follow new events."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import JobEvent


def watch_events(
    ctx: BrokerContext,
    *,
    job_id: str = "",
    since_seq: int = 0,
    tenant: str | None = None,
    follow_until_terminal: bool = False,
    keep_going: Callable[[], bool] = lambda: True,
    poll_seconds: float = 0.5,
) -> Iterator[JobEvent]:
    """Yield events with seq > since_seq (0: only events from now on), in order, until ``keep_going()`` is
    false, the broker stops, or (with ``follow_until_terminal`` and a job id) the job reaches a terminal state.
    Raises JobNotFound for an unknown job id before yielding anything."""
    if job_id:
        job = ctx.store.get(job_id)
        if follow_until_terminal and job.state.terminal and since_seq == 0:
            yield from ctx.store.events(job_id=job_id)
            return
    cursor = since_seq if since_seq > 0 else ctx.store.last_seq()
    if job_id and since_seq == 0 and follow_until_terminal:
        cursor = 0  # a follower of one job wants its whole history first
    while keep_going() and not ctx.stopping.is_set():
        batch = ctx.store.events(after_seq=cursor, job_id=job_id or None, limit=500)
        for event in batch:
            cursor = event.seq
            if tenant is not None and job_id == "" and not _same_tenant(ctx, event, tenant):
                continue
            yield event
            if follow_until_terminal and job_id and event.state is not None and event.state.terminal:
                return
        if not batch:
            ctx.store.wait_for_events(cursor, poll_seconds)


def _same_tenant(ctx: BrokerContext, event: JobEvent, tenant: str) -> bool:
    try:
        return ctx.store.get(event.job_id).tenant == tenant
    except KeyError:
        return False
