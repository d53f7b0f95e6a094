"""Filter ``explicitChoice``: the job's own choices, all UNRESOLVABLE when broken (they never change).

- ``spec.placement.track`` other than auto: only backends of that track;
- ``spec.placement.backends`` non-empty: only those backends;
- ``job.excluded_backends``: backends a reroute left are not chosen again for this job.
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import Job
from dualtrack.broker.domain.spec import Track
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import FilterResult


class ExplicitChoice:
    name: ClassVar[str] = "explicitChoice"
    gate: ClassVar[bool] = False

    def __init__(self, config: PolicyConfig):
        self.config = config

    def filter(self, job: Job, candidate: Candidate) -> FilterResult:
        request = job.spec.spec.placement
        if request.track is not Track.AUTO and request.track.value != candidate.track:
            return FilterResult.unresolvable(
                f"the job asks for track {request.track.value}; {candidate.backend} is {candidate.track}"
            )
        if request.backends and candidate.backend not in request.backends:
            return FilterResult.unresolvable(
                f"the job asks for backends {', '.join(request.backends)}; {candidate.backend} is not one"
            )
        if candidate.backend in job.excluded_backends:
            return FilterResult.unresolvable(f"the job left {candidate.backend} by a reroute")
        return FilterResult.ok()
