"""Score ``expectedStart``: the sooner the job can start, the higher.

    start = backlog wait (or the backend's own estimate) + staging + image conversion   (policies.estimates)
    raw   = 100 x H / (H + start),   H = startHalfScoreSeconds (default 3600: one hour of waiting scores 50)

Example: a 10-hour backlog: 100 x 3600 / (3600 + 36000) = 9.1; an idle backend needing a 120 s image
conversion: 100 x 3600 / 3720 = 96.8.
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import Job
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import RawScore


class ExpectedStartScore:
    name: ClassVar[str] = "expectedStart"

    def __init__(self, config: PolicyConfig):
        self.half = config.start_half_score_seconds

    def score(self, job: Job, candidate: Candidate) -> RawScore:
        start = candidate.start()
        raw = 100.0 * self.half / (self.half + start.total)
        arithmetic = f"100 x {self.half:g}/({self.half:g}+{start.total:.0f})"
        return RawScore(raw, f"start in {start.total:.0f} s ({start.detail}): {arithmetic}")
