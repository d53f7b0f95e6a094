"""What one reconciler cycle works on: the context, the time, fresh snapshots and the active jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import ClusterSnapshot, Job, JobState

ACTIVE_STATES = (JobState.ACCEPTED, JobState.PLACED, JobState.SUBMITTED, JobState.QUEUED, JobState.RUNNING,
                 JobState.REROUTING)


@dataclass
class Cycle:
    ctx: BrokerContext
    now: float
    snapshots: dict[str, ClusterSnapshot]
    jobs: list[Job]
    errors: list[str] = field(default_factory=list)
    # True while this replica still holds the reconciler lease (renewing it when half of it is used up);
    # steps call it before every irreversible backend action (submit), so a replica that lost the lease
    # mid-cycle stops instead of racing the new leader.
    holds_lease: Callable[[], bool] = lambda: True
    # backends that refused a call as unavailable during this cycle: later calls of the cycle skip them
    # rather than each waiting for the same time-out (a stopped slurmctld costs commandTimeout per call)
    unavailable: set[str] = field(default_factory=set)
    # job id -> index in ``jobs``, built at the first ``replace``
    _positions: dict[str, int] | None = field(default=None, init=False, repr=False, compare=False)

    def in_state(self, *states: JobState) -> list[Job]:
        return [j for j in self.jobs if j.state in states]

    def replace(self, job: Job) -> None:
        """Record a job's new value so later steps of the same cycle see it (a job not in ``jobs`` is ignored)."""
        positions = self._positions
        if positions is None or len(positions) != len(self.jobs):
            positions = self._positions = {j.id: i for i, j in enumerate(self.jobs)}
        index = positions.get(job.id)
        if index is not None and self.jobs[index].id == job.id:
            self.jobs[index] = job
