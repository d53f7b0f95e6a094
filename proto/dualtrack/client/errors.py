"""Typed errors of the dualtrack SDK, decoded from the broker's rich gRPC statuses (docs/sdk.md, "Errors").

Every call of ``Client`` / ``AsyncClient`` raises a subclass of ``DualtrackError``; ``from_rpc_error`` is the one
place a ``grpc.RpcError`` becomes one. The broker's status details (see proto/dualtrack/v1/broker.proto) are
kept: an invalid spec carries one ``FieldViolation`` per problem, a job no backend can run carries each
backend's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"  # google.rpc.Status in the trailers (sync and asyncio calls)
ADDRESS_HINT = "is `dualtrack serve` running? (address: --address / $DUALTRACK_ADDRESS)"


@dataclass(frozen=True)
class FieldViolation:
    """One problem of a spec or request: ``field`` is the path (``spec.resources.workers``)."""

    field: str
    description: str

    def __str__(self) -> str:
        return f"{self.field}: {self.description}" if self.field else self.description


@dataclass
class DualtrackError(Exception):
    """A call the broker refused or could not answer. ``code`` is the gRPC status name."""

    message: str
    code: str = "UNKNOWN"
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


@dataclass
class InvalidSpec(DualtrackError):
    """INVALID_ARGUMENT: the spec (or a request field) is invalid; one violation per problem."""

    violations: list[FieldViolation] = field(default_factory=list)


@dataclass
class NoBackendCanRun(DualtrackError):
    """FAILED_PRECONDITION with backend reasons: no configured backend could ever run the job."""

    reasons: dict[str, str] = field(default_factory=dict)


class FailedPrecondition(DualtrackError):
    """FAILED_PRECONDITION without backend reasons (e.g. an invalid state transition)."""


class JobNotFound(DualtrackError):
    """NOT_FOUND: no such job."""


class IdempotencyConflict(DualtrackError):
    """ALREADY_EXISTS: the idempotency key names another job with a different spec."""


class Unauthenticated(DualtrackError):
    """UNAUTHENTICATED: missing or unknown bearer token (or client certificate)."""


class PermissionDenied(DualtrackError):
    """PERMISSION_DENIED: the token's tenant may not touch this job or tenant."""


class BrokerUnavailable(DualtrackError):
    """UNAVAILABLE: the broker cannot be reached (or went away during the call)."""


class DeadlineExceeded(DualtrackError):
    """DEADLINE_EXCEEDED: the call's timeout passed."""


class WaitTimeout(DualtrackError):
    """``wait`` gave up before the job reached a terminal state; ``job`` is its last known state."""

    def __init__(self, message: str, job: object | None = None):
        super().__init__(message, "DEADLINE_EXCEEDED")
        self.job = job


_SIMPLE: dict[grpc.StatusCode, type[DualtrackError]] = {
    grpc.StatusCode.NOT_FOUND: JobNotFound,
    grpc.StatusCode.ALREADY_EXISTS: IdempotencyConflict,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAVAILABLE: BrokerUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def _decode_details(error: grpc.RpcError) -> tuple[list[FieldViolation], dict[str, str]]:
    violations: list[FieldViolation] = []
    reasons: dict[str, str] = {}
    status = status_pb2.Status()
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailers or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            status.ParseFromString(value)
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            reasons.update({v.subject: v.description for v in failure.violations})
    return violations, reasons


def build_error(code: str, message: str, violations: list[FieldViolation] | None = None,
                reasons: dict[str, str] | None = None) -> DualtrackError:
    """The typed error for a status code name with its decoded details (also used for SubmitJobs items)."""
    violations, reasons = violations or [], reasons or {}
    details = [str(v) for v in violations] + [f"{name}: {why}" for name, why in reasons.items()]
    if code == "INVALID_ARGUMENT":
        return InvalidSpec(message, code, details, violations)
    if code == "FAILED_PRECONDITION":
        if reasons:
            return NoBackendCanRun(message, code, details, reasons)
        return FailedPrecondition(message, code, details)
    kind = _SIMPLE.get(getattr(grpc.StatusCode, code, grpc.StatusCode.UNKNOWN), DualtrackError)
    return kind(message, code, details)


def from_rpc_error(error: grpc.RpcError) -> DualtrackError:
    """The typed error for a failed call (the one mapping the SDK and the CLI use)."""
    status_code = error.code() if hasattr(error, "code") else None
    code = status_code.name if isinstance(status_code, grpc.StatusCode) else "UNKNOWN"
    message = (error.details() if hasattr(error, "details") else None) or str(error) or code
    violations, reasons = _decode_details(error)
    if code == "UNAVAILABLE":
        message = f"cannot reach the broker ({message}); {ADDRESS_HINT}"
    return build_error(code, message, violations, reasons)
