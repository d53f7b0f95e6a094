"""Domain and handler errors -> gRPC status codes with google.rpc details (the proto file lists them)."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from dualtrack.broker.domain import InvalidTransition, SpecError
from dualtrack.broker.errors import InvalidRequest, JobNotMovable, NoBackendCanRun, PermissionDenied
from dualtrack.broker.store import IdempotencyConflict, JobNotFound


def _status(code: int, message: str, *details: object) -> status_pb2.Status:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return status_pb2.Status(code=code, message=message, details=packed)


def status_for(exc: BaseException) -> status_pb2.Status | None:
    """The rich status for a known error, or None for an unexpected one (-> INTERNAL)."""
    if isinstance(exc, SpecError):
        request = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=i.path, description=i.message) for i in exc.issues
        ])
        return _status(code_pb2.INVALID_ARGUMENT, f"invalid job spec: {exc}", request)
    if isinstance(exc, InvalidRequest):
        request = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=exc.field, description=exc.message)
        ])
        return _status(code_pb2.INVALID_ARGUMENT, str(exc), request)
    if isinstance(exc, JobNotFound):
        return _status(code_pb2.NOT_FOUND, str(exc))
    if isinstance(exc, NoBackendCanRun):
        failure = error_details_pb2.PreconditionFailure(violations=[
            error_details_pb2.PreconditionFailure.Violation(type="backend", subject=name,
                                                            description="; ".join(reasons))
            for name, reasons in exc.reasons.items()
        ])
        return _status(code_pb2.FAILED_PRECONDITION, str(exc), failure)
    if isinstance(exc, IdempotencyConflict):
        return _status(code_pb2.ALREADY_EXISTS, str(exc))
    if isinstance(exc, PermissionDenied):
        return _status(code_pb2.PERMISSION_DENIED, str(exc))
    if isinstance(exc, Unauthenticated):
        return _status(code_pb2.UNAUTHENTICATED, str(exc))
    if isinstance(exc, JobNotMovable):
        return _status(code_pb2.FAILED_PRECONDITION, str(exc))
    if isinstance(exc, InvalidTransition):
        return _status(code_pb2.FAILED_PRECONDITION, str(exc))
    return None


class Unauthenticated(Exception):
    """No (or an unknown) bearer token while the broker has tokens configured."""


async def abort_with(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    """Abort the call with the status for ``exc`` (always raises); unknown errors become INTERNAL."""
    status = status_for(exc)
    if status is None:
        raise exc
    rich = rpc_status.to_status(status)
    await context.abort(rich.code, rich.details, rich.trailing_metadata)
