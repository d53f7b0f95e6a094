"""Score ``dataLocality``: the fewer seconds needed to stage the bytes the backend lacks, the higher.

    seconds = bytes of the job's datasets not on this backend / bandwidth to it   (policies.estimates.staging)
    raw     = 100 x H / (H + seconds),   H = stagingHalfScoreSeconds (default 600)

Example: a 2 TB dataset missing at 1.25 GB/s: 2e12 / 1.25e9 = 1600 s -> 100 x 600 / 2200 = 27.3; present: 100.
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import Job
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.estimates import staging
from dualtrack.policies.framework import RawScore


class DataLocalityScore:
    name: ClassVar[str] = "dataLocality"

    def __init__(self, config: PolicyConfig):
        self.config = config
        self.half = config.staging_half_score_seconds

    def score(self, job: Job, candidate: Candidate) -> RawScore:
        stage = staging(job, candidate.backend, self.config)
        raw = 100.0 * self.half / (self.half + stage.seconds)
        return RawScore(raw, f"{stage.detail}: 100 x {self.half:g}/({self.half:g}+{stage.seconds:.0f})")
