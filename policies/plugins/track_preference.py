"""Score ``trackPreference``: 100 on the track the tenant prefers (``trackPreference.<tenant>``, else
``trackPreference."*"``), 0 on the other; 100 everywhere when there is no preference (neutral)."""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import Job
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import RawScore


class TrackPreferenceScore:
    name: ClassVar[str] = "trackPreference"

    def __init__(self, config: PolicyConfig):
        self.config = config

    def score(self, job: Job, candidate: Candidate) -> RawScore:
        preferred = self.config.preferred_track(job.tenant)
        if preferred is None:
            return RawScore(100.0, "no preference")
        if preferred == candidate.track:
            return RawScore(100.0, f"tenant {job.tenant} prefers {preferred}")
        return RawScore(0.0, f"tenant {job.tenant} prefers {preferred}, not {candidate.track}")
