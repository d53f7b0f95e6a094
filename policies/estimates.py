"""Time estimates several plugins share: staging the datasets, converting the image, waiting for the backlog.

All pure functions of (job, candidate, config); seconds throughout.

- staging: the bytes of the job's registered datasets that the backend has no copy of, over the bandwidth to
  that backend (``bandwidth.backends.<name>``, else ``bandwidth.default``). Unregistered datasets cost nothing
  and are named in the detail.
- image: a Slurm-track backend whose snapshot lacks the job's image digest must convert it to a SIF first
  (``imageConversionSeconds``); a job without a resolved digest is assumed to need it. Kubernetes runs the
  image itself: 0.
- backlog: the backend's own start estimate for this job where the context has one (``sbatch --test-only``),
  else the pending GPU-seconds ahead of the job over the scope's GPUs (a pool: its pending demand, in
  GPU-seconds or, when the backend gives only pending GPUs, those times ``assumedJobSeconds``, over its GPU cap).
- expected start = backlog wait + staging + image conversion (the broker stages and converts before it submits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dualtrack.broker.domain import Job
from dualtrack.broker.domain.image import digest_of
from dualtrack.policies.config import PolicyConfig

if TYPE_CHECKING:
    from dualtrack.policies.candidates import Candidate


@dataclass(frozen=True)
class Staging:
    seconds: float
    missing_bytes: float
    detail: str


@dataclass(frozen=True)
class StartEstimate:
    wait: float
    staging: float
    image: float
    detail: str

    @property
    def total(self) -> float:
        return self.wait + self.staging + self.image


def staging(job: Job, backend: str, config: PolicyConfig) -> Staging:
    missing = 0.0
    absent: list[str] = []
    unknown: list[str] = []
    for name in job.spec.spec.datasets:
        dataset = config.datasets.get(name)
        if dataset is None:
            unknown.append(name)
        elif backend not in dataset.locations:
            missing += dataset.size_bytes
            absent.append(name)
    bandwidth = config.bandwidth_to(backend)
    seconds = missing / bandwidth
    parts = []
    if absent:
        parts.append(f"stage {', '.join(absent)}: {missing:.3g} B / {bandwidth:.3g} B/s = {seconds:.0f} s")
    elif job.spec.spec.datasets:
        parts.append("datasets present")
    if unknown:
        parts.append(f"not in the dataset registry: {', '.join(unknown)}")
    return Staging(seconds, missing, "; ".join(parts) or "no datasets")


def image_seconds(job: Job, candidate: Candidate, config: PolicyConfig) -> float:
    converts = candidate.info.converts_images
    if not (converts if converts is not None else candidate.track == "slurm"):
        return 0.0
    digest = digest_of(job.image_ref) if job.image_ref else None
    if digest is not None and digest in candidate.snapshot.images:
        return 0.0
    return config.image_conversion_seconds


def backlog_seconds(job: Job, candidate: Candidate, config: PolicyConfig) -> tuple[float, str]:
    ctx = candidate.session.ctx
    estimate = ctx.start_estimates.get((job.id, candidate.backend))
    if estimate is not None:
        wait = max(0.0, estimate - ctx.now)
        return wait, f"backend estimate {wait:.0f} s"
    pool = candidate.pool
    scope_gpus = 0
    if candidate.index is not None:
        scope_gpus = sum(t.total_gpus for t in candidate.index.scope(candidate.pool_name).types.values())
    if pool is not None:
        pending = pool.pending_gpu_seconds or pool.pending_gpus * config.assumed_job_seconds
        capacity = min(pool.gpu_limit, scope_gpus) if pool.gpu_limit is not None else scope_gpus
    else:
        pending = candidate.snapshot.pending_gpu_seconds
        capacity = scope_gpus
    if pending <= 0:
        return 0.0, "no backlog"
    if capacity <= 0:
        return 0.0, "backlog without GPUs ignored"
    wait = pending / capacity
    return wait, f"backlog {pending:.3g} GPU-s / {capacity} GPUs = {wait:.0f} s"


def expected_start(job: Job, candidate: Candidate) -> StartEstimate:
    config = candidate.session.config
    wait, wait_detail = backlog_seconds(job, candidate, config)
    stage = staging(job, candidate.backend, config)
    image = image_seconds(job, candidate, config)
    detail = f"{wait_detail} + staging {stage.seconds:.0f} s + image {image:.0f} s"
    return StartEstimate(wait, stage.seconds, image, detail)
