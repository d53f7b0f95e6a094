"""The store contract on PostgreSQL, plus what only PostgreSQL can get wrong: event order under concurrent
writers (a watcher reading ``seq > cursor`` must never skip an event) and leases between two stores."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import text

from dualtrack.broker.domain import JobState, Placement
from dualtrack.broker.store import Changes, NewJob, SqlJobStore
from dualtrack.broker.store.sql import MIGRATIONS
from tests.contract.store_contract import StoreContract, spec

pytestmark = pytest.mark.postgres


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, pg_database: str) -> Iterator[SqlJobStore]:
        store = SqlJobStore(pg_database)
        yield store
        store.close()


def head_revision() -> str:
    """The newest Alembic revision the store migrates to."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migration_is_idempotent_on_postgres(pg_database: str) -> None:
    SqlJobStore(pg_database).close()
    store = SqlJobStore(pg_database)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    store.close()


def test_a_tailing_watcher_never_skips_an_event(pg_database: str) -> None:
    """Writers in two stores (two replicas) create and transition jobs concurrently while a watcher tails
    ``events(after_seq=cursor)``; every event committed must be seen by the watcher, none twice."""
    writers = [SqlJobStore(pg_database), SqlJobStore(pg_database)]
    watcher = SqlJobStore(pg_database)
    stop = threading.Event()
    seen: list[int] = []

    def tail() -> None:
        cursor = 0
        while True:
            done = stop.is_set()
            batch = watcher.events(after_seq=cursor, limit=500)
            for event in batch:
                seen.append(event.seq)
                cursor = event.seq
            if done and not batch:
                return

    def write(store: SqlJobStore) -> None:
        for _ in range(40):
            job = store.create(NewJob(spec(), "t")).job
            job = store.transition(job, JobState.PLACED, changes=Changes(placement=Placement("b1")))
            store.update(job, "note", Changes(reason="r"))

    tailer = threading.Thread(target=tail)
    tailer.start()
    threads = [threading.Thread(target=write, args=(writers[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    tailer.join()
    committed = [e.seq for e in watcher.events(limit=100_000)]
    assert len(committed) == 6 * 40 * 3
    assert seen == committed  # in order, nothing skipped, nothing twice
    for store in (*writers, watcher):
        store.close()


def test_two_stores_share_one_lease(pg_database: str) -> None:
    a, b = SqlJobStore(pg_database), SqlJobStore(pg_database)
    try:
        results: list[tuple[str, bool]] = []
        barrier = threading.Barrier(8)

        def race(store: SqlJobStore, holder: str) -> None:
            barrier.wait()
            results.append((holder, store.try_acquire_lease("reconciler", holder, 30)))

        threads = [threading.Thread(target=race, args=((a, b)[i % 2], f"h{i}")) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [h for h, won in results if won] and len([h for h, won in results if won]) == 1
    finally:
        a.close()
        b.close()
