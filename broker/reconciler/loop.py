"""The reconciler loop: APScheduler runs ``run_cycle`` every ``intervalSeconds`` (and at once when woken by
a submission or cancel); only the holder of the ``reconciler`` lease in the store runs the steps, so several
broker replicas on one PostgreSQL never dispatch the same job twice and another takes over when one dies.

Fencing: the lease is time-bound (``leaderLeaseSeconds``). A leader renews it between steps and before each
submit once half of it is used up, and stops the cycle when renewal fails, so a replica that stalled (GC
pause, slow backend) does not keep dispatching after another took over. A replica that becomes leader
forgets what its adapters remember about their own submissions (another leader may have submitted since)
and first sweeps zombies on every backend; a backend that comes back up after being down is swept before
any other step, so an old attempt left there by a reroute is cancelled as early as the broker can reach it.
"""

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

from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import ClusterSnapshot
from dualtrack.broker.reconciler.cycle import ACTIVE_STATES, Cycle
from dualtrack.broker.reconciler.dispatch import dispatch_placed
from dualtrack.broker.reconciler.ledger import JobLedger
from dualtrack.broker.reconciler.limits import enforce_time_limits
from dualtrack.broker.reconciler.migrate import migrate_requested
from dualtrack.broker.reconciler.observe import observe_backends
from dualtrack.broker.reconciler.place import place_accepted
from dualtrack.broker.reconciler.reroute import reroute_stuck
from dualtrack.broker.reconciler.zombies import clean_zombies

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
        self._lease_lock = threading.Lock()
        self._lease_until = 0.0  # time.monotonic() until which the lease is ours for sure
        self._was_up: dict[str, bool] = {}
        self._ledger = JobLedger()  # usage and deadlines carried from cycle to cycle (reconciler/ledger.py)
        self.is_leader = False
        self.steps: list[tuple[str, Callable[[Cycle], None]]] = [
            ("place", place_accepted),
            ("dispatch", lambda c: dispatch_placed(c, self._pool)),
            ("observe", observe_backends),
            ("limits", enforce_time_limits),
            ("reroute", reroute_stuck),
            ("migrate", migrate_requested),
            ("zombies", self._zombies_step),
        ]

    def _zombies_step(self, cycle: Cycle) -> None:
        if cycle.now - self._last_zombies >= self._zombie_interval:
            self._last_zombies = cycle.now
            clean_zombies(cycle)

    # -- the lease ------------------------------------------------------------------------------
    def _acquire(self) -> bool:
        """Take or renew the lease; remembers until when it is surely ours (measured from before the call)."""
        ttl = self.ctx.config.reconciler.leader_lease_seconds
        asked_at = time.monotonic()
        try:
            held = self.ctx.store.try_acquire_lease(LEASE, self.holder, ttl)
        except Exception as exc:  # the store may be briefly unreachable
            log.warning("lease check failed: %s", exc)
            held = False
        self._lease_until = asked_at + ttl if held else 0.0
        return held

    def holds_lease(self) -> bool:
        """True while the lease is ours; renews it once half of it is used up. Thread-safe (dispatch threads)."""
        with self._lease_lock:
            ttl = self.ctx.config.reconciler.leader_lease_seconds
            if time.monotonic() < self._lease_until - ttl / 2:
                return True
            held = self._acquire()
            if not held:
                self.is_leader = False
            return held

    # -- one cycle -------------------------------------------------------------------------------
    def run_cycle(self) -> CycleReport:
        """Run the numbered steps once if this replica holds the lease. Never raises."""
        with self._cycle_lock:
            self._woken.clear()
            started = time.perf_counter()
            was_leader = self.is_leader
            with self._lease_lock:
                self.is_leader = self._acquire()
            if not self.is_leader:
                # followers keep their capacity view fresh for submit-time checks, explain and ListBackends
                self._timed("snapshot", lambda: self.ctx.snapshots.refresh())
                return CycleReport(leader=False)
            if not was_leader:
                log.info("%s is the reconciler leader now", self.holder)
                self._forget_submissions()
            snapshots = self._timed("snapshot", self._refresh_snapshots)
            fresh = snapshots if isinstance(snapshots, dict) else self.ctx.snapshots.latest()
            cycle = Cycle(self.ctx, self.ctx.clock(), fresh, self.ctx.store.active(ACTIVE_STATES),
                          holds_lease=self.holds_lease, ledger=self._ledger)
            returned = self._returned_backends(all_backends=not was_leader)
            if returned:
                self._timed("zombies", lambda: clean_zombies(cycle, only=returned))
            for name, step in self.steps:
                if not cycle.holds_lease():
                    log.warning("lost the reconciler lease during the cycle; stopping before %s", name)
                    break
                self._timed(name, lambda step=step: step(cycle))  # type: ignore[misc]
            return CycleReport(leader=self.is_leader, seconds=time.perf_counter() - started,
                               errors=cycle.errors)

    def _returned_backends(self, *, all_backends: bool) -> set[str]:
        """Backends that are up now and were down at the previous cycle (every up backend when this replica
        just became leader): their zombies are swept before anything else is done."""
        out: set[str] = set()
        for backend in self.ctx.backends:
            up = self.ctx.snapshots.is_up(backend.name)
            if up and (all_backends or self._was_up.get(backend.name) is False):
                out.add(backend.name)
            self._was_up[backend.name] = up
        return out

    def _forget_submissions(self) -> None:
        """A new leader must not trust what its adapters remember about submissions: another leader may have
        submitted since. Adapters that cache their own submissions (Slurm) list the backend again."""
        for backend in self.ctx.backends:
            forget = getattr(backend, "forget_submissions", None)
            if callable(forget):
                forget()

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
        # a wake-up that arrived during the cycle runs the next cycle soon rather than after the interval: after
        # ``wakeGapSeconds``, so that under a stream of wake-ups the cycles (each a pass over every waiting job)
        # leave the API its share of the process and each cycle takes in more new jobs
        gap = self.ctx.config.reconciler.wake_gap_seconds
        while self._woken.is_set() and report.leader and not self.ctx.stopping.is_set():
            if gap and self.ctx.stopping.wait(gap):
                return
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
