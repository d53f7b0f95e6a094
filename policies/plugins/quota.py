"""Filter ``quota``: per-tenant limits counted over both tracks (``tenants.<name>.maxGpus / maxRunningJobs``).

Usage = the context's TenantUsage (jobs placed, submitted, queued or running on any backend) plus what this
cycle already assumed. Over a limit: UNSCHEDULABLE (the tenant waits while others proceed). A gang larger than
``maxGpus`` on its own: UNRESOLVABLE (it could never start under that quota).
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import Job
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import FilterResult


class TenantQuota:
    name: ClassVar[str] = "quota"
    gate: ClassVar[bool] = False

    def __init__(self, config: PolicyConfig):
        self.config = config

    def filter(self, job: Job, candidate: Candidate) -> FilterResult:
        tenant = job.tenant
        limits = self.config.tenant(tenant)
        gang = job.spec.spec.resources.total_gpus
        session = candidate.session
        if limits.max_gpus is not None:
            if gang > limits.max_gpus:
                return FilterResult.unresolvable(
                    f"tenant {tenant}: gang of {gang} GPUs exceeds maxGpus {limits.max_gpus}"
                )
            held = session.tenant_gpus(tenant)
            if held + gang > limits.max_gpus:
                return FilterResult.unschedulable(
                    f"tenant {tenant} over quota: {held} GPUs in use + {gang} requested > maxGpus {limits.max_gpus}"
                )
        if limits.max_running_jobs is not None:
            jobs = session.tenant_jobs(tenant)
            if jobs + 1 > limits.max_running_jobs:
                return FilterResult.unschedulable(
                    f"tenant {tenant} over quota: {jobs} jobs running + 1 > maxRunningJobs {limits.max_running_jobs}"
                )
        return FilterResult.ok()
