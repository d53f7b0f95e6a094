"""What one reconciler cycle works on: the context, the time, fresh snapshots and the active jobs.

The steps ask the cycle for the jobs in given states (``in_state``), for the tenants' usage (``usage``) and for
the running jobs past their time limit (``overdue``) every cycle, and record every new job value with
``replace``. So that a step costs what it touches rather than a pass over every active job, the cycle indexes
``jobs`` once, when it is built (positions by id and by state, kept current by ``replace``), and keeps usage and
deadlines in a ``JobLedger`` (reconciler/ledger.py) that the reconciler carries from cycle to cycle. ``jobs``
itself must change only through ``replace``. ``replace`` may be called from the dispatch threads: the indexes
are guarded by a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain, groupby

from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import ClusterSnapshot, Job, JobState
from dualtrack.broker.reconciler.ledger import JobLedger
from dualtrack.policies import TenantUsage

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
    # carried across cycles by the caller (the previous cycle's ledger); None: a fresh one (a full pass)
    ledger: JobLedger | None = None
    # job id -> index in ``jobs``; state -> indexes of its jobs (ascending unless the state is in _unsorted)
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)
    _by_state: dict[JobState, dict[int, None]] = field(init=False, repr=False, compare=False)
    _unsorted: set[JobState] = field(default_factory=set, init=False, repr=False, compare=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        jobs = self.jobs
        self._positions = {job.id: i for i, job in enumerate(jobs)}
        # positions grouped by state with C-level sort and groupby: a stable sort keeps each group ascending
        states = [job.state for job in jobs]
        order = sorted(range(len(jobs)), key=states.__getitem__)
        self._by_state = {state: dict.fromkeys(group) for state, group in groupby(order, key=states.__getitem__)}
        if self.ledger is None:
            self.ledger = JobLedger()
        self.ledger.sync(jobs, self._positions)

    def _indexes(self, state: JobState) -> dict[int, None]:
        found = self._by_state.get(state)
        if found is None:
            return {}
        if state in self._unsorted:
            self._unsorted.discard(state)
            found = self._by_state[state] = dict.fromkeys(sorted(found))
        return found

    def in_state(self, *states: JobState) -> list[Job]:
        """The jobs now in one of ``states``, in ``jobs`` order (as a scan of ``jobs`` would list them)."""
        jobs = self.jobs
        with self._lock:
            if len(states) == 1:
                return [jobs[i] for i in self._indexes(states[0])]
            # each state's positions are ascending: sorting their concatenation merges the runs (C speed)
            return [jobs[i] for i in sorted(chain.from_iterable(self._indexes(s) for s in dict.fromkeys(states)))]

    def usage(self) -> TenantUsage:
        """GPUs and jobs per tenant of the jobs that hold capacity: ``usage_of(self.jobs)`` (broker/placement.py),
        kept current by ``replace``. The returned value is a copy the cycle never changes."""
        assert self.ledger is not None
        with self._lock:
            return self.ledger.usage()

    def overdue(self, grace: float) -> list[Job]:
        """The RUNNING jobs with ``now - state_since > time limit + grace``, in ``jobs`` order."""
        assert self.ledger is not None
        with self._lock:
            due = self.ledger.overdue(self.now, grace)
            return sorted(due, key=lambda job: self._positions[job.id])

    def replace(self, job: Job) -> None:
        """Record a job's new value so later steps of the same cycle see it (a job not in ``jobs`` is ignored)."""
        index = self._positions.get(job.id)
        if index is None:
            return
        assert self.ledger is not None
        with self._lock:
            old = self.jobs[index]
            self.jobs[index] = job
            self.ledger.replace(job)
            if old.state is not job.state:
                self._by_state[old.state].pop(index, None)
                found = self._by_state.get(job.state)
                if found is None:
                    found = self._by_state[job.state] = {}
                if found and index < next(reversed(found)):
                    self._unsorted.add(job.state)
                found[index] = None
