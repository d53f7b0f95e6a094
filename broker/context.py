"""Everything a handler or the reconciler needs, built once from the configuration.

``BrokerContext`` is a plain container passed to the handler functions (no globals). ``build_context`` is
the one place that turns a ``BrokerConfig`` into live parts: store, backends, policy engine, image service,
metrics and the snapshot cache. Raises ConfigError (with field paths) for invalid sections.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dualtrack.adapters.registry import BackendRegistry, build_backend
from dualtrack.broker.config import BrokerConfig, ConfigError
from dualtrack.broker.domain import FieldIssue, JobState
from dualtrack.broker.domain.image import digest_of
from dualtrack.broker.metrics import BrokerMetrics
from dualtrack.broker.resolvability import ResolvabilityCache
from dualtrack.broker.snapshots import SnapshotCache
from dualtrack.broker.store import SqlJobStore, open_store
from dualtrack.policies import PlacementEngine, PolicyConfig

log = logging.getLogger(__name__)


@dataclass
class BrokerContext:
    config: BrokerConfig
    store: SqlJobStore
    backends: BackendRegistry
    engine: PlacementEngine
    snapshots: SnapshotCache
    metrics: BrokerMetrics
    resolvability: ResolvabilityCache = field(default_factory=ResolvabilityCache)
    images: object | None = None  # broker.images.ImageService when configured (Slurm SIF conversion)
    clock: Callable[[], float] = time.time
    wake_reconciler: Callable[[], None] = lambda: None
    stopping: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        self.stopping.set()
        self.snapshots.close()
        self.backends.close()
        self.store.close()


def build_backends(config: BrokerConfig) -> BackendRegistry:
    registry = BackendRegistry()
    issues = []
    for index, entry in enumerate(config.backends):
        if not entry.enabled:
            continue
        try:
            registry.add(build_backend(entry.name, entry.kind, entry.settings))
        except (ValueError, TypeError) as exc:
            issues.append(FieldIssue(f"backends[{index}]", str(exc)))
        except ImportError as exc:
            issues.append(FieldIssue(f"backends[{index}].kind", f"adapter for {entry.kind!r} not available: {exc}"))
    if issues:
        raise ConfigError("backends", issues)
    return registry


def build_policy_engine(config: BrokerConfig) -> PlacementEngine:
    try:
        return PlacementEngine(PolicyConfig.from_mapping(config.policies))
    except ValueError as exc:
        raise ConfigError("policies", [FieldIssue("policies", str(exc))]) from None


def build_image_service(
    config: BrokerConfig, metrics: BrokerMetrics, in_use: Callable[[], Iterable[str]]
) -> object | None:
    """The image service when an ``images`` section is configured (lazy import: optional tooling).
    Conversions and cache hits feed the metrics; ``in_use`` protects SIFs of queued/running jobs from eviction."""
    if not config.images:
        return None
    try:
        from dualtrack.broker.images import ImageService, ImageSettings
    except ImportError as exc:  # pragma: no cover - the package ships with the broker
        raise ConfigError("images", [FieldIssue("images", f"image service unavailable: {exc}")]) from None
    try:
        return ImageService(
            ImageSettings.from_mapping(config.images),
            on_conversion=lambda _digest, seconds, outcome: metrics.image_conversion(seconds, outcome),
            on_cache_hit=lambda _digest: metrics.image_cache_hit(),
            in_use=in_use,
        )
    except ValueError as exc:
        raise ConfigError("images", [FieldIssue("images", str(exc))]) from None


def _digests_in_use(store: SqlJobStore) -> set[str]:
    states = (JobState.PLACED, JobState.SUBMITTED, JobState.QUEUED, JobState.RUNNING)
    return {d for job in store.active(states) if job.image_ref and (d := digest_of(job.image_ref))}


def build_context(config: BrokerConfig, *, metrics: BrokerMetrics | None = None) -> BrokerContext:
    engine = build_policy_engine(config)
    backends = build_backends(config)
    store = open_store(config.store.resolved_url(), group_commit_max=config.store.group_commit_max)
    metrics = metrics or BrokerMetrics(tenants=set(config.metrics.tenants) | config.auth.tenants())
    images = build_image_service(config, metrics, lambda: _digests_in_use(store))
    metrics.set_job_counts_source(store.counts)
    snapshots = SnapshotCache(backends, down_after=config.reconciler.backend_down_after)
    return BrokerContext(config=config, store=store, backends=backends, engine=engine, snapshots=snapshots,
                         metrics=metrics, images=images)
