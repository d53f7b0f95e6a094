"""What the reconciler carries from one cycle to the next: the jobs it last saw, the tenants' usage and the
running jobs' deadlines, so a cycle pays for the jobs that changed rather than for every active job.

Jobs are immutable values and the stores hand out the same object for a job that did not change (the SQL
store caches decoded rows, the replay's memory store keeps its values), so ``sync`` finds the changes of a new
cycle's job list with one identity check per job. A job that is equal but not the same object counts as
changed, which costs time, never correctness: the ledger always equals what a scan of the cycle's jobs gives
(tests/unit/reconciler/test_cycle_index.py checks this).

Not thread-safe: the cycle serialises its calls (dispatch threads replace jobs concurrently).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping, Sequence

from dualtrack.broker.domain import Job, JobState
from dualtrack.broker.placement import HOLDING_STATES
from dualtrack.policies import TenantUsage


class JobLedger:
    """See the module docstring. One per reconciler (or replay); a fresh one makes the first sync a full pass."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}  # job id -> the value the last cycle ended with
        self._usage: dict[str, list[int]] = {}  # tenant -> [GPUs, jobs] over HOLDING_STATES
        # (state_since + time limit, push order, job) of RUNNING values; stale entries are skipped when popped
        self._deadlines: list[tuple[float, int, Job]] = []
        self._pushes = itertools.count()

    def sync(self, jobs: Sequence[Job], ids: Mapping[str, object]) -> None:
        """Make ``jobs`` (a new cycle's list, ``ids`` holding exactly their ids) the current values: account for
        every new, changed or gone job."""
        current = self._jobs
        changed = [job for job in jobs if current.get(job.id) is not job]
        for job in changed:
            old = current.get(job.id)
            current[job.id] = job
            self._account(old, job)
        if len(current) > len(ids):  # some jobs left the list
            for gone in current.keys() - ids.keys():
                self._account(current.pop(gone), None)

    def replace(self, job: Job) -> None:
        """Record a job's new value (the cycle calls this for jobs of its list only)."""
        old = self._jobs.get(job.id)
        self._jobs[job.id] = job
        self._account(old, job)

    def _account(self, old: Job | None, new: Job | None) -> None:
        if old is not None and old.state in HOLDING_STATES:
            self._count(old, -1)
        if new is None:
            return
        if new.state in HOLDING_STATES:
            self._count(new, +1)
        if new.state is JobState.RUNNING:
            heapq.heappush(self._deadlines, (new.state_since + new.spec.spec.time_limit, next(self._pushes), new))

    def _count(self, job: Job, sign: int) -> None:
        spec = job.spec
        tenant = spec.metadata.tenant
        entry = self._usage.get(tenant)
        if entry is None:
            entry = self._usage[tenant] = [0, 0]
        entry[0] += sign * spec.spec.resources.total_gpus
        entry[1] += sign
        if entry[1] == 0:
            del self._usage[tenant]

    def usage(self) -> TenantUsage:
        """``usage_of`` over the current values (broker/placement.py); a copy the ledger never changes."""
        usage = self._usage
        return TenantUsage(gpus={t: v[0] for t, v in usage.items()}, running_jobs={t: v[1] for t, v in usage.items()})

    def overdue(self, now: float, grace: float) -> list[Job]:
        """The current RUNNING values with ``now - state_since > time limit + grace`` (the time-limit step's
        test, evaluated exactly as it writes it). They stay due until their value changes."""
        heap = self._deadlines
        due: dict[str, Job] = {}
        keep: list[tuple[float, int, Job]] = []
        while heap and heap[0][0] + grace <= now + 1.0:  # the heap key bounds the test; 1 s covers rounding
            entry = heapq.heappop(heap)
            job = entry[2]
            if self._jobs.get(job.id) is not job or job.state is not JobState.RUNNING:
                continue  # the job changed since: its new value has its own entry if it runs
            keep.append(entry)
            if now - job.state_since > job.spec.spec.time_limit + grace:
                due[job.id] = job
        for entry in keep:
            heapq.heappush(heap, entry)
        return list(due.values())
