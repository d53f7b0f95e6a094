"""Step 1: place ACCEPTED jobs in one batch against this cycle's snapshots.

OK -> PLACED (placement and explanation stored); UNRESOLVABLE -> FAILED with every backend's reason;
UNSCHEDULABLE -> stays ACCEPTED, its reason updated when it changes (so ``get`` shows why it waits).
The batch's writes are stored together (reconciler/batch.py); a job cancelled meanwhile is skipped.
"""

from __future__ import annotations

import logging

from dualtrack.broker.domain import FilterStatus, Job, JobState, Placement
from dualtrack.broker.placement import placement_context
from dualtrack.broker.reconciler.batch import WriteBatch
from dualtrack.broker.reconciler.cycle import Cycle
from dualtrack.broker.reconciler.retry import backoff_seconds
from dualtrack.broker.store import Changes

log = logging.getLogger(__name__)


def start_estimates(cycle: Cycle, jobs: list[Job]) -> dict[tuple[str, str], float]:
    """(job id, backend) -> when the backend itself expects the job to start, for backends that can say
    (Slurm's ``sbatch --test-only``). Failures just leave the estimate out."""
    out: dict[tuple[str, str], float] = {}
    for backend in cycle.ctx.backends:
        # the StartEstimator capability, looked up as broker/placement.py looks up the others: getattr answers
        # what isinstance against the runtime Protocol answers, without its per-call cost (every cycle)
        estimate_start = getattr(backend, "estimate_start", None)
        if estimate_start is None or not cycle.ctx.snapshots.is_up(backend.name):
            continue
        for job in jobs:
            try:
                when = estimate_start(job, Placement(backend.name))
            except Exception as exc:  # an estimate is advice; placement goes on without it
                log.debug("start estimate of %s on %s failed: %s", job.id, backend.name, exc)
                continue
            if when is not None:
                out[(job.id, backend.name)] = when
    return out


def place_accepted(cycle: Cycle) -> None:
    ctx = cycle.ctx
    waiting = [j for j in cycle.in_state(JobState.ACCEPTED) if j.state_since + backoff_seconds(cycle, j) <= cycle.now]
    if not waiting:
        return
    estimates = start_estimates(cycle, waiting[: ctx.config.reconciler.start_estimate_jobs])
    context = placement_context(ctx.backends, cycle.snapshots, cycle.usage(), cycle.now, estimates)
    by_id = {j.id: j for j in waiting}
    batch = WriteBatch(cycle, "place")
    for decision in ctx.engine.place_batch(waiting, context):
        job = by_id[decision.job_id]
        if decision.status is FilterStatus.OK and decision.placement is not None:
            batch.transition(job, JobState.PLACED, decision.explanation.summary,
                             Changes(placement=decision.placement, explanation=decision.explanation, reason=""),
                             then=lambda placed: ctx.metrics.placement(placed.backend or "", "placed"))
        elif decision.status is FilterStatus.UNRESOLVABLE:
            reasons = "; ".join(f"{b}: {', '.join(r)}" for b, r in decision.reasons.items())
            batch.transition(job, JobState.FAILED, f"no backend can run it: {reasons}",
                             Changes(explanation=decision.explanation, reason=f"unresolvable: {reasons}"),
                             then=lambda _: ctx.metrics.placement("", "unresolvable"))
        else:
            summary = decision.explanation.summary
            ctx.metrics.placement("", "unschedulable")
            if job.reason != summary:
                batch.update(job, f"waiting: {summary}", Changes(explanation=decision.explanation, reason=summary))
    batch.flush()
