"""``dualtrack migrate <id> [--to BACKEND] [--now]``: move a job that is on a backend to another one.

Without ``--now`` the broker stops the current attempt right after the job's next checkpoint (a YOLO job
writes one per epoch) and starts attempt n+1 on the target, which resumes from the shared run folder;
``--now`` stops it at once. ``dualtrack watch <id>`` shows each step with its reason.
"""

from __future__ import annotations

from typing import Annotated

import grpc
import typer

from dualtrack.broker.cli import output
from dualtrack.broker.cli.client import broker_stub, describe, metadata
from dualtrack.broker.cli.output import Format, console, fail
from dualtrack.v1 import broker_pb2 as pb

# the same options as the other client commands (broker/cli/main.py), repeated: main imports this module
AddressOpt = Annotated[str | None, typer.Option("--address", "-a", help="Broker address host:port "
                                                "(env DUALTRACK_ADDRESS; default 127.0.0.1:50051).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Bearer token (env DUALTRACK_TOKEN).")]
OutputOpt = Annotated[Format, typer.Option("--output", "-o", help="table, json or yaml.")]


def migrate(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    to: Annotated[str, typer.Option("--to", help="Target backend (default: placement picks another one).")] = "",
    now: Annotated[bool, typer.Option("--now", help="Stop the current attempt at once, not at its next "
                                                     "checkpoint.")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the job's events).")] = "",
    address: AddressOpt = None,
    token: TokenOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Move a job to another backend at its next checkpoint (or at once with --now)."""
    request = pb.MigrateJobRequest(id=job_id, to_backend=to, now=now, reason=reason)
    with broker_stub(address) as stub:
        try:
            job = stub.MigrateJob(request, metadata=metadata(token))
        except grpc.RpcError as error:
            failure = describe(error)
            fail(f"{failure.code}: {failure.message}", failure.details,
                 {"INVALID_ARGUMENT": 2, "UNAVAILABLE": 3}.get(failure.code, 1))
    if fmt is not Format.table:
        output.emit_data(output.as_dict(job), fmt)
        return
    when = "now" if now else "at its next checkpoint"
    console.print(f"{job.id}: migration from {job.backend} to {to or 'another backend'} requested ({when}); "
                  f"follow it with `dualtrack watch {job.id}`")
