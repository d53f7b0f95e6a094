"""Bulk submission (SubmitJobs): up to ``MAX_ITEMS`` specs validated one by one and stored with ONE durable
commit. Each item gets its own outcome; a refused item does not stop the others (docs/sdk.md, "Bulk
submission").
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from dualtrack.broker.context import BrokerContext
from dualtrack.broker.errors import InvalidRequest
from dualtrack.broker.handlers.jobs import validate_submission
from dualtrack.broker.handlers.specs import SpecSource
from dualtrack.broker.store import Created, IdempotencyConflict, NewJob

MAX_ITEMS = 1000

Outcome = Created | Exception


@dataclass(frozen=True)
class Submission:
    """One item of a bulk call: what a single SubmitJob would carry."""

    source: SpecSource
    idempotency_key: str = ""
    track: str = ""


def submit_jobs(ctx: BrokerContext, items: Sequence[Submission], *,
                tenant: str | None = None) -> Future[list[Outcome]]:
    """Validate every item (in the caller's thread) and queue the valid ones as one unit of the store's group
    commit. The future resolves once they are durable, with one outcome per item in order: Created (possibly a
    duplicate of an earlier job with the same idempotency key) or the error that refused the item (SpecError,
    NoBackendCanRun, IdempotencyConflict). Raises InvalidRequest for an empty call or more than MAX_ITEMS."""
    if not items:
        raise InvalidRequest("items", "at least one submission is required")
    if len(items) > MAX_ITEMS:
        raise InvalidRequest("items", f"at most {MAX_ITEMS} submissions per call, got {len(items)}")
    outcomes: list[Outcome | None] = []
    valid: list[NewJob] = []
    for item in items:
        try:
            valid.append(validate_submission(ctx, item.source, idempotency_key=item.idempotency_key,
                                             track=item.track, tenant=tenant))
            outcomes.append(None)  # filled in from the store's outcomes
        except Exception as exc:  # SpecError, NoBackendCanRun: this item's answer
            outcomes.append(exc)
    done: Future[list[Outcome]] = Future()

    def stored(write: Future[list[Outcome]]) -> None:
        try:
            results = iter(write.result())
        except Exception as exc:  # the whole commit failed: handed to the caller
            done.set_exception(exc)
            return
        news = iter(valid)
        merged: list[Outcome] = []
        woken = False
        for outcome in outcomes:
            if outcome is not None:
                merged.append(outcome)
                continue
            new, result = next(news), next(results)
            if isinstance(result, Created):
                ctx.metrics.submission(result.job.tenant, "duplicate" if result.duplicate else "accepted")
                woken = woken or not result.duplicate
            elif isinstance(result, IdempotencyConflict):
                ctx.metrics.submission(new.spec.metadata.tenant, "rejected")
            merged.append(result)
        if woken:
            ctx.wake_reconciler()
        done.set_result(merged)

    ctx.store.create_many_future(valid).add_done_callback(stored)
    return done
