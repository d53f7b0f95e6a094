"""The job store's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create and evolve them;
this module is the current shape, used for queries. Times are epoch seconds (float) for portability."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempt", Integer, nullable=False, default=1),
    Column("priority", Integer, nullable=False, default=100),
    Column("backend", String(64)),
    Column("backend_object_name", String(128)),
    Column("backend_native_id", String(255)),
    Column("placement", JSON),
    Column("explanation", JSON),
    Column("spec", Text, nullable=False),  # canonical JSON text (serialized once, hashed as is)
    Column("spec_yaml", Text, nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("image_ref", String(512)),
    Column("reason", Text, nullable=False, default=""),
    Column("exit_code", Integer),
    Column("idempotency_key", String(300), unique=True),
    Column("excluded_backends", JSON, nullable=False, default=list),
    Column("migration", JSON),  # a pending operator migration request (migration 0002)
    Column("terminal", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("state_since", Float, nullable=False),
    Column("version", Integer, nullable=False, default=1),
)
# each filter of ``list_jobs`` with the id, so a page is read in index order; the version too for the state,
# so ``active`` reads (id, version, state) from the index alone (migration 0003)
Index("ix_jobs_state_id_version", jobs.c.state, jobs.c.id, jobs.c.version)
Index("ix_jobs_tenant_id", jobs.c.tenant, jobs.c.id)
Index("ix_jobs_backend_id", jobs.c.backend, jobs.c.id)

job_events = Table(
    "job_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), nullable=False),
    Column("at", Float, nullable=False),
    Column("type", String(16), nullable=False),
    Column("state", String(16)),
    Column("previous_state", String(16)),
    Column("message", Text, nullable=False, default=""),
    Column("attempt", Integer, nullable=False, default=1),
    Column("backend", String(64)),
)
Index("ix_job_events_job_seq", job_events.c.job_id, job_events.c.seq)

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
)
