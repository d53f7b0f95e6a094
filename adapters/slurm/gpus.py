"""GPU counts in Slurm's GRES and TRES strings, and the GPUs one job asks for in any request form.

String forms (see docs/slurm.md, "GPU request forms"):
- GRES, as nodes and ``gres_detail`` show them: ``gpu:a100:8(S:0-1)``, ``gpu:h100:2,gpu:h200:4``,
  ``gpu:a100:4(IDX:0-3)``; and the per-job request forms ``gres:gpu:2`` (22.05) / ``gres/gpu:a100:2`` (24.x+).
- TRES with ``=``: ``cpu=4,mem=1G,gres/gpu=8,gres/gpu:a100=8``. There the untyped ``gres/gpu`` entry is the
  total and typed entries break it down (they are not added to it).

Job request forms, most exact first: allocated TRES (``tres_alloc_str``, running jobs) and ``gres_detail`` (GRES
per allocated node), then the requests ``tres_per_job`` (``--gpus``), ``tres_per_node`` (``--gpus-per-node``,
``--gres``) x nodes, ``tres_per_socket`` (``--gpus-per-socket``) x sockets per node x nodes, ``tres_per_task``
(``--gpus-per-task``) x tasks, a job's ``gres`` (per node) and last the requested TRES (``tres_req_str``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TRES = re.compile(r"gres/gpu(?::([A-Za-z0-9_.-]+))?=(\d+)")
_GRES = re.compile(r"(?:^|[,\s])(?:gres[:/])?gpu(?::([A-Za-z0-9_.-]+))?:(\d+)")
_NO_VAL16 = 0xFFFE  # Slurm's NO_VAL16 / INFINITE16 (unset sockets per node in v0.0.37/38 documents)


def gpus_by_type(text: str | None) -> dict[str | None, int]:
    """GPUs per type (None = untyped) in a GRES or TRES string; {} when it names no GPUs."""
    if not text:
        return {}
    tres = [(m.group(1), int(m.group(2))) for m in _TRES.finditer(text)]
    if tres:
        typed: dict[str | None, int] = {}
        for kind, count in tres:
            if kind is not None:
                typed[kind] = typed.get(kind, 0) + count
        total = sum(count for kind, count in tres if kind is None)
        if total > sum(typed.values()):
            typed[None] = total - sum(typed.values())
        return typed
    out: dict[str | None, int] = {}
    for match in _GRES.finditer(text):
        out[match.group(1)] = out.get(match.group(1), 0) + int(match.group(2))
    return out


def gpus_in(text: str | None) -> int:
    """Total GPUs in a GRES/TRES string (``gres:gpu:a100:4``, ``gres/gpu=8,gres/gpu:a100=8``, ``gpu:2``)."""
    return sum(gpus_by_type(text).values())


def gres_types(text: str | None) -> dict[str, int]:
    """Typed GPUs of a node's GRES (``gpu:h100:2,gpu:h200:4`` -> {h100: 2, h200: 4}), in GRES order."""
    return {kind: count for kind, count in gpus_by_type(text).items() if kind is not None}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _count(value: Any) -> int | None:
    """A positive count from ``4`` or ``{set, infinite, number}``; None when unset, infinite or NO_VAL."""
    if isinstance(value, Mapping):
        if not value.get("set", True) or value.get("infinite", False):
            return None
        value = value.get("number")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or value >= _NO_VAL16:
        return None
    return value


def job_gpus(job: Mapping[str, Any]) -> int:
    """GPUs the whole job has (running) or asks for (pending), from a squeue / REST job of any version."""
    allocated = gpus_in(_text(job.get("tres_alloc_str")))
    if allocated:
        return allocated
    detail = job.get("gres_detail")
    if isinstance(detail, list):
        per_node = sum(gpus_in(str(entry)) for entry in detail)
        if per_node:
            return per_node
    nodes = _count(job.get("node_count")) or 1
    per_job = gpus_in(_text(job.get("tres_per_job")))
    if per_job:
        return per_job
    per_node = gpus_in(_text(job.get("tres_per_node")))
    if per_node:
        return per_node * nodes
    per_socket = gpus_in(_text(job.get("tres_per_socket")))
    if per_socket:
        return per_socket * (_count(job.get("sockets_per_node")) or 1) * nodes
    per_task = gpus_in(_text(job.get("tres_per_task")))
    if per_task:
        tasks = _count(job.get("tasks")) or nodes * (_count(job.get("tasks_per_node")) or 1)
        return per_task * tasks
    legacy = gpus_in(_text(job.get("gres")))  # a per-node GRES request where a document still names it so
    if legacy:
        return legacy * nodes
    return gpus_in(_text(job.get("tres_req_str")))


def accounted_gpus(tres: Any) -> int:
    """GPUs of an accounting record's ``tres`` (``{allocated: [{type, name, count}], requested: [...]}``):
    allocated when the job got any, else requested. The untyped ``gpu`` entry is the total; typed entries
    (``gpu:a100``, kept when AccountingStorageTRES names them) count only where no untyped one exists."""
    if not isinstance(tres, Mapping):
        return 0
    for key in ("allocated", "requested"):
        entries = [t for t in tres.get(key) or [] if isinstance(t, Mapping) and t.get("type") == "gres"]
        untyped = sum(_count(t.get("count")) or 0 for t in entries if t.get("name") == "gpu")
        typed = sum(_count(t.get("count")) or 0 for t in entries if str(t.get("name", "")).startswith("gpu:"))
        if untyped or typed:
            return untyped or typed
    return 0
