"""The ``policies:`` section of the broker config, validated once into a frozen ``PolicyConfig``.

Callers: the broker, at start-up: ``PolicyConfig.from_mapping(config.policies)``, and ``broker.config_sections``
when the configuration is loaded. The block as written is ``policies.config_model.PolicySettings``; a bad block
raises ``SettingsError`` (a ValueError) listing every problem with its dotted path, e.g.
``policies.weights.dataLocality: must be >= 0``. docs/policies.md is the reference of every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dualtrack.broker.domain.settings_model import validate_block
from dualtrack.policies.config_model import PolicySettings

TRACKS = ("kubernetes", "slurm")
ANY_TENANT = "*"  # trackPreference key that applies to every tenant without its own entry

DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"topology": 2.0, "expectedStart": 3.0, "dataLocality": 1.0, "fairShare": 1.0, "trackPreference": 1.0}
)


@dataclass(frozen=True)
class TenantPolicy:
    """Limits of one tenant, counted over both tracks; ``None`` = unlimited."""

    max_gpus: int | None = None
    max_running_jobs: int | None = None
    weight: float = 1.0  # DRF weight: a tenant of weight 2 may hold twice the share before yielding
    pools: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # backend -> its pool


_UNLIMITED = TenantPolicy()  # a tenant the config does not name (immutable: shared)


@dataclass(frozen=True)
class Dataset:
    """A registered dataset: its size and where copies already live (backend -> PVC or path)."""

    name: str
    size_bytes: float
    locations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class PolicyConfig:
    """Everything the placement engine reads from config. Build it with ``from_mapping``."""

    profile: str = "default"
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    track_preference: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    tenants: Mapping[str, TenantPolicy] = field(default_factory=lambda: MappingProxyType({}))
    datasets: Mapping[str, Dataset] = field(default_factory=lambda: MappingProxyType({}))
    default_bandwidth: float = 1.25e9  # bytes/s: 10 Gbit/s
    backend_bandwidth: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    image_conversion_seconds: float = 120.0
    assumed_job_seconds: float = 3600.0  # a pending job whose backend gives no duration is assumed this long
    start_half_score_seconds: float = 3600.0  # expectedStart scores 50 at this wait
    staging_half_score_seconds: float = 600.0  # dataLocality scores 50 at this staging time
    queue_after_seconds: float | None = 3600.0  # capacityOrQueue: waited this long, a job may queue (None: never)

    def tenant(self, name: str) -> TenantPolicy:
        return self.tenants.get(name) or _UNLIMITED  # the engine asks for every job and candidate

    def bandwidth_to(self, backend: str) -> float:
        return self.backend_bandwidth.get(backend, self.default_bandwidth)

    def preferred_track(self, tenant: str) -> str | None:
        return self.track_preference.get(tenant) or self.track_preference.get(ANY_TENANT)

    @staticmethod
    def from_mapping(data: Mapping[str, Any] | None, prefix: str = "policies") -> PolicyConfig:
        """Validate the ``policies:`` mapping (None or {} = all defaults). Raises SettingsError (a ValueError)
        listing every bad key under ``prefix``."""
        return from_settings(validate_block(PolicySettings, data, prefix))


def from_settings(s: PolicySettings) -> PolicyConfig:
    """The engine's view of a validated block: the profile's weights with the given ones laid over them."""
    from dualtrack.policies.profiles import PROFILES  # profiles import the plugins, which import this module

    def frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
        return MappingProxyType(dict(mapping))

    return PolicyConfig(
        profile=s.profile,
        weights=frozen({**PROFILES[s.profile].weights, **s.weights}),
        track_preference=frozen(s.track_preference),
        tenants=frozen({name: TenantPolicy(t.max_gpus, t.max_running_jobs, t.weight, frozen(t.pools))
                        for name, t in s.tenants.items()}),
        datasets=frozen({name: Dataset(name, d.size_bytes, frozen(d.locations)) for name, d in s.datasets.items()}),
        default_bandwidth=s.bandwidth.default,
        backend_bandwidth=frozen(s.bandwidth.backends),
        image_conversion_seconds=s.image_conversion_seconds,
        assumed_job_seconds=s.assumed_job_seconds,
        start_half_score_seconds=s.start_half_score_seconds,
        staging_half_score_seconds=s.staging_half_score_seconds,
        queue_after_seconds=s.queue_after_seconds,
    )
