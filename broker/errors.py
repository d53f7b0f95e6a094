"""Errors the handlers raise; the gRPC servicer maps each to a status code (broker/api/errors.py).

SpecError (domain) -> INVALID_ARGUMENT, JobNotFound (store) -> NOT_FOUND, IdempotencyConflict (store)
-> ALREADY_EXISTS, and the ones below.
"""

from __future__ import annotations

from collections.abc import Mapping


class BrokerError(Exception):
    """Base of handler errors."""


class NoBackendCanRun(BrokerError):
    """No configured backend could ever run the job; ``reasons`` maps backend name -> why."""

    def __init__(self, reasons: Mapping[str, list[str]]):
        self.reasons = {name: list(why) for name, why in reasons.items()}
        detail = "; ".join(f"{name}: {', '.join(why)}" for name, why in self.reasons.items())
        super().__init__(f"no backend can ever run this job ({detail or 'no backends configured'})")


class InvalidRequest(BrokerError):
    """A request argument other than the spec is wrong; ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class PermissionDenied(BrokerError):
    """The caller's tenant may not act on this job or tenant."""


class JobNotMovable(BrokerError):
    """The job is in a state from which it cannot be migrated (not on a backend, or finished)."""
