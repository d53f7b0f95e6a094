"""What the broker hands the placement engine each cycle, and what it gets back.

Caller: the broker's handlers (``place`` at submit) and reconciler (``place_batch`` each cycle). All values are
frozen: the engine never changes them (batch bookkeeping lives in ``policies.session``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dualtrack.broker.domain import ClusterSnapshot, Explanation, Feature, FilterStatus, Placement


def _empty() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True)
class BackendInfo:
    """The static facts of one configured backend (from its adapter)."""

    name: str
    track: str  # "kubernetes" | "slurm"
    kind: str  # "volcano" | "slurm" | "inmemory"
    unsupported: Mapping[Feature, str] = field(default_factory=lambda: MappingProxyType({}))
    # runs jobs from a SIF converted from the job's image; None: assume so for the slurm track
    converts_images: bool | None = None
    # dataset names the backend can mount at /datasets/<name>; None: any (a PVC named after the dataset)
    datasets: frozenset[str] | None = None


@dataclass(frozen=True)
class TenantUsage:
    """Per tenant, summed over BOTH tracks: GPUs and jobs of jobs placed, submitted, queued or running."""

    gpus: Mapping[str, int] = field(default_factory=_empty)
    running_jobs: Mapping[str, int] = field(default_factory=_empty)


@dataclass(frozen=True)
class PlacementContext:
    """One decision cycle's view of the world: one snapshot per backend, taken once."""

    now: float
    snapshots: Mapping[str, ClusterSnapshot]
    backends: Mapping[str, BackendInfo]
    usage: TenantUsage = field(default_factory=TenantUsage)
    # (job_id, backend) -> epoch seconds the backend itself expects the job to start (sbatch --test-only)
    start_estimates: Mapping[tuple[str, str], float] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Decision:
    """The engine's answer for one job.

    ``status`` OK: ``placement`` is set. UNSCHEDULABLE: nothing fits now; keep the job and retry next cycle.
    UNRESOLVABLE: no backend can ever run it; the broker refuses it (FAILED_PRECONDITION with each backend's
    reason, found in ``explanation.candidates[*].reasons``). ``explanation`` is always set.
    """

    job_id: str
    status: FilterStatus
    placement: Placement | None
    explanation: Explanation

    @property
    def reasons(self) -> dict[str, list[str]]:
        """Backend (``backend/pool`` for pools) -> the reasons it was filtered out."""
        out: dict[str, list[str]] = {}
        for candidate in self.explanation.candidates:
            key = candidate.backend if candidate.pool is None else f"{candidate.backend}/{candidate.pool}"
            if candidate.reasons:
                out[key] = candidate.reasons
        return out
