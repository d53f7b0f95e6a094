"""The submit-time question "could any backend ever run this job?", memoized.

Whether a job is UNRESOLVABLE depends on its shape (resources, topology, placement constraints, time limit,
tenant) and on the backends' snapshots, not on its name, image or command. Submissions of one shape between
two snapshot refreshes share one policy evaluation, so a burst of thousands of submissions pays for a
handful of placements.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from dualtrack.broker.domain import Job, JobSpec, new_job_id
from dualtrack.broker.placement import placement_context, usage_of

if TYPE_CHECKING:
    from dualtrack.broker.context import BrokerContext
    from dualtrack.policies import Decision


def shape_key(spec: JobSpec) -> tuple[object, ...]:
    """Everything of a spec that filters can depend on (pydantic models are hashable when frozen)."""
    body = spec.spec
    return (spec.metadata.tenant, body.resources, body.gang, body.topology, body.placement.track,
            tuple(body.placement.backends), body.time_limit, tuple(body.datasets))


class ResolvabilityCache:
    def __init__(self, max_entries: int = 4096):
        self._lock = threading.Lock()
        self._generation = -1
        self._entries: dict[tuple[object, ...], Decision] = {}
        self._max = max_entries

    def check(self, ctx: BrokerContext, spec: JobSpec) -> Decision:
        """The dry-run decision for a job of this shape against the cached snapshots (no assumptions made)."""
        generation = ctx.snapshots.generation
        key = shape_key(spec)
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
            cached = self._entries.get(key)
        if cached is not None:
            return cached
        context = placement_context(ctx.backends, ctx.snapshots.latest(), usage_of(()), ctx.clock())
        decision = ctx.engine.place(Job(id=new_job_id(), spec=spec), context)
        with self._lock:
            if generation == self._generation and len(self._entries) < self._max:
                self._entries[key] = decision
        return decision
