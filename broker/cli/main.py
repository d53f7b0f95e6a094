"""``dualtrack``: run the broker and talk to it.

Every client command reaches the broker through the SDK (dualtrack.client; options in broker/cli/connect.py:
``--address``, ``--token``, ``--tls-ca/--tls-cert/--tls-key``) and takes ``-o table|json|yaml`` when it prints
data; json and yaml are written as is, for programs. Every failure prints the server's message (and each field
violation or backend reason) on stderr and exits non-zero: 1 for a refused request, 2 for bad usage or an
invalid spec, 3 when the broker cannot be reached. Reference: docs/cli.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dualtrack.broker.cli import completion, output
from dualtrack.broker.cli.connect import AddressOpt, TlsCaOpt, TlsCertOpt, TlsKeyOpt, TokenOpt, broker
from dualtrack.broker.cli.output import Format, OutputOpt, console, errors, fail
from dualtrack.client import DualtrackError, pb, state_name, state_value

app = typer.Typer(
    name="dualtrack",
    help="One job spec, two GPU estates: a Kubernetes/Volcano + Slurm meta-scheduler broker.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)

TrackOpt = Annotated[str, typer.Option("--track", "-t", help="auto, kubernetes or slurm (overrides the spec).",
                                       autocompletion=completion.tracks)]
JobIdArg = Annotated[str, typer.Argument(help="Job id.", autocompletion=completion.job_ids)]
BackendOpt = Annotated[str, typer.Option("--backend", "-b", help="A backend by name.",
                                         autocompletion=completion.backend_names)]


def read_spec_file(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", code=2)
    except UnicodeDecodeError as exc:
        fail(f"cannot read {path}: not UTF-8 text (byte {exc.start})", code=2)


def spec_files(paths: list[Path]) -> list[Path]:
    """The YAML files named, a folder standing for its *.yaml / *.yml files (sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            if not inside:
                fail(f"{path}: no *.yaml files in this folder", code=2)
            found += inside
        else:
            found.append(path)
    return found


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
def validate(files: Annotated[list[Path], typer.Argument(help="Job spec YAML files or folders.")],
             fmt: OutputOpt = Format.table) -> None:
    """Check job specs locally; print every problem with its field path."""
    from dualtrack.broker.domain import SpecError, parse_spec_yaml

    bad = 0
    report: list[dict[str, Any]] = []
    for path in spec_files(files):
        try:
            spec = parse_spec_yaml(read_spec_file(path))
        except SpecError as exc:
            bad += 1
            report.append({"file": str(path), "valid": False,
                           "issues": [{"field": i.path, "message": i.message} for i in exc.issues]})
            if fmt is Format.table:
                errors.print(f"[red]{path}: invalid[/] ({len(exc.issues)} problem"
                             f"{'s' if len(exc.issues) != 1 else ''})")
                for issue in exc.issues:
                    errors.print(f"  - {issue}", markup=False)
            continue
        res = spec.spec.resources
        report.append({"file": str(path), "valid": True, "name": spec.metadata.name, "issues": []})
        if fmt is Format.table:
            console.print(f"[green]{path}: valid[/] {spec.metadata.name} (tenant {spec.metadata.tenant}, "
                          f"{res.workers} x {res.gpus_per_worker} GPU{'s' if res.gpus_per_worker != 1 else ''})")
    if fmt is not Format.table:
        output.emit_data(report, fmt)
    if bad:
        raise typer.Exit(2)


@app.command()
def submit(
    files: Annotated[list[Path], typer.Argument(help="Job spec YAML files, or folders of them. Several specs "
                                                "go in one SubmitJobs call (one durable commit) per 1,000.")],
    track: TrackOpt = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Explain where it would go; store nothing.")] = False,
    idempotency_key: Annotated[str, typer.Option("--idempotency-key", help="Resubmitting with the same key "
                                                 "returns the first job; with several files each uses "
                                                 "KEY/<file name>.")] = "",
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream the job's events until it ends "
                                         "(one file only).")] = False,
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Submit job specs to the broker."""
    paths = spec_files(files)
    single = len(paths) == 1 and not any(p.is_dir() for p in files)
    if not single and (follow or dry_run):
        fail("--follow and --dry-run take one spec file", code=2)
    if dry_run:
        _explain(read_spec_file(paths[0]), track, fmt, address, token, tls_ca, tls_cert, tls_key)
        return
    with broker(address, token, tls_ca, tls_cert, tls_key) as client:
        if single:
            result = client.submit(read_spec_file(paths[0]), idempotency_key=idempotency_key, track=track)
            job = result.job
            assert job is not None
            if fmt is not Format.table:
                output.emit_data({"job": output.as_dict(job), "duplicate": result.duplicate}, fmt)
            else:
                note = " (already submitted with this idempotency key)" if result.duplicate else ""
                console.print(f"submitted [bold]{job.id}[/] ({job.name}){note}: {state_name(job.state)}")
            if follow:
                for event in client.watch(job.id):
                    console.print(output.event_line(event), markup=False)
            return
        keys = [f"{idempotency_key}/{p.name}" for p in paths] if idempotency_key else None
        results = client.submit_many([read_spec_file(p) for p in paths], idempotency_keys=keys, track=track)
    _bulk_report(paths, results, fmt)


def _bulk_report(paths: list[Path], results: list[Any], fmt: Format) -> None:
    rows: list[dict[str, Any]] = []
    worst = 0
    for path, result in zip(paths, results, strict=True):
        if result.ok:
            rows.append({"file": str(path), "job": output.as_dict(result.job), "duplicate": result.duplicate})
            if fmt is Format.table:
                note = " (duplicate)" if result.duplicate else ""
                console.print(f"{path}: submitted [bold]{result.job.id}[/] ({result.job.name}){note}")
            continue
        error: DualtrackError = result.error
        worst = max(worst, 2 if error.code == "INVALID_ARGUMENT" else 1)
        rows.append({"file": str(path), "error": {"code": error.code, "message": error.message,
                                                   "details": error.details}})
        if fmt is Format.table:
            errors.print(f"[red]{path}: {error.code}[/] {error.message}", markup=True)
            for line in error.details:
                errors.print(f"  - {line}", markup=False)
    if fmt is not Format.table:
        output.emit_data(rows, fmt)
    else:
        console.print(f"{sum(1 for r in results if r.ok)} of {len(results)} submitted")
    if worst:
        raise typer.Exit(worst)


def _explain(text: str, track: str, fmt: Format, *connection: Any) -> None:
    with broker(*connection) as client:
        response = client.explain(text, track=track)
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
    track: TrackOpt = "",
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Dry-run placement: every backend's filter verdicts and scores, and the winner."""
    _explain(read_spec_file(file), track, fmt, address, token, tls_ca, tls_cert, tls_key)


