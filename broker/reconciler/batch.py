"""The writes of one reconciler step, committed together (``JobStore.write_many``: one transaction, one
fsync, instead of one per job when thousands of jobs change at once).

A step adds compare-and-set writes with what to do once each is stored (metrics), then ``flush``es: the
cycle sees every new job value (``Cycle.replace``) and the follow-ups run for the writes that were stored.
A write whose job changed meanwhile (a user's cancel) is skipped, as a single transition's StaleJob would be.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dualtrack.broker.domain import Job, JobState
from dualtrack.broker.reconciler.cycle import Cycle
from dualtrack.broker.store import Changes, StaleJob, Write

log = logging.getLogger(__name__)

FollowUp = Callable[[Job], None]


class WriteBatch:
    """Writes of one step (see the module docstring). Not thread-safe: one step's thread fills it."""

    def __init__(self, cycle: Cycle, step: str):
        self._cycle = cycle
        self._step = step
        self._writes: list[Write] = []
        self._then: list[FollowUp | None] = []

    def transition(self, job: Job, target: JobState, message: str, changes: Changes | None = None,
                   then: FollowUp | None = None) -> None:
        self._add(Write(job, target, message, changes or Changes()), then)

    def update(self, job: Job, message: str, changes: Changes | None = None, then: FollowUp | None = None) -> None:
        self._add(Write(job, None, message, changes or Changes()), then)

    def _add(self, write: Write, then: FollowUp | None) -> None:
        self._writes.append(write)
        self._then.append(then)

    def flush(self) -> None:
        """Store the writes added since the last flush in one transaction, then apply their outcomes."""
        writes, follow_ups = self._writes, self._then
        self._writes, self._then = [], []
        if not writes:
            return
        outcomes = self._cycle.ctx.store.write_many(writes)
        for write, then, outcome in zip(writes, follow_ups, outcomes, strict=True):
            if isinstance(outcome, Job):
                self._cycle.replace(outcome)
                if then is not None:
                    then(outcome)
            elif isinstance(outcome, StaleJob):
                log.info("job %s changed during the %s step; next cycle sees it again", write.job.id, self._step)
            else:
                log.warning("%s step: job %s not written: %s", self._step, write.job.id, outcome)
                self._cycle.errors.append(f"{self._step} {write.job.id}: {outcome}")
