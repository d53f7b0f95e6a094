"""JSON of every Slurm version in /work/shared/reference/slurm -> version-neutral records.

Accepted documents (each with ``meta`` naming its plugin/data_parser):
- ``squeue --json`` and slurmrestd ``GET jobs`` / ``GET job/{id}``: openapi v0.0.37 (21.08), v0.0.38 (22.05,
  23.02 REST), data_parser v0.0.39+ (23.02+) and slurmrestd v0.0.41 / v0.0.42 (states as lists, numbers as
  ``{set, infinite, number}``);
- ``sacct --json`` and slurmrestd ``slurmdb/.../jobs``: dbv0.0.37, dbv0.0.38 and v0.0.39+ (``state.current``
  string or list, ``exit_code`` object);
- ``sinfo --json`` v0.0.37/v0.0.38 (a node list), ``scontrol show nodes --json`` / REST ``nodes`` (v0.0.39+),
  and the aggregated ``sinfo`` array of data_parser v0.0.39+ (``sinfo -N --json`` gives one row per node);
- REST ``partitions`` of v0.0.38 and v0.0.41/42.
Every function raises ``ValueError`` for a document of an unknown shape and never raises ``KeyError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from dualtrack.adapters.slurm.gpus import accounted_gpus, gres_types, job_gpus
from dualtrack.adapters.slurm.records import JobRecord, NodeRecord, PartitionRecord

BASE_STATES = frozenset({
    "PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL",
    "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY",
})


def number(value: Any) -> int | None:
    """An int from ``5``, ``"5"``, ``{"set": true, "number": 5}``; None for null / unset / infinite."""
    if isinstance(value, Mapping):
        if not value.get("set", True) or value.get("infinite", False):
            return None
        value = value.get("number")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _time(value: Any) -> float | None:
    n = number(value)
    return float(n) if n else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def split_state(value: Any) -> tuple[str, tuple[str, ...]]:
    """Slurm job state (``"RUNNING"``, ``"COMPLETED+COMPLETING"``, ``["PENDING", "REQUEUED"]``,
    ``"CANCELLED by 0"``) -> (base state, flags)."""
    words: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        for part in re.split(r"[+,|]", str(item or "")):
            word = part.strip().upper().split(" ")[0]
            if word:
                words.append(word)
    base = next((w for w in words if w in BASE_STATES), None)
    flags = tuple(w for w in words if w != base)
    if base is None:
        base = flags[0] if flags else "UNKNOWN"
        flags = flags[1:]
    return base, flags


def gres_type(text: str | None) -> str | None:
    """The (first) GPU type of a node's GRES (``gpu:a100:8(S:0-1)`` -> ``a100``); None when untyped."""
    return next(iter(gres_types(text)), None)


def _meta_kind(doc: Mapping[str, Any]) -> str:
    meta = doc.get("meta") or {}
    plugin = meta.get("plugin") or meta.get("plugins") or {}
    return str(plugin.get("type") or plugin.get("data_parser") or "")


def _require(doc: Any, key: str, what: str) -> list[Any]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get(key), list):
        raise ValueError(f"not a {what} document: no '{key}' list")
    items: list[Any] = doc[key]
    return items


def errors_of(doc: Mapping[str, Any]) -> list[str]:
    """The ``errors`` list of any Slurm JSON document as text. Each entry keeps its ``description`` (newer
    slurmrestd put the useful part there, e.g. ``{error: "No error", description: "Failure to query node n9",
    error_number: 0}`` -> ``Failure to query node n9``) and its number (``error_number``; ``errno`` in 22.05)."""
    out = []
    for err in doc.get("errors") or []:
        if isinstance(err, Mapping):
            short = str(err.get("error") or "").strip()
            long = str(err.get("description") or "").strip()
            if short.lower() in ("", "no error"):
                text = long or short
            elif long and long != short:
                text = f"{short}: {long}"
            else:
                text = short
            code = err.get("error_number", err.get("errno", err.get("error_code")))
            out.append(f"{text} (error {code})" if text and code not in (None, 0) else text)
        else:
            out.append(str(err))
    return [e for e in out if e]


