"""Submit, get, list and cancel.

Submit validates the spec, refuses a job that no backend could ever run (each backend's reason), stores it
durably in ACCEPTED and wakes the reconciler, which places and dispatches it. Nothing is lost once
``submit_job`` returns: the store has fsync'd it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dualtrack.adapters.base import BackendError
from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import FilterStatus, Job, JobState
from dualtrack.broker.errors import InvalidRequest, NoBackendCanRun, PermissionDenied
from dualtrack.broker.handlers.specs import SpecSource, load_spec
from dualtrack.broker.placement import placement_context, usage_of
from dualtrack.broker.store import Changes, Created, IdempotencyConflict, JobPage, NewJob, StaleJob
from dualtrack.policies import Decision

log = logging.getLogger(__name__)


def _check_tenant(job: Job, tenant: str | None) -> None:
    if tenant is not None and tenant != job.tenant:
        raise PermissionDenied(f"job {job.id} belongs to tenant {job.tenant!r}")


def dry_run_decision(ctx: BrokerContext, job: Job) -> Decision:
    """Place ``job`` against the cached snapshots without assuming anything (submit check, explain)."""
    snapshots = ctx.snapshots.latest()
    context = placement_context(ctx.backends, snapshots, usage_of(()), ctx.clock())
    return ctx.engine.place(job, context)


def prepare_submission(
    ctx: BrokerContext,
    source: SpecSource,
    *,
    idempotency_key: str = "",
    track: str = "",
    tenant: str | None = None,
) -> NewJob:
    """Validate a submission and refuse a job no backend could ever run; store nothing.
    Raises SpecError, NoBackendCanRun."""
    try:
        spec, text = load_spec(source, track, tenant)
    except Exception:
        ctx.metrics.submission(source_tenant(source), "invalid")
        raise
    decision = ctx.resolvability.check(ctx, spec)
    if decision.status is FilterStatus.UNRESOLVABLE:
        ctx.metrics.submission(spec.metadata.tenant, "rejected")
        raise NoBackendCanRun(decision.reasons)
    return NewJob(spec=spec, spec_yaml=text, idempotency_key=idempotency_key or None)


def submission_stored(ctx: BrokerContext, created: Created) -> Created:
    """Bookkeeping once a submission is durable: metrics, and a wake-up for the reconciler."""
    ctx.metrics.submission(created.job.tenant, "duplicate" if created.duplicate else "accepted")
    if not created.duplicate:
        ctx.wake_reconciler()
    return created


def submission_conflicted(ctx: BrokerContext, new: NewJob) -> None:
    ctx.metrics.submission(new.spec.metadata.tenant, "rejected")


def submit_job(
    ctx: BrokerContext,
    source: SpecSource,
    *,
    idempotency_key: str = "",
    track: str = "",
    tenant: str | None = None,
) -> Created:
    """Validate and store a job durably. Raises SpecError, NoBackendCanRun, IdempotencyConflict."""
    new = prepare_submission(ctx, source, idempotency_key=idempotency_key, track=track, tenant=tenant)
    try:
        created = ctx.store.create(new)
    except IdempotencyConflict:
        submission_conflicted(ctx, new)
        raise
    return submission_stored(ctx, created)


def source_tenant(source: SpecSource) -> str:
    metadata = (source.data or {}).get("metadata") if source.data else None
    if isinstance(metadata, dict) and isinstance(metadata.get("tenant"), str):
        return str(metadata["tenant"])[:64]
    return "unknown"


def get_job(ctx: BrokerContext, job_id: str, *, tenant: str | None = None) -> Job:
    """Raises JobNotFound, PermissionDenied."""
    job = ctx.store.get(job_id)
    _check_tenant(job, tenant)
    return job


def list_jobs(
    ctx: BrokerContext,
    *,
    tenant: str | None = None,
    states: Sequence[JobState] = (),
    backend: str = "",
    page_size: int = 100,
    page_token: str = "",
    caller_tenant: str | None = None,
) -> JobPage:
    """Raises InvalidRequest for a bad page size or token, PermissionDenied for another tenant's jobs."""
    if page_size < 0 or page_size > 1000:
        raise InvalidRequest("page_size", "must be between 1 and 1000 (0 means the default, 100)")
    if page_token and not page_token.isalnum():
        raise InvalidRequest("page_token", "is not a token this broker issued")
    if caller_tenant is not None:
        if tenant and tenant != caller_tenant:
            raise PermissionDenied(f"you may list only tenant {caller_tenant!r}")
        tenant = caller_tenant
    return ctx.store.list_jobs(tenant=tenant or None, states=states, backend=backend or None,
                          page_size=page_size or 100, page_token=page_token)


def cancel_job(ctx: BrokerContext, job_id: str, *, reason: str = "", tenant: str | None = None) -> Job:
    """Cancel from any non-terminal state. The backend object (if any) is cancelled now when the backend
    answers, else by the reconciler's zombie step. A terminal job is returned unchanged.
    Raises JobNotFound, PermissionDenied."""
    message = f"cancelled by user{': ' + reason if reason else ''}"
    while True:
        job = ctx.store.get(job_id)
        _check_tenant(job, tenant)
        if job.state.terminal:
            return job
        try:
            cancelled = ctx.store.transition(job, JobState.CANCELLED, message, Changes(reason=message))
            break
        except StaleJob:
            continue  # the reconciler moved it meanwhile: read again and retry
    ref = job.backend_ref
    if ref is not None and ref.backend in ctx.backends:
        try:
            ctx.backends.get(ref.backend).cancel(ref)
        except BackendError as exc:
            log.warning("cancel of %s on %s deferred to the reconciler: %s", job.id, ref, exc)
    ctx.wake_reconciler()
    return cancelled


__all__ = ["IdempotencyConflict", "cancel_job", "get_job", "list_jobs", "submit_job"]
