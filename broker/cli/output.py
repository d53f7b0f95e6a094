"""Rendering API messages for people (rich tables) and programs (json / yaml)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
import yaml
from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dualtrack.v1 import broker_pb2 as pb

# Piped output (logs, CI, scripts) gets wide lines instead of rich's 80-column default.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


# the -o option every data verb takes (main.py and the sub-command modules)
OutputOpt = Annotated[Format, typer.Option("--output", "-o", help="table, json or yaml.")]


STATE_STYLE = {
    "SUCCEEDED": "green", "FAILED": "red", "CANCELLED": "yellow", "RUNNING": "cyan", "QUEUED": "blue",
    "REROUTING": "magenta", "PLACED": "white", "SUBMITTED": "white", "ACCEPTED": "dim",
}


def as_dict(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True,
                                                     always_print_fields_with_no_presence=True)
    return data


def emit_data(data: Any, fmt: Format) -> None:
    """JSON or YAML on stdout, written as is: no console wrapping or highlighting, so it parses back."""
    if fmt is Format.json:
        write_exact(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        write_exact(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def json_line(data: Any) -> str:
    """One JSON document on one line (streams: one event per line)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_exact(text: str) -> None:
    """Write ``text`` to stdout byte for byte (UTF-8), bypassing rich (artefacts, data for programs)."""
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode())
    sys.stdout.buffer.flush()


def when(ts: Any) -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    return datetime.fromtimestamp(ts.seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def state_text(value: int) -> str:
    name = pb.JobState.Name(value)
    return f"[{STATE_STYLE.get(name, 'white')}]{name}[/]"


def jobs_table(jobs: Sequence[pb.Job]) -> Table:
    table = Table(show_lines=False)
    for column in ("ID", "NAME", "TENANT", "STATE", "BACKEND", "ATTEMPT", "CREATED", "REASON"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        table.add_row(job.id, job.name, job.tenant, state_text(job.state), job.backend or "-", str(job.attempt),
                      when(job.created_at), job.reason[:80])
    return table


def job_detail(job: pb.Job) -> None:
    exit_code = str(job.exit_code) if job.HasField("exit_code") else "-"
    console.print(f"[bold]{job.id}[/]  {job.name}  tenant={job.tenant}")
    console.print(f"  state     {state_text(job.state)}  (since {when(job.state_since)}, attempt {job.attempt})")
    console.print(f"  backend   {job.backend or '-'} {('(' + job.track + ')') if job.track else ''}"
                  f"  backend job {job.backend_job_id or '-'}  object {job.object_name}")
    console.print(f"  image     {job.image_ref or job.spec.spec.image}")
    console.print(f"  exit code {exit_code}")
    if job.output_dir:
        console.print(f"  output    {job.output_dir}", markup=False)
    if job.reason:
        console.print(f"  reason    {job.reason}", markup=False)
    if job.explanation.summary:
        console.print(f"  placement {job.explanation.summary}", markup=False)


def explanation_tables(explanation: pb.Explanation) -> None:
    if explanation.summary:
        console.print(f"[bold]decision:[/] {explanation.summary}")
    for candidate in explanation.candidates:
        status = pb.FilterStatus.Name(candidate.status)
        label = candidate.backend + (f"/{candidate.pool}" if candidate.pool else "")
        marker = "[green]*[/] " if candidate.backend == explanation.winner and (
            not explanation.winner_pool or candidate.pool == explanation.winner_pool) else "  "
        console.print(f"{marker}[bold]{label}[/]  {status}  total={candidate.total:.1f}")
        for verdict in candidate.verdicts:
            if verdict.status != pb.OK or verdict.reason:
                console.print(f"      filter {verdict.plugin}: {pb.FilterStatus.Name(verdict.status)}"
                              f" {verdict.reason}", markup=False)
        if candidate.scores:
            table = Table(show_header=True, box=None, padding=(0, 2))
            for column in ("score plugin", "raw", "weight", "weighted", "detail"):
                table.add_column(column)
            for score in candidate.scores:
                table.add_row(score.plugin, f"{score.raw:.1f}", f"{score.weight:g}", f"{score.weighted:.1f}",
                              score.detail)
            console.print(table)


def backends_table(backends: Sequence[pb.Backend]) -> Table:
    table = Table()
    for column in ("BACKEND", "KIND", "TRACK", "HEALTH", "GPUS FREE/TOTAL", "BY TYPE", "NODES", "RUNNING",
                   "PENDING", "POOLS"):
        table.add_column(column, overflow="fold")
    for b in backends:
        health = "[green]up[/]" if b.healthy else f"[red]down[/] {b.error[:60]}"
        if b.HasField("controller") and b.controller.up:
            down = f", {','.join(b.controller.hosts_down)} down" if b.controller.hosts_down else ""
            health += f" (controller {b.controller.latency_seconds * 1000:.0f} ms{down})"
        types = ", ".join(f"{g.gpu_type} {g.free}/{g.total}" for g in b.gpus) or "-"
        pools = ", ".join(f"{p.name}({p.pending_jobs} pending)" for p in b.pools) or "-"
        table.add_row(b.name, b.kind, b.track, health, f"{b.gpus_free}/{b.gpus_total}", types,
                      f"{b.nodes_schedulable}/{b.nodes}", str(b.running_jobs), str(b.pending_jobs), pools)
    return table


def event_line(event: pb.JobEvent) -> str:
    at = when(event.at)
    state = pb.JobState.Name(event.state) if event.state else event.type
    backend = f" [{event.backend}]" if event.backend else ""
    return f"{at}  #{event.seq:<6} {event.job_id}  {state:<10}{backend} {event.message}"


def fail(message: str, details: list[str] | None = None, code: int = 1) -> NoReturn:
    """Print an error (and its details, one per line) on stderr and exit with ``code``."""
    errors.print(f"[red]error:[/] {escape(message)}", markup=True)  # a spec value may hold [markup]
    for line in details or []:
        errors.print(f"  - {line}", markup=False)
    raise typer.Exit(code)
