"""The latest capacity snapshot of every backend, and each backend's health.

The reconciler refreshes it once per cycle (``refresh``); handlers read ``latest()`` for submit-time checks,
explain and ListBackends. A backend whose snapshot fails ``down_after`` times in a row is marked down (its
snapshot becomes ``ClusterSnapshot.down``) until one succeeds again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from dualtrack.adapters.base import Backend
from dualtrack.adapters.registry import BackendRegistry
from dualtrack.broker.domain import ClusterSnapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendHealth:
    up: bool = True
    consecutive_failures: int = 0
    last_error: str = ""
    since: float = 0.0  # when ``up`` last changed


UNKNOWN_HEALTH = BackendHealth()  # what is_up assumes of a backend never snapshotted (built once: is_up is hot)
HealthListener = Callable[[str, BackendHealth, BackendHealth], None]


class SnapshotCache:
    def __init__(
        self,
        backends: BackendRegistry,
        *,
        down_after: int = 3,
        clock: Callable[[], float] = time.time,
        timeout: float = 20.0,
        executor: Executor | None = None,
    ):
        self._backends = backends
        self._down_after = down_after
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._snapshots: dict[str, ClusterSnapshot] = {}
        self._health: dict[str, BackendHealth] = {b.name: BackendHealth(since=clock()) for b in backends}
        self._listeners: list[HealthListener] = []
        self._generation = 0
        # the backends are asked in parallel; a caller may pass its own executor (the trace replay runs inline)
        self._pool = executor or ThreadPoolExecutor(max_workers=max(1, len(backends)), thread_name_prefix="snapshot")

    def on_health_change(self, listener: HealthListener) -> None:
        """``listener(backend, old, new)`` is called whenever a backend goes down or comes back."""
        self._listeners.append(listener)

    @property
    def generation(self) -> int:
        """Grows by one at every refresh: a cheap key for anything derived from the snapshots."""
        return self._generation

    def latest(self) -> dict[str, ClusterSnapshot]:
        with self._lock:
            return dict(self._snapshots)

    def health(self) -> dict[str, BackendHealth]:
        with self._lock:
            return dict(self._health)

    def is_up(self, name: str) -> bool:
        with self._lock:
            return self._health.get(name, UNKNOWN_HEALTH).up

    def refresh(self) -> dict[str, ClusterSnapshot]:
        """Snapshot every backend in parallel; returns the new map (down backends get a ``down`` snapshot)."""
        futures = {b.name: self._pool.submit(self._take, b) for b in self._backends}
        results: dict[str, ClusterSnapshot | str] = {}
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=self._timeout)
            except Exception as exc:  # any failure to snapshot counts against health
                results[name] = f"{type(exc).__name__}: {exc}"
        return self._record(results)

    def _take(self, backend: Backend) -> ClusterSnapshot:
        return backend.snapshot()

    def _record(self, results: Mapping[str, ClusterSnapshot | str]) -> dict[str, ClusterSnapshot]:
        now = self._clock()
        changes: list[tuple[str, BackendHealth, BackendHealth]] = []
        with self._lock:
            for name, result in results.items():
                old = self._health.get(name, BackendHealth(since=now))
                if isinstance(result, ClusterSnapshot):
                    new = BackendHealth(True, 0, "", old.since if old.up else now)
                    self._snapshots[name] = result
                else:
                    failures = old.consecutive_failures + 1
                    up = failures < self._down_after and old.up
                    new = BackendHealth(up, failures, result, old.since if up == old.up else now)
                    if not up:
                        kind = self._backends.get(name).kind
                        self._snapshots[name] = ClusterSnapshot.down(name, kind, now, result)
                    log.warning("snapshot of %s failed (%d in a row): %s", name, failures, result)
                self._health[name] = new
                if new.up != old.up:
                    changes.append((name, old, new))
            snapshots = dict(self._snapshots)
            self._generation += 1
        for name, old, new in changes:
            for listener in self._listeners:
                listener(name, old, new)
        return snapshots

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
