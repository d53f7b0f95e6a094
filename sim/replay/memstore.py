"""An in-memory JobStore for the replay: the broker's store contract (broker/store/base.py) without SQL.

The replay runs tens of thousands of cycles in seconds; a SQL round trip per transition would dominate it.
Compare-and-set, the lifecycle table and the change semantics are the SQL store's (``Changes``). Events are
counted and, when ``keep_events`` is set, kept (off for large replays). Single-threaded use; the lock only
guards against the broker's dispatch pool calling from its threads.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dualtrack.broker.domain import EventType, InvalidTransition, Job, JobEvent, JobState, can_transition
from dualtrack.broker.domain.job import new_job_id
from dualtrack.broker.store.base import (
    Changes,
    Created,
    IdempotencyConflict,
    JobNotFound,
    JobPage,
    NewJob,
    StaleJob,
    Write,
)

_NON_TERMINAL = frozenset(s for s in JobState if not s.terminal)  # what ``_active`` holds


class MemoryJobStore:
    """See the module docstring."""

    def __init__(self, *, clock: Callable[[], float] = time.time, keep_events: bool = False,
                 id_factory: Callable[[float], str] | None = None):
        self._clock = clock
        self._keep_events = keep_events
        self._jobs: dict[str, Job] = {}
        self._active: dict[str, Job] = {}  # non-terminal jobs in creation order
        self._yaml: dict[str, str] = {}
        self._keys: dict[str, tuple[str, str]] = {}
        self._events: list[JobEvent] = []
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._leases: dict[str, tuple[str, float]] = {}
        self._lock = threading.RLock()
        self._ids = id_factory or new_job_id

    # -- writes ------------------------------------------------------------------------------------
    def create(self, new: NewJob) -> Created:
        with self._lock:
            now = self._clock()
            key = f"{new.spec.metadata.tenant}/{new.idempotency_key}" if new.idempotency_key else None
            if key is not None and key in self._keys:
                job_id, text = self._keys[key]
                if text != new.spec_yaml:
                    raise IdempotencyConflict(new.idempotency_key or "", job_id)
                return Created(self._jobs[job_id], duplicate=True)
            job = Job(id=self._ids(now), spec=new.spec, idempotency_key=key, created_at=now, updated_at=now,
                      state_since=now)
            self._jobs[job.id] = job
            self._active[job.id] = job
            self._yaml[job.id] = new.spec_yaml
            if key is not None:
                self._keys[key] = (job.id, new.spec_yaml)
            self._event(job, EventType.STATE, JobState.ACCEPTED, None, "accepted", now)
            return Created(job)

    def transition(self, job: Job, target: JobState, message: str = "", changes: Changes | None = None) -> Job:
        if not can_transition(job.state, target):
            raise InvalidTransition(job.id, job.state, target)
        return self._write(job, target, message or f"{job.state} -> {target}", changes or Changes())

    def update(self, job: Job, message: str = "", changes: Changes | None = None) -> Job:
        return self._write(job, None, message, changes or Changes())

    def write_many(self, writes: Sequence[Write]) -> list[Job | Exception]:
        outcomes: list[Job | Exception] = []
        with self._lock:
            for write in writes:
                try:
                    if write.target is None:
                        outcomes.append(self.update(write.job, write.message, write.changes))
                    else:
                        outcomes.append(self.transition(write.job, write.target, write.message, write.changes))
                except (InvalidTransition, StaleJob, JobNotFound) as exc:
                    outcomes.append(exc)
        return outcomes

    def _write(self, job: Job, target: JobState | None, message: str, changes: Changes) -> Job:
        with self._lock:
            current = self._jobs.get(job.id)
            if current is None:
                raise JobNotFound(job.id)
            if current.version != job.version or current.state is not job.state:
                raise StaleJob(job.id, job.state, current.state)
            now = self._clock()
            evolved = _evolved(job, changes)
            evolved.update(updated_at=now, version=job.version + 1)
            if target is not None:
                evolved.update(state=target, state_since=now)
            new = job.evolve(**evolved)
            self._jobs[job.id] = new
            if new.state.terminal:
                self._active.pop(job.id, None)
            else:
                self._active[job.id] = new
            if target is not None:
                self._event(new, EventType.STATE, target, job.state, message, now)
            elif message:
                self._event(new, EventType.NOTE, None, None, message, now)
            return new

    def _event(self, job: Job, kind: EventType, state: JobState | None, previous: JobState | None, message: str,
               now: float) -> None:
        seq = next(self._seq)
        self._last_seq = seq
        if self._keep_events:
            self._events.append(JobEvent(seq, job.id, now, kind, state, previous, message, job.attempt, job.backend))

    # -- reads -------------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        with self._lock:
            return {i: self._jobs[i] for i in job_ids if i in self._jobs}

    def spec_yaml(self, job_id: str) -> str:
        with self._lock:
            if job_id not in self._yaml:
                raise JobNotFound(job_id)
            return self._yaml[job_id]

    def last_seq(self) -> int:
        return self._last_seq

    def list_jobs(self, *, tenant: str | None = None, states: Sequence[JobState] = (), backend: str | None = None,
                  page_size: int = 100, page_token: str = "") -> JobPage:
        with self._lock:
            rows = [j for j in reversed(self._jobs.values())
                    if (tenant is None or j.tenant == tenant) and (not states or j.state in states)
                    and (backend is None or j.backend == backend)]
        start = int(page_token or 0)
        page = rows[start:start + page_size]
        more = start + page_size < len(rows)
        return JobPage(page, str(start + page_size) if more else "")

    def active(self, states: Sequence[JobState]) -> list[Job]:
        wanted = frozenset(states)
        with self._lock:
            if wanted >= _NON_TERMINAL:  # every active job (the reconciler's cycle asks for them all)
                return list(self._active.values())
            return [j for j in self._active.values() if j.state in wanted]

    def all_jobs(self) -> list[Job]:
        """Every job ever created, in creation order (the replay's results)."""
        with self._lock:
            return list(self._jobs.values())

    def events(self, *, after_seq: int = 0, job_id: str | None = None, limit: int = 1000) -> list[JobEvent]:
        with self._lock:
            found = [e for e in self._events if e.seq > after_seq and (job_id is None or e.job_id == job_id)]
        return found[:limit]

    def wait_for_events(self, after_seq: int, timeout: float) -> None:
        return None

    def counts(self) -> Iterable[tuple[str, str, str, int]]:
        groups: dict[tuple[str, str, str], int] = {}
        with self._lock:
            for job in self._jobs.values():
                key = (job.state.value, job.backend or "", job.tenant)
                groups[key] = groups.get(key, 0) + 1
        return [(*k, n) for k, n in groups.items()]

    def try_acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            current = self._leases.get(name)
            if current is not None and current[0] != holder and current[1] >= now:
                return False
            self._leases[name] = (holder, now + ttl)
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with self._lock:
            current = self._leases.get(name)
            if current is not None and current[0] == holder:
                self._leases[name] = (holder, 0.0)

    def close(self) -> None:
        """Drop every job and lease: the replay's store lives for one run, and dropping its values here frees
        them by reference counting (the replay's objects form cycles that would leave them to the cyclic
        garbage collector, a pass over the whole heap). Reads of jobs after this find nothing; the events a
        store made with ``keep_events`` stay readable (that is what they were kept for)."""
        with self._lock:
            for held in (self._jobs, self._active, self._yaml, self._keys, self._leases):
                held.clear()


def _evolved(job: Job, changes: Changes) -> dict[str, Any]:
    """Job.evolve() keywords for ``changes``, exactly as the SQL store applies them."""
    out: dict[str, Any] = {}
    if changes.clear_backend:
        out.update(backend=None, backend_ref=None, placement=None)
    if changes.attempt is not None:
        out["attempt"] = changes.attempt
    if changes.backend is not None:
        out["backend"] = changes.backend
    if changes.backend_ref is not None:
        out.update(backend=changes.backend_ref.backend, backend_ref=changes.backend_ref)
    if changes.placement is not None:
        out.update(backend=changes.placement.backend, placement=changes.placement)
    if changes.explanation is not None:
        out["explanation"] = changes.explanation
    if changes.image_ref is not None:
        out["image_ref"] = changes.image_ref
    if changes.reason is not None:
        out["reason"] = changes.reason
    if changes.exit_code is not None:
        out["exit_code"] = changes.exit_code
    if changes.exclude_backend is not None and changes.exclude_backend not in job.excluded_backends:
        out["excluded_backends"] = (*job.excluded_backends, changes.exclude_backend)
    if changes.clear_migration:
        out["migration"] = None
    if changes.migration is not None:
        out["migration"] = changes.migration
    return out
