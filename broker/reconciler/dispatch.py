"""Step 2: dispatch PLACED jobs to their backend, idempotently.

PLACED with attempt n *is* the written intent: the backend call happens after it is durable, and the
adapter's submit first looks for an existing ``dt-<id>-<n>``, so a crash between submit and the store
update never submits twice. After the call the job moves PLACED -> SUBMITTED with its backend reference;
when that compare-and-set fails (the user cancelled meanwhile) the fresh backend object is cancelled.

A YOLO attempt resumes from its run directory's ``weights/last.pt`` when that is an unfinished checkpoint
(docs/yolo.md#resume): the backend gets the job with ``resume_from`` set, and the SUBMITTED event says
"resuming from epoch N".
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import Executor

from dualtrack.adapters.base import Backend, BackendUnavailable, SubmitRejected
from dualtrack.broker.checkpoints import resume_point, write_fence
from dualtrack.broker.domain import Job, JobState
from dualtrack.broker.reconciler.cycle import Cycle
from dualtrack.broker.reconciler.images import ImageNotReady, prepare_image
from dualtrack.broker.store import Changes, StaleJob

log = logging.getLogger(__name__)


def dispatch_placed(cycle: Cycle, pool: Executor) -> None:
    """Dispatch in two waves: the first PLACED job of every backend (backends in parallel), then the rest
    in parallel. A backend that does not answer thus costs one time-out per cycle, not one per job: the
    first wave marks it in ``cycle.unavailable`` and the second wave skips it."""
    by_backend: dict[str, list[Job]] = defaultdict(list)
    for job in cycle.in_state(JobState.PLACED):
        by_backend[job.placement.backend if job.placement else ""].append(job)
    first = [jobs[0] for jobs in by_backend.values()]
    rest = [job for jobs in by_backend.values() for job in jobs[1:]]
    for wave in (first, rest):
        futures = [pool.submit(_dispatch_one, cycle, job) for job in wave]
        for future in futures:
            try:
                future.result()
            except Exception as exc:  # one job's trouble must not stop the others
                log.exception("dispatch failed")
                cycle.errors.append(f"dispatch: {exc}")


def _dispatch_one(cycle: Cycle, job: Job) -> None:
    ctx = cycle.ctx
    assert job.placement is not None
    name = job.placement.backend
    if name not in ctx.backends:
        _unplace(cycle, job, f"backend {name} is no longer configured", exclude=name)
        return
    backend = ctx.backends.get(name)
    if not ctx.snapshots.is_up(name):
        _unplace(cycle, job, f"backend {name} is down", exclude=None)
        return
    if name in cycle.unavailable:
        return  # it failed another submit of this cycle: try again next cycle
    try:
        image_ref = prepare_image(ctx, job, backend)
    except ImageNotReady:
        return  # the conversion runs in the background; try again next cycle
    except Exception as exc:  # a broken image fails the job with the reason
        _fail(cycle, job, f"image {job.spec.spec.image}: {exc}")
        return
    if image_ref and image_ref != job.image_ref:
        job = ctx.store.update(job, f"image pinned to {image_ref}", Changes(image_ref=image_ref))
    if not cycle.holds_lease():
        log.warning("lost the reconciler lease; not submitting %s (the new leader will)", job.id)
        return
    _submit(cycle, job, backend)


def _submit(cycle: Cycle, job: Job, backend: Backend) -> None:
    ctx = cycle.ctx
    assert job.placement is not None
    attempt_job, note = job, ""
    if job.spec.spec.yolo is not None:
        unfenced = write_fence(job, backend)  # before the resume point: a replaced attempt stops writing first
        if unfenced is not None:
            log.info("attempt %d of %s runs without a fence: %s", job.attempt, job.id, unfenced)
        point, why = resume_point(job, backend)
        if point is not None:
            attempt_job, note = job.evolve(resume_from=point.container_path), f"; {why}"
        elif job.attempt > 1:
            note = f"; starting the run anew: {why}"
        if unfenced is not None and job.attempt > 1:
            note += f"; no attempt fence ({unfenced})"
    try:
        ref = backend.submit(attempt_job, job.placement)
    except SubmitRejected as exc:
        _unplace(cycle, job, f"{backend.name} refused the job: {exc}", exclude=backend.name)
        return
    except BackendUnavailable as exc:
        cycle.unavailable.add(backend.name)
        log.warning("submit of %s to %s deferred: %s", job.id, backend.name, exc)
        return
    try:
        submitted = ctx.store.transition(job, JobState.SUBMITTED,
                                         f"submitted to {backend.name} as {ref.native_id}{note}",
                                         Changes(backend_ref=ref))
    except StaleJob:
        log.info("job %s changed during submit; cancelling backend object %s", job.id, ref)
        try:
            backend.cancel(ref)
        except Exception as exc:  # the zombie step retries
            log.warning("cancel of %s failed: %s", ref, exc)
        return
    ctx.metrics.scheduling_latency(backend.name, max(0.0, ctx.clock() - job.created_at))
    cycle.replace(submitted)


def _unplace(cycle: Cycle, job: Job, reason: str, exclude: str | None) -> None:
    """Back to ACCEPTED so the next placement chooses again (without ``exclude``)."""
    try:
        cycle.replace(cycle.ctx.store.transition(job, JobState.ACCEPTED, reason,
                                                 Changes(clear_backend=True, reason=reason, exclude_backend=exclude)))
    except StaleJob:
        pass


def _fail(cycle: Cycle, job: Job, reason: str) -> None:
    try:
        cycle.replace(cycle.ctx.store.transition(job, JobState.FAILED, reason, Changes(reason=reason)))
    except StaleJob:
        pass
