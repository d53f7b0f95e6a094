"""The SQLAlchemy job store: a SQLite file by default (WAL, synchronous=FULL), PostgreSQL for HA.

Durability and speed: every ``create`` is committed (and fsync'd) before it returns, but concurrent creates
share one transaction through a group-commit writer thread, so many submissions pay for one fsync.
Transitions are single-statement compare-and-set updates (``WHERE id AND state AND version``) written in
the same transaction as their event row.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Connection,
    Engine,
    Text,
    cast,
    create_engine,
    event,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from dualtrack.broker.domain import (
    EventType,
    InvalidTransition,
    Job,
    JobEvent,
    JobState,
    can_transition,
    new_job_id,
)
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
from dualtrack.broker.store.codec import SpecCache, canonical_json, event_from_row, job_from_row, spec_hash
from dualtrack.broker.store.schema import job_events, jobs, leases

log = logging.getLogger(__name__)
# What a Job is built from: every column but the submitted text and its hash (only ``spec_yaml`` and
# idempotency read those), with the explanation as its JSON text, decoded only when someone reads it.
JOB_COLUMNS = (*(c for c in jobs.c if c.name not in ("spec_yaml", "spec_hash", "explanation")),
               cast(jobs.c.explanation, Text).label("explanation"))
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The JSON columns a new job starts with the same value in, as the JSON text the column's bind processor would
# write for None and [] ('null', '[]'): rendered once into the INSERT instead of json.dumps'd for every row.
NEW_JOB_JSON = {"placement": "null", "explanation": "null", "excluded_backends": "[]", "migration": "null"}
INSERT_JOBS = insert(jobs).values({name: literal_column(f"'{value}'") for name, value in NEW_JOB_JSON.items()})
# The PostgreSQL advisory lock every event-writing transaction takes (see ``_order_events``).
EVENT_ORDER_LOCK = 0x64745F6576  # "dt_ev"


def make_engine(url: str) -> Engine:
    """An engine with the pragmas the store relies on (SQLite: WAL, fsync at every commit, busy timeout)."""
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
        else:
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=8)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class _Request:
    """One create waiting for the group commit; the spec is serialized and hashed by the caller's thread. A
    single create has its own future; an item of a group only holds its outcome, and the group resolves one
    future for all its items (a Future is a Condition and a lock: thousands per call were measurable)."""

    __slots__ = ("canonical", "digest", "future", "new", "outcome")

    def __init__(self, new: NewJob, future: Future[Created] | None = None):
        self.new = new
        self.canonical = canonical_json(new.spec)
        self.digest = spec_hash(self.canonical)
        self.future = future
        self.outcome: Created | Exception | None = None

    def settle(self, outcome: Created | Exception) -> None:
        """Record the outcome (and resolve the single create's future)."""
        self.outcome = outcome
        if self.future is None:
            return
        if isinstance(outcome, Created):
            self.future.set_result(outcome)
        else:
            self.future.set_exception(outcome)


class _Group:
    """Creates of one ``create_many`` call: written in one transaction, resolved together."""

    __slots__ = ("future", "requests")

    def __init__(self, requests: list[_Request]):
        self.requests = requests
        self.future: Future[list[Created | Exception]] = Future()

    def resolve(self) -> None:
        outcomes: list[Created | Exception] = []
        for request in self.requests:
            outcome = request.outcome
            outcomes.append(outcome if outcome is not None else RuntimeError("the store did not write this job"))
        self.future.set_result(outcomes)


class SqlJobStore:
    """See broker.store.base.JobStore for the contract of each method."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time, group_commit_max: int = 512):
        self.url = url
        self._clock = clock
        self._engine = make_engine(url)
        self._postgres = self._engine.dialect.name == "postgresql"
        database = self._engine.url.database if self._engine.dialect.name == "sqlite" else None
        self._write_lock_path = f"{database}.writelock" if database and database != ":memory:" else None
        migrate(self._engine)
        self._specs = SpecCache()
        # the jobs ``active`` returned last, by id: reused while their version is unchanged (see ``active``)
        self._active_jobs: dict[str, Job] = {}
        self._cache_lock = threading.Lock()
        self._changed = threading.Condition()
        self._listeners: list[Callable[[], None]] = []
        self._group_max = group_commit_max
        self._requests: queue.SimpleQueue[_Request | _Group | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="store-group-commit", daemon=True)
        self._closed = False
        self._writer.start()

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextlib.contextmanager
    def _write_transaction(self) -> Iterator[Connection]:
        """A write transaction. On a SQLite file, writers of every process (server.workers) first take an OS
        file lock beside the database: waiting on it wakes the next writer the moment the lock is free, where
        SQLite's own busy handler would sleep 1, 2, 5, 10... ms between retries."""
        if self._write_lock_path is None:
            with self._engine.begin() as conn:
                yield conn
            return
        fd = os.open(self._write_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self._engine.begin() as conn:
                yield conn
        finally:
            os.close(fd)  # releases the lock

    # -- create (group commit) -----------------------------------------------------------------
    def create(self, new: NewJob) -> Created:
        return self.create_future(new).result()

    def create_future(self, new: NewJob) -> Future[Created]:
        """Queue a create for the next group commit; the future resolves once it is durable (or fails with
        IdempotencyConflict). Lets an asyncio server await durability without holding a thread."""
        if self._closed:
            raise RuntimeError("store is closed")
        future: Future[Created] = Future()
        self._requests.put(_Request(new, future))
        return future

    def create_many_future(self, news: Sequence[NewJob]) -> Future[list[Created | Exception]]:
        """Queue several creates as one unit: they are written in the same transaction (one fsync; other
        callers' creates may share it). The future resolves once all are durable, with one outcome per item
        in order: Created, or the IdempotencyConflict that refused that item."""
        if self._closed:
            raise RuntimeError("store is closed")
        group = _Group([_Request(new) for new in news])
        if not group.requests:
            group.future.set_result([])
        else:
            self._requests.put(group)
        return group.future

    def create_many(self, news: Sequence[NewJob]) -> list[Created | Exception]:
        return self.create_many_future(news).result()

    def _write_loop(self) -> None:
        while True:
            first = self._requests.get()
            if first is None:
                return
            groups: list[_Group] = []
            batch: list[_Request] = []
            item: _Request | _Group | None = first
            while item is not None:
                if isinstance(item, _Group):  # a group always goes whole into one transaction
                    groups.append(item)
                    batch += item.requests
                else:
                    batch.append(item)
                if len(batch) >= self._group_max:
                    break
                try:
                    item = self._requests.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._requests.put(None)  # keep the stop signal for the outer loop
            self._write_batch(batch)
            for group in groups:
                group.resolve()

    def _write_batch(self, batch: list[_Request]) -> None:
        try:
            with self._write_transaction() as conn:
                results = self._insert_all(conn, batch)
        except Exception:  # a unique-key race or a bad row: fall back to one transaction per job
            for request in batch:
                try:
                    with self._write_transaction() as conn:
                        single = self._insert_all(conn, [request])[0]
                    request.settle(single)
                except Exception as exc:  # handed to the waiting caller
                    request.settle(exc)
        else:
            for request, outcome in zip(batch, results, strict=True):
                request.settle(outcome)
        self._notify()

    def _insert_all(self, conn: Connection, requests: list[_Request]) -> list[Created | Exception]:
        now = self._clock()
        results: list[Created | Exception | _Duplicate] = []
        rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        keys_in_batch: dict[str, tuple[str, str]] = {}
        ids_in_batch: set[str] = set()
        for request in requests:
            new, digest = request.new, request.digest
            key = f"{new.spec.metadata.tenant}/{new.idempotency_key}" if new.idempotency_key else None
            if key is not None:
                existing = keys_in_batch.get(key)
                if existing is None:
                    row = conn.execute(select(jobs.c.id, jobs.c.spec_hash)
                                       .where(jobs.c.idempotency_key == key)).mappings().first()
                    if row is not None:
                        existing = (row["id"], row["spec_hash"])
                if existing is not None:
                    if existing[1] != digest:
                        results.append(IdempotencyConflict(new.idempotency_key or "", existing[0]))
                    else:
                        results.append(_Duplicate(existing[0]))
                    continue
            job_id = new_job_id(now)
            while job_id in ids_in_batch:  # one clock reading for the batch: 17 random bits collide often
                job_id = new_job_id(now)
            ids_in_batch.add(job_id)
            job = Job(id=job_id, spec=new.spec, idempotency_key=key, created_at=now,
                      updated_at=now, state_since=now)
            if key is not None:
                keys_in_batch[key] = (job.id, digest)
            rows.append(_job_row(job, new.spec_yaml, request.canonical, digest))
            events.append(_event_row(job.id, now, EventType.STATE, JobState.ACCEPTED, None, "accepted", 1, None))
            self._specs.put(job.id, new.spec)
            results.append(Created(job))
        if rows:
            self._order_events(conn)
            conn.execute(INSERT_JOBS, rows)
            conn.execute(insert(job_events), events)
        resolved: list[Created | Exception] = []
        for result in results:
            if isinstance(result, _Duplicate):
                resolved.append(Created(self._get(conn, result.job_id), duplicate=True))
            else:
                resolved.append(result)
        return resolved

    # -- reads ---------------------------------------------------------------------------------
    def _get(self, conn: Connection, job_id: str) -> Job:
        row = conn.execute(select(*JOB_COLUMNS).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise JobNotFound(job_id)
        return job_from_row(row, self._specs)

    def get(self, job_id: str) -> Job:
        with self._engine.connect() as conn:
            return self._get(conn, job_id)

    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs among ``job_ids`` that exist, by id (unknown ids are left out). Jobs unchanged since the
        last ``active`` read are not decoded again (see ``_decoded``)."""
        unique = list(dict.fromkeys(job_ids))
        keys: list[Sequence[Any]] = []
        with self._engine.connect() as conn:
            for start in range(0, len(unique), 500):
                chunk = unique[start:start + 500]
                keys += conn.execute(select(jobs.c.id, jobs.c.version, jobs.c.state).where(jobs.c.id.in_(chunk)))
            return {job.id: job for job in self._decoded(conn, keys)}

    def _decoded(self, conn: Connection, keys: Sequence[Sequence[Any]]) -> list[Job]:
        """The jobs named by ``keys`` (rows of id, version, state), in order. A job whose version and state
        match the one ``active`` last returned is that same value (the store bumps the version with every
        change, so its columns are the same); the others are read and decoded (500 per query). A job that
        changed between the two reads comes back as it is now."""
        cached = self._active_jobs
        out: dict[str, Job | None] = {}
        missing: list[str] = []
        for job_id, version, state in keys:
            job = cached.get(job_id)
            if job is not None and job.version == version and job.state.value == state:
                out[job_id] = job
            else:
                out[job_id] = None
                missing.append(job_id)
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            for row in conn.execute(select(*JOB_COLUMNS).where(jobs.c.id.in_(chunk))).mappings():
                out[row["id"]] = job_from_row(row, self._specs)
        return [job for job in out.values() if job is not None]

    def spec_yaml(self, job_id: str) -> str:
        """The YAML the user submitted; for a typed (proto) submission, the canonical YAML of the spec."""
        with self._engine.connect() as conn:
            row = conn.execute(select(jobs.c.spec_yaml, jobs.c.spec).where(jobs.c.id == job_id)).first()
        if row is None:
            raise JobNotFound(job_id)
        return str(row[0]) if row[0] else self._specs.get(job_id, row[1]).to_yaml()

    def list_jobs(
        self,
        *,
        tenant: str | None = None,
        states: Sequence[JobState] = (),
        backend: str | None = None,
        page_size: int = 100,
        page_token: str = "",
    ) -> JobPage:
        page_size = max(1, min(page_size, 1000))
        query = select(*JOB_COLUMNS)
        if tenant:
            query = query.where(jobs.c.tenant == tenant)
        if states:
            query = query.where(jobs.c.state.in_([s.value for s in states]))
        if backend:
            query = query.where(jobs.c.backend == backend)
        if page_token:
            query = query.where(jobs.c.id < page_token)
        query = query.order_by(jobs.c.id.desc()).limit(page_size + 1)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        found = [job_from_row(r, self._specs) for r in rows[:page_size]]
        token = found[-1].id if len(rows) > page_size else ""
        return JobPage(found, token)

    def active(self, states: Sequence[JobState]) -> list[Job]:
        """Every job in ``states``, oldest first. The reconciler calls this every cycle for thousands of jobs
        of which few changed: it reads (id, version, state) of each, and decodes only the jobs that are new or
        changed since the previous call; the others are the values it returned then (immutable, so safe to
        share). Remembers the jobs it returns, forgetting those that left ``states``."""
        wanted = {s.value for s in states}
        query = select(jobs.c.id, jobs.c.version, jobs.c.state).where(jobs.c.state.in_(sorted(wanted)))
        with self._engine.connect() as conn:
            keys = conn.execute(query.order_by(jobs.c.id)).all()
            found = [job for job in self._decoded(conn, keys) if job.state.value in wanted]
        with self._cache_lock:
            kept = {i: j for i, j in self._active_jobs.items() if j.state.value not in wanted}
            kept.update((job.id, job) for job in found)
            self._active_jobs = kept  # swapped whole: readers of the old dict are not disturbed
        return found

    def events(self, *, after_seq: int = 0, job_id: str | None = None, limit: int = 1000) -> list[JobEvent]:
        query = select(job_events).where(job_events.c.seq > after_seq)
        if job_id:
            query = query.where(job_events.c.job_id == job_id)
        query = query.order_by(job_events.c.seq).limit(limit)
        with self._engine.connect() as conn:
            return [event_from_row(r) for r in conn.execute(query).mappings()]

    def last_seq(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.max(job_events.c.seq))).scalar() or 0)

    def wait_for_events(self, after_seq: int, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def add_commit_listener(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def remove_commit_listener(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()
        for callback in list(self._listeners):
            callback()

    def counts(self) -> Iterable[tuple[str, str, str, int]]:
        query = select(jobs.c.state, jobs.c.backend, jobs.c.tenant, func.count()).group_by(
            jobs.c.state, jobs.c.backend, jobs.c.tenant
        )
        with self._engine.connect() as conn:
            return [(s, b or "", t, int(n)) for s, b, t, n in conn.execute(query)]

    # -- writes --------------------------------------------------------------------------------
    def transition(self, job: Job, target: JobState, message: str = "", changes: Changes | None = None) -> Job:
        if not can_transition(job.state, target):
            raise InvalidTransition(job.id, job.state, target)
        return self._write(job, target, message or f"{job.state} -> {target}", changes or Changes())

    def update(self, job: Job, message: str = "", changes: Changes | None = None) -> Job:
        return self._write(job, None, message, changes or Changes())

    def write_many(self, writes: Sequence[Write]) -> list[Job | Exception]:
        """See base.JobStore.write_many: one transaction and one fsync for a reconciler step's writes."""
        outcomes: list[Job | Exception | None] = []
        allowed: list[Write] = []
        for write in writes:
            if write.target is not None and not can_transition(write.job.state, write.target):
                outcomes.append(InvalidTransition(write.job.id, write.job.state, write.target))
            else:
                message = write.message
                if write.target is not None and not message:
                    message = f"{write.job.state} -> {write.target}"
                allowed.append(Write(write.job, write.target, message, write.changes))
                outcomes.append(None)
        written = iter(self._write_all(allowed) if allowed else [])
        return [outcome if outcome is not None else next(written) for outcome in outcomes]

    def _write(self, job: Job, target: JobState | None, message: str, changes: Changes) -> Job:
        (outcome,) = self._write_all([Write(job, target, message, changes)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _write_all(self, writes: Sequence[Write]) -> list[Job | Exception]:
        """Compare-and-set every write in one transaction; a write whose job changed (StaleJob) or is gone
        (JobNotFound) changes nothing and the others go on. The events follow all the updates (see
        ``_order_events``)."""
        now = self._clock()
        outcomes: list[Job | Exception] = []
        events: list[dict[str, Any]] = []
        with self._write_transaction() as conn:
            for write in writes:
                job, target = write.job, write.target
                values, evolved = _apply_changes(job, write.changes)
                values.update(updated_at=now, version=job.version + 1)
                evolved.update(updated_at=now, version=job.version + 1)
                if target is not None:
                    values.update(state=target.value, state_since=now, terminal=target.terminal)
                    evolved.update(state=target, state_since=now)
                statement = (
                    update(jobs)
                    .where(jobs.c.id == job.id, jobs.c.version == job.version, jobs.c.state == job.state.value)
                    .values(**values)
                )
                if conn.execute(statement).rowcount != 1:
                    current = conn.execute(select(jobs.c.state).where(jobs.c.id == job.id)).scalar()
                    outcomes.append(JobNotFound(job.id) if current is None
                                    else StaleJob(job.id, job.state, JobState(current)))
                    continue
                new = job.evolve(**evolved)
                outcomes.append(new)
                if target is not None:
                    events.append(_event_row(job.id, now, EventType.STATE, target, job.state, write.message,
                                             new.attempt, new.backend))
                elif write.message:
                    events.append(_event_row(job.id, now, EventType.NOTE, None, None, write.message,
                                             new.attempt, new.backend))
            if events:
                self._order_events(conn)
                conn.execute(insert(job_events), events)
        if any(isinstance(outcome, Job) for outcome in outcomes):
            self._notify()
        return outcomes

    def _order_events(self, conn: Connection) -> None:
        """Make event sequence order equal commit order, so a watcher reading ``seq > cursor`` never skips an
        event. SQLite has one writer at a time, so it already holds. On PostgreSQL two transactions could take
        seq 7 and 8 and commit 8 first: a reader would see 8, move its cursor past 7 and never see 7. Every
        event-writing transaction therefore takes one transaction-scoped advisory lock right before it draws
        its sequence numbers and keeps it until commit: sequence numbers are drawn in commit order. Only
        inserts (no row locks) follow the lock, so it cannot deadlock with the compare-and-set row locks."""
        if self._postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_ORDER_LOCK})

    # -- leases (leader election) ----------------------------------------------------------------
    def try_acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        now = self._clock()
        with self._write_transaction() as conn:
            taken = conn.execute(
                update(leases)
                .where(leases.c.name == name, (leases.c.holder == holder) | (leases.c.expires_at < now))
                .values(holder=holder, expires_at=now + ttl)
            ).rowcount
            if taken == 1:
                return True
        try:
            with self._write_transaction() as conn:
                conn.execute(insert(leases), [{"name": name, "holder": holder, "expires_at": now + ttl}])
            return True
        except IntegrityError:
            return False

    def release_lease(self, name: str, holder: str) -> None:
        with self._write_transaction() as conn:
            conn.execute(
                update(leases).where(leases.c.name == name, leases.c.holder == holder).values(expires_at=0.0)
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._requests.put(None)
        self._writer.join(timeout=10)
        with contextlib.suppress(Exception):
            self._engine.dispose()


class _Duplicate:
    __slots__ = ("job_id",)

    def __init__(self, job_id: str):
        self.job_id = job_id


def _job_row(job: Job, spec_yaml: str, canonical: str, digest: str) -> dict[str, Any]:
    """A new job's row; the JSON columns come from ``INSERT_JOBS`` (``NEW_JOB_JSON``)."""
    return {
        "id": job.id,
        "name": job.name,
        "tenant": job.tenant,
        "state": job.state.value,
        "attempt": job.attempt,
        "priority": job.spec.spec.priority,
        "backend": None,
        "backend_object_name": None,
        "backend_native_id": None,
        "spec": canonical,
        "spec_yaml": spec_yaml,
        "spec_hash": digest,
        "image_ref": None,
        "reason": "",
        "exit_code": None,
        "idempotency_key": job.idempotency_key,
        "terminal": False,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "state_since": job.state_since,
        "version": job.version,
    }


def _event_row(
    job_id: str, at: float, kind: EventType, state: JobState | None, previous: JobState | None,
    message: str, attempt: int, backend: str | None,
) -> dict[str, Any]:
    return {
        "job_id": job_id, "at": at, "type": kind.value, "state": state.value if state else None,
        "previous_state": previous.value if previous else None, "message": message, "attempt": attempt,
        "backend": backend,
    }


def _apply_changes(job: Job, changes: Changes) -> tuple[dict[str, Any], dict[str, Any]]:
    """SQL values and Job.evolve() keywords for one set of changes."""
    values: dict[str, Any] = {}
    evolved: dict[str, Any] = {}
    if changes.clear_backend:
        values.update(backend=None, backend_object_name=None, backend_native_id=None, placement=None)
        evolved.update(backend=None, backend_ref=None, placement=None)
    if changes.attempt is not None:
        values["attempt"] = evolved["attempt"] = changes.attempt
    if changes.backend is not None:
        values["backend"] = evolved["backend"] = changes.backend
    if changes.backend_ref is not None:
        ref = changes.backend_ref
        values.update(backend=ref.backend, backend_object_name=ref.name, backend_native_id=ref.native_id)
        evolved.update(backend=ref.backend, backend_ref=ref)
    if changes.placement is not None:
        values["placement"] = changes.placement.to_dict()
        values["backend"] = evolved["backend"] = changes.placement.backend
        evolved["placement"] = changes.placement
    if changes.explanation is not None:
        values["explanation"] = changes.explanation.to_dict()
        evolved["explanation"] = changes.explanation
    if changes.image_ref is not None:
        values["image_ref"] = evolved["image_ref"] = changes.image_ref
    if changes.reason is not None:
        values["reason"] = evolved["reason"] = changes.reason
    if changes.exit_code is not None:
        values["exit_code"] = evolved["exit_code"] = changes.exit_code
    if changes.exclude_backend is not None and changes.exclude_backend not in job.excluded_backends:
        excluded = (*job.excluded_backends, changes.exclude_backend)
        values["excluded_backends"] = list(excluded)
        evolved["excluded_backends"] = excluded
    if changes.clear_migration:
        values["migration"] = evolved["migration"] = None
    if changes.migration is not None:
        values["migration"] = changes.migration.to_dict()
        evolved["migration"] = changes.migration
    return values, evolved
