"""``MigrateJob``: an operator asks to move a job that is on a backend to another backend.

The request is stored on the job (``Job.migration``) with a note event, and the reconciler is woken; its
migrate step stops the current attempt (after the job's next checkpoint, or at once with ``now``) and places
attempt n+1 on the target (docs/lifecycle.md, "Migration"). Asking again replaces the pending request.
Raises JobNotFound, PermissionDenied, JobNotMovable (not on a backend), InvalidRequest (``to_backend``).
"""

from __future__ import annotations

from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import Job, JobState, MigrationRequest
from dualtrack.broker.domain.limits import quote
from dualtrack.broker.errors import InvalidRequest, JobNotMovable
from dualtrack.broker.store import Changes, JobNotFound, StaleJob

MOVABLE = (JobState.SUBMITTED, JobState.QUEUED, JobState.RUNNING)


def _check_target(ctx: BrokerContext, job: Job, to_backend: str) -> None:
    names = ctx.backends.names()
    if to_backend and to_backend not in names:
        raise InvalidRequest("to_backend", f"no backend named {quote(to_backend)} (configured: {', '.join(names)})")
    if to_backend and to_backend == job.backend:
        raise InvalidRequest("to_backend", f"job {job.id} is already on {to_backend}")
    if not to_backend and not [n for n in names if n != job.backend]:
        raise InvalidRequest("to_backend", "there is no other backend to move to")


def request_migration(ctx: BrokerContext, job_id: str, *, to_backend: str = "", now: bool = False,
                      reason: str = "", tenant: str | None = None) -> Job:
    """Record the request (see the module docstring) and return the job carrying it."""
    while True:
        job = ctx.store.get(job_id)
        if tenant is not None and tenant != job.tenant:
            raise JobNotFound(job.id)  # another tenant's job answers like a missing one (docs/security.md)
        if job.state not in MOVABLE:
            raise JobNotMovable(f"job {job.id} is {job.state}; only a job on a backend (SUBMITTED, QUEUED, "
                                "RUNNING) can be migrated")
        _check_target(ctx, job, to_backend)
        request = MigrationRequest(to_backend or None, now, ctx.clock(), job.backend or "", job.attempt, reason)
        when = "stopping it now" if now else "after its next checkpoint"
        message = (f"migration from {job.backend} to {to_backend or 'another backend'} requested"
                   f"{': ' + reason if reason else ''}; {when}")
        try:
            updated = ctx.store.update(job, message, Changes(migration=request))
            break
        except StaleJob:
            continue  # the reconciler moved it meanwhile: read again
    ctx.wake_reconciler()
    return updated
