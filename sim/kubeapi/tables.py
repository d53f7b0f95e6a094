"""``meta.k8s.io/v1`` Table answers, which kubectl asks for (``Accept: ...;as=Table``) when it prints ``get``.

Caller: the HTTP layer. ``to_table(resource, items, rv, now)`` builds the Table from the resource's printer
columns (CRDs: ``additionalPrinterColumns``; core resources: kubectl's usual columns).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dualtrack.sim.kubeapi.resources import Resource

Obj = Mapping[str, Any]


def age(timestamp: str | None, now: float) -> str:
    """``5s``, ``3m``, ``2h``, ``4d`` like kubectl's HumanDuration (coarse)."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "<invalid>"
    seconds = max(int(now - then), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def json_path(obj: Any, path: str) -> Any:
    """A simple ``.a.b.c`` JSONPath (what the Volcano CRDs' printer columns use)."""
    current = obj
    for part in path.strip(".").split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    return current


def _node_row(obj: Obj, now: float) -> list[Any]:
    ready: Mapping[str, Any] = next(
        (c for c in obj.get("status", {}).get("conditions") or () if c.get("type") == "Ready"), {})
    status = "Ready" if ready.get("status") == "True" else "NotReady"
    if obj.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    version = obj.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
    return [obj["metadata"]["name"], status, "<none>", age(obj["metadata"].get("creationTimestamp"), now), version]


def _pod_row(obj: Obj, now: float) -> list[Any]:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    containers = obj.get("spec", {}).get("containers") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    phase = obj.get("status", {}).get("reason") or obj.get("status", {}).get("phase", "Pending")
    for s in statuses:
        term = (s.get("state") or {}).get("terminated")
        if term and term.get("reason") and phase not in ("DeadlineExceeded",):
            phase = term["reason"]
    return [obj["metadata"]["name"], f"{ready}/{len(containers)}", phase, 0,
            age(obj["metadata"].get("creationTimestamp"), now), obj.get("status", {}).get("podIP", "<none>"),
            obj.get("spec", {}).get("nodeName", "<none>")]


CORE_COLUMNS: Mapping[str, list[tuple[str, str, int]]] = {
    "nodes": [("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0), ("Age", "string", 0),
              ("Version", "string", 0)],
    "pods": [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "integer", 0),
             ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1)],
    "namespaces": [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
}


def _columns(res: Resource) -> list[dict[str, Any]]:
    if not res.group and res.plural in CORE_COLUMNS:
        cols = CORE_COLUMNS[res.plural]
    else:
        cols = [("Name", "string", 0)] + [(c["name"], c.get("type", "string"), int(c.get("priority", 0)))
                                          for c in res.columns]
    return [{"name": n, "type": "string" if t == "date" else t, "format": "name" if n == "Name" else "",
             "description": "", "priority": p} for n, t, p in cols]


def _row(res: Resource, obj: Obj, now: float) -> list[Any]:
    if not res.group and res.plural == "nodes":
        return _node_row(obj, now)
    if not res.group and res.plural == "pods":
        return _pod_row(obj, now)
    if not res.group and res.plural == "namespaces":
        return [obj["metadata"]["name"], obj.get("status", {}).get("phase", "Active"),
                age(obj["metadata"].get("creationTimestamp"), now)]
    cells: list[Any] = [obj["metadata"]["name"]]
    for col in res.columns:
        value = json_path(obj, col.get("jsonPath", ""))
        if col.get("type") == "date":
            value = age(value, now) if value else "<unknown>"
        cells.append(value if value is not None else None)
    return cells


def to_table(res: Resource, items: Sequence[Obj], resource_version: int, now: float | None = None) -> dict[str, Any]:
    at = time.time() if now is None else now
    rows = [{"cells": _row(res, obj, at),
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": obj.get("metadata", {})}} for obj in items]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(resource_version)},
            "columnDefinitions": _columns(res), "rows": rows}
