"""``dualtrack``: run the broker and talk to it.

Every client command takes ``--address`` (or $DUALTRACK_ADDRESS, default 127.0.0.1:50051) and ``-o
table|json|yaml``. Every failure prints the server's message (and each field violation or backend reason)
on stderr and exits non-zero: 1 for a refused request, 2 for bad usage or an invalid spec, 3 when the
broker cannot be reached.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import grpc
import typer

from dualtrack.broker.cli import output
from dualtrack.broker.cli.client import CallFailed, broker_stub, describe, metadata
from dualtrack.broker.cli.output import Format, console, errors, fail
from dualtrack.v1 import broker_pb2 as pb

T = TypeVar("T")

app = typer.Typer(
    name="dualtrack",
    help="One job spec, two GPU estates: a Kubernetes/Volcano + Slurm meta-scheduler broker.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

AddressOpt = Annotated[str | None, typer.Option("--address", "-a", help="Broker address host:port "
                                                "(env DUALTRACK_ADDRESS; default 127.0.0.1:50051).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Bearer token (env DUALTRACK_TOKEN).")]
OutputOpt = Annotated[Format, typer.Option("--output", "-o", help="table, json or yaml.")]
TERMINAL = {pb.SUCCEEDED, pb.FAILED, pb.CANCELLED}


def call_failed(error: grpc.RpcError) -> NoReturn:
    failure: CallFailed = describe(error)
    code = {"INVALID_ARGUMENT": 2, "UNAVAILABLE": 3}.get(failure.code, 1)
    fail(f"{failure.code}: {failure.message}", failure.details, code)


def unary(address: str | None, call: Callable[[Any], T]) -> T:
    """Run one RPC against the broker; a failure prints the server's message and exits (see call_failed)."""
    with broker_stub(address) as stub:
        try:
            return call(stub)
        except grpc.RpcError as error:
            call_failed(error)


def read_spec_file(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", code=2)


# ---------------------------------------------------------------------------------------------- serve
@app.command()
def serve(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c",
        help="Broker config YAML (env DUALTRACK_CONFIG); without it: embedded defaults "
             "(local Slurm + Kubernetes simulator).")] = None,
    address: Annotated[str | None, typer.Option(
        "--address", "-a", help="Listen address (overrides the config).")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the broker: the gRPC API, the reconciler and the /metrics endpoint."""
    from dualtrack.broker.cli.serve_cmd import run_broker

    run_broker(config, address, log_level)


# ---------------------------------------------------------------------------------------------- specs
@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Job spec YAML files.")]) -> None:
    """Check job specs locally; print every problem with its field path."""
    from dualtrack.broker.domain import SpecError, parse_spec_yaml

    bad = 0
    for path in files:
        try:
            spec = parse_spec_yaml(read_spec_file(path))
        except SpecError as exc:
            bad += 1
            errors.print(f"[red]{path}: invalid[/] ({len(exc.issues)} problem{'s' if len(exc.issues) != 1 else ''})")
            for issue in exc.issues:
                errors.print(f"  - {issue}", markup=False)
            continue
        res = spec.spec.resources
        console.print(f"[green]{path}: valid[/] {spec.metadata.name} (tenant {spec.metadata.tenant}, "
                      f"{res.workers} x {res.gpus_per_worker} GPU{'s' if res.gpus_per_worker != 1 else ''})")
    if bad:
        raise typer.Exit(2)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="Job spec YAML.")],
    track: Annotated[str, typer.Option("--track", "-t", help="auto, kubernetes or slurm (overrides the spec).")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Explain where it would go; store nothing.")] = False,
    idempotency_key: Annotated[str, typer.Option("--idempotency-key", help="Resubmitting with the same key "
                                                 "returns the first job.")] = "",
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream the job's events until it ends.")] = False,
    address: AddressOpt = None,
    token: TokenOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Submit a job spec to the broker."""
    text = read_spec_file(file)
    if dry_run:
        _explain(text, track, address, token, fmt)
        return
    with broker_stub(address) as stub:
        try:
            response = stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=text, track=track,
                                                          idempotency_key=idempotency_key), metadata=metadata(token))
        except grpc.RpcError as error:
            call_failed(error)
        job = response.job
        if fmt is not Format.table:
            output.emit_data(output.as_dict(response), fmt)
        else:
            note = " (already submitted with this idempotency key)" if response.duplicate else ""
            console.print(f"submitted [bold]{job.id}[/] ({job.name}){note}: {pb.JobState.Name(job.state)}")
        if follow:
            _follow(stub, job.id, token)


