"""Every Prometheus metric of the broker, on one registry per instance (design section 7).

Callers: the gRPC server (``grpc_interceptor``, ``serve``), the submit handler (``submission``,
``placement``), the reconciler (``observe_snapshot``, ``backend_up``, ``scheduling_latency``, ``queue_wait``,
``job_finished``, ``reroute``, ``retry``, ``reconciler_step``), the image cache (``image_conversion``,
``image_cache_hit``) and the store (``set_job_counts_source``). Methods never block on I/O and are
thread-safe. Outcome arguments with a closed vocabulary raise ValueError naming the argument on a value
outside it; free-text reasons are folded into ``other``.

Series appear at zero as soon as their labels are known: global ones at construction, per-backend ones
when a backend is first named (``register_backend`` or any call carrying a backend), per-tenant submission
outcomes when a tenant first submits, per-method gRPC latency for the methods given to ``grpc_interceptor``.

Tenant labels are bounded (docs/operations.md, Series bound): given ``tenants`` (the broker passes the
configured ones: ``metrics.tenants`` and the tenants of ``auth.tokens``), every other tenant is labelled
``other``; without ``tenants`` (tests, tools) every tenant keeps its own label.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dualtrack.broker.domain import ClusterSnapshot
from dualtrack.broker.metrics.grpc_interceptor import MetricsInterceptor, method_label
from dualtrack.broker.metrics.http_endpoint import MetricsEndpoint
from dualtrack.broker.metrics.job_counts import JobCountsCollector, JobCountsSource
from dualtrack.broker.metrics.vocabulary import (
    GPU_STATES,
    GRPC_LATENCY_BUCKETS,
    IMAGE_CONVERSION_BUCKETS,
    IMAGE_CONVERSION_OUTCOMES,
    JOB_DURATION_BUCKETS,
    PLACEMENT_OUTCOMES,
    PREFIX,
    QUEUE_WAIT_BUCKETS,
    RECONCILER_CYCLE_BUCKETS,
    RECONCILER_STEPS,
    REROUTE_REASONS,
    RETRY_REASONS,
    SCHEDULING_LATENCY_BUCKETS,
    SUBMISSION_OUTCOMES,
    TERMINAL_JOB_STATES,
    check_outcome,
    fold_reason,
)

NO_BACKEND = ""  # the backend label of decisions that found no backend
OTHER_TENANT = "other"  # the tenant label of every tenant the broker does not label by name


class BrokerMetrics:
    """The broker's metrics. ``registry`` is fresh per instance unless one is given."""

    def __init__(self, registry: CollectorRegistry | None = None, *, tenants: Iterable[str] | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        self._labelled_tenants = None if tenants is None else frozenset(tenants)
        self._lock = threading.Lock()
        self._backends: set[str] = set()
        self._tenants: set[str] = set()
        self._gpu_series: dict[str, set[str]] = {}
        self._pool_series: dict[str, set[str]] = {}
        self._controller_hosts: dict[str, set[str]] = {}
        self._endpoint: MetricsEndpoint | None = None
        r = self.registry
        p = PREFIX

        self.submissions = Counter(f"{p}_submissions", "Job submissions by tenant and outcome.",
                                   ["tenant", "outcome"], registry=r)
        self.placements = Counter(f"{p}_placement_decisions", "Placement decisions by chosen backend "
                                  "('' when none) and outcome.", ["backend", "outcome"], registry=r)
        self.scheduling_latency_seconds = Histogram(
            f"{p}_scheduling_latency_seconds", "Time from a job's acceptance to its backend accepting it.",
            ["backend"], buckets=SCHEDULING_LATENCY_BUCKETS, registry=r)
        self.queue_wait_seconds = Histogram(
            f"{p}_queue_wait_seconds", "Time from a job's acceptance to it running on a backend.",
            ["backend"], buckets=QUEUE_WAIT_BUCKETS, registry=r)
        self.job_duration_seconds = Histogram(
            f"{p}_job_duration_seconds", "Run time of finished jobs (running to terminal) by terminal state.",
            ["backend", "state"], buckets=JOB_DURATION_BUCKETS, registry=r)
        self.gpus = Gauge(f"{p}_gpus", "GPUs on schedulable nodes by backend, GPU type and state "
                          "(total, allocated, free).", ["backend", "gpu_type", "state"], registry=r)
        self.backend_up_gauge = Gauge(f"{p}_backend_up", "1 when the backend answered its last snapshot.",
                                      ["backend"], registry=r)
        self.snapshot_timestamp = Gauge(f"{p}_backend_snapshot_timestamp_seconds",
                                        "When the backend's last snapshot was taken (Unix time).",
                                        ["backend"], registry=r)
        self.pending_jobs = Gauge(f"{p}_pending_jobs", "Jobs pending in a backend pool (partition or queue).",
                                  ["backend", "pool"], registry=r)
        self.pending_gpus = Gauge(f"{p}_pending_gpus", "GPUs requested by jobs pending in a backend pool.",
                                  ["backend", "pool"], registry=r)
        self.controller_up = Gauge(f"{p}_backend_controller_up", "1 when the backend's controller host answered "
                                   "its last ping (Slurm: slurmctld primary and backups), 0 when not.",
                                   ["backend", "host"], registry=r)
        self.controller_latency_seconds = Gauge(f"{p}_backend_controller_latency_seconds",
                                                "Round trip of the backend controller's last ping.",
                                                ["backend"], registry=r)
        self.scheduler_cycle_seconds = Gauge(
            f"{p}_backend_scheduler_cycle_seconds", "The backend scheduler's own cycle time (Slurm diag: "
            "scheduler main|backfill, stat last|mean).", ["backend", "scheduler", "stat"], registry=r)
        self.running_jobs = Gauge(f"{p}_backend_running_jobs", "Jobs running on the backend (its own count).",
                                  ["backend"], registry=r)
        self.reroutes = Counter(f"{p}_reroutes", "Jobs moved from one backend to another, by reason.",
                                ["source", "target", "reason"], registry=r)
        self.retries = Counter(f"{p}_retries", "Retried attempts by backend of the failed attempt and why.",
                               ["backend", "reason"], registry=r)
        self.image_conversions = Counter(f"{p}_image_conversions", "OCI to SIF image conversions by outcome.",
                                         ["outcome"], registry=r)
        self.image_conversion_seconds = Histogram(
            f"{p}_image_conversion_seconds", "Duration of OCI to SIF image conversions.",
            buckets=IMAGE_CONVERSION_BUCKETS, registry=r)
        self.image_cache_hits = Counter(f"{p}_image_cache_hits", "Image requests served from the SIF cache.",
                                        registry=r)
        self.reconciler_cycle_seconds = Histogram(
            f"{p}_reconciler_cycle_seconds", "Duration of one run of a reconciler step.",
            ["step"], buckets=RECONCILER_CYCLE_BUCKETS, registry=r)
        self.reconciler_errors = Counter(f"{p}_reconciler_errors", "Reconciler step runs that raised.",
                                         ["step"], registry=r)
        self.grpc_requests = Counter(f"{p}_grpc_requests", "gRPC requests by full method and status code.",
                                     ["method", "code"], registry=r)
        self.grpc_request_duration_seconds = Histogram(
            f"{p}_grpc_request_duration_seconds", "gRPC request latency by full method.",
            ["method"], buckets=GRPC_LATENCY_BUCKETS, registry=r)
        self._job_counts = JobCountsCollector(self.tenant_label)
        r.register(self._job_counts)

        for outcome in IMAGE_CONVERSION_OUTCOMES:
            self.image_conversions.labels(outcome)
        for step in RECONCILER_STEPS:
            self.reconciler_cycle_seconds.labels(step)
            self.reconciler_errors.labels(step)
        self._register_backend_locked(NO_BACKEND)

    # -- label bookkeeping ------------------------------------------------------------------------
    def register_backend(self, backend: str) -> None:
        """Export every per-backend series of ``backend`` at zero (idempotent). Called implicitly."""
        with self._lock:
            self._register_backend_locked(backend)

    def _register_backend_locked(self, backend: str) -> None:
        if backend in self._backends:
            return
        self._backends.add(backend)
        for outcome in PLACEMENT_OUTCOMES:
            self.placements.labels(backend, outcome)
        if backend == NO_BACKEND:
            return
        self.scheduling_latency_seconds.labels(backend)
        self.queue_wait_seconds.labels(backend)
        for state in TERMINAL_JOB_STATES:
            self.job_duration_seconds.labels(backend, state)
        for reason in RETRY_REASONS:
            self.retries.labels(backend, reason)
        for other in self._backends - {backend, NO_BACKEND}:
            for reason in REROUTE_REASONS:
                self.reroutes.labels(backend, other, reason)
                self.reroutes.labels(other, backend, reason)

    def _known(self, backend: str) -> None:
        if backend not in self._backends:
            self.register_backend(backend)

    # -- submissions and placement ----------------------------------------------------------------
    def tenant_label(self, tenant: str) -> str:
        """``tenant`` when it is one the broker labels, else ``other``."""
        if self._labelled_tenants is None or tenant in self._labelled_tenants:
            return tenant
        return OTHER_TENANT

    def submission(self, tenant: str, outcome: str) -> None:
        """One SubmitJob by ``tenant``: accepted | invalid | rejected | duplicate."""
        check_outcome("outcome", outcome, SUBMISSION_OUTCOMES)
        tenant = self.tenant_label(tenant)
        if tenant not in self._tenants:
            with self._lock:
                self._tenants.add(tenant)
                for known in SUBMISSION_OUTCOMES:
                    self.submissions.labels(tenant, known)
        self.submissions.labels(tenant, outcome).inc()

    def placement(self, backend: str, outcome: str) -> None:
        """One placement decision: ``backend`` ('' when none); placed | unschedulable | unresolvable."""
        check_outcome("outcome", outcome, PLACEMENT_OUTCOMES)
        self._known(backend)
        self.placements.labels(backend, outcome).inc()

    # -- job timings --------------------------------------------------------------------------------
    def scheduling_latency(self, backend: str, seconds: float) -> None:
        """Accepted -> the backend accepted the submission."""
        self._known(backend)
        self.scheduling_latency_seconds.labels(backend).observe(seconds)

    def queue_wait(self, backend: str, seconds: float) -> None:
        """Accepted -> running on ``backend``."""
        self._known(backend)
        self.queue_wait_seconds.labels(backend).observe(seconds)

    def job_finished(self, backend: str, state: str, seconds: float) -> None:
        """A job reached terminal ``state`` (SUCCEEDED | FAILED | CANCELLED) after running ``seconds``."""
        check_outcome("state", str(state), TERMINAL_JOB_STATES)
        self._known(backend)
        self.job_duration_seconds.labels(backend, str(state)).observe(seconds)

    # -- capacity -------------------------------------------------------------------------------------
    def backend_up(self, backend: str, up: bool) -> None:
        self._known(backend)
        self.backend_up_gauge.labels(backend).set(1 if up else 0)

    def observe_snapshot(self, snapshot: ClusterSnapshot) -> None:
        """Publish a backend's capacity: up, GPUs per type, pending jobs and GPUs per pool, running jobs.

        A down snapshot only sets ``backend_up`` to 0: the capacity series keep their last known values
        (a dead controller says nothing about the GPUs). GPU types and pools that disappeared since the
        previous healthy snapshot are removed.
        """
        backend = snapshot.backend
        self.backend_up(backend, snapshot.healthy)
        self._observe_controller(snapshot)
        if not snapshot.healthy:
            return
        self.snapshot_timestamp.labels(backend).set(snapshot.taken_at)
        self.running_jobs.labels(backend).set(snapshot.running_jobs)
        by_type = snapshot.gpus_by_type()
        pools = {pool.name: pool for pool in snapshot.pools}
        with self._lock:
            for gone in self._gpu_series.get(backend, set()) - set(by_type):
                for state in GPU_STATES:
                    self.gpus.remove(backend, gone, state)
            for gone in self._pool_series.get(backend, set()) - set(pools):
                self.pending_jobs.remove(backend, gone)
                self.pending_gpus.remove(backend, gone)
            self._gpu_series[backend] = set(by_type)
            self._pool_series[backend] = set(pools)
            for gpu_type, (total, free) in by_type.items():
                self.gpus.labels(backend, gpu_type, "total").set(total)
                self.gpus.labels(backend, gpu_type, "allocated").set(total - free)
                self.gpus.labels(backend, gpu_type, "free").set(free)
            for name, pool in pools.items():
                self.pending_jobs.labels(backend, name).set(pool.pending_jobs)
                self.pending_gpus.labels(backend, name).set(pool.pending_gpus)

    def _observe_controller(self, snapshot: ClusterSnapshot) -> None:
        """Controller series from ``snapshot.controller`` (docs/operations.md): a down snapshot sets every
        known controller host of the backend to 0; figures the backend does not report are left unset."""
        backend, health = snapshot.backend, snapshot.controller
        with self._lock:
            hosts = self._controller_hosts.setdefault(backend, set())
            if not snapshot.healthy or health is None:
                if not snapshot.healthy:
                    for host in hosts:
                        self.controller_up.labels(backend, host).set(0)
                return
            for host, responding in health.controllers:
                hosts.add(host)
                self.controller_up.labels(backend, host).set(1 if responding else 0)
        if health.latency_s is not None:
            self.controller_latency_seconds.labels(backend).set(health.latency_s)
        cycles = {("main", "last"): health.schedule_last_cycle_s, ("main", "mean"): health.schedule_mean_cycle_s,
                  ("backfill", "last"): health.backfill_last_cycle_s,
                  ("backfill", "mean"): health.backfill_mean_cycle_s}
        for (scheduler, stat), seconds in cycles.items():
            if seconds is not None:
                self.scheduler_cycle_seconds.labels(backend, scheduler, stat).set(seconds)

    # -- reroutes, retries, images, reconciler -------------------------------------------------------
    def reroute(self, source: str, target: str, reason: str) -> None:
        """A job left ``source`` for ``target``; reason one of REROUTE_REASONS (others count as ``other``)."""
        self._known(source)
        self._known(target)
        self.reroutes.labels(source, target, fold_reason(reason, REROUTE_REASONS)).inc()

    def retry(self, backend: str, reason: str) -> None:
        """A failed attempt on ``backend`` is retried; reason: a FailureKind value or backend_unavailable."""
        self._known(backend)
        self.retries.labels(backend, fold_reason(str(reason), RETRY_REASONS)).inc()

    def image_conversion(self, seconds: float, outcome: str) -> None:
        """One OCI -> SIF conversion: success | failure."""
        check_outcome("outcome", outcome, IMAGE_CONVERSION_OUTCOMES)
        self.image_conversions.labels(outcome).inc()
        self.image_conversion_seconds.observe(seconds)

    def image_cache_hit(self) -> None:
        self.image_cache_hits.inc()

    def reconciler_step(self, step: str, seconds: float, error: bool) -> None:
        """One run of reconciler ``step`` took ``seconds``; ``error`` when it raised."""
        self.reconciler_cycle_seconds.labels(step).observe(seconds)
        errors = self.reconciler_errors.labels(step)
        if error:
            errors.inc()

    def set_job_counts_source(self, fn: JobCountsSource) -> None:
        """``fn()`` returns ``(state, backend, tenant, count)`` rows; called on every scrape."""
        self._job_counts.set_source(fn)

    # -- gRPC and HTTP --------------------------------------------------------------------------------
    def grpc_interceptor(self, methods: Iterable[str] = ()) -> grpc.ServerInterceptor:
        """An interceptor for ``grpc.server(interceptors=[...])``; ``methods`` (full names) start at zero."""
        for method in methods:
            label = method_label(method)
            self.grpc_request_duration_seconds.labels(label)
            self.grpc_requests.labels(label, "OK")
        return MetricsInterceptor(self.grpc_requests, self.grpc_request_duration_seconds)

    def aio_grpc_interceptor(self, methods: Iterable[str] = ()) -> grpc.aio.ServerInterceptor:
        """The same for ``grpc.aio.server(interceptors=[...])``."""
        from dualtrack.broker.metrics.aio_interceptor import AioMetricsInterceptor

        self.grpc_interceptor(methods)  # registers the zero series
        return AioMetricsInterceptor(self.grpc_requests, self.grpc_request_duration_seconds)

    def serve(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on ``host:port`` (0 = any free port); returns the bound port. Idempotent."""
        with self._lock:
            if self._endpoint is None:
                self._endpoint = MetricsEndpoint(self.registry, host, port)
            return self._endpoint.port

    def close(self) -> None:
        """Stop serving ``/metrics``; safe to call more than once or without ``serve``."""
        with self._lock:
            endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            endpoint.close()
