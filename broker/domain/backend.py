"""Values that cross the adapter boundary: references to backend jobs, observations, features.

The ``Backend`` Protocol itself lives in ``adapters/base.py``; these types live here because the broker's
store and reconciler hold them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Feature(StrEnum):
    """Job features a backend may not support; adapters list the ones they lack with a reason."""

    GANG = "gang"
    TOPOLOGY_NODE = "topology.node"
    TOPOLOGY_SWITCH = "topology.switch"
    GPU_TYPE = "gpuType"
    DATASET_VOLUMES = "datasets"
    TIME_LIMIT = "timeLimit"
    MULTI_WORKER = "multiWorker"


@dataclass(frozen=True)
class BackendRef:
    """Where one attempt of a job lives: backend name, the object name ``dt-<id>-<attempt>``, native id.

    ``native_id`` is the Slurm job id or ``namespace/name`` of a vcjob.
    """

    backend: str
    name: str
    native_id: str

    def __str__(self) -> str:
        return f"{self.backend}:{self.native_id}"


class BackendPhase(StrEnum):
    """What a backend says of one of its jobs, mapped from its native states."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    MISSING = "MISSING"  # the backend does not know the job (never arrived, or purged)


class FailureKind(StrEnum):
    """Why a backend job failed; the broker's retry policy reads this."""

    USER = "user"  # the program exited non-zero: not retried unless the spec asks
    INFRA = "infra"  # node failure, preemption, eviction, boot failure: retried
    TIMEOUT = "timeout"  # over its time limit: not retried
    OUT_OF_MEMORY = "oom"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Observed:
    """One observation of a backend job."""

    ref: BackendRef
    phase: BackendPhase
    native_state: str = ""
    reason: str = ""
    exit_code: int | None = None
    failure: FailureKind | None = None
    started_at: float | None = None
    finished_at: float | None = None
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ManagedJob:
    """A backend object carrying a broker job id (found by label / job name); used for crash recovery."""

    ref: BackendRef
    job_id: str
    attempt: int
    phase: BackendPhase