# ------------------------------------------------------------------------------------------------- jobs
def _exit_code(value: Any) -> tuple[int | None, int | None]:
    """(return code, signal) from an int (sacct: the return code), ``"3:0"`` or an exit-code object."""
    if isinstance(value, Mapping):
        signal = value.get("signal") or {}
        sig = number(signal.get("id") if isinstance(signal, Mapping) else signal)
        if isinstance(signal, Mapping) and sig is None:
            sig = number(signal.get("signal_id"))
        return number(value.get("return_code")), sig or None
    if isinstance(value, str) and ":" in value:
        code_text, _, sig_text = value.partition(":")
        return number(code_text), number(sig_text) or None
    return number(value), None


def _squeue_job(job: Mapping[str, Any]) -> JobRecord:
    state, flags = split_state(job.get("job_state"))
    raw_exit = job.get("exit_code")
    code: int | None
    sig: int | None
    if isinstance(raw_exit, int) and not isinstance(raw_exit, bool):  # v0.0.37/38: a raw wait status
        code, sig = raw_exit >> 8, (raw_exit & 0x7F) or None
    else:
        code, sig = _exit_code(raw_exit)
    limit = number(job.get("time_limit"))
    return JobRecord(
        job_id=str(number(job.get("job_id"))),
        name=_text(job.get("name")),
        state=state,
        flags=flags,
        reason=_text(job.get("state_reason")) if job.get("state_reason") not in (None, "None") else "",
        exit_code=code,
        signal=sig,
        nodes=_text(job.get("nodes")),
        partition=_text(job.get("partition")),
        comment=_text(job.get("comment")),
        gpus=job_gpus(job),
        time_limit_s=limit * 60 if limit is not None else None,
        submit_time=_time(job.get("submit_time")),
        start_time=_time(job.get("start_time")),
        end_time=_time(job.get("end_time")),
    )


def _sacct_job(job: Mapping[str, Any]) -> JobRecord:
    state_obj = job.get("state") or {}
    state, flags = split_state(state_obj.get("current") if isinstance(state_obj, Mapping) else state_obj)
    reason = _text(state_obj.get("reason")) if isinstance(state_obj, Mapping) else ""
    code, sig = _exit_code(job.get("exit_code"))
    times = job.get("time") or {}
    limit = number(times.get("limit"))
    comment = job.get("comment")
    return JobRecord(
        job_id=str(number(job.get("job_id"))),
        name=_text(job.get("name")),
        state=state,
        flags=flags,
        reason="" if reason == "None" else reason,
        exit_code=code,
        signal=sig,
        nodes=_text(job.get("nodes")),
        partition=_text(job.get("partition")),
        comment=_text(comment.get("job") if isinstance(comment, Mapping) else comment),
        gpus=accounted_gpus(job.get("tres")),
        time_limit_s=limit * 60 if limit is not None else None,
        submit_time=_time(times.get("submission")),
        start_time=_time(times.get("start")),
        end_time=_time(times.get("end")),
    )


def _is_sacct(doc: Mapping[str, Any], jobs: list[Any]) -> bool:
    if "dbv" in _meta_kind(doc) or any("sacct" in str(c) for c in (doc.get("meta") or {}).get("command", [])):
        return True
    return bool(jobs) and isinstance(jobs[0], Mapping) and isinstance(jobs[0].get("state"), Mapping)


def parse_jobs(doc: Any) -> list[JobRecord]:
    """Jobs of a squeue / sacct / REST jobs document (any version above)."""
    jobs = _require(doc, "jobs", "jobs")
    if _is_sacct(doc, jobs):
        return [_sacct_job(j) for j in jobs if isinstance(j, Mapping)]
    return [_squeue_job(j) for j in jobs if isinstance(j, Mapping)]


# ------------------------------------------------------------------------------------------------- nodes
def _node_states(node: Mapping[str, Any]) -> frozenset[str]:
    raw = node.get("state")
    words: list[str] = []
    for item in raw if isinstance(raw, list) else [raw]:
        words += [w.strip().upper() for w in re.split(r"[+,]", str(item or "")) if w.strip()]
    words += [str(f).strip().upper() for f in node.get("state_flags") or []]
    return frozenset(w for w in words if w)


