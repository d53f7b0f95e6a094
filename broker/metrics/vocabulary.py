"""The closed label vocabularies and histogram buckets of every dualtrack metric.

Series for these values are exported at zero from the first scrape (so dashboards and alerts return data
before the first event). Free-text reasons are folded into ``other`` to keep label cardinality bounded.
"""

from __future__ import annotations

from dualtrack.broker.domain import FailureKind, JobState

PREFIX = "dualtrack"

SUBMISSION_OUTCOMES: tuple[str, ...] = ("accepted", "invalid", "rejected", "duplicate")
PLACEMENT_OUTCOMES: tuple[str, ...] = ("placed", "unschedulable", "unresolvable")
IMAGE_CONVERSION_OUTCOMES: tuple[str, ...] = ("success", "failure")
GPU_STATES: tuple[str, ...] = ("total", "allocated", "free")
JOB_STATES: tuple[str, ...] = tuple(state.value for state in JobState)
TERMINAL_JOB_STATES: tuple[str, ...] = tuple(state.value for state in JobState if state.terminal)

OTHER = "other"
# Why a job left one backend for another (design section 5: pending timeouts, a dead backend, a refusal).
REROUTE_REASONS: tuple[str, ...] = ("pending_timeout", "backend_down", "rejected", "migrate", OTHER)
# Why an attempt is retried: the adapters' FailureKind values plus transient submit trouble.
RETRY_REASONS: tuple[str, ...] = (*(kind.value for kind in FailureKind), "backend_unavailable", OTHER)
# The reconciler's steps, in order (broker/reconciler/loop.py; ``snapshot`` refreshes every backend first).
RECONCILER_STEPS: tuple[str, ...] = ("snapshot", "place", "dispatch", "observe", "limits", "reroute", "migrate",
                                      "zombies")

# Buckets around the 10 s scheduling-latency SLO: fine below it, a few above to show how far off it is.
SCHEDULING_LATENCY_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
)
QUEUE_WAIT_BUCKETS: tuple[float, ...] = (
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0,
)
JOB_DURATION_BUCKETS: tuple[float, ...] = (
    1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 259200.0, 604800.0,
)
IMAGE_CONVERSION_BUCKETS: tuple[float, ...] = (
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
)
RECONCILER_CYCLE_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)
GRPC_LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)


def fold_reason(reason: str, known: tuple[str, ...]) -> str:
    """``reason`` when it is one of ``known``, else ``other``."""
    return reason if reason in known else OTHER


def check_outcome(field: str, value: str, allowed: tuple[str, ...]) -> str:
    """Return ``value``; raise ValueError naming the field when it is not in ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{field}: {value!r} is not one of {', '.join(allowed)}")
    return value
