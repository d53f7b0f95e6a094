"""Filter ``capacity``: does the gang fit the candidate's free GPUs now, and could it ever?

Reads ``candidate.fit()`` (policies.capacity.fit): UNRESOLVABLE when the GPU type is absent, a worker needs more
GPUs than any node has, the gang exceeds the whole scope, or a *hard* topology tier can never hold it;
UNSCHEDULABLE when it does not fit in the free capacity now (within the hard tier, if any); OK otherwise, with
the tier it fits in.
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import FilterStatus, Job
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import FilterResult


class GangCapacity:
    name: ClassVar[str] = "capacity"
    gate: ClassVar[bool] = False

    def __init__(self, config: PolicyConfig):
        self.config = config

    def filter(self, job: Job, candidate: Candidate) -> FilterResult:
        fit = candidate.fit()
        if fit.status is FilterStatus.OK:
            return FilterResult.ok(f"fits in {fit.tier} tier ({fit.gpu_type})")
        return FilterResult(fit.status, fit.reason)
