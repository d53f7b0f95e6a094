"""The ``policies:`` block of the broker config as written (docs/policies.md, "Configuration reference"): a
frozen pydantic model that checks every key and reports every problem with its path.

Caller: ``policies.config.PolicyConfig.from_mapping``, which turns a validated ``PolicySettings`` into the
``PolicyConfig`` the engine reads (profile weights merged with the given ones). Profiles and score plugins are
looked up when a value is checked (``policies.profiles`` imports the plugins, which import ``policies.config``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StrictStr

from dualtrack.broker.domain.settings_model import NonEmptyStr, Number, SettingsModel, number_value

NonNegative = Annotated[Number, Field(ge=0)]
Positive = Annotated[Number, Field(gt=0)]


def _count(value: Any) -> int:
    number = number_value(value)
    if number < 0:
        raise ValueError("must be >= 0")
    if number != int(number):
        raise ValueError("must be a whole number")
    return int(number)


def _profile(name: str) -> str:
    from dualtrack.policies.profiles import PROFILES

    if name not in PROFILES:
        raise ValueError(f"{name!r} is not one of {', '.join(sorted(PROFILES))}")
    return name


def _score_plugin(name: str) -> str:
    from dualtrack.policies.profiles import SCORE_PLUGINS

    if name not in SCORE_PLUGINS:
        raise ValueError(f"unknown score plugin (known: {', '.join(sorted(SCORE_PLUGINS))})")
    return name


Count = Annotated[int, BeforeValidator(_count)]
ScorePluginName = Annotated[StrictStr, AfterValidator(_score_plugin)]


class TenantSettings(SettingsModel):
    """``policies.tenants.<tenant>``: limits over both tracks (absent = unlimited) and the DRF weight."""

    max_gpus: Count | None = None
    max_running_jobs: Count | None = None
    weight: Positive = 1.0
    pools: dict[StrictStr, NonEmptyStr] = Field(default_factory=dict)  # backend -> its pool


class DatasetSettings(SettingsModel):
    """``policies.datasets.<name>``: its size and where copies already live (backend -> PVC or path)."""

    size_bytes: NonNegative
    locations: dict[StrictStr, NonEmptyStr] = Field(default_factory=dict)


class BandwidthSettings(SettingsModel):
    """``policies.bandwidth``: bytes/s to stage data, by default and per backend."""

    default: Positive = 1.25e9  # 10 Gbit/s
    backends: dict[StrictStr, Positive] = Field(default_factory=dict)


class PolicySettings(SettingsModel):
    """The whole ``policies:`` block; every key optional (docs/policies.md has the defaults' reasons)."""

    profile: Annotated[NonEmptyStr, AfterValidator(_profile)] = "default"
    weights: dict[ScorePluginName, NonNegative] = Field(default_factory=dict)  # override the profile's
    track_preference: dict[StrictStr, Literal["kubernetes", "slurm"]] = Field(default_factory=dict)
    tenants: dict[StrictStr, TenantSettings] = Field(default_factory=dict)
    datasets: dict[StrictStr, DatasetSettings] = Field(default_factory=dict)
    bandwidth: BandwidthSettings = Field(default_factory=BandwidthSettings)
    image_conversion_seconds: NonNegative = 120.0
    assumed_job_seconds: NonNegative = 3600.0
    start_half_score_seconds: Positive = 3600.0
    staging_half_score_seconds: Positive = 600.0
    queue_after_seconds: NonNegative | None = 3600.0
