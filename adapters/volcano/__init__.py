"""The Kubernetes/Volcano track: vcjobs through the official ``kubernetes`` client (issue 4).

Entry point for the registry: ``from_config(name, settings) -> VolcanoBackend``; raises ValueError naming the
bad setting (``backends[<name>].settings.<key>: ...``). Modules: settings (validation), client (API calls,
retries, error mapping), render (the vcjob manifest), snapshot (capacity), observe (phase mapping), backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dualtrack.adapters.volcano.backend import VolcanoBackend
from dualtrack.adapters.volcano.settings import VolcanoSettings, parse_settings

__all__ = ["VolcanoBackend", "VolcanoSettings", "from_config"]


def from_config(name: str, settings: Mapping[str, Any]) -> VolcanoBackend:
    """Build a Volcano backend from its validated settings. Does not contact the cluster."""
    return VolcanoBackend(name, parse_settings(name, settings))
