"""Submit, get, list and cancel.

Submit validates the spec, refuses a job that no backend could ever run (each backend's reason), stores it
durably in ACCEPTED and wakes the reconciler, which places and dispatches it. Nothing is lost once
the future ``submit_job`` returns has resolved: the store has fsync'd it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from dualtrack.adapters.base import BackendError
from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import FilterStatus, Job, JobState
from dualtrack.broker.errors import InvalidRequest, NoBackendCanRun, PermissionDenied
from dualtrack.broker.handlers.specs import SpecSource, load_spec
from dualtrack.broker.metrics.broker_metrics import OTHER_TENANT
from dualtrack.broker.placement import placement_context, usage_of
from dualtrack.broker.store import Changes, Created, IdempotencyConflict, JobNotFound, JobPage, NewJob, StaleJob
from dualtrack.policies import Decision

log = logging.getLogger(__name__)


def _check_tenant(job: Job, tenant: str | None) -> None:
    """Another tenant's job is answered exactly like a missing one, so ids of other tenants stay unknown."""
    if tenant is not None and tenant != job.tenant:
        raise JobNotFound(job.id)


def dry_run_decision(ctx: BrokerContext, job: Job) -> Decision:
    """Place ``job`` against the cached snapshots without assuming anything (submit check, explain)."""
    snapshots = ctx.snapshots.latest()
    context = placement_context(ctx.backends, snapshots, usage_of(()), ctx.clock())
    return ctx.engine.place(job, context)


def submit_job(
    ctx: BrokerContext,
    source: SpecSource,
    *,
    idempotency_key: str = "",
    track: str = "",
    tenant: str | None = None,
) -> Future[Created]:
    """The one submission path (SubmitJob, tests, bulk submits): validate the spec, refuse a job no backend
    could ever run, and queue it for the store's next group commit.

    Validation runs in the caller's thread (an API server calls this off its event loop, see
    docs/api.md). The returned future resolves once the job is durable, after the metrics are counted and the
    reconciler woken, so an asyncio caller awaits durability without holding a thread; it fails with
    IdempotencyConflict. Raises SpecError, NoBackendCanRun before anything is queued.
    """
    new = validate_submission(ctx, source, idempotency_key=idempotency_key, track=track, tenant=tenant)
    done: Future[Created] = Future()

    def stored(write: Future[Created]) -> None:
        try:
            created = write.result()
        except IdempotencyConflict as exc:
            ctx.metrics.submission(new.spec.metadata.tenant, "rejected")
            done.set_exception(exc)
        except Exception as exc:  # handed to the waiting caller
            done.set_exception(exc)
        else:
            ctx.metrics.submission(created.job.tenant, "duplicate" if created.duplicate else "accepted")
            if not created.duplicate:
                ctx.wake_reconciler()
            done.set_result(created)

    ctx.store.create_future(new).add_done_callback(stored)
    return done


def validate_submission(ctx: BrokerContext, source: SpecSource, *, idempotency_key: str, track: str,
                        tenant: str | None) -> NewJob:
    """What a submission stores, validated (also per item of a bulk submit). Raises SpecError, NoBackendCanRun."""
    try:
        spec, text = load_spec(source, track, tenant)
    except Exception:
        # counted for the caller's credentials, never for the tenant a refused spec claims
        ctx.metrics.submission(tenant or OTHER_TENANT, "invalid")
        raise
    decision = ctx.resolvability.check(ctx, spec)
    if decision.status is FilterStatus.UNRESOLVABLE:
        ctx.metrics.submission(spec.metadata.tenant, "rejected")
        raise NoBackendCanRun(decision.reasons)
    return NewJob(spec=spec, spec_yaml=text, idempotency_key=idempotency_key or None)


@dataclass(frozen=True)
class JobView:
    """GetJob's answer: the job and the spec text as submitted ("" for a typed spec)."""

    job: Job
    spec_yaml: str = ""


def describe_job(ctx: BrokerContext, job_id: str, *, tenant: str | None = None) -> JobView:
    """GetJob. Raises JobNotFound (also for another tenant's job)."""
    job = get_job(ctx, job_id, tenant=tenant)
    return JobView(job, ctx.store.spec_yaml(job.id))


def get_job(ctx: BrokerContext, job_id: str, *, tenant: str | None = None) -> Job:
    """Raises JobNotFound (also for another tenant's job)."""
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
    Raises JobNotFound (also for another tenant's job)."""
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


__all__ = ["IdempotencyConflict", "JobView", "cancel_job", "describe_job", "get_job", "list_jobs", "submit_job"]
