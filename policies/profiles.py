"""Profiles: which filters run, in which order, and the default weights of the score plugins.

The explicit name -> class maps below are the only way a plugin enters the engine (no import-time
registration). Adding a policy: write one module under policies/plugins/, add one line to FILTER_PLUGINS or
SCORE_PLUGINS, and switch it on with one config line (``policies.weights.<name>: 1``) or in a profile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import FilterPlugin, ScorePlugin
from dualtrack.policies.plugins.capacity import GangCapacity
from dualtrack.policies.plugins.choice import ExplicitChoice
from dualtrack.policies.plugins.data_locality import DataLocalityScore
from dualtrack.policies.plugins.expected_start import ExpectedStartScore
from dualtrack.policies.plugins.fair_share import FairShareScore
from dualtrack.policies.plugins.features import SupportedFeatures
from dualtrack.policies.plugins.health import BackendHealth
from dualtrack.policies.plugins.pool import PoolLimits
from dualtrack.policies.plugins.queueing import CapacityOrQueue
from dualtrack.policies.plugins.quota import TenantQuota
from dualtrack.policies.plugins.topology import TopologyScore
from dualtrack.policies.plugins.track_preference import TrackPreferenceScore

FILTER_PLUGINS: Mapping[str, Callable[[PolicyConfig], FilterPlugin]] = MappingProxyType(
    {
        BackendHealth.name: BackendHealth,
        ExplicitChoice.name: ExplicitChoice,
        SupportedFeatures.name: SupportedFeatures,
        PoolLimits.name: PoolLimits,
        GangCapacity.name: GangCapacity,
        CapacityOrQueue.name: CapacityOrQueue,
        TenantQuota.name: TenantQuota,
    }
)

SCORE_PLUGINS: Mapping[str, Callable[[PolicyConfig], ScorePlugin]] = MappingProxyType(
    {
        TopologyScore.name: TopologyScore,
        ExpectedStartScore.name: ExpectedStartScore,
        DataLocalityScore.name: DataLocalityScore,
        FairShareScore.name: FairShareScore,
        TrackPreferenceScore.name: TrackPreferenceScore,
    }
)


@dataclass(frozen=True)
class Profile:
    filters: tuple[str, ...]  # run in this order; backendHealth first (a gate)
    weights: Mapping[str, float]  # score plugin -> default weight; config weights override or add


_ALL_FILTERS = ("backendHealth", "explicitChoice", "features", "pool", "capacity", "quota")

PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        # Earliest expected start first (weight 3), then the tightest topology (2).
        "default": Profile(
            _ALL_FILTERS,
            MappingProxyType(
                {"expectedStart": 3.0, "topology": 2.0, "dataLocality": 1.0, "fairShare": 1.0, "trackPreference": 1.0}
            ),
        ),
        # As default, but a job waiting queueAfterSeconds in the broker may queue on a backend that estimates
        # its start (Slurm), so wide gangs get the backend's reservation instead of starving (capacityOrQueue).
        "queueing": Profile(
            ("backendHealth", "explicitChoice", "features", "pool", "capacityOrQueue", "quota"),
            MappingProxyType(
                {"expectedStart": 3.0, "topology": 2.0, "dataLocality": 1.0, "fairShare": 1.0, "trackPreference": 1.0}
            ),
        ),
        # Pack gangs as tightly as possible; start time only breaks near-ties.
        "binpack": Profile(
            _ALL_FILTERS,
            MappingProxyType({"topology": 3.0, "expectedStart": 1.0, "dataLocality": 1.0, "trackPreference": 1.0}),
        ),
    }
)
