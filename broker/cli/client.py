"""A gRPC client for the CLI: channel, stub, bearer token, and readable errors from rich statuses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dualtrack.broker.config import ADDRESS_ENV, DEFAULT_ADDRESS
from dualtrack.v1 import broker_pb2_grpc

TOKEN_ENV = "DUALTRACK_TOKEN"


@dataclass
class CallFailed(Exception):
    """A failed call, with the server's message and any field violations / backend reasons."""

    code: str
    message: str
    details: list[str]

    def __str__(self) -> str:
        return self.message


def resolve_address(address: str | None) -> str:
    return address or os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS


def metadata(token: str | None) -> list[tuple[str, str]]:
    token = token or os.environ.get(TOKEN_ENV)
    return [("authorization", f"Bearer {token}")] if token else []


def describe(error: grpc.RpcError) -> CallFailed:
    code = error.code().name if hasattr(error, "code") and error.code() else "UNKNOWN"
    message = error.details() if hasattr(error, "details") else str(error)
    lines: list[str] = []
    status = rpc_status.from_call(error) if isinstance(error, grpc.Call) else None
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                lines.extend(f"{v.field}: {v.description}" if v.field else v.description
                             for v in bad.field_violations)
            elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
                failure = error_details_pb2.PreconditionFailure()
                detail.Unpack(failure)
                lines.extend(f"{v.subject}: {v.description}" for v in failure.violations)
    if code == "UNAVAILABLE":
        message = f"cannot reach the broker ({message}); is `dualtrack serve` running? (--address / ${ADDRESS_ENV})"
    return CallFailed(code, message or code, lines)


@contextmanager
def broker_stub(address: str | None) -> Iterator[broker_pb2_grpc.BrokerStub]:
    channel = grpc.insecure_channel(resolve_address(address))
    try:
        yield broker_pb2_grpc.BrokerStub(channel)  # type: ignore[no-untyped-call]
    finally:
        channel.close()
