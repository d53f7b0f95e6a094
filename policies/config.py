"""The ``policies:`` section of the broker config, validated once into a frozen ``PolicyConfig``.

Caller: the broker, at start-up: ``PolicyConfig.from_mapping(config.policies)``. Every problem raises
``ValueError`` whose message starts with the dotted path of the bad key, e.g.
``policies.weights.dataLocality: must be >= 0``. docs/policies.md is the reference of every key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

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
        return self.tenants.get(name) or TenantPolicy()

    def bandwidth_to(self, backend: str) -> float:
        return self.backend_bandwidth.get(backend, self.default_bandwidth)

    def preferred_track(self, tenant: str) -> str | None:
        return self.track_preference.get(tenant) or self.track_preference.get(ANY_TENANT)

    @staticmethod
    def from_mapping(data: Mapping[str, Any] | None) -> PolicyConfig:
        """Validate the ``policies:`` mapping (None or {} = all defaults). Raises ValueError naming the key."""
        return _parse({} if data is None else data)


# --- validation helpers: each takes the dotted path of the value it checks ---------------------------------

_ROOT = "policies"
_KNOWN_KEYS = frozenset(
    {
        "profile",
        "weights",
        "trackPreference",
        "tenants",
        "datasets",
        "bandwidth",
        "imageConversionSeconds",
        "assumedJobSeconds",
        "startHalfScoreSeconds",
        "stagingHalfScoreSeconds",
        "queueAfterSeconds",
    }
)


def _fail(path: str, message: str) -> ValueError:
    return ValueError(f"{path}: {message}")


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, "must be a mapping")
    for key in value:
        if not isinstance(key, str):
            raise _fail(f"{path}.{key}", "keys must be strings")
    return value


def _number(value: Any, path: str, *, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _fail(path, "must be a number")
    try:
        number = float(value)  # YAML reads 2e12 (no dot) as a string
    except ValueError:
        raise _fail(path, f"must be a number (got {value!r})") from None
    if not math.isfinite(number):
        raise _fail(path, "must be finite")
    if strict and number <= minimum:
        raise _fail(path, f"must be > {minimum:g}")
    if number < minimum:
        raise _fail(path, f"must be >= {minimum:g}")
    return number


def _count(value: Any, path: str) -> int:
    number = _number(value, path)
    if number != int(number):
        raise _fail(path, "must be a whole number")
    return int(number)


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(path, "must be a non-empty string")
    return value


def _unknown_keys(data: Mapping[str, Any], known: frozenset[str], path: str) -> None:
    for key in data:
        if key not in known:
            raise _fail(f"{path}.{key}", f"unknown key (known: {', '.join(sorted(known))})")


def _parse(raw: Any) -> PolicyConfig:
    # Imported here: profiles import the plugins, which import this module for PolicyConfig.
    from dualtrack.policies.profiles import PROFILES, SCORE_PLUGINS

    data = _mapping(raw, _ROOT)
    _unknown_keys(data, _KNOWN_KEYS, _ROOT)
    profile = _text(data.get("profile", "default"), f"{_ROOT}.profile")
    if profile not in PROFILES:
        raise _fail(f"{_ROOT}.profile", f"{profile!r} is not one of {', '.join(sorted(PROFILES))}")

    weights = dict(PROFILES[profile].weights)
    for name, value in _mapping(data.get("weights", {}), f"{_ROOT}.weights").items():
        if name not in SCORE_PLUGINS:
            raise _fail(f"{_ROOT}.weights.{name}", f"unknown score plugin (known: {', '.join(sorted(SCORE_PLUGINS))})")
        weights[name] = _number(value, f"{_ROOT}.weights.{name}")

    preference: dict[str, str] = {}
    for tenant, track in _mapping(data.get("trackPreference", {}), f"{_ROOT}.trackPreference").items():
        if track not in TRACKS:
            raise _fail(f"{_ROOT}.trackPreference.{tenant}", f"must be one of {', '.join(TRACKS)}")
        preference[tenant] = track

    tenants = {
        name: _tenant(value, f"{_ROOT}.tenants.{name}")
        for name, value in _mapping(data.get("tenants", {}), f"{_ROOT}.tenants").items()
    }
    datasets = {
        name: _dataset(name, value, f"{_ROOT}.datasets.{name}")
        for name, value in _mapping(data.get("datasets", {}), f"{_ROOT}.datasets").items()
    }

    bandwidth = _mapping(data.get("bandwidth", {}), f"{_ROOT}.bandwidth")
    _unknown_keys(bandwidth, frozenset({"default", "backends"}), f"{_ROOT}.bandwidth")
    default_bandwidth = _number(bandwidth.get("default", 1.25e9), f"{_ROOT}.bandwidth.default", strict=True)
    per_backend = {
        name: _number(value, f"{_ROOT}.bandwidth.backends.{name}", strict=True)
        for name, value in _mapping(bandwidth.get("backends", {}), f"{_ROOT}.bandwidth.backends").items()
    }

    def seconds(key: str, default: float, *, strict: bool = False) -> float:
        return _number(data.get(key, default), f"{_ROOT}.{key}", strict=strict)

    return PolicyConfig(
        profile=profile,
        weights=MappingProxyType(weights),
        track_preference=MappingProxyType(preference),
        tenants=MappingProxyType(tenants),
        datasets=MappingProxyType(datasets),
        default_bandwidth=default_bandwidth,
        backend_bandwidth=MappingProxyType(per_backend),
        image_conversion_seconds=seconds("imageConversionSeconds", 120.0),
        assumed_job_seconds=seconds("assumedJobSeconds", 3600.0),
        start_half_score_seconds=seconds("startHalfScoreSeconds", 3600.0, strict=True),
        staging_half_score_seconds=seconds("stagingHalfScoreSeconds", 600.0, strict=True),
        queue_after_seconds=None if data.get("queueAfterSeconds", 3600.0) is None
        else seconds("queueAfterSeconds", 3600.0),
    )


def _tenant(raw: Any, path: str) -> TenantPolicy:
    data = _mapping(raw, path)
    _unknown_keys(data, frozenset({"maxGpus", "maxRunningJobs", "weight", "pools"}), path)
    max_gpus = None if data.get("maxGpus") is None else _count(data["maxGpus"], f"{path}.maxGpus")
    max_jobs = None if data.get("maxRunningJobs") is None else _count(data["maxRunningJobs"], f"{path}.maxRunningJobs")
    weight = _number(data.get("weight", 1.0), f"{path}.weight", strict=True)
    pools = {
        backend: _text(pool, f"{path}.pools.{backend}")
        for backend, pool in _mapping(data.get("pools", {}), f"{path}.pools").items()
    }
    return TenantPolicy(max_gpus, max_jobs, weight, MappingProxyType(pools))


def _dataset(name: str, raw: Any, path: str) -> Dataset:
    data = _mapping(raw, path)
    _unknown_keys(data, frozenset({"sizeBytes", "locations"}), path)
    if "sizeBytes" not in data:
        raise _fail(f"{path}.sizeBytes", "required field is missing")
    size = _number(data["sizeBytes"], f"{path}.sizeBytes")
    locations = {
        backend: _text(where, f"{path}.locations.{backend}")
        for backend, where in _mapping(data.get("locations", {}), f"{path}.locations").items()
    }
    return Dataset(name, size, MappingProxyType(locations))
