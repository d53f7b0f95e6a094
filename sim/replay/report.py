"""The replay's HTML report: one self-contained page with inline SVG plots (docs/simulation.md).

Sections: the figures table of every policy; the wait-time CDF per policy; GPU utilization over time per
backend (one chart per policy); queue length over time (jobs waiting in the backends' queues plus those the
broker holds); mean wait per tenant and policy. No JavaScript, no external files.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from dualtrack.sim.replay.metrics import summarize, tenant_waits, waits
from dualtrack.sim.replay.runner import PolicyRun
from dualtrack.sim.replay.svg import bar_chart, line_chart

COLUMNS = ("jobs", "mean_wait_s", "p50_wait_s", "p95_wait_s", "max_wait_s", "mean_jct_s", "utilization",
           "makespan_s", "jain_fairness", "reroutes")
STYLE = ("body{font-family:sans-serif;margin:24px;max-width:1000px}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f4f4f4}"
         "svg.chart{display:block;margin:12px 0}svg text{font-size:11px}svg text.title{font-size:13px;"
         "font-weight:bold}")


def _cdf(values: list[float], points: int = 200) -> list[tuple[float, float]]:
    ordered = sorted(values)
    if not ordered:
        return []
    step = max(1, len(ordered) // points)
    out = [(max(ordered[i], 1.0), (i + 1) / len(ordered)) for i in range(0, len(ordered), step)]
    out.append((max(ordered[-1], 1.0), 1.0))
    return out


def render_html(runs: Mapping[str, PolicyRun], *, title: str, parameters: Mapping[str, Any]) -> str:
    rows = []
    for name, run in runs.items():
        figures = summarize(run)
        cells = "".join(f"<td>{figures[c]:,.3f}</td>" if isinstance(figures[c], float) else f"<td>{figures[c]}</td>"
                        for c in COLUMNS)
        rows.append(f"<tr><th>{escape(name)}</th>{cells}</tr>")
    header = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    params = ", ".join(f"{escape(str(k))}={escape(str(v))}" for k, v in parameters.items())
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1><p>{params}</p>",
             f"<table><tr><th>policy</th>{header}</tr>{''.join(rows)}</table>"]
    parts.append(line_chart("Wait time CDF", {n: _cdf(waits(r.records)) for n, r in runs.items()},
                            x_label="wait (s, log scale)", y_label="fraction of jobs", log_x=True, y_max=1.0))
    for name, run in runs.items():
        series = {backend: [(t / 3600.0, used[i] / max(run.gpus[backend], 1))
                            for i, t in enumerate(run.series_t)] for backend, used in run.series_used.items()}
        parts.append(line_chart(f"GPU utilization per backend: {name}", series, x_label="time (h)",
                                y_label="busy GPUs / GPUs", y_max=1.0))
    parts.append(line_chart("Queue length", {n: [(t / 3600.0, float(q)) for t, q in zip(r.series_t, r.series_queue,
                                                                                        strict=True)]
                                             for n, r in runs.items()},
                            x_label="time (h)", y_label="jobs waiting"))
    per_tenant = {n: tenant_waits(r) for n, r in runs.items()}
    tenants = sorted({t for w in per_tenant.values() for t in w})
    parts.append(bar_chart("Mean wait per tenant", tenants,
                           {n: [w.get(t, 0.0) for t in tenants] for n, w in per_tenant.items()},
                           y_label="mean wait (s)"))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(directory: str | Path, runs: Mapping[str, PolicyRun], *, title: str,
                 parameters: Mapping[str, Any]) -> Path:
    """Write ``index.html`` into ``directory`` (created if missing); returns its path."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    path.write_text(render_html(runs, title=title, parameters=parameters))
    return path