def _explain(text: str, track: str, address: str | None, token: str | None, fmt: Format) -> None:
    response = unary(address, lambda stub: stub.ExplainPlacement(
        pb.ExplainPlacementRequest(spec_yaml=text, track=track), metadata=metadata(token)))
    if fmt is not Format.table:
        output.emit_data(output.as_dict(response), fmt)
        return
    status = pb.FilterStatus.Name(response.status)
    where = f" -> {response.backend}" + (f"/{response.pool}" if response.pool else "") if response.backend else ""
    console.print(f"[bold]placement:[/] {status}{where}" + (f" (tier {response.tier})" if response.tier else ""))
    output.explanation_tables(response.explanation)
    if response.status == pb.UNRESOLVABLE:
        raise typer.Exit(1)


@app.command()
def explain(
    file: Annotated[Path, typer.Argument(help="Job spec YAML.")],
    track: Annotated[str, typer.Option("--track", "-t")] = "",
    address: AddressOpt = None,
    token: TokenOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Dry-run placement: every backend's filter verdicts and scores, and the winner."""
    _explain(read_spec_file(file), track, address, token, fmt)


@app.command()
def render(
    file: Annotated[Path, typer.Argument(help="Job spec YAML.")],
    track: Annotated[str, typer.Option("--track", "-t", help="kubernetes or slurm.")] = "",
    backend: Annotated[str, typer.Option("--backend", "-b", help="A backend by name.")] = "",
    address: AddressOpt = None,
    token: TokenOpt = None,
) -> None:
    """Print what a backend would receive: the Volcano Job YAML or the sbatch script."""
    request = pb.RenderJobRequest(spec_yaml=read_spec_file(file), track=track, backend=backend)
    response = unary(address, lambda stub: stub.RenderJob(request, metadata=metadata(token)))
    errors.print(f"# {response.backend} ({response.kind})")
    console.print(response.artefact, markup=False, end="")


# ---------------------------------------------------------------------------------------------- jobs
@app.command()
def get(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    address: AddressOpt = None,
    token: TokenOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Show one job: state, backend, reason, placement explanation."""
    job = unary(address, lambda stub: stub.GetJob(pb.GetJobRequest(id=job_id), metadata=metadata(token)))
    if fmt is not Format.table:
        output.emit_data(output.as_dict(job), fmt)
        return
    output.job_detail(job)
    if job.explanation.candidates:
        output.explanation_tables(job.explanation)


@app.command("list")
def list_(
    state: Annotated[list[str] | None, typer.Option("--state", "-s", help="Filter by state (repeatable).")] = None,
    tenant: Annotated[str, typer.Option("--tenant")] = "",
    backend: Annotated[str, typer.Option("--backend", "-b")] = "",
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many jobs (newest first).")] = 50,
    address: AddressOpt = None,
    token: TokenOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """List jobs, newest first."""
    states = []
    for name in state or []:
        if name.upper() not in pb.JobState.keys() or name.upper() == "JOB_STATE_UNSPECIFIED":  # noqa: SIM118
            fail(f"--state: {name!r} is not a job state", code=2)
        states.append(pb.JobState.Value(name.upper()))
    found: list[pb.Job] = []
    token_page = ""
    with broker_stub(address) as stub:
        while len(found) < limit:
            try:
                page = stub.ListJobs(pb.ListJobsRequest(tenant=tenant, states=states, backend=backend,
                                                        page_size=min(limit - len(found), 1000),
                                                        page_token=token_page), metadata=metadata(token))
            except grpc.RpcError as error:
                call_failed(error)
            found.extend(page.jobs)
            token_page = page.next_page_token
            if not token_page:
                break
    if fmt is not Format.table:
        output.emit_data([output.as_dict(j) for j in found], fmt)
    else:
        console.print(output.jobs_table(found))


@app.command()
def cancel(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    reason: Annotated[str, typer.Option("--reason")] = "",
    address: AddressOpt = None,
    token: TokenOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Cancel a job in any state (a finished job is left as it is)."""
    job = unary(address, lambda stub: stub.CancelJob(pb.CancelJobRequest(id=job_id, reason=reason),
                                                     metadata=metadata(token)))
    if fmt is not Format.table:
        output.emit_data(output.as_dict(job), fmt)
    else:
        console.print(f"{job.id}: {pb.JobState.Name(job.state)}")


def _follow(stub: object, job_id: str, token: str | None) -> None:
    request = pb.WatchJobsRequest(job_id=job_id, follow_until_terminal=True)
    try:
        for event in stub.WatchJobs(request, metadata=metadata(token)):  # type: ignore[attr-defined]
            console.print(output.event_line(event), markup=False)
    except grpc.RpcError as error:
        call_failed(error)


@app.command()
def watch(
    job_id: Annotated[str, typer.Argument(help="Job id; without it, every job.")] = "",
    since: Annotated[int, typer.Option("--since", help="Replay events after this sequence number.")] = 0,
    address: AddressOpt = None,
    token: TokenOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Stream job events (one job until it ends, or every job until interrupted)."""
    request = pb.WatchJobsRequest(job_id=job_id, since_seq=since, follow_until_terminal=bool(job_id))
    with broker_stub(address) as stub:
        try:
            for event in stub.WatchJobs(request, metadata=metadata(token)):
                if fmt is Format.table:
                    console.print(output.event_line(event), markup=False)
                else:
                    output.emit_data(output.as_dict(event), fmt)
                sys.stdout.flush()
        except grpc.RpcError as error:
            if error.code() is grpc.StatusCode.CANCELLED:
                return
            call_failed(error)
        except KeyboardInterrupt:
            return


@app.command()
def backends(
    address: AddressOpt = None,
    token: TokenOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """What both clusters hold: GPUs total/free by type, queues, health."""
    response = unary(address, lambda stub: stub.ListBackends(pb.ListBackendsRequest(), metadata=metadata(token)))
    if fmt is not Format.table:
        output.emit_data([output.as_dict(b) for b in response.backends], fmt)
    else:
        console.print(output.backends_table(response.backends))


@app.command()
def wait(
    job_ids: Annotated[list[str], typer.Argument(help="Job ids.")],
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds; 0 waits forever.")] = 0,
    address: AddressOpt = None,
    token: TokenOpt = None,
) -> None:
    """Wait until the jobs end; exit 0 only when all succeeded."""
    deadline = time.monotonic() + timeout if timeout else None
    pending = list(job_ids)
    failed = []
    with broker_stub(address) as stub:
        while pending:
            for job_id in list(pending):
                try:
                    job = stub.GetJob(pb.GetJobRequest(id=job_id), metadata=metadata(token))
                except grpc.RpcError as error:
                    call_failed(error)
                if job.state in TERMINAL:
                    pending.remove(job_id)
                    console.print(f"{job.id}: {pb.JobState.Name(job.state)} {job.reason}", markup=False)
                    if job.state != pb.SUCCEEDED:
                        failed.append(job_id)
            if pending:
                if deadline is not None and time.monotonic() > deadline:
                    fail(f"timed out waiting for {', '.join(pending)}")
                time.sleep(0.5)
    if failed:
        raise typer.Exit(1)


def _mount_subcommands() -> None:
    """Sub-apps of other parts: the image cache, the Kubernetes simulator, the live top view."""
    from dualtrack.broker.cli import image_cmd, kubesim_cmd, migrate_cmd, top_cmd

    app.add_typer(image_cmd.app, name="image", help="Docker/OCI image -> SIF conversion cache.")
    app.add_typer(kubesim_cmd.app, name="kubesim", help="The Kubernetes API simulator (tests, demos).")
    app.add_typer(top_cmd.app, name="top", help="A live view of both clusters.")
    app.command("migrate")(migrate_cmd.migrate)


_mount_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
