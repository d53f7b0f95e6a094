"""Topology-aware GPU capacity: the per-snapshot indexes and the gang fit built on them."""

from dualtrack.policies.capacity.fit import GangFit, GangRequest, fit_gang
from dualtrack.policies.capacity.index import ScopeIndex, SnapshotIndex, TypeIndex
from dualtrack.policies.capacity.tree import Tier

__all__ = ["GangFit", "GangRequest", "ScopeIndex", "SnapshotIndex", "Tier", "TypeIndex", "fit_gang"]
