"""Read a broker's ``/metrics`` exposition back into a per-backend view (for ``dualtrack top``).

``read_view(text)`` parses the Prometheus text format with prometheus_client's parser; ``fetch_text(url)``
gets it over HTTP. Quantiles are estimated from the cumulative histogram buckets since the broker started,
interpolating linearly inside a bucket as PromQL's ``histogram_quantile`` does.
"""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from dualtrack.broker.metrics.vocabulary import PREFIX


@dataclass
class GpuCount:
    total: float = 0.0
    allocated: float = 0.0
    free: float = 0.0


@dataclass
class PoolCount:
    pending_jobs: float = 0.0
    pending_gpus: float = 0.0


@dataclass
class BackendView:
    name: str
    up: bool | None = None
    gpus: dict[str, GpuCount] = field(default_factory=dict)  # by GPU type
    pools: dict[str, PoolCount] = field(default_factory=dict)
    running_jobs: float = 0.0  # the backend's own count
    jobs_by_state: dict[str, float] = field(default_factory=dict)  # the broker's store
    placed: float = 0.0
    scheduling_p50_s: float | None = None
    scheduling_p99_s: float | None = None
    queue_wait_p50_s: float | None = None

    @property
    def utilization(self) -> float | None:
        total = sum(g.total for g in self.gpus.values())
        return None if total == 0 else sum(g.allocated for g in self.gpus.values()) / total


@dataclass
class MetricsView:
    backends: dict[str, BackendView] = field(default_factory=dict)
    unplaced_jobs_by_state: dict[str, float] = field(default_factory=dict)  # backend '' in dualtrack_jobs
    placements: dict[tuple[str, str], float] = field(default_factory=dict)  # (backend, outcome) -> count
    reroutes: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (source, target, reason)
    retries: dict[tuple[str, str], float] = field(default_factory=dict)  # (backend, reason)
    submissions: dict[str, float] = field(default_factory=dict)  # outcome -> count over tenants

    def backend(self, name: str) -> BackendView:
        return self.backends.setdefault(name, BackendView(name))


class MetricsUnavailable(RuntimeError):
    """The metrics endpoint could not be read."""


def fetch_text(url: str, timeout_s: float = 5.0) -> str:
    """GET ``url``; raises MetricsUnavailable naming the URL and the reason."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return str(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise MetricsUnavailable(f"--metrics-url {url}: {error}") from error


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """``histogram_quantile(q)`` over cumulative ``(upper bound, count)`` buckets; None without observations."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower  # above the last finite bucket: its upper bound, like PromQL
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return ordered[-1][0]


def read_view(text: str) -> MetricsView:
    """Parse exposition ``text`` into a MetricsView. Unknown metrics are ignored."""
    view = MetricsView()
    buckets: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            backend = labels.get("backend", "")
            if name == f"{PREFIX}_backend_up":
                view.backend(backend).up = value == 1
            elif name == f"{PREFIX}_gpus":
                count = view.backend(backend).gpus.setdefault(labels["gpu_type"], GpuCount())
                setattr(count, labels["state"], value)
            elif name in (f"{PREFIX}_pending_jobs", f"{PREFIX}_pending_gpus"):
                pool = view.backend(backend).pools.setdefault(labels["pool"], PoolCount())
                setattr(pool, name.removeprefix(f"{PREFIX}_"), value)
            elif name == f"{PREFIX}_backend_running_jobs":
                view.backend(backend).running_jobs = value
            elif name == f"{PREFIX}_jobs":
                states = view.backend(backend).jobs_by_state if backend else view.unplaced_jobs_by_state
                states[labels["state"]] = states.get(labels["state"], 0.0) + value
            elif name == f"{PREFIX}_placement_decisions_total":
                view.placements[(backend, labels["outcome"])] = value
                if backend and labels["outcome"] == "placed":
                    view.backend(backend).placed = value
            elif name == f"{PREFIX}_reroutes_total":
                view.reroutes[(labels["source"], labels["target"], labels["reason"])] = value
            elif name == f"{PREFIX}_retries_total":
                view.retries[(backend, labels["reason"])] = value
            elif name == f"{PREFIX}_submissions_total":
                view.submissions[labels["outcome"]] = view.submissions.get(labels["outcome"], 0.0) + value
            elif name.endswith("_bucket") and name in (f"{PREFIX}_scheduling_latency_seconds_bucket",
                                                       f"{PREFIX}_queue_wait_seconds_bucket"):
                buckets[(name, backend)].append((float(labels["le"]), value))
    for (name, backend), series in buckets.items():
        target = view.backend(backend)
        if name.startswith(f"{PREFIX}_scheduling"):
            target.scheduling_p50_s, target.scheduling_p99_s = quantile(0.5, series), quantile(0.99, series)
        else:
            target.queue_wait_p50_s = quantile(0.5, series)
    view.backends.pop("", None)
    return view
