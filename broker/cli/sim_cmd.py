"""``dualtrack sim replay``: replay a job trace in virtual time under the broker's policies and the baselines.

Mounted as ``dualtrack sim`` by ``broker/cli/main.py``. Progress goes to stderr, the figures table to stdout,
``--json`` and ``--report`` to files (docs/simulation.md). Exit code 2 for a bad trace, clusters file or option.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Cluster models and trace replay (docs/simulation.md).", no_args_is_help=True)

TABLE_COLUMNS = ("jobs", "mean_wait_s", "p50_wait_s", "p95_wait_s", "max_wait_s", "mean_jct_s", "utilization",
                 "jain_fairness", "reroutes")


@app.callback()
def sim() -> None:
    """Cluster models and trace replay (see docs/simulation.md)."""


def _progress(policy: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r{policy:>15}: {done:>7}/{total} jobs done")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def format_table(figures: dict[str, dict[str, float]]) -> str:
    """The stdout table: one row per policy."""
    head = f"{'policy':<15}" + "".join(f"{c:>14}" for c in TABLE_COLUMNS)
    lines = [head]
    for name, row in figures.items():
        cells = "".join(f"{row[c]:>14.3f}" if isinstance(row[c], float) else f"{row[c]:>14}" for c in TABLE_COLUMNS)
        lines.append(f"{name:<15}{cells}")
    return "\n".join(lines)


@app.command()
def replay(
    trace: Annotated[Path, typer.Option(help="Trace CSV (docs/simulation.md, 'Trace CSV').")],
    clusters: Annotated[Path, typer.Option(help="Clusters YAML (docs/simulation.md, 'Clusters YAML').")],
    policy: Annotated[str, typer.Option(help="Comma-separated policies to run.")] = (
        "live,static,round-robin,most-free,earliest-start,single-pool"),
    compress: Annotated[float, typer.Option(help="Divide submit times by this factor to create load.")] = 1.0,
    time_limit_factor: Annotated[float, typer.Option(help="Time limit = duration x this (without a time_limit "
                                                          "column).")] = 2.0,
    seed: Annotated[int, typer.Option(help="Seed (round-robin's first backend); same seed, same JSON.")] = 0,
    cycle_seconds: Annotated[float, typer.Option(help="Virtual seconds between reconciler cycles.")] = 30.0,
    limit: Annotated[int | None, typer.Option(help="Replay only the first N trace rows.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures as JSON here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report with plots into this folder.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress on stderr.")] = False,
) -> None:
    """Replay TRACE on CLUSTERS under each policy; print every policy's figures."""
    from dualtrack.sim.replay.clusters import ClustersError, load_clusters
    from dualtrack.sim.replay.metrics import to_json
    from dualtrack.sim.replay.report import write_report
    from dualtrack.sim.replay.runner import POLICIES, ReplayOptions
    from dualtrack.sim.replay.runner import replay as run_replay
    from dualtrack.sim.replay.trace import TraceError, read_trace

    policies = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or not policies:
        typer.echo(f"--policy: {', '.join(unknown) or 'empty'} not among {', '.join(POLICIES)}", err=True)
        raise typer.Exit(2)
    if cycle_seconds <= 0:
        typer.echo("--cycle-seconds: must be > 0", err=True)
        raise typer.Exit(2)
    try:
        jobs = read_trace(trace, time_limit_factor=time_limit_factor, compress=compress, limit=limit)
        spec = load_clusters(clusters)
    except (TraceError, ClustersError, OSError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    options = ReplayOptions(cycle_seconds=cycle_seconds, seed=seed, progress=None if quiet else _progress)
    started = time.perf_counter()
    runs = run_replay(jobs, spec, policies, options)
    wall = time.perf_counter() - started
    parameters = {"trace": trace.name, "clusters": clusters.name, "jobs": len(jobs), "compress": compress,
                  "time_limit_factor": time_limit_factor, "cycle_seconds": cycle_seconds, "seed": seed}
    doc = to_json(runs, seed=seed, extra={"parameters": parameters})
    typer.echo(format_table(doc["policies"]))
    if not quiet:
        speeds = ", ".join(f"{n} {len(jobs) / max(r.wall_seconds, 1e-9):,.0f}" for n, r in runs.items())
        typer.echo(f"replayed {len(jobs)} jobs x {len(runs)} policies in {wall:.1f} s (jobs/s: {speeds})", err=True)
    if json_out is not None:
        json_out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    if report is not None:
        path = write_report(report, runs, title=f"Replay of {trace.name} on {clusters.name}", parameters=parameters)
        typer.echo(f"report: {path}", err=True)
