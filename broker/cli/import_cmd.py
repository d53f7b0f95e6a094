"""``dualtrack import FILE [--submit]``: a Volcano Job YAML or an sbatch script (or ``sbatch ...`` command) ->
the unified spec, printed as YAML (or submitted), with one warning on stderr for every field that could not be
carried over (docs/import.md). Exit 2 when the file cannot be imported or the result does not validate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from dualtrack.broker.cli import output
from dualtrack.broker.cli.connect import AddressOpt, TlsCaOpt, TlsCertOpt, TlsKeyOpt, TokenOpt, broker
from dualtrack.broker.cli.output import Format, console, errors, fail
from dualtrack.client import state_name

SPEC_ORDER = ("image", "yolo", "command", "env", "resources", "gang", "topology", "datasets", "placement",
              "priority", "timeLimit", "retry", "reroute")


def ordered(document: dict[str, Any]) -> dict[str, Any]:
    """The spec keys in the order docs/spec.md writes them, for a readable YAML."""
    body = document["spec"]
    return {**{k: document[k] for k in ("apiVersion", "kind", "metadata")},
            "spec": {**{k: body[k] for k in SPEC_ORDER if k in body}, **{k: v for k, v in body.items()
                                                                        if k not in SPEC_ORDER}}}


def import_(
    file: Annotated[Path, typer.Argument(help="A Volcano Job YAML, an sbatch script, or a file holding an "
                                               "`sbatch ...` command line.")],
    submit: Annotated[bool, typer.Option("--submit", help="Submit the imported spec to the broker.")] = False,
    image: Annotated[str, typer.Option("--image", help="Set spec.image (sbatch scripts rarely name one).")] = "",
    tenant: Annotated[str, typer.Option("--tenant", help="Set metadata.tenant.")] = "",
    address: AddressOpt = None,
    token: TokenOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    fmt: Annotated[Format | None, typer.Option("--output", "-o", help="json or yaml: the spec with its "
                                               "warnings; default: the spec YAML alone.")] = None,
) -> None:
    """Turn an existing Volcano Job or sbatch script into a dualtrack job spec."""
    from dualtrack.broker.domain import SpecError, parse_spec
    from dualtrack.broker.importers import NotImportable, import_text

    try:
        text = file.read_text()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", code=2)
    try:
        imported = import_text(text, base_dir=file.parent)
    except (NotImportable, ValueError) as exc:
        fail(f"{file}: {exc}", code=2)
    if image:
        imported.spec["spec"]["image"] = image
        imported.warnings = [w for w in imported.warnings if w.field != "spec.image"]
    if tenant:
        imported.spec["metadata"]["tenant"] = tenant
        imported.warnings = [w for w in imported.warnings if w.field != "metadata.tenant"]
    document = ordered(imported.spec)
    try:
        parse_spec(document)
    except SpecError as exc:
        fail(f"{file}: the imported spec is invalid", [str(i) for i in exc.issues], code=2)
    for warning in imported.warnings:
        errors.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False, soft_wrap=True)
    if submit:
        with broker(address, token, tls_ca, tls_cert, tls_key) as client:
            result = client.submit(document)
        job = result.job
        assert job is not None
        if fmt is not None and fmt is not Format.table:
            output.emit_data({"job": output.as_dict(job), "warnings": [str(w) for w in imported.warnings]}, fmt)
        else:
            console.print(f"submitted [bold]{job.id}[/] ({job.name}): {state_name(job.state)}")
        return
    if fmt is Format.json or fmt is Format.yaml:
        output.emit_data({"spec": document, "source": imported.source_kind,
                          "warnings": [{"field": w.field, "message": w.message} for w in imported.warnings]}, fmt)
        return
    output.write_exact(f"# imported from {file.name} ({imported.source_kind}); {len(imported.warnings)} warning"
                       f"{'s' if len(imported.warnings) != 1 else ''} on stderr\n"
                       + yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
