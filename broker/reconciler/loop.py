"""The reconciler loop: APScheduler runs ``run_cycle`` every ``intervalSeconds`` (and at once when woken by
a submission or cancel); only the holder of the ``reconciler`` lease in the store runs the steps, so several
broker replicas on one PostgreSQL never dispatch the same job twice and another takes over when one dies."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from broker.context import BrokerContext
from broker.domain import ClusterSnapshot
from broker.reconciler.cycle import ACTIVE_STATES, Cycle
from broker.reconciler.dispatch import dispatch_placed
from broker.reconciler.limits import enforce_time_limits
from broker.reconciler.observe import observe_backends
from broker.reconciler.place import place_accepted
from broker.reconciler.reroute import reroute_stuck
from broker.reconciler.zombies import clean_zombies

log = logging.getLogger(__name__)
LEASE = "reconciler"
JOB_ID = "reconcile"


@dataclass
class CycleReport:
    leader: bool
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(self, ctx: BrokerContext, *, holder: str | None = None, zombie_interval: float = 10.0):
        self.ctx = ctx
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dispatch")
        self._scheduler: BackgroundScheduler | None = None
        self._cycle_lock = threading.Lock()
        self._woken = threading.Event()
        self._zombie_interval = zombie_interval
        self._last_zombies = 0.0
        self.is_leader = False
        self.steps: list[tuple[str, Callable[[Cycle], None]]] = [
            ("place", place_accepted),
            ("dispatch", lambda c: dispatch_placed(c, self._pool)),
            ("observe", observe_backends),
            ("limits", enforce_time_limits),
            ("reroute", reroute_stuck),
            ("zombies", self._zombies_step),
        ]

    def _zombies_step(self, cycle: Cycle) -> None:
        if cycle.now - self._last_zombies >= self._zombie_interval:
            self._last_zombies = cycle.now
            clean_zombies(cycle)

    # -- one cycle -------------------------------------------------------------------------------
    def run_cycle(self) -> CycleReport:
        """Run the numbered steps once if this replica holds the lease. Never raises."""
        with self._cycle_lock:
            self._woken.clear()
            started = time.perf_counter()
            ttl = self.ctx.config.reconciler.leader_lease_seconds
            try:
                self.is_leader = self.ctx.store.try_acquire_lease(LEASE, self.holder, ttl)
            except Exception as exc:  # the store may be briefly unreachable
                log.warning("lease check failed: %s", exc)
                self.is_leader = False
            if not self.is_leader:
                # followers keep their capacity view fresh for submit-time checks, explain and ListBackends
                self._timed("snapshot", lambda: self.ctx.snapshots.refresh())
                return CycleReport(leader=False)
            snapshots = self._timed("snapshot", self._refresh_snapshots)
            fresh = snapshots if isinstance(snapshots, dict) else self.ctx.snapshots.latest()
            cycle = Cycle(self.ctx, self.ctx.clock(), fresh, self.ctx.store.active(ACTIVE_STATES))
            for name, step in self.steps:
                self._timed(name, lambda step=step: step(cycle))  # type: ignore[misc]
            return CycleReport(leader=True, seconds=time.perf_counter() - started, errors=cycle.errors)

    def _refresh_snapshots(self) -> dict[str, ClusterSnapshot]:
        snapshots = self.ctx.snapshots.refresh()
        for snapshot in snapshots.values():
            self.ctx.metrics.observe_snapshot(snapshot)
        for name, health in self.ctx.snapshots.health().items():
            self.ctx.metrics.backend_up(name, health.up)
        return snapshots

    def _timed(self, step: str, fn: Callable[[], object]) -> object:
        started = time.perf_counter()
        error = False
        try:
            return fn()
        except Exception:  # a failing step must not stop the loop
            error = True
            log.exception("reconciler step %s failed", step)
            return None
        finally:
            self.ctx.metrics.reconciler_step(step, time.perf_counter() - started, error)

    # -- scheduling ------------------------------------------------------------------------------
    def _run_scheduled(self) -> None:
        report = self.run_cycle()
        # a wake-up that arrived during the cycle runs the next cycle now rather than after the interval
        while self._woken.is_set() and report.leader and not self.ctx.stopping.is_set():
            report = self.run_cycle()

    def start(self) -> None:
        interval = self.ctx.config.reconciler.interval_seconds
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(self._run_scheduled, "interval", seconds=interval, id=JOB_ID, max_instances=1,
                          coalesce=True, next_run_time=datetime.now(UTC), misfire_grace_time=None)
        scheduler.start()
        self._scheduler = scheduler
        self.ctx.wake_reconciler = self.wake

    def wake(self) -> None:
        """Ask for a cycle soon (coalesced: many wake-ups during one cycle give one more cycle)."""
        if self._woken.is_set():
            return
        self._woken.set()
        scheduler = self._scheduler
        if scheduler is not None and not self._cycle_lock.locked():
            try:
                scheduler.modify_job(JOB_ID, next_run_time=datetime.now(UTC))
            except Exception:  # the scheduler is shutting down
                pass

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            self.ctx.store.release_lease(LEASE, self.holder)
        except Exception:
            pass
