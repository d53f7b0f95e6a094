"""Step 6: clean up zombies: backend jobs carrying a broker id whose broker job is terminal or on a newer
attempt (and, with ``reconciler.cancelUnknownJobs``, ids unknown to the store). Pending and running ones are
cancelled (cancel is idempotent)."""

from __future__ import annotations

import logging

from dualtrack.adapters.base import BackendError
from dualtrack.broker.domain import BackendPhase
from dualtrack.broker.reconciler.cycle import Cycle

log = logging.getLogger(__name__)

LIVE = (BackendPhase.PENDING, BackendPhase.RUNNING)


def clean_zombies(cycle: Cycle, only: set[str] | None = None) -> None:
    """Cancel the zombies on every backend that is up (or only on the backends named in ``only``)."""
    ctx = cycle.ctx
    for backend in ctx.backends:
        if not ctx.snapshots.is_up(backend.name) or (only is not None and backend.name not in only):
            continue
        try:
            managed = [m for m in backend.managed() if m.phase in LIVE]
        except BackendError as exc:
            cycle.errors.append(f"zombies {backend.name}: {exc}")
            continue
        if not managed:
            continue
        known = ctx.store.get_many([m.job_id for m in managed])
        for item in managed:
            job = known.get(item.job_id)
            if job is not None and not job.state.terminal and job.attempt == item.attempt:
                continue
            if job is None and not ctx.config.reconciler.cancel_unknown_jobs:
                continue  # maybe another broker's job on a shared cluster
            if job is None:
                why = "unknown to the store"
            elif job.state.terminal:
                why = f"job is {job.state}"
            else:
                why = f"attempt {item.attempt} superseded by {job.attempt}"
            log.info("cancelling zombie %s (%s)", item.ref, why)
            try:
                backend.cancel(item.ref)
            except BackendError as exc:
                cycle.errors.append(f"zombie cancel {item.ref}: {exc}")