@app.command()
def render(
    file: Annotated[Path, typer.Argument(help="Job spec YAML.")],
    track: Annotated[str, typer.Option("--track", "-t", help="kubernetes or slurm.",
                                       autocompletion=completion.tracks)] = "",
    backend: BackendOpt = "",
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Render offline with the backends of this broker config; no broker needed.")] = None,
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: Annotated[Format | None, typer.Option("--output", "-o", help="json or yaml: the artefact with its "
                                               "backend and kind; default: the artefact alone.")] = None,
) -> None:
    """Print what a backend would receive, byte for byte: the Volcano Job YAML or the sbatch script
    (`dualtrack render job.yaml -t slurm > job.sbatch`). The backend's name goes to stderr."""
    text = read_spec_file(file)
    if config is not None:
        name, kind, artefact = _render_offline(config, text, track, backend)
    else:
        with broker(address, token, tls_ca, tls_cert, tls_key) as client:
            response = client.render(text, track=track, backend=backend)
        name, kind, artefact = response.backend, response.kind, response.artefact
    if fmt is not None and fmt is not Format.table:
        output.emit_data({"backend": name, "kind": kind, "artefact": artefact}, fmt)
        return
    if sys.stderr.isatty():
        errors.print(f"# {name} ({kind})", markup=False)
    output.write_exact(artefact)


def _render_offline(config: Path, text: str, track: str, backend: str) -> tuple[str, str, str]:
    """Render with the backends a config file describes, in this process (nothing is contacted)."""
    from dualtrack.broker.config import ConfigError, load_config
    from dualtrack.broker.context import build_backends
    from dualtrack.broker.domain import SpecError
    from dualtrack.broker.errors import InvalidRequest
    from dualtrack.broker.handlers.inspect import render_with
    from dualtrack.broker.handlers.specs import SpecSource

    try:
        backends = build_backends(load_config(config))
    except ConfigError as exc:
        fail(f"invalid configuration {exc.source}", [str(i) for i in exc.issues], code=2)
    try:
        rendered = render_with(backends, SpecSource(yaml_text=text), track=track, backend=backend)
    except SpecError as exc:
        fail("invalid job spec", [str(i) for i in exc.issues], code=2)
    except InvalidRequest as exc:
        fail(str(exc), code=2)
    finally:
        backends.close()
    return rendered.backend, rendered.kind, rendered.artefact


