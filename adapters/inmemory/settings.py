"""Validated settings of the in-memory test backend (``kind: inmemory``; docs/configuration.md).

Callers: ``adapters.inmemory.from_config`` and ``broker.config_sections``. ``parse_settings(name, raw, prefix)``
returns ``InMemorySettings`` or raises ``SettingsError`` (a ValueError) listing every bad key with its path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictInt, StrictStr

from dualtrack.broker.domain.settings_model import SettingsModel, StrictNumber, validate_block


class InMemorySettings(SettingsModel):
    """A fake cluster of ``nodes`` identical nodes, ``nodesPerSwitch`` under each switch."""

    track: Literal["kubernetes", "slurm"] = "slurm"
    nodes: StrictInt = Field(default=4, ge=0)
    gpus_per_node: StrictInt = Field(default=8, ge=0)
    gpu_type: StrictStr = "a100"
    nodes_per_switch: StrictInt = Field(default=2, ge=1)
    run_seconds: StrictNumber = Field(default=1.0, ge=0)  # how long every job runs


def parse_settings(backend: str, raw: Any, prefix: str | None = None) -> InMemorySettings:
    """Validate ``raw``; SettingsError paths start with ``prefix`` (default ``backends[<backend>].settings``)."""
    return validate_block(InMemorySettings, raw, f"backends[{backend}].settings" if prefix is None else prefix)
