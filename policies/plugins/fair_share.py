"""Score ``fairShare``: prefer the candidate that keeps the most of its share free after this placement.

    pool with a GPU cap:  raw = 100 x (cap - allocated - gang) / cap     (allocated includes this cycle's)
    otherwise:            raw = 100 x (free - gang) / total              (GPUs of the gang's type in the scope)

It spreads load between tracks and keeps one burst from exhausting a queue's or partition's share; the
ordering of a batch (priority, then DRF) is the other half of fairness (policies.ordering).
Example: a queue capped at 32 with 8 allocated, gang 8: 100 x (32 - 8 - 8) / 32 = 50.
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import Job
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import RawScore


class FairShareScore:
    name: ClassVar[str] = "fairShare"

    def __init__(self, config: PolicyConfig):
        self.config = config

    def score(self, job: Job, candidate: Candidate) -> RawScore:
        gang = job.spec.spec.resources.total_gpus
        pool = candidate.pool
        if pool is not None and pool.gpu_limit:
            allocated = candidate.session.pool_gpus(candidate.backend, pool.name)
            left = pool.gpu_limit - allocated - gang
            raw = max(0.0, 100.0 * left / pool.gpu_limit)
            cap = pool.gpu_limit
            return RawScore(raw, f"{pool.kind} {pool.name}: 100 x ({cap}-{allocated}-{gang})/{cap}")
        fit = candidate.fit()
        assert candidate.index is not None
        types = candidate.index.scope(candidate.pool_name).types.get(fit.gpu_type or "")
        if types is None or types.total_gpus == 0:
            return RawScore(100.0, "no GPU share involved")
        free = types.free_gpus
        raw = max(0.0, 100.0 * (free - gang) / types.total_gpus)
        return RawScore(raw, f"{fit.gpu_type}: 100 x ({free}-{gang})/{types.total_gpus}")
