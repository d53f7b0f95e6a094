"""Step 3: observe jobs on their backends and move them along the lifecycle.

The moves of one backend's jobs are stored together (reconciler/batch.py); a retry is written at once.

Backend phase -> broker state: PENDING -> QUEUED, RUNNING -> RUNNING, SUCCEEDED/CANCELLED -> the same,
FAILED -> a retry (see retry.py) or FAILED. A job the backend does not know (MISSING) for longer than the
grace period was lost by the backend: that is an infrastructure failure, retried like one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping

from dualtrack.adapters.base import BackendError
from dualtrack.broker.domain import BackendPhase, BackendRef, FailureKind, Job, JobState, Observed
from dualtrack.broker.reconciler.batch import WriteBatch
from dualtrack.broker.reconciler.cycle import Cycle
from dualtrack.broker.reconciler.retry import retry, should_retry
from dualtrack.broker.store import Changes, StaleJob

log = logging.getLogger(__name__)

ON_BACKEND = (JobState.SUBMITTED, JobState.QUEUED, JobState.RUNNING)


def observe_backends(cycle: Cycle) -> None:
    by_backend: dict[str, list[Job]] = defaultdict(list)
    for job in cycle.in_state(*ON_BACKEND):
        ref = job.backend_ref
        if ref is not None:
            by_backend[ref.backend].append(job)
    for name, jobs in by_backend.items():
        if name not in cycle.ctx.backends or not cycle.ctx.snapshots.is_up(name):
            continue  # a dead backend's jobs are the reroute step's business
        refs: list[BackendRef] = [j.backend_ref for j in jobs if j.backend_ref is not None]
        try:
            observed = cycle.ctx.backends.get(name).observe(refs)
        except BackendError as exc:
            cycle.errors.append(f"observe {name}: {exc}")
            continue
        if not observed:
            continue
        batch = WriteBatch(cycle, "observe")
        for job, seen in observed_in_order(jobs, refs, observed):
            try:
                apply_observation(cycle, job, seen, batch)
            except StaleJob:
                log.info("job %s changed while observed; next cycle sees it again", job.id)
        batch.flush()


def observed_in_order(jobs: list[Job], refs: list[BackendRef],
                      observed: Mapping[BackendRef, Observed]) -> list[tuple[Job, Observed]]:
    """The jobs with an observation, each with it, in ``jobs`` order (``refs[i]`` is ``jobs[i]``'s reference).

    Backends usually report a few changes among thousands of jobs: the observations are matched to jobs by
    object name (a string, whose hash Python caches) rather than by hashing every job's BackendRef."""
    if len(observed) * 4 > len(jobs):
        return [(job, seen) for job, ref in zip(jobs, refs, strict=True)
                if (seen := observed.get(ref)) is not None]
    position = {ref.name: i for i, ref in enumerate(refs)}
    if len(position) != len(refs):  # two references with one name: match on the whole reference
        return [(job, seen) for job, ref in zip(jobs, refs, strict=True)
                if (seen := observed.get(ref)) is not None]
    found = []
    for ref, seen in observed.items():
        i = position.get(ref.name)
        if i is not None and refs[i] == ref:
            found.append((i, seen))
    found.sort(key=lambda pair: pair[0])
    return [(jobs[i], seen) for i, seen in found]


def apply_observation(cycle: Cycle, job: Job, seen: Observed, batch: WriteBatch) -> None:
    """Add the move ``seen`` calls for to ``batch`` (a retry is written at once)."""
    ctx = cycle.ctx
    backend = seen.ref.backend
    phase = seen.phase
    if phase is BackendPhase.PENDING:
        if job.state is JobState.SUBMITTED:
            batch.transition(job, JobState.QUEUED, f"queued on {backend}", Changes(reason=seen.reason or ""))
        elif seen.reason and seen.reason != job.reason:
            batch.update(job, f"pending on {backend}: {seen.reason}", Changes(reason=seen.reason))
        return
    if phase is BackendPhase.RUNNING:
        if job.state is not JobState.RUNNING:
            batch.transition(job, JobState.RUNNING, f"running on {backend}"
                             + (f" ({', '.join(seen.nodes)})" if seen.nodes else ""), Changes(reason=""),
                             then=lambda _: ctx.metrics.queue_wait(backend, max(0.0, cycle.now - job.created_at)))
        return
    if phase is BackendPhase.SUCCEEDED:
        batch.transition(job, JobState.SUCCEEDED, f"succeeded on {backend}",
                         Changes(exit_code=seen.exit_code if seen.exit_code is not None else 0, reason=""),
                         then=lambda _: _finished(cycle, job, seen, "SUCCEEDED"))
        return
    if phase is BackendPhase.CANCELLED:
        reason = seen.reason or f"cancelled on {backend}"
        batch.transition(job, JobState.CANCELLED, reason, Changes(reason=reason),
                         then=lambda _: _finished(cycle, job, seen, "CANCELLED"))
        return
    if phase is BackendPhase.MISSING:
        if cycle.now - job.state_since < ctx.config.reconciler.missing_grace_seconds:
            return
        _failed(cycle, job, seen, FailureKind.INFRA, f"{backend} lost the job ({seen.reason or 'not found'})", batch)
        return
    _failed(cycle, job, seen, seen.failure, seen.reason or f"failed on {backend}", batch)


def _failed(cycle: Cycle, job: Job, seen: Observed, failure: FailureKind | None, reason: str,
            batch: WriteBatch) -> None:
    if job.state is JobState.RUNNING or seen.started_at is not None:
        _finished(cycle, job, seen, "FAILED")
    if should_retry(job, failure):
        retry(cycle, job, reason, failure)
        return
    text = reason if seen.exit_code is None else f"{reason} (exit code {seen.exit_code})"
    batch.transition(job, JobState.FAILED, text, Changes(reason=text, exit_code=seen.exit_code))


def _finished(cycle: Cycle, job: Job, seen: Observed, state: str) -> None:
    start = seen.started_at or (job.state_since if job.state is JobState.RUNNING else None)
    end = seen.finished_at or cycle.now
    if start is not None:
        cycle.ctx.metrics.job_finished(seen.ref.backend, state, max(0.0, end - start))
