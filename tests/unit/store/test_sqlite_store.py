"""The store contract on SQLite files (the default store), plus SQLite-specific durability settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from dualtrack.broker.domain import JobState
from dualtrack.broker.store import NewJob, SqlJobStore
from tests.contract.store_contract import StoreContract, spec


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqlJobStore]:
        store = SqlJobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
        yield store
        store.close()


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    store = SqlJobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    store.close()


def test_jobs_survive_reopening_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    store = SqlJobStore(url)
    ids = [store.create(NewJob(spec(), "t")).job.id for _ in range(5)]
    store.close()
    reopened = SqlJobStore(url)
    assert sorted(j.id for j in reopened.active([JobState.ACCEPTED])) == sorted(ids)
    reopened.close()


def test_alembic_migration_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    SqlJobStore(url).close()
    store = SqlJobStore(url)  # upgrading an up-to-date schema changes nothing
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
    store.close()
