"""Decoding a SubmitJobs reply into one ``SubmitResult`` per item (shared by both clients)."""

from __future__ import annotations

from dualtrack.client.errors import DualtrackError, FieldViolation, build_error
from dualtrack.client.requests import SubmitResult
from dualtrack.v1 import broker_pb2 as pb


def item_error(error: pb.ItemError) -> DualtrackError:
    """The typed error (InvalidSpec, NoBackendCanRun, IdempotencyConflict...) of one refused item."""
    return build_error(error.code, error.message,
                       [FieldViolation(v.field, v.description) for v in error.field_violations],
                       dict(error.backend_reasons))


def batch_results(response: pb.SubmitJobsResponse, expected: int) -> list[SubmitResult]:
    if len(response.results) != expected:
        raise DualtrackError(f"SubmitJobs answered {len(response.results)} results for {expected} items", "INTERNAL")
    return [SubmitResult(None, error=item_error(r.error)) if r.HasField("error")
            else SubmitResult(r.job, r.duplicate) for r in response.results]
