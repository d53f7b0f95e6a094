"""``dualtrack migrate <id> [--to BACKEND] [--now]``: move a job that is on a backend to another one.

Without ``--now`` the broker stops the current attempt right after the job's next checkpoint (a YOLO job
writes one per epoch) and starts attempt n+1 on the target, which resumes from the shared run folder;
``--now`` stops it at once. ``dualtrack watch <id>`` shows each step with its reason (docs/lifecycle.md).
"""

from __future__ import annotations

from typing import Annotated

import typer

from dualtrack.broker.cli import completion, output
from dualtrack.broker.cli.connect import AddressOpt, TlsCaOpt, TlsCertOpt, TlsKeyOpt, TokenOpt, broker
from dualtrack.broker.cli.output import Format, OutputOpt, console


def migrate(
    job_id: Annotated[str, typer.Argument(help="Job id.", autocompletion=completion.job_ids)],
    to: Annotated[str, typer.Option("--to", help="Target backend (default: placement picks another one).",
                                    autocompletion=completion.backend_names)] = "",
    now: Annotated[bool, typer.Option("--now", help="Stop the current attempt at once, not at its next "
                                                     "checkpoint.")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the job's events).")] = "",
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Move a job to another backend at its next checkpoint (or at once with --now)."""
    with broker(address, token, tls_ca, tls_cert, tls_key) as client:
        job = client.migrate(job_id, to_backend=to, now=now, reason=reason)
    if fmt is not Format.table:
        output.emit_data(output.as_dict(job), fmt)
        return
    when = "now" if now else "at its next checkpoint"
    console.print(f"{job.id}: migration from {job.backend} to {to or 'another backend'} requested ({when}); "
                  f"follow it with `dualtrack watch {job.id}`")
