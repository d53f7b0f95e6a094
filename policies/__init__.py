"""Placement policies (design section 4): filter -> score -> normalize -> weight -> Placement + Explanation.

Imports only ``broker.domain`` from the project. The broker builds ``PlacementEngine(PolicyConfig.from_mapping(
config.policies))`` once and calls ``place`` (at submit) and ``place_batch`` (each reconcile cycle) with a
``PlacementContext``. docs/policies.md describes the plugins, the config and how to add a policy.
"""

from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.context import BackendInfo, Decision, PlacementContext, TenantUsage
from dualtrack.policies.engine import PlacementEngine
from dualtrack.policies.framework import PluginError

__all__ = [
    "BackendInfo",
    "Decision",
    "PlacementContext",
    "PlacementEngine",
    "PluginError",
    "PolicyConfig",
    "TenantUsage",
]
