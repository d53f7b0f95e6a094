"""The replay loop: one policy over one trace in virtual time, and every requested policy in turn.

Virtual time jumps from event to event (the next arrival, the next end or ``--switches`` expiry a model
announces), rounded up to the replay's cycle grid (``cycle_seconds``, the reconciler's interval in virtual
time; every policy uses the same grid). At each cycle time: arrivals go to the router, the clusters advance
(ends release nodes, pending work starts), the router's cycle runs (``live``: the reconciler's steps), and the
clusters advance again so what was just dispatched starts at once. Nothing sleeps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dualtrack.sim.replay.cluster import SimCluster, build_cluster, single_pool
from dualtrack.sim.replay.clusters import Clusters, static_split
from dualtrack.sim.replay.collector import replay_collector
from dualtrack.sim.replay.live import LiveRouter
from dualtrack.sim.replay.routers import (
    EarliestStartRouter,
    MostFreeRouter,
    RoundRobinRouter,
    Router,
    SinglePoolRouter,
    StaticRouter,
)
from dualtrack.sim.replay.trace import TraceJob

POLICIES = ("live", "static", "round-robin", "most-free", "earliest-start", "single-pool")
Progress = Callable[[str, int, int], None]


@dataclass
class ReplayOptions:
    cycle_seconds: float = 30.0
    seed: int = 0
    samples: int = 400  # time-series points kept per policy for the report
    progress: Progress | None = None


@dataclass(frozen=True)
class JobRecord:
    id: str
    tenant: str
    submit: float
    duration: float
    gpus: int
    start: float | None
    end: float | None
    backend: str | None
    state: str  # COMPLETED | TIMEOUT | REJECTED | UNFINISHED


@dataclass
class PolicyRun:
    policy: str
    records: list[JobRecord]
    gpus: dict[str, int]  # backend -> GPUs
    busy_gpu_seconds: float
    series_t: list[float] = field(default_factory=list)
    series_used: dict[str, list[int]] = field(default_factory=dict)
    series_queue: list[int] = field(default_factory=list)
    reroutes: int = 0
    cycles: int = 0
    wall_seconds: float = 0.0
    decisions: dict[str, str] = field(default_factory=dict)  # trace id -> backend it ran on
    # every attempt that started: (trace id, backend, one node per worker, start, end or None)
    allocations: list[tuple[str, str, tuple[str, ...], float, float | None]] = field(default_factory=list)


def make_router(policy: str, clusters: dict[str, SimCluster], spec: Clusters, jobs: Sequence[TraceJob],
                options: ReplayOptions, clock: Callable[[], float]) -> Router:
    if policy == "static":
        return StaticRouter(clusters, static_split(spec, jobs))
    if policy == "round-robin":
        return RoundRobinRouter(clusters, options.seed)
    if policy == "most-free":
        return MostFreeRouter(clusters)
    if policy == "earliest-start":
        return EarliestStartRouter(clusters)
    if policy == "single-pool":
        return SinglePoolRouter(clusters)
    if policy == "live":
        return LiveRouter(clusters, spec.broker, clock, spec.datasets)
    raise ValueError(f"policy: {policy!r} is not one of {', '.join(POLICIES)}")


def run_policy(policy: str, jobs: Sequence[TraceJob], spec: Clusters, options: ReplayOptions | None = None,
               *, broker: dict[str, object] | None = None) -> PolicyRun:
    """Replay ``jobs`` (sorted by submit) under ``policy``. ``broker`` overrides the clusters file's
    ``broker:`` sections for ``live`` (tests swap policy configs this way). Runs with the replay's garbage
    collector thresholds (sim/replay/collector.py)."""
    with replay_collector():
        return _run_policy(policy, jobs, spec, options, broker)


def _run_policy(policy: str, jobs: Sequence[TraceJob], spec: Clusters, options: ReplayOptions | None,
                broker: dict[str, object] | None) -> PolicyRun:
    options = options or ReplayOptions()
    started_wall = time.perf_counter()
    now = [0.0]

    def clock() -> float:
        return now[0]

    if policy == "single-pool":
        clusters: dict[str, SimCluster] = {"single-pool": single_pool(spec.backends)}
    else:
        clusters = {b.name: build_cluster(b) for b in spec.backends}
    if broker is not None:
        spec = Clusters(spec.backends, spec.static_split, spec.datasets, broker)
    router = make_router(policy, clusters, spec, jobs, options, clock)
    by_id = {j.id: j for j in jobs}
    starts: dict[str, float] = {}
    ends: dict[str, tuple[float, str]] = {}
    where: dict[str, str] = {}
    busy = 0.0
    open_attempts: dict[str, int] = {}  # trace id -> index in run.allocations
    tick = options.cycle_seconds
    span = max((j.submit for j in jobs), default=0.0) + max((j.duration for j in jobs), default=0.0)
    sample_every = max(tick, span / max(options.samples, 1))
    run = PolicyRun(policy, [], {n: c.gpus_total() for n, c in clusters.items()}, 0.0)
    run.series_used = {n: [] for n in clusters}
    next_sample = 0.0
    index, t, cycles = 0, -tick, 0

    def record(changes: dict[str, list]) -> None:  # type: ignore[type-arg]
        nonlocal busy
        router.feed(changes)
        for name, backend_changes in changes.items():
            for change in backend_changes:
                trace_id = router.keys.get(change.key)
                if trace_id is None:
                    continue
                if change.kind == "start":
                    starts[trace_id], where[trace_id] = change.at, name
                    open_attempts[trace_id] = len(run.allocations)
                    run.allocations.append((trace_id, name, change.nodes, change.at, None))
                    continue
                attempt = open_attempts.pop(trace_id, None)
                if attempt is not None:
                    tid, backend, nodes, begun_at, _ = run.allocations[attempt]
                    run.allocations[attempt] = (tid, backend, nodes, begun_at, change.at)
                begun = starts.get(trace_id)
                if begun is not None and where.get(trace_id) == name:
                    busy += by_id[trace_id].gpus * max(0.0, change.at - begun)
                if change.state in ("COMPLETED", "TIMEOUT"):
                    ends[trace_id] = (change.at, change.state)
                elif begun is not None and where.get(trace_id) == name:
                    del starts[trace_id]  # cancelled (a reroute): its next attempt's start counts

    while True:
        upcoming = [c.next_event_time() for c in clusters.values()]
        times = [x for x in upcoming if x is not None]
        if index < len(jobs):
            times.append(jobs[index].submit)
        if not times:
            if router.done() or cycles > 10 * len(jobs) + 1000:
                break
            times.append(t + tick)
        target = min(times)
        t = max(t + tick, math.ceil(target / tick) * tick) if target > t else t + tick
        now[0] = t
        cycles += 1
        arrivals = []
        while index < len(jobs) and jobs[index].submit <= t:
            arrivals.append(jobs[index])
            index += 1
        if arrivals:
            router.arrive(arrivals, t)
        record({n: c.advance(t) for n, c in clusters.items()})
        router.cycle(t)
        record({n: c.advance(t) for n, c in clusters.items()})
        if t >= next_sample:
            next_sample = t + sample_every
            run.series_t.append(t)
            for name, cluster in clusters.items():
                run.series_used[name].append(cluster.gpus_used())
            run.series_queue.append(sum(c.pending_count() for c in clusters.values()) + router.held())
        if options.progress is not None and cycles % 500 == 0:
            options.progress(policy, len(ends) + len(router.rejected), len(jobs))
    if options.progress is not None:
        options.progress(policy, len(ends) + len(router.rejected), len(jobs))
    for job in jobs:
        end = ends.get(job.id)
        state = end[1] if end else ("REJECTED" if job.id in router.rejected else "UNFINISHED")
        run.records.append(JobRecord(job.id, job.tenant, job.submit, job.duration, job.gpus, starts.get(job.id),
                                     end[0] if end else None, where.get(job.id), state))
        if job.id in where:
            run.decisions[job.id] = where[job.id]
    run.busy_gpu_seconds = busy
    run.cycles = cycles
    if isinstance(router, LiveRouter):
        run.reroutes = sum(max(0, j.attempt - 1) for j in router.jobs())
    router.close()
    run.wall_seconds = time.perf_counter() - started_wall
    return run


def replay(jobs: Sequence[TraceJob], spec: Clusters, policies: Sequence[str] = POLICIES,
           options: ReplayOptions | None = None) -> dict[str, PolicyRun]:
    for policy in policies:
        if policy not in POLICIES:
            raise ValueError(f"policy: {policy!r} is not one of {', '.join(POLICIES)}")
    return {policy: run_policy(policy, jobs, spec, options) for policy in policies}
