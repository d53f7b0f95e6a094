"""The job store contract. Every implementation passes tests/contract/store_contract.py.

Callers: handlers (create, get, list, cancel), the reconciler (active jobs, transitions), the gRPC watch
stream (events), metrics (counts). All methods are thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dualtrack.broker.domain import (
    BackendRef,
    Explanation,
    Job,
    JobEvent,
    JobSpec,
    JobState,
    MigrationRequest,
    Placement,
)


class StoreError(Exception):
    """Base of the store's errors."""


class JobNotFound(StoreError, KeyError):
    def __init__(self, job_id: str):
        self.job_id = job_id
        super().__init__(f"no job {job_id!r}")

    def __str__(self) -> str:
        return f"no job {self.job_id!r}"


class StaleJob(StoreError):
    """Compare-and-set failed: the job changed (state or version) since the caller read it."""

    def __init__(self, job_id: str, expected: JobState, actual: JobState | None):
        self.job_id, self.expected, self.actual = job_id, expected, actual
        super().__init__(f"job {job_id}: expected state {expected}, found {actual}")


class IdempotencyConflict(StoreError):
    """An idempotency key was reused with a different spec."""

    def __init__(self, key: str, job_id: str):
        self.key, self.job_id = key, job_id
        super().__init__(f"idempotency key {key!r} already names job {job_id} with a different spec")


@dataclass(frozen=True)
class NewJob:
    """What a submission stores: the validated spec, the text the user sent, optional idempotency key."""

    spec: JobSpec
    spec_yaml: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Created:
    job: Job
    duplicate: bool = False  # the idempotency key matched an existing job with the same spec


# Keyword changes a transition may carry besides the state (None values clear nothing: use the sentinels).
@dataclass(frozen=True)
class Changes:
    attempt: int | None = None
    backend: str | None = None
    backend_ref: BackendRef | None = None
    clear_backend: bool = False  # drop backend, backend_ref and placement (before re-placing)
    placement: Placement | None = None
    explanation: Explanation | None = None
    image_ref: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    exclude_backend: str | None = None  # append to excluded_backends
    migration: MigrationRequest | None = None  # an operator's migration request (see domain.migration)
    clear_migration: bool = False  # drop a pending migration request (done, or no longer applicable)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Write:
    """One compare-and-set of ``write_many``: ``job`` to state ``target`` with ``changes`` (a transition, a
    state event), or with ``target`` None the changes alone (an update, a note event when ``message``)."""

    job: Job
    target: JobState | None
    message: str = ""
    changes: Changes = field(default_factory=Changes)


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_page_token: str = ""


class JobStore(Protocol):
    def create(self, new: NewJob) -> Created:
        """Store a job in ACCEPTED durably (fsync'd) before returning. Raises IdempotencyConflict."""

    def create_many(self, news: Sequence[NewJob]) -> list[Created | Exception]:
        """Store several jobs in ACCEPTED in one durable transaction; one outcome per item, in order: Created,
        or the IdempotencyConflict that refused that item (the others are stored regardless)."""

    def get(self, job_id: str) -> Job:
        """Raises JobNotFound."""

    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs among ``job_ids`` that exist, by id."""

    def spec_yaml(self, job_id: str) -> str:
        """The spec text as submitted. Raises JobNotFound."""

    def last_seq(self) -> int:
        """The newest event sequence number (0 when there are none)."""

    def list_jobs(
        self,
        *,
        tenant: str | None = None,
        states: Sequence[JobState] = (),
        backend: str | None = None,
        page_size: int = 100,
        page_token: str = "",
    ) -> JobPage:
        """Jobs newest first, ``page_size`` at a time; pass ``next_page_token`` back for the next page."""

    def active(self, states: Sequence[JobState]) -> list[Job]:
        """Every job in one of ``states`` (the reconciler's working set), oldest first."""

    def transition(
        self, job: Job, target: JobState, message: str = "", changes: Changes | None = None
    ) -> Job:
        """Compare-and-set ``job.state -> target`` (checked against the lifecycle table) with ``changes``,
        appending a state event in the same transaction. Returns the new job.
        Raises InvalidTransition (table) or StaleJob (the job changed since ``job`` was read)."""

    def update(self, job: Job, message: str = "", changes: Changes | None = None) -> Job:
        """Compare-and-set changes that keep the state (e.g. a new explanation or reason); a note event
        is appended when ``message`` is given. Raises StaleJob."""

    def write_many(self, writes: Sequence[Write]) -> list[Job | Exception]:
        """Apply each write as ``transition`` (target set) or ``update`` would, all in one durable transaction;
        one outcome per write, in order: the new job, or the InvalidTransition, StaleJob or JobNotFound that
        refused that write (the others are written regardless)."""

    def events(self, *, after_seq: int = 0, job_id: str | None = None, limit: int = 1000) -> list[JobEvent]:
        """Events with seq > after_seq in order."""

    def wait_for_events(self, after_seq: int, timeout: float) -> None:
        """Block until an event newer than ``after_seq`` may exist, or ``timeout`` passes."""

    def add_commit_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (from the committing thread; it must not block) after every commit of this
        process that may have added events. Commits of other processes are not signalled: poll for those."""

    def remove_commit_listener(self, callback: Callable[[], None]) -> None: ...

    def counts(self) -> Iterable[tuple[str, str, str, int]]:
        """(state, backend or "", tenant, count) for every non-empty group."""

    def try_acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the named lease for ``holder`` for ``ttl`` seconds; False while another holds it."""

    def release_lease(self, name: str, holder: str) -> None: ...

    def close(self) -> None: ...
