"""slurmctld's health from its own reports -> ``ControllerHealth`` (pure; used by the transports).

Sources (docs/slurm.md, "Controller health"):
- REST ``GET ping``: v0.0.38 ``{hostname, ping: "UP", mode}``, v0.0.41 ``{hostname, pinged: "UP", latency}``,
  v0.0.42+ adds ``responding`` and ``primary`` (latency in microseconds);
- REST ``GET diag``: ``statistics`` with ``schedule_cycle_last/mean``, ``bf_cycle_last/mean``, ``bf_last_depth``,
  ``server_thread_count``, ``agent_queue_size`` (cycle times in microseconds), the same in every version;
- CLI ``scontrol ping``: ``Slurmctld(primary) at vm is UP`` lines (exit 1 when a controller is DOWN) and
  ``sdiag`` text (the same statistics, ``Main schedule statistics`` and ``Backfilling stats`` sections).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dualtrack.broker.domain import ControllerHealth

MICRO = 1e-6
_PING_LINE = re.compile(r"Slurmctld\((\w+)\) at (\S+) is (\w+)")


def _int(value: Any) -> int | None:
    if isinstance(value, Mapping):
        if not value.get("set", True) or value.get("infinite", False):
            return None
        value = value.get("number")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(value: Any) -> float | None:
    micro = _int(value)
    return micro * MICRO if micro is not None else None


def health_from_ping(doc: Mapping[str, Any], round_trip_s: float | None = None) -> ControllerHealth:
    """A REST ``ping`` answer of any version; ``round_trip_s`` (measured by the caller) is the latency where
    the answer gives none (v0.0.38)."""
    controllers: list[tuple[str, bool]] = []
    latency: float | None = None
    for item in doc.get("pings") or []:
        if not isinstance(item, Mapping):
            continue
        responding = item.get("responding")
        if not isinstance(responding, bool):
            responding = str(item.get("pinged", item.get("ping", ""))).upper() == "UP"
        controllers.append((str(item.get("hostname", "")), responding))
        if responding and latency is None:
            latency = _seconds(item.get("latency"))
    up = any(ok for _, ok in controllers)
    return ControllerHealth(up=up, latency_s=latency if latency is not None else (round_trip_s if up else None),
                            controllers=tuple(controllers))


def with_diag(health: ControllerHealth, statistics: Mapping[str, Any]) -> ControllerHealth:
    """``health`` with the scheduler figures of a REST ``diag`` ``statistics`` object added."""
    return replace(
        health,
        schedule_last_cycle_s=_seconds(statistics.get("schedule_cycle_last")),
        schedule_mean_cycle_s=_seconds(statistics.get("schedule_cycle_mean")),
        backfill_last_cycle_s=_seconds(statistics.get("bf_cycle_last")),
        backfill_mean_cycle_s=_seconds(statistics.get("bf_cycle_mean")),
        backfill_last_depth=_int(statistics.get("bf_last_depth")),
        server_threads=_int(statistics.get("server_thread_count")),
        agent_queue=_int(statistics.get("agent_queue_size")),
    )


def health_from_scontrol_ping(text: str, round_trip_s: float | None = None) -> ControllerHealth:
    """``scontrol ping`` output: one ``Slurmctld(<mode>) at <host> is UP|DOWN`` line per controller."""
    controllers = tuple((m.group(2), m.group(3).upper() == "UP") for m in _PING_LINE.finditer(text))
    up = any(ok for _, ok in controllers)
    return ControllerHealth(up=up, latency_s=round_trip_s if up else None, controllers=controllers)


def sdiag_statistics(text: str) -> dict[str, int]:
    """``sdiag`` text -> the REST ``diag`` statistics names this module reads (the rest is ignored)."""
    section = ""
    out: dict[str, int] = {}
    names = {
        ("", "Server thread count"): "server_thread_count", ("", "Agent queue size"): "agent_queue_size",
        ("main", "Last cycle"): "schedule_cycle_last", ("main", "Mean cycle"): "schedule_cycle_mean",
        ("backfill", "Last cycle"): "bf_cycle_last", ("backfill", "Mean cycle"): "bf_cycle_mean",
        ("backfill", "Last depth cycle"): "bf_last_depth",
    }
    for line in text.splitlines():
        if line.startswith("Main schedule statistics"):
            section = "main"
        elif line.startswith("Backfilling stats"):
            section = "backfill"
        elif line and not line[0].isspace() and ":" in line and section:
            section = ""
        label, _, value = line.strip().partition(":")
        key = names.get((section, label.strip()))
        if key and value.strip().isdigit():
            out[key] = int(value.strip())
    return out
