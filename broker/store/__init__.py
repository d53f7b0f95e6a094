"""The durable job store (see base.py for the contract, sql.py for the SQLAlchemy implementation)."""

from dualtrack.broker.store.base import (
    Changes,
    Created,
    IdempotencyConflict,
    JobNotFound,
    JobPage,
    JobStore,
    NewJob,
    StaleJob,
    StoreError,
    Write,
)
from dualtrack.broker.store.sql import SqlJobStore


def open_store(url: str, *, group_commit_max: int = 512) -> SqlJobStore:
    """Open (and migrate) the store at a SQLAlchemy URL: ``sqlite:///path`` or ``postgresql+psycopg://...``."""
    return SqlJobStore(url, group_commit_max=group_commit_max)


__all__ = [
    "Changes",
    "Created",
    "IdempotencyConflict",
    "JobNotFound",
    "JobPage",
    "JobStore",
    "NewJob",
    "SqlJobStore",
    "StaleJob",
    "StoreError",
    "Write",
    "open_store",
]
