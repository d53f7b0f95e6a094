"""Where each policy of a replay sends jobs: the baselines, and ``live`` (the broker itself).

A router receives the trace's jobs as they arrive and submits them to the replay's clusters. Baselines decide
at arrival and submit at once; each backend then queues and schedules with its own model:

- ``static``: each tenant pinned to one backend (the clusters file's ``staticSplit``, completed by its rule);
- ``round-robin``: the backends in turn (from an offset given by the seed), skipping ones that can never run it;
- ``most-free``: the backend with the most free GPUs of the job's type now;
- ``earliest-start``: the backend whose model predicts the earliest start (Slurm: the ``--test-only``
  estimate; Volcano: its aggregate estimate);
- ``single-pool``: one Slurm-like cluster holding every node (the bound a broker can approach).

``live`` lives in ``sim.replay.live``: the broker's reconciler steps and policies decide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dualtrack.sim.replay.cluster import Change, Request, SimCluster
from dualtrack.sim.replay.trace import TraceJob


def request_for(job: TraceJob, pool: str | None = None) -> Request:
    return Request(job.workers, job.gpus_per_worker, job.gpu_type, job.cpus_per_worker, job.memory_mib_per_worker,
                   job.time_limit, job.duration, pool=pool)


class Router:
    """The interface the replay drives. ``keys`` maps a cluster's object key to the trace job id."""

    name = "router"

    def __init__(self, clusters: Mapping[str, SimCluster]):
        self.clusters = dict(clusters)
        self.keys: dict[str, str] = {}
        self.rejected: dict[str, str] = {}  # trace id -> why no backend could take it

    def arrive(self, jobs: Sequence[TraceJob], now: float) -> None:
        raise NotImplementedError

    def feed(self, changes: Mapping[str, Sequence[Change]]) -> None:
        """The clusters' starts and ends of the last advance (``live`` tells its backends)."""

    def cycle(self, now: float) -> None:
        """Called once per replay cycle after the clusters advanced to ``now``."""

    def held(self) -> int:
        """Jobs the router holds that no cluster has yet (the broker's own queue)."""
        return 0

    def done(self) -> bool:
        return True

    def close(self) -> None:
        """The run is over: drop what the router holds (see LiveRouter.close)."""
        self.keys.clear()


class BaselineRouter(Router):
    """Decides at arrival with ``choose`` and submits at once; a job no backend can take is rejected."""

    def choose(self, job: TraceJob, request: Request, now: float) -> list[str]:
        """Backend names in order of preference."""
        raise NotImplementedError

    def arrive(self, jobs: Sequence[TraceJob], now: float) -> None:
        for job in jobs:
            request = request_for(job)
            errors = []
            for name in self.choose(job, request, now):
                try:
                    self.clusters[name].submit(job.id, request, now)
                except ValueError as exc:
                    errors.append(str(exc))
                    continue
                self.keys[job.id] = job.id
                break
            else:
                self.rejected[job.id] = "; ".join(errors) or "no backend"


class StaticRouter(BaselineRouter):
    name = "static"

    def __init__(self, clusters: Mapping[str, SimCluster], split: Mapping[str, str]):
        super().__init__(clusters)
        self.split = dict(split)

    def choose(self, job: TraceJob, request: Request, now: float) -> list[str]:
        return [self.split.get(job.tenant, next(iter(self.clusters)))]


class RoundRobinRouter(BaselineRouter):
    name = "round-robin"

    def __init__(self, clusters: Mapping[str, SimCluster], seed: int = 0):
        super().__init__(clusters)
        self._next = seed % len(self.clusters)

    def choose(self, job: TraceJob, request: Request, now: float) -> list[str]:
        names = list(self.clusters)
        first = self._next
        self._next = (self._next + 1) % len(names)
        return names[first:] + names[:first]


class MostFreeRouter(BaselineRouter):
    name = "most-free"

    def choose(self, job: TraceJob, request: Request, now: float) -> list[str]:
        def free(name: str) -> int:
            cluster = self.clusters[name]
            if job.gpu_type is None:
                return cluster.gpus_total() - cluster.gpus_used()
            return sum(n.gpus - n.gpus_used for n in self.clusters[name].nodes()
                       if job.gpu_type in (None, n.gpu_type))
        names = list(self.clusters)
        return sorted(names, key=lambda n: (-free(n), names.index(n)))


class EarliestStartRouter(BaselineRouter):
    name = "earliest-start"

    def choose(self, job: TraceJob, request: Request, now: float) -> list[str]:
        names = list(self.clusters)
        starts = {n: self.clusters[n].estimate_start(request, now) for n in names}
        return sorted(names, key=lambda n: (starts[n] if starts[n] is not None else float("inf"), names.index(n)))


class SinglePoolRouter(BaselineRouter):
    name = "single-pool"

    def choose(self, job: TraceJob, request: Request, now: float) -> list[str]:
        return list(self.clusters)
