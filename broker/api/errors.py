"""Domain and handler errors -> gRPC status codes with google.rpc details (the proto file lists them)."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from dualtrack.broker.domain import InvalidTransition, SpecError
from dualtrack.broker.errors import InvalidRequest, JobNotMovable, NoBackendCanRun, PermissionDenied
from dualtrack.broker.store import IdempotencyConflict, JobNotFound
from dualtrack.v1 import broker_pb2 as pb


def _status(code: int, message: str, *details: object) -> status_pb2.Status:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return status_pb2.Status(code=code, message=message, details=packed)


# A status travels in the trailers, which clients accept up to 8 KiB by default (grpc.max_metadata_size):
# the message and the packed details together stay well inside that (docs/api.md, Errors).
MAX_MESSAGE = 1024
MAX_DETAILS_BYTES = 3072
MAX_TEXT = 256  # one field path or description


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else f"{text[:limit - 20]}... ({len(text)} characters)"


def spec_error_status(exc: SpecError) -> status_pb2.Status:
    """INVALID_ARGUMENT with one field violation per issue, as many as fit the size bounds above."""
    request = error_details_pb2.BadRequest()
    for index, issue in enumerate(exc.issues):
        violation = request.field_violations.add(field=_cut(issue.path), description=_cut(issue.message))
        if request.ByteSize() > MAX_DETAILS_BYTES:
            request.field_violations.remove(violation)
            request.field_violations.add(field="", description=f"and {len(exc.issues) - index} more problems")
            break
    message = _cut("invalid job spec: " + "; ".join(f"{v.field}: {v.description}" if v.field else v.description
                                                   for v in request.field_violations), MAX_MESSAGE)
    return _status(code_pb2.INVALID_ARGUMENT, message, request)


def status_for(exc: BaseException) -> status_pb2.Status | None:
    """The rich status for a known error, or None for an unexpected one (-> INTERNAL)."""
    if isinstance(exc, SpecError):
        return spec_error_status(exc)
    if isinstance(exc, InvalidRequest):
        request = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=_cut(exc.field), description=_cut(exc.message))
        ])
        return _status(code_pb2.INVALID_ARGUMENT, _cut(str(exc), MAX_MESSAGE), request)
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


def item_error(exc: BaseException) -> pb.ItemError:
    """One refused item of a bulk call: the code, message and details ``status_for`` gives a single call."""
    status = status_for(exc)
    if status is None:
        return pb.ItemError(code="INTERNAL", message=f"internal error: {type(exc).__name__}")
    error = pb.ItemError(code=code_pb2.Code.Name(status.code), message=status.message)
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            error.field_violations.extend(pb.FieldViolation(field=v.field, description=v.description)
                                          for v in bad.field_violations)
        elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            error.backend_reasons.update({v.subject: v.description for v in failure.violations})
    return error


class Unauthenticated(Exception):
    """No (or an unknown) bearer token while the broker has tokens configured."""


async def abort_with(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    """Abort the call with the status for ``exc`` (always raises); unknown errors become INTERNAL."""
    status = status_for(exc)
    if status is None:
        raise exc
    rich = rpc_status.to_status(status)
    await context.abort(rich.code, rich.details, rich.trailing_metadata)
