"""Slurm job states -> the broker's BackendPhase and FailureKind (one table, tested row by row).

Called by the backend's ``observe`` / ``managed``. ``phase_of(record)`` looks at the base state and the state
flags: ``CONFIGURING`` and ``REQUEUED`` keep a job pending, ``COMPLETING`` keeps it running until the epilog is
done (its exit code is not final yet). A state this table does not know is reported as PENDING with a reason
naming it: never terminal, so the broker neither resubmits nor gives up on a job Slurm still holds. A job Slurm
does not know at all is MISSING (decided by the caller, not here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dualtrack.adapters.slurm.records import JobRecord
from dualtrack.broker.domain import BackendPhase, FailureKind

P, F = BackendPhase, FailureKind


@dataclass(frozen=True)
class Mapped:
    phase: BackendPhase
    failure: FailureKind | None = None
    note: str = ""


STATE_TABLE: Mapping[str, Mapped] = {
    "PENDING": Mapped(P.PENDING),
    "CONFIGURING": Mapped(P.PENDING, note="nodes are being configured"),
    "REQUEUED": Mapped(P.PENDING, note="requeued"),
    "REQUEUE_HOLD": Mapped(P.PENDING, note="requeued and held"),
    "REQUEUE_FED": Mapped(P.PENDING, note="requeued by the federation"),
    "RESV_DEL_HOLD": Mapped(P.PENDING, note="held: its reservation was deleted"),
    "RUNNING": Mapped(P.RUNNING),
    "COMPLETING": Mapped(P.RUNNING, note="completing (epilog running)"),
    "SUSPENDED": Mapped(P.RUNNING, note="suspended"),
    "STOPPED": Mapped(P.RUNNING, note="stopped (SIGSTOP)"),
    "SIGNALING": Mapped(P.RUNNING, note="being signalled"),
    "STAGE_OUT": Mapped(P.RUNNING, note="staging out"),
    "RESIZING": Mapped(P.RUNNING, note="resizing"),
    "POWER_UP_NODE": Mapped(P.PENDING, note="nodes are powering up"),
    "COMPLETED": Mapped(P.SUCCEEDED),
    "FAILED": Mapped(P.FAILED, F.USER),
    "SPECIAL_EXIT": Mapped(P.FAILED, F.USER, "special exit"),
    "TIMEOUT": Mapped(P.FAILED, F.TIMEOUT, "time limit reached"),
    "DEADLINE": Mapped(P.FAILED, F.TIMEOUT, "deadline reached"),
    "CANCELLED": Mapped(P.CANCELLED, F.CANCELLED, "cancelled"),
    "NODE_FAIL": Mapped(P.FAILED, F.INFRA, "node failure"),
    "BOOT_FAIL": Mapped(P.FAILED, F.INFRA, "node boot failure"),
    "PREEMPTED": Mapped(P.FAILED, F.INFRA, "preempted"),
    "REVOKED": Mapped(P.FAILED, F.INFRA, "revoked by a federation sibling"),
    "LAUNCH_FAILED": Mapped(P.FAILED, F.INFRA, "launch failed"),
    "RECONFIG_FAIL": Mapped(P.FAILED, F.INFRA, "node reconfiguration failed"),
    "OUT_OF_MEMORY": Mapped(P.FAILED, F.OUT_OF_MEMORY, "out of memory"),
}

# flags that override the base state, strongest first
_OVERRIDING_FLAGS = (
    "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "POWER_UP_NODE", "CONFIGURING", "COMPLETING",
    "REVOKED", "SPECIAL_EXIT", "LAUNCH_FAILED", "RECONFIG_FAIL",
)
# FAILED with one of these reasons is the site's fault, not the program's
_INFRA_REASONS = ("launch", "prolog", "epilog", "node", "boot", "batchhost", "system")


def map_state(state: str, flags: tuple[str, ...] = (), reason: str = "") -> Mapped:
    """The table row for a base state and its flags (see the module docstring for unknown states)."""
    for flag in _OVERRIDING_FLAGS:
        if flag in flags or flag == state:
            return STATE_TABLE[flag]
    mapped = STATE_TABLE.get(state)
    if mapped is None:
        return Mapped(P.PENDING, note=f"unrecognised Slurm state {state}")
    if state == "FAILED" and any(word in reason.lower() for word in _INFRA_REASONS):
        return Mapped(P.FAILED, F.INFRA, "failed to launch")
    return mapped


def phase_of(record: JobRecord) -> Mapped:
    return map_state(record.state, record.flags, record.reason)


def reason_text(record: JobRecord, mapped: Mapped) -> str:
    """A one-line reason for users: the table's note, Slurm's reason and the exit code / signal."""
    parts = [mapped.note] if mapped.note else []
    if record.reason and record.reason not in ("None", "NonZeroExitCode"):
        parts.append(f"Slurm reason: {record.reason}")
    if mapped.phase is P.FAILED and record.exit_code is not None:
        parts.append(f"exit code {record.exit_code}")
    if record.signal:
        parts.append(f"signal {record.signal}")
    return "; ".join(parts)
