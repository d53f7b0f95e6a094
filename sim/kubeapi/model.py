"""The Volcano model now lives in ``sim.models.volcano`` (shared with the trace replay, docs/simulation.md).

This module re-exports it so the API simulator's modules and tests keep importing ``sim.kubeapi.model``.
"""

from dualtrack.sim.models.volcano import (
    FAILED,
    GPU,
    PENDING,
    RUNNING,
    SUCCEEDED,
    ClusterModel,
    Gang,
    PodRequest,
    PodResult,
    SimNode,
    SimQueue,
    tolerates,
)

__all__ = ["FAILED", "GPU", "PENDING", "RUNNING", "SUCCEEDED", "ClusterModel", "Gang", "PodRequest", "PodResult",
           "SimNode", "SimQueue", "tolerates"]
