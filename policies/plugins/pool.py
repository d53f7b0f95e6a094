"""Filter ``pool``: the limits of a Slurm partition / Volcano queue candidate (backends without pools pass).

- the pool is not in the snapshot: UNRESOLVABLE (config names a pool the backend does not have);
- the job's time limit exceeds the pool's maximum: UNRESOLVABLE;
- the gang alone exceeds the pool's GPU cap: UNRESOLVABLE;
- the pool is closed (partition not UP, queue not Open): UNSCHEDULABLE;
- allocated GPUs (snapshot + assumed this cycle) + the gang exceed the cap: UNSCHEDULABLE.
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import Job
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import FilterResult


class PoolLimits:
    name: ClassVar[str] = "pool"
    gate: ClassVar[bool] = False

    def __init__(self, config: PolicyConfig):
        self.config = config

    def filter(self, job: Job, candidate: Candidate) -> FilterResult:
        if candidate.pool_name is None:
            return FilterResult.ok()
        pool = candidate.pool
        if pool is None:
            return FilterResult.unresolvable(f"{candidate.backend} has no pool {candidate.pool_name}")
        spec = job.spec.spec
        gang = spec.resources.total_gpus
        if pool.max_time_s is not None and spec.time_limit > pool.max_time_s:
            return FilterResult.unresolvable(
                f"{pool.kind} {pool.name}: time limit {spec.time_limit} s exceeds its maximum {pool.max_time_s} s"
            )
        if pool.gpu_limit is not None and gang > pool.gpu_limit:
            return FilterResult.unresolvable(
                f"{pool.kind} {pool.name}: gang of {gang} GPUs exceeds its cap {pool.gpu_limit}"
            )
        if not pool.open:
            return FilterResult.unschedulable(f"{pool.kind} {pool.name} is closed")
        if pool.gpu_limit is not None:
            allocated = candidate.session.pool_gpus(candidate.backend, pool.name)
            if allocated + gang > pool.gpu_limit:
                return FilterResult.unschedulable(
                    f"{pool.kind} {pool.name}: {allocated} GPUs allocated + {gang} > cap {pool.gpu_limit}"
                )
        return FilterResult.ok()
