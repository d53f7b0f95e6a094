"""Fixtures of the PostgreSQL integration tests: a scratch database per test on the server named by
DUALTRACK_TEST_PG_URL (scripts/postgres/start.sh writes it to $DIR/env). Every test here is marked
``postgres`` and skips with a clear message when the variable is unset."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SKIP_MESSAGE = ("DUALTRACK_TEST_PG_URL is not set: run scripts/postgres/start.sh and "
                "source ${DUALTRACK_PG_DIR:-/var/tmp/dualtrack-pg}/env")


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("DUALTRACK_TEST_PG_URL")
    if not url:
        pytest.skip(SKIP_MESSAGE)
    return url


@pytest.fixture
def make_pg_database(pg_url: str) -> Iterator[Callable[[], str]]:
    """Returns a function creating an empty database on the test server and giving its URL; every database
    made is dropped (connections forced off) when the test ends."""
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=None)
    made: list[str] = []

    def make() -> str:
        name = f"dt_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(pg_url).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_database(make_pg_database: Callable[[], str]) -> str:
    """The URL of one empty database for this test."""
    return make_pg_database()
