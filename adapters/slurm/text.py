"""Parsers of the few Slurm outputs that have no JSON form on 22.05: ``scontrol show topology``,
``scontrol -o show partition``, ``sbatch --test-only`` and ``sacct``'s parsable text.
Pure functions; they skip lines they do not understand instead of raising."""

from __future__ import annotations

import re
import time
from datetime import datetime

from dualtrack.adapters.slurm.gpus import gpus_in
from dualtrack.adapters.slurm.hostlist import expand_hostlist
from dualtrack.adapters.slurm.records import JobRecord, PartitionRecord, SwitchRecord, TestOnlyResult

_PAIR = re.compile(r"(\w+)=(\S*)")
_TEST_ONLY = re.compile(r"Job (\d+) to start at (\S+) using \d+ processors on nodes (\S+)")


def key_values(line: str) -> dict[str, str]:
    """``A=1 B=x`` -> {"A": "1", "B": "x"} (values without spaces, as ``scontrol -o`` prints them)."""
    return dict(_PAIR.findall(line))


def slurm_time_to_epoch(text: str | None) -> float | None:
    """``2026-11-27T16:41:32`` (controller-local time) -> epoch; None for Unknown/None/empty."""
    if not text or text in ("Unknown", "None", "N/A", "(null)"):
        return None
    try:
        return time.mktime(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").timetuple())
    except ValueError:
        return None


def minutes_text_to_seconds(text: str | None) -> int | None:
    """Slurm time-limit text (``30`` minutes, ``1:00:00``, ``2-00:00:00``) -> seconds; None for ``UNLIMITED``,
    ``Partition_Limit`` and anything else."""
    if not text or not re.fullmatch(r"(\d+-)?\d+(:\d+){0,2}", text):
        return None  # UNLIMITED, Partition_Limit, NONE, ...
    days = 0
    if "-" in text:
        d, _, text = text.partition("-")
        days = int(d)
    parts = [int(p) for p in text.split(":")]
    if len(parts) == 1:
        return days * 86400 + parts[0] * 60
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return days * 86400 + h * 3600 + m * 60 + s


def parse_topology(text: str) -> list[SwitchRecord]:
    out = []
    for line in text.splitlines():
        kv = key_values(line)
        if "SwitchName" not in kv:
            continue
        out.append(SwitchRecord(
            name=kv["SwitchName"],
            level=int(kv.get("Level", "0") or 0),
            nodes=tuple(expand_hostlist(kv.get("Nodes"))),
            children=tuple(expand_hostlist(kv.get("Switches"))),
        ))
    return out


def parse_partitions_text(text: str) -> list[PartitionRecord]:
    out = []
    for line in text.splitlines():
        kv = key_values(line)
        if "PartitionName" not in kv:
            continue
        out.append(PartitionRecord(
            name=kv["PartitionName"], up=kv.get("State", "UP") == "UP",
            max_time_s=minutes_text_to_seconds(kv.get("MaxTime")), nodes=kv.get("Nodes", ""),
        ))
    return out


def parse_test_only(stdout: str, stderr: str, returncode: int) -> TestOnlyResult:
    """``sbatch --test-only``: the start estimate, or Slurm's reason (the error text without the prefix)."""
    match = _TEST_ONLY.search(stderr + "\n" + stdout)
    if returncode == 0 and match:
        return TestOnlyResult(start=slurm_time_to_epoch(match.group(2)), nodes=match.group(3))
    lines = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip()]
    reason = lines[-1] if lines else f"sbatch --test-only exited {returncode}"
    for prefix in ("sbatch: error: ", "allocation failure: ", "Batch job submission failed: "):
        reason = reason.replace(prefix, "")
    return TestOnlyResult(error=reason)


def parse_sacct_parsable(text: str) -> list[JobRecord]:
    """``sacct -X -P -n -o jobid,jobname,state,exitcode,start,end,nodelist,partition,timelimit,submit[,alloctres]``
    (with or without ``-c``); the last line of a job id wins (a requeued job appears once per run). GPUs come
    from the allocated TRES (``gres/gpu=2``) when that column is there."""
    found: dict[str, JobRecord] = {}
    for line in text.splitlines():
        cols = line.split("|")
        if len(cols) < 10 or not cols[0].isdigit():
            continue
        code, _, sig = cols[3].partition(":")
        found[cols[0]] = JobRecord(
            job_id=cols[0], name=cols[1], state=cols[2].split(" ")[0].upper(),
            exit_code=int(code) if code.isdigit() else None,
            signal=int(sig) if sig.isdigit() and int(sig) else None,
            start_time=slurm_time_to_epoch(cols[4]), end_time=slurm_time_to_epoch(cols[5]),
            nodes=cols[6], partition=cols[7], time_limit_s=minutes_text_to_seconds(cols[8]),
            submit_time=slurm_time_to_epoch(cols[9]),
            gpus=gpus_in(cols[10]) if len(cols) > 10 else 0,
        )
    return list(found.values())
