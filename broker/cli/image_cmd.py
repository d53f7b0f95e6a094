"""``dualtrack image``: the SIF conversion cache from the command line (mounted by broker.cli.main).

- ``ls``: the cached SIFs, most recently used first, with their sizes and the cache's bound;
- ``convert IMAGE [--source oci:/path:tag]``: pin IMAGE to its digest and make its SIF, with a progress bar;
- ``prune [--max-bytes 50Gi]``: evict least recently used SIFs down to a size (default: the configured bound).

Each reads the ``images:`` mapping of the broker config given by ``--config`` (or $DUALTRACK_CONFIG; without
one, the defaults of broker.images.settings). Exit codes: 1 for an image error (the message names the image
and the reason), 2 for a bad config or option.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dualtrack.broker.images import ImageError, ImageService, ImageSettings
from dualtrack.broker.images.settings import parse_bytes

app = typer.Typer(help="Docker/OCI image -> SIF conversion cache.", no_args_is_help=True)
# Piped output (logs, CI) gets wide lines, so digests and paths are never folded.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="DUALTRACK_CONFIG", help="Broker config YAML; its images: mapping is used."),
]


def _fail(message: str, code: int) -> NoReturn:
    err.print("[red]error:[/] ", end="")
    err.print(message, markup=False)
    raise typer.Exit(code)


def load_settings(config: Path | None, sources: dict[str, str] | None = None) -> ImageSettings:
    """The ``images:`` mapping of ``config`` (plus extra ``sources``) as ImageSettings; exits 2 when invalid."""
    mapping: dict[str, Any] = {}
    if config is not None:
        try:
            document = yaml.safe_load(config.read_text()) or {}
        except OSError as e:
            _fail(f"cannot read {config}: {e.strerror}", 2)
        except yaml.YAMLError as e:
            _fail(f"{config} is not YAML: {e}", 2)
        if not isinstance(document, dict):
            _fail(f"{config}: the top level must be a mapping", 2)
        mapping = dict(document.get("images") or {})
    if sources:
        mapping["sources"] = {**(mapping.get("sources") or {}), **sources}
    try:
        return ImageSettings.from_mapping(mapping)
    except ValueError as e:
        _fail(f"{config or 'defaults'}: {e}", 2)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


@app.command("ls")
def list_cached(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the cached SIFs, most recently used first."""
    settings = load_settings(config)
    service = ImageService(settings)
    entries = service.cache.list()
    if as_json:
        rows = [{"digest": e.digest, "path": str(e.path), "sizeBytes": e.size_bytes, "lastUsed": e.last_used}
                for e in entries]  # fmt: skip
        out.print_json(json.dumps({"cacheDir": str(settings.cache_dir), "maxBytes": settings.max_bytes, "sifs": rows}))
        return
    total = sum(e.size_bytes for e in entries)
    table = Table(title=f"{settings.cache_dir}: {_size(total)} of {_size(settings.max_bytes)}", title_justify="left")
    for column in ("digest", "size", "last used", "file"):
        table.add_column(column)
    for e in entries:
        used = datetime.fromtimestamp(e.last_used, UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(e.digest[:19], _size(e.size_bytes), used, e.path.name)
    out.print(table)


@app.command("convert")
def convert(
    image: Annotated[str, typer.Argument(help="A Docker/OCI reference such as ultralytics/ultralytics:8.3.40.")],
    source: Annotated[
        str | None,
        typer.Option("--source", help="Take IMAGE from a local oci:/path:tag or docker-archive:/path.tar."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Pin IMAGE to its digest and convert it to a SIF in the cache (once per digest)."""
    settings = load_settings(config, {image: source} if source else None)
    service = ImageService(settings)
    started = time.monotonic()
    try:
        resolved = service.pin(image)
        out.print(f"{image} -> {resolved.pinned_ref}", markup=False)
        cached = service.has_sif(resolved.digest)
        with Progress(
            TextColumn("{task.description:<32}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(), console=err, transient=False, disable=cached,
        ) as progress:  # fmt: skip
            task = progress.add_task("converting", total=1.0)

            def report(step: str, fraction: float) -> None:
                progress.update(task, description=step, completed=fraction)

            path = service.ensure_sif(resolved, progress=report)
    except ImageError as e:
        _fail(str(e), 1)
    seconds = time.monotonic() - started
    state = "already cached" if cached else f"converted in {seconds:.1f} s"
    out.print(f"{path} ({_size(path.stat().st_size)}, {state})", markup=False)


@app.command("prune")
def prune(
    max_bytes: Annotated[
        str | None, typer.Option("--max-bytes", help="Evict down to this size (bytes or 50Gi); default the bound.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Evict least recently used SIFs until the cache fits."""
    settings = load_settings(config)
    try:
        if max_bytes is None:
            limit = settings.max_bytes
        else:
            limit = 0 if max_bytes.strip() == "0" else parse_bytes(max_bytes, "--max-bytes")
    except ValueError as e:
        _fail(str(e), 2)
    removed = ImageService(settings).cache.prune(max_bytes=limit)
    for entry in removed:
        out.print(f"removed {entry.path.name} ({_size(entry.size_bytes)})")
    out.print(f"{len(removed)} SIF(s) removed, {_size(sum(entry.size_bytes for entry in removed))} freed")