def _csv(value: Any) -> tuple[str, ...]:
    """A csv_string of the newer specs: a list, or one comma-separated string."""
    items = value.split(",") if isinstance(value, str) else value or []
    return tuple(str(v).strip() for v in items if str(v).strip())


def _node(node: Mapping[str, Any]) -> NodeRecord:
    return NodeRecord(
        name=_text(node.get("name")),
        states=_node_states(node),
        cpus=number(node.get("cpus")) or 0,
        alloc_cpus=number(node.get("alloc_cpus")) or 0,
        memory_mb=number(node.get("real_memory")) or 0,
        alloc_memory_mb=number(node.get("alloc_memory")) or 0,
        gres=_text(node.get("gres")),
        gres_used=_text(node.get("gres_used")),
        partitions=_csv(node.get("partitions")),
        reason=_text(node.get("reason")),
    )


def _sinfo_rows(rows: Iterable[Mapping[str, Any]]) -> list[NodeRecord]:
    """data_parser v0.0.39+ ``sinfo`` rows: aggregated; with ``sinfo -N`` one row per node and partition."""
    nodes: dict[str, NodeRecord] = {}
    for row in rows:
        names = (row.get("nodes") or {}).get("nodes") or []
        partition = _text((row.get("partition") or {}).get("name"))
        states = frozenset(str(s).upper() for s in (row.get("node") or {}).get("state") or [])
        cpus = row.get("cpus") or {}
        memory = row.get("memory") or {}
        gres = row.get("gres") or {}
        for name in names:
            seen = nodes.get(name)
            if seen is not None:  # the same node in another partition
                nodes[name] = NodeRecord(**{**seen.__dict__, "partitions": (*seen.partitions, partition)})
                continue
            single = len(names) == 1
            nodes[name] = NodeRecord(
                name=name,
                states=states,
                cpus=number(cpus.get("maximum")) or 0,
                alloc_cpus=(number(cpus.get("allocated")) or 0) if single else 0,
                memory_mb=number(memory.get("maximum")) or 0,
                alloc_memory_mb=(number(memory.get("allocated")) or 0) if single else 0,
                gres=_text(gres.get("total")),
                gres_used=_text(gres.get("used")) if single else "",
                partitions=(partition,) if partition else (),
                reason=_text((row.get("reason") or {}).get("description")),
            )
    return list(nodes.values())


def parse_nodes(doc: Any) -> list[NodeRecord]:
    """Nodes of ``sinfo --json`` (v0.0.37/38 node list or v0.0.39+ ``sinfo`` rows), ``scontrol show nodes
    --json`` or REST ``nodes`` (any version)."""
    if isinstance(doc, Mapping) and isinstance(doc.get("sinfo"), list):
        return _sinfo_rows(r for r in doc["sinfo"] if isinstance(r, Mapping))
    return [_node(n) for n in _require(doc, "nodes", "nodes") if isinstance(n, Mapping)]


# --------------------------------------------------------------------------------------------- partitions
def parse_partitions(doc: Any) -> list[PartitionRecord]:
    """REST ``partitions`` v0.0.38 (flat) and v0.0.41/42 (nested ``partition.state``, ``maximums.time``)."""
    out = []
    for p in _require(doc, "partitions", "partitions"):
        if not isinstance(p, Mapping):
            continue
        nested = p.get("partition")
        if isinstance(nested, Mapping):  # v0.0.40+
            states = [str(s).upper() for s in nested.get("state") or []]
            limit = number((p.get("maximums") or {}).get("time"))
            nodes = _text((p.get("nodes") or {}).get("configured"))
        else:
            states = [str(s).upper() for s in p.get("flags") or []] + [str(p.get("state") or "UP").upper()]
            limit = number(p.get("max_time_limit", p.get("maximum_time")))
            nodes = _text(p.get("nodes"))
        up = "UP" in states or not any(s in ("DOWN", "DRAIN", "INACTIVE") for s in states)
        out.append(PartitionRecord(
            name=_text(p.get("name")), up=up,
            max_time_s=limit * 60 if limit is not None and 0 <= limit < 0xFFFFFFFE else None, nodes=nodes,
        ))
    return out
