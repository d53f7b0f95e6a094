"""The ``dualtrack_jobs`` gauge: jobs by state, backend and tenant, read from the store at scrape time.

A custom collector rather than a Gauge the broker keeps in step: the store is the truth, and a count read
on every scrape cannot drift. The source is a callable set by the broker (``set_job_counts_source``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dualtrack.broker.metrics.vocabulary import JOB_STATES, PREFIX

log = logging.getLogger(__name__)

JobCountsSource = Callable[[], Iterable[tuple[str, str, str, int]]]
JOBS_METRIC = f"{PREFIX}_jobs"
_DOC = "Jobs the broker tracks, by lifecycle state, backend ('' before placement) and tenant."
_LABELS = ("state", "backend", "tenant")


class JobCountsCollector(Collector):
    """Yields ``dualtrack_jobs`` per scrape from the source's ``(state, backend, tenant, count)`` rows.

    Every state appears (at zero) for each ``(backend, tenant)`` pair the source mentions, so a state's
    series does not vanish when its last job leaves it. A failing source is logged and yields no samples;
    the scrape itself still succeeds.
    """

    def __init__(self, tenant_label: Callable[[str], str] = lambda tenant: tenant) -> None:
        self._source: JobCountsSource | None = None
        self._tenant_label = tenant_label  # folds tenants the broker does not label into one

    def set_source(self, source: JobCountsSource | None) -> None:
        self._source = source

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [GaugeMetricFamily(JOBS_METRIC, _DOC, labels=_LABELS)]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(JOBS_METRIC, _DOC, labels=_LABELS)
        for (state, backend, tenant), count in sorted(self._counts().items()):
            family.add_metric([state, backend, tenant], count)
        yield family

    def _counts(self) -> dict[tuple[str, str, str], int]:
        if self._source is None:
            return {}
        try:
            rows = list(self._source())
        except Exception:
            log.exception("job counts source failed; dualtrack_jobs is empty for this scrape")
            return {}
        counts: dict[tuple[str, str, str], int] = {}
        for state, backend, raw_tenant, count in rows:
            tenant = self._tenant_label(raw_tenant)
            for known in JOB_STATES:
                counts.setdefault((known, backend, tenant), 0)
            key = (str(state), backend, tenant)
            counts[key] = counts.get(key, 0) + int(count)
        return counts
