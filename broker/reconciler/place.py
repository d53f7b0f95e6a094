"""Step 1: place ACCEPTED jobs in one batch against this cycle's snapshots.

OK -> PLACED (placement and explanation stored); UNRESOLVABLE -> FAILED with every backend's reason;
UNSCHEDULABLE -> stays ACCEPTED, its reason updated when it changes (so ``get`` shows why it waits).
"""

from __future__ import annotations

import logging

from broker.domain import FilterStatus, JobState
from broker.placement import placement_context, usage_of
from broker.reconciler.cycle import Cycle
from broker.reconciler.retry import backoff_seconds
from broker.store import Changes, StaleJob

log = logging.getLogger(__name__)


def place_accepted(cycle: Cycle) -> None:
    ctx = cycle.ctx
    waiting = [j for j in cycle.in_state(JobState.ACCEPTED) if j.state_since + backoff_seconds(cycle, j) <= cycle.now]
    if not waiting:
        return
    context = placement_context(ctx.backends, cycle.snapshots, usage_of(cycle.jobs), cycle.now)
    for decision in ctx.engine.place_batch(waiting, context):
        job = next(j for j in waiting if j.id == decision.job_id)
        try:
            if decision.status is FilterStatus.OK and decision.placement is not None:
                placed = ctx.store.transition(
                    job, JobState.PLACED, f"placed on {decision.placement.backend}: {decision.explanation.summary}",
                    Changes(placement=decision.placement, explanation=decision.explanation, reason=""),
                )
                ctx.metrics.placement(decision.placement.backend, "placed")
                cycle.replace(placed)
            elif decision.status is FilterStatus.UNRESOLVABLE:
                reasons = "; ".join(f"{b}: {', '.join(r)}" for b, r in decision.reasons.items())
                failed = ctx.store.transition(job, JobState.FAILED, f"no backend can run it: {reasons}",
                                              Changes(explanation=decision.explanation,
                                                      reason=f"unresolvable: {reasons}"))
                ctx.metrics.placement("", "unresolvable")
                cycle.replace(failed)
            else:
                summary = decision.explanation.summary
                ctx.metrics.placement("", "unschedulable")
                if job.reason != summary:
                    cycle.replace(ctx.store.update(job, f"waiting: {summary}",
                                                   Changes(explanation=decision.explanation, reason=summary)))
        except StaleJob:
            log.info("job %s changed while being placed (cancelled?); skipped", job.id)
