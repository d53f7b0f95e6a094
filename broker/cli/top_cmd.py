"""``dualtrack top``: a live terminal view of both clusters, read from the broker's /metrics endpoint.

The lead mounts ``app`` as ``dualtrack top``. One frame shows, per backend: health, GPUs per type
(allocated / total, free), utilization, pools with pending jobs and GPUs, running and pending jobs, and
scheduling latency; then the routing split, reroutes and retries. Live mode refreshes every ``--interval``
seconds and shows the decisions made since the previous frame (``+n``); ``--once`` prints one frame
(counts since the broker started) and exits. Exit code 1 with a message naming --metrics-url when the
endpoint cannot be read.
"""

from __future__ import annotations

import io
import time

import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from dualtrack.broker.metrics.reading import BackendView, MetricsUnavailable, MetricsView, fetch_text, read_view

DEFAULT_METRICS_URL = "http://127.0.0.1:9464/metrics"
PENDING_STATES = ("ACCEPTED", "PLACED", "SUBMITTED", "QUEUED")

app = typer.Typer(help="A live view of both clusters: GPUs, queues, jobs and routing.", no_args_is_help=False)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.1f}s"


def _health(backend: BackendView) -> Text:
    if backend.up is None:
        return Text("?", style="yellow")
    return Text("UP", style="green") if backend.up else Text("DOWN", style="bold red")


def _delta(now: float, before: float | None) -> str:
    if before is None:
        return f"{now:g}"
    return f"{now:g} (+{now - before:g})"


def clusters_table(view: MetricsView) -> Table:
    table = Table(title="Clusters", title_justify="left", expand=True)
    for column in ("backend", "health", "GPU type", "allocated/total", "free", "util", "running", "pending",
                   "sched p50/p99", "queue wait p50"):
        table.add_column(column)
    for name in sorted(view.backends):
        backend = view.backends[name]
        states = backend.jobs_by_state
        pending = sum(states.get(state, 0.0) for state in PENDING_STATES)
        running = max(states.get("RUNNING", 0.0), backend.running_jobs)
        util = backend.utilization
        types = sorted(backend.gpus) or ["-"]
        for index, gpu_type in enumerate(types):
            gpus = backend.gpus.get(gpu_type)
            first = index == 0
            table.add_row(
                name if first else "", _health(backend) if first else "", gpu_type,
                f"{gpus.allocated:g}/{gpus.total:g}" if gpus else "-", f"{gpus.free:g}" if gpus else "-",
                (f"{util:.0%}" if util is not None else "-") if first else "",
                f"{running:g}" if first else "", f"{pending:g}" if first else "",
                f"{_seconds(backend.scheduling_p50_s)}/{_seconds(backend.scheduling_p99_s)}" if first else "",
                _seconds(backend.queue_wait_p50_s) if first else "",
            )
    return table


def pools_table(view: MetricsView) -> Table:
    table = Table(title="Queues and partitions", title_justify="left", expand=True)
    for column in ("backend", "pool", "pending jobs", "pending GPUs"):
        table.add_column(column)
    for name in sorted(view.backends):
        for pool_name, pool in sorted(view.backends[name].pools.items()):
            style = "yellow" if pool.pending_jobs > 0 else None
            table.add_row(name, pool_name or "-", f"{pool.pending_jobs:g}", f"{pool.pending_gpus:g}", style=style)
    return table


def routing_table(view: MetricsView, previous: MetricsView | None) -> Table:
    title = "Routing decisions" + (" (+ since last frame)" if previous else " (since broker start)")
    table = Table(title=title, title_justify="left", expand=True)
    table.add_column("decision")
    table.add_column("count")
    before = previous.placements if previous else {}
    for (backend, outcome), count in sorted(view.placements.items()):
        if count or previous:
            label = f"{outcome} -> {backend}" if backend else f"{outcome} (no backend)"
            table.add_row(label, _delta(count, before.get((backend, outcome)) if previous else None))
    reroutes_before = previous.reroutes if previous else {}
    for (source, target, reason), count in sorted(view.reroutes.items()):
        if count:
            table.add_row(f"reroute {source} -> {target} ({reason})",
                          _delta(count, reroutes_before.get((source, target, reason)) if previous else None))
    retries_before = previous.retries if previous else {}
    for (backend, reason), count in sorted(view.retries.items()):
        if count:
            table.add_row(f"retry on {backend} ({reason})",
                          _delta(count, retries_before.get((backend, reason)) if previous else None))
    return table


def render_frame(view: MetricsView, previous: MetricsView | None = None) -> RenderableType:
    """One frame of ``dualtrack top``; ``previous`` adds the change since that frame to the routing table."""
    submitted = ", ".join(f"{outcome} {count:g}" for outcome, count in sorted(view.submissions.items()))
    unplaced = sum(view.unplaced_jobs_by_state.get(state, 0.0) for state in PENDING_STATES)
    header = Text(f"submissions: {submitted or 'none'}   jobs waiting for placement: {unplaced:g}")
    return Group(header, clusters_table(view), pools_table(view), routing_table(view, previous))


def render_text(view: MetricsView, previous: MetricsView | None = None, width: int = 140) -> str:
    """The frame as plain text (tests, ``--once`` into a pipe)."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(render_frame(view, previous))
    return buffer.getvalue()


@app.callback(invoke_without_command=True)
def top(
    metrics_url: str = typer.Option(DEFAULT_METRICS_URL, "--metrics-url", help="The broker's /metrics URL."),
    once: bool = typer.Option(False, "--once", help="Print one frame and exit."),
    interval: float = typer.Option(2.0, "--interval", min=0.2, help="Seconds between frames (live mode)."),
) -> None:
    """Show both clusters' GPUs, queues, jobs and routing, refreshed from the broker's metrics."""
    console = Console()
    try:
        view = read_view(fetch_text(metrics_url))
    except MetricsUnavailable as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    if once:
        console.print(render_frame(view))
        return
    previous: MetricsView | None = None
    with Live(render_frame(view), console=console, refresh_per_second=4, screen=False) as live:
        try:
            while True:
                time.sleep(interval)
                try:
                    current = read_view(fetch_text(metrics_url))
                except MetricsUnavailable as error:
                    live.update(Group(render_frame(view, previous), Text(str(error), style="red")))
                    continue
                previous, view = view, current
                live.update(render_frame(view, previous))
        except KeyboardInterrupt:
            return
