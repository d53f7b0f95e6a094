"""Filter ``backendHealth``: a backend whose snapshot could not be taken is UNSCHEDULABLE (it may come back).

A gate: when it fails, no later filter runs (a down backend's snapshot is empty, not informative).
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import Job
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import FilterResult


class BackendHealth:
    name: ClassVar[str] = "backendHealth"
    gate: ClassVar[bool] = True

    def __init__(self, config: PolicyConfig):
        self.config = config

    def filter(self, job: Job, candidate: Candidate) -> FilterResult:
        if not candidate.snapshot.healthy:
            return FilterResult.unschedulable(f"backend down: {candidate.snapshot.error or 'unreachable'}")
        return FilterResult.ok()
