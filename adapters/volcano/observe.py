"""Maps what the Kubernetes API says of one vcjob (its status, its PodGroup, its pods) to an ``Observed``.

Caller: ``VolcanoBackend.observe``. Pure functions over the JSON dicts the API returns, so the mapping table
is unit-tested without a server.

Phase table (vcjob ``status.state.phase`` -> BackendPhase):
    (no status yet), Pending                     -> PENDING  (reason: the PodGroup's Unschedulable message)
    Running, Restarting, Completing              -> RUNNING  (Restarting: an in-place gang restart)
    Terminating, Aborting                        -> RUNNING  (on its way out; not final yet)
    Completed                                    -> SUCCEEDED
    Failed, Terminated                           -> FAILED   (failure kind from the pods, see failure_of)
    Aborted                                      -> CANCELLED (suspended on the backend, e.g. vcctl)
    (vcjob absent)                               -> MISSING
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dualtrack.broker.domain import BackendPhase, BackendRef, FailureKind, Observed

PHASES: Mapping[str, BackendPhase] = {
    "": BackendPhase.PENDING,
    "Pending": BackendPhase.PENDING,
    "Running": BackendPhase.RUNNING,
    "Restarting": BackendPhase.RUNNING,
    "Completing": BackendPhase.RUNNING,
    "Terminating": BackendPhase.RUNNING,
    "Aborting": BackendPhase.RUNNING,
    "Completed": BackendPhase.SUCCEEDED,
    "Failed": BackendPhase.FAILED,
    "Terminated": BackendPhase.FAILED,
    "Aborted": BackendPhase.CANCELLED,
}

Obj = Mapping[str, Any]


def phase_of(native: str) -> BackendPhase:
    """The broker's phase for a vcjob phase; an unknown future phase counts as RUNNING (not final)."""
    return PHASES.get(native, BackendPhase.RUNNING)


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def unschedulable_reason(podgroup: Obj | None) -> str:
    """The message of the PodGroup's ``Unschedulable`` condition with status True, else ''."""
    if not podgroup:
        return ""
    for cond in podgroup.get("status", {}).get("conditions") or ():
        if cond.get("type") == "Unschedulable" and cond.get("status") == "True":
            reason, message = cond.get("reason", ""), cond.get("message", "")
            return f"Unschedulable ({reason}): {message}" if reason else f"Unschedulable: {message}"
    return ""


def _terminated(pod: Obj) -> list[Mapping[str, Any]]:
    out = []
    for cs in pod.get("status", {}).get("containerStatuses") or ():
        for key in ("state", "lastState"):
            term = (cs.get(key) or {}).get("terminated")
            if term:
                out.append(term)
                break
    return out


def failure_of(pods: Sequence[Obj], job_message: str) -> tuple[FailureKind, str, int | None]:
    """Why a vcjob failed, from its pods: (kind, reason, first non-zero exit code).

    Order of evidence: an OOM-killed container -> OUT_OF_MEMORY; a pod past its activeDeadlineSeconds ->
    TIMEOUT; an evicted pod -> INFRA; a container exiting non-zero -> USER; nothing -> INFRA.
    """
    exit_code: int | None = None
    saw_user = ""
    for pod in pods:
        status = pod.get("status", {})
        name = pod.get("metadata", {}).get("name", "?")
        if status.get("reason") == "DeadlineExceeded":
            return FailureKind.TIMEOUT, f"pod {name}: DeadlineExceeded: {status.get('message', '')}".strip(), None
        if status.get("reason") == "Evicted":
            return FailureKind.INFRA, f"pod {name} evicted: {status.get('message', '')}".strip(), None
        for term in _terminated(pod):
            code = term.get("exitCode")
            if term.get("reason") == "OOMKilled":
                return FailureKind.OUT_OF_MEMORY, f"pod {name}: container OOMKilled", code
            if isinstance(code, int) and code != 0 and exit_code is None:
                exit_code = code
                detail = term.get("message") or term.get("reason") or "Error"
                saw_user = f"pod {name}: container exited with code {code} ({detail})"
    if exit_code is not None:
        return FailureKind.USER, saw_user, exit_code
    return FailureKind.INFRA, job_message or "vcjob failed without a failed container", None


def observe_one(ref: BackendRef, vcjob: Obj | None, podgroup: Obj | None, pods: Sequence[Obj]) -> Observed:
    """One vcjob, its PodGroup (if found) and its pods -> Observed (see the module's phase table)."""
    if vcjob is None:
        return Observed(ref, BackendPhase.MISSING, reason="the vcjob does not exist (deleted or never created)")
    state = vcjob.get("status", {}).get("state") or {}
    native = state.get("phase", "")
    phase = phase_of(native)
    job_message = " ".join(p for p in (state.get("reason", ""), state.get("message", "")) if p)
    nodes = tuple(sorted({p["spec"]["nodeName"] for p in pods if p.get("spec", {}).get("nodeName")}))
    starts = [t for t in (parse_time(p.get("status", {}).get("startTime")) for p in pods) if t is not None]
    started_at = min(starts) if starts and phase is not BackendPhase.PENDING else None
    finished_at = parse_time(state.get("lastTransitionTime")) if phase in (
        BackendPhase.SUCCEEDED, BackendPhase.FAILED, BackendPhase.CANCELLED) else None
    reason, exit_code, failure = "", None, None
    if phase is BackendPhase.PENDING:
        reason = unschedulable_reason(podgroup) or job_message
    elif phase is BackendPhase.FAILED:
        failure, reason, exit_code = failure_of(pods, job_message)
        if native == "Terminated" and failure is FailureKind.INFRA:
            reason = f"vcjob Terminated: {reason}"
    elif phase is BackendPhase.SUCCEEDED:
        exit_code = 0
    elif phase is BackendPhase.CANCELLED:
        failure, reason = FailureKind.CANCELLED, job_message or "vcjob aborted on the backend"
    elif native == "Restarting":
        retries = vcjob.get("status", {}).get("retryCount", 0)
        reason = f"restarting the gang (retry {retries} of {vcjob.get('spec', {}).get('maxRetry', '?')})"
    return Observed(ref, phase, native_state=native or "Pending", reason=reason, exit_code=exit_code,
                    failure=failure, started_at=started_at, finished_at=finished_at, nodes=nodes)
