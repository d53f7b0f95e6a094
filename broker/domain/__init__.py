"""Pure data types every part of dualtrack shares: spec, job, states, snapshot, placement, explanation.

A leaf: it imports nothing else of the project (only the standard library, pydantic and PyYAML), so
``adapters/`` and ``policies/`` may import it without pulling in gRPC, SQLAlchemy or the broker.
"""

from dualtrack.broker.domain.backend import BackendPhase, BackendRef, FailureKind, Feature, ManagedJob, Observed
from dualtrack.broker.domain.job import (
    TERMINAL_STATES,
    TRANSITIONS,
    EventType,
    InvalidTransition,
    Job,
    JobEvent,
    JobState,
    backend_object_name,
    can_transition,
    new_job_id,
    parse_backend_object_name,
)
from dualtrack.broker.domain.migration import MigrationRequest
from dualtrack.broker.domain.placement import (
    CandidateEvaluation,
    EncodedExplanation,
    Explanation,
    FilterStatus,
    FilterVerdict,
    Placement,
    ScoreRecord,
)
from dualtrack.broker.domain.snapshot import (
    ClusterSnapshot,
    ControllerHealth,
    GpuGroup,
    NodeCapacity,
    PoolCapacity,
    Switch,
)
from dualtrack.broker.domain.spec import FieldIssue, JobSpec, SpecError, TrainingSpec, parse_spec, parse_spec_yaml

__all__ = [
    "TERMINAL_STATES",
    "TRANSITIONS",
    "BackendPhase",
    "BackendRef",
    "CandidateEvaluation",
    "ClusterSnapshot",
    "ControllerHealth",
    "EncodedExplanation",
    "EventType",
    "Explanation",
    "FailureKind",
    "Feature",
    "FieldIssue",
    "FilterStatus",
    "FilterVerdict",
    "GpuGroup",
    "InvalidTransition",
    "Job",
    "JobEvent",
    "JobSpec",
    "JobState",
    "ManagedJob",
    "MigrationRequest",
    "NodeCapacity",
    "Observed",
    "Placement",
    "PoolCapacity",
    "ScoreRecord",
    "SpecError",
    "Switch",
    "TrainingSpec",
    "backend_object_name",
    "can_transition",
    "new_job_id",
    "parse_backend_object_name",
    "parse_spec",
    "parse_spec_yaml",
]