# ---------------------------------------------------------------------------------------------- jobs
@app.command()
def get(
    job_id: JobIdArg,
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Show one job: state, backend, reason, placement explanation."""
    with broker(address, token, tls_ca, tls_cert, tls_key) as client:
        job = client.get(job_id)
    if fmt is not Format.table:
        output.emit_data(output.as_dict(job), fmt)
        return
    output.job_detail(job)
    if job.explanation.candidates:
        output.explanation_tables(job.explanation)


@app.command("list")
def list_(
    state: Annotated[list[str] | None, typer.Option("--state", "-s", help="Filter by state (repeatable).",
                                                    autocompletion=completion.states)] = None,
    tenant: Annotated[str, typer.Option("--tenant")] = "",
    backend: BackendOpt = "",
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many jobs (newest first).")] = 50,
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """List jobs, newest first."""
    try:
        states = [state_value(name) for name in state or []]
    except ValueError as exc:
        fail(f"--state: {exc}", code=2)
    with broker(address, token, tls_ca, tls_cert, tls_key) as client:
        found = list(client.list(tenant=tenant, states=states, backend=backend, page_size=min(limit, 1000) or 1,
                                 limit=limit))
    if fmt is not Format.table:
        output.emit_data([output.as_dict(j) for j in found], fmt)
    else:
        console.print(output.jobs_table(found))


@app.command()
def cancel(
    job_id: JobIdArg,
    reason: Annotated[str, typer.Option("--reason")] = "",
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Cancel a job in any state (a finished job is left as it is)."""
    with broker(address, token, tls_ca, tls_cert, tls_key) as client:
        job = client.cancel(job_id, reason=reason)
    if fmt is not Format.table:
        output.emit_data(output.as_dict(job), fmt)
    else:
        console.print(f"{job.id}: {state_name(job.state)}")


@app.command()
def watch(
    job_id: Annotated[str, typer.Argument(help="Job id; without it, every job.",
                                          autocompletion=completion.job_ids)] = "",
    since: Annotated[int, typer.Option("--since", help="Replay events after this sequence number.")] = 0,
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Stream job events (one job until it ends, or every job until interrupted); resumes after a broker
    restart from the last event seen. json/yaml print one document per event (json: one line each)."""
    with broker(address, token, tls_ca, tls_cert, tls_key) as client:
        try:
            for event in client.watch(job_id, since=since):
                if fmt is Format.table:
                    console.print(output.event_line(event), markup=False)
                elif fmt is Format.json:
                    output.write_exact(output.json_line(output.as_dict(event)))
                else:
                    output.write_exact("---\n")
                    output.emit_data(output.as_dict(event), fmt)
                sys.stdout.flush()
        except KeyboardInterrupt:
            return


@app.command()
def backends(
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """What both clusters hold: GPUs total/free by type, queues, health."""
    with broker(address, token, tls_ca, tls_cert, tls_key) as client:
        found = client.backends()
    if fmt is not Format.table:
        output.emit_data([output.as_dict(b) for b in found], fmt)
    else:
        console.print(output.backends_table(found))


@app.command()
def wait(
    job_ids: Annotated[list[str], typer.Argument(help="Job ids.", autocompletion=completion.job_ids)],
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds; 0 waits forever.")] = 0,
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: OutputOpt = Format.table,
) -> None:
    """Wait until the jobs end; exit 0 only when all succeeded."""
    import time

    from dualtrack.client import WaitTimeout

    deadline = time.monotonic() + timeout if timeout else None
    finished: list[pb.Job] = []
    with broker(address, token, tls_ca, tls_cert, tls_key) as client:
        for job_id in job_ids:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                job = client.wait(job_id, timeout=left)
            except WaitTimeout:
                fail(f"timed out waiting for {', '.join(job_ids[len(finished):])}")
            finished.append(job)
            if fmt is Format.table:
                console.print(f"{job.id}: {state_name(job.state)} {job.reason}", markup=False)
    if fmt is not Format.table:
        output.emit_data([output.as_dict(j) for j in finished], fmt)
    if any(j.state != pb.SUCCEEDED for j in finished):
        raise typer.Exit(1)


def _mount_subcommands() -> None:
    """Sub-apps of other parts: the image cache, the Kubernetes simulator, the live top view."""
    from dualtrack.broker.cli import image_cmd, import_cmd, kubesim_cmd, migrate_cmd, top_cmd

    app.add_typer(image_cmd.app, name="image", help="Docker/OCI image -> SIF conversion cache.")
    app.add_typer(kubesim_cmd.app, name="kubesim", help="The Kubernetes API simulator (tests, demos).")
    app.add_typer(top_cmd.app, name="top", help="A live view of both clusters.")
    app.add_typer(__import__("dualtrack.broker.cli.sim_cmd", fromlist=["app"]).app, name="sim", help="Trace replay.")
    app.command("import")(import_cmd.import_)
    app.command("migrate")(migrate_cmd.migrate)


_mount_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
