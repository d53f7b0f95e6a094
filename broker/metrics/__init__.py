"""Prometheus metrics of the broker (design section 7). See ``BrokerMetrics``."""

from dualtrack.broker.metrics.broker_metrics import NO_BACKEND, BrokerMetrics

__all__ = ["NO_BACKEND", "BrokerMetrics"]
