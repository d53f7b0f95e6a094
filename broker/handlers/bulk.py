"""Bulk submission (SubmitJobs): up to ``MAX_ITEMS`` specs validated one by one and stored in ONE durable
transaction. Each item gets its own outcome; a refused item does not stop the others (docs/sdk.md,
"Bulk submission").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dualtrack.broker.context import BrokerContext
from dualtrack.broker.errors import InvalidRequest
from dualtrack.broker.handlers.jobs import prepare_submission, submission_conflicted, submission_stored
from dualtrack.broker.handlers.specs import SpecSource
from dualtrack.broker.store import Created, IdempotencyConflict, NewJob

MAX_ITEMS = 1000


@dataclass(frozen=True)
class Submission:
    """One item of a bulk call: what a single SubmitJob would carry."""

    source: SpecSource
    idempotency_key: str = ""
    track: str = ""


def submit_jobs(ctx: BrokerContext, items: Sequence[Submission], *,
                tenant: str | None = None) -> list[Created | Exception]:
    """Validate every item, store the valid ones with one durable commit, and return one outcome per item in
    order: Created (possibly a duplicate of an earlier job with the same idempotency key), or the error that
    refused it (SpecError, NoBackendCanRun, IdempotencyConflict). Raises InvalidRequest for an empty call or
    one of more than MAX_ITEMS items."""
    if not items:
        raise InvalidRequest("items", "at least one submission is required")
    if len(items) > MAX_ITEMS:
        raise InvalidRequest("items", f"at most {MAX_ITEMS} submissions per call, got {len(items)}")
    outcomes: list[Created | Exception | None] = []
    valid: list[NewJob] = []
    for item in items:
        try:
            valid.append(prepare_submission(ctx, item.source, idempotency_key=item.idempotency_key,
                                            track=item.track, tenant=tenant))
            outcomes.append(None)  # filled in from the store's outcomes below
        except Exception as exc:  # SpecError, NoBackendCanRun: this item's answer
            outcomes.append(exc)
    stored = iter(ctx.store.create_many(valid) if valid else [])
    news = iter(valid)
    results: list[Created | Exception] = []
    for outcome in outcomes:
        if outcome is not None:
            results.append(outcome)
            continue
        new, created = next(news), next(stored)
        if isinstance(created, Created):
            results.append(submission_stored(ctx, created))
        else:
            if isinstance(created, IdempotencyConflict):
                submission_conflicted(ctx, new)
            results.append(created)
    return results
