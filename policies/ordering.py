"""The order in which a batch is placed: priority first, then the tenant with the lowest dominant share.

``drf_order(jobs, share)`` is a generator: the caller places each job before asking for the next, so the
share function sees the GPUs assumed for the jobs already placed (DRF re-evaluated after every placement).
Within one tenant and priority, older jobs go first (created_at, then id).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from itertools import groupby

from dualtrack.broker.domain import Job


def drf_order(jobs: Sequence[Job], share: Callable[[str], float]) -> Iterator[Job]:
    by_priority = sorted(jobs, key=lambda j: (-j.spec.spec.priority, j.created_at, j.id))
    for _, group in groupby(by_priority, key=lambda j: j.spec.spec.priority):
        queues: dict[str, deque[Job]] = {}
        for job in group:
            queues.setdefault(job.tenant, deque()).append(job)
        while queues:
            tenant = min(queues, key=lambda t: (share(t), t))
            queue = queues[tenant]
            yield queue.popleft()
            if not queue:
                del queues[tenant]
