"""dualtrack.client: the typed Python SDK of the dualtrack broker (docs/sdk.md).

    from dualtrack.client import Client
    with Client("broker:50051", token="...") as broker:
        job = broker.submit("job.yaml", idempotency_key="run-42").job
        for event in broker.watch(job.id):
            print(event.seq, event.message)

``Client`` blocks, ``AsyncClient`` is the asyncio twin. Results are the ``dualtrack.v1`` messages; failures are
``DualtrackError`` subclasses carrying the broker's field violations or per-backend reasons.
"""

from dualtrack.client.aio import AsyncClient
from dualtrack.client.connection import TLSConfig
from dualtrack.client.errors import (
    BrokerUnavailable,
    DeadlineExceeded,
    DualtrackError,
    FailedPrecondition,
    FieldViolation,
    IdempotencyConflict,
    InvalidSpec,
    JobNotFound,
    NoBackendCanRun,
    PermissionDenied,
    Unauthenticated,
    WaitTimeout,
)
from dualtrack.client.requests import TERMINAL_STATES, SpecLike, SubmitResult, state_name, state_value
from dualtrack.client.sync import Client
from dualtrack.v1 import broker_pb2 as pb

JobState = pb.JobState

__all__ = [
    "TERMINAL_STATES",
    "AsyncClient",
    "BrokerUnavailable",
    "Client",
    "DeadlineExceeded",
    "DualtrackError",
    "FailedPrecondition",
    "FieldViolation",
    "IdempotencyConflict",
    "InvalidSpec",
    "JobNotFound",
    "JobState",
    "NoBackendCanRun",
    "PermissionDenied",
    "SpecLike",
    "SubmitResult",
    "TLSConfig",
    "Unauthenticated",
    "WaitTimeout",
    "pb",
    "state_name",
    "state_value",
]
