"""Retry policy: which failures earn another attempt, and moving a job back to ACCEPTED for it.

Infrastructure failures (node failure, preemption, eviction, boot failure, a backend that lost the job) are
retried up to ``retry.maxAttempts``; the program's own non-zero exit (and OOM) only when the spec says
``retry.onUserError``; time-outs and cancellations never.
"""

from __future__ import annotations

from dualtrack.broker.domain import FailureKind, Job, JobState
from dualtrack.broker.reconciler.cycle import Cycle
from dualtrack.broker.store import Changes


def should_retry(job: Job, failure: FailureKind | None) -> bool:
    policy = job.spec.spec.retry
    if job.attempt >= policy.max_attempts:
        return False
    if failure is FailureKind.INFRA:
        return True
    return failure in (FailureKind.USER, FailureKind.OUT_OF_MEMORY) and policy.on_user_error


def backoff_seconds(cycle: Cycle, job: Job) -> float:
    """Seconds an ACCEPTED retry waits before it is placed again: base * 2^(attempt-2), capped at 10 min."""
    if job.attempt <= 1:
        return 0.0
    base = cycle.ctx.config.reconciler.retry_backoff_seconds
    return float(min(base * 2 ** (job.attempt - 2), 600.0))


def retry(cycle: Cycle, job: Job, reason: str, failure: FailureKind | None = None) -> Job:
    """ACCEPTED with attempt + 1 and no backend; the placement step places it again after the backoff."""
    backend = job.backend or ""
    new = cycle.ctx.store.transition(
        job, JobState.ACCEPTED, f"attempt {job.attempt} failed ({reason}); retrying as attempt {job.attempt + 1}",
        Changes(attempt=job.attempt + 1, clear_backend=True, reason=reason),
    )
    cycle.ctx.metrics.retry(backend, failure.value if failure is not None else "other")
    cycle.replace(new)
    return new
