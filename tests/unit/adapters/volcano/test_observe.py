"""The phase mapping table and the failure evidence read from pods."""

from __future__ import annotations

from typing import Any

import pytest

from dualtrack.adapters.volcano.observe import PHASES, failure_of, observe_one, phase_of, unschedulable_reason
from dualtrack.broker.domain import BackendPhase, BackendRef, FailureKind

REF = BackendRef("kube", "dt-j1-1", "default/dt-j1-1")


def vcjob(phase: str | None, **status: Any) -> dict[str, Any]:
    st: dict[str, Any] = dict(status)
    if phase is not None:
        st["state"] = {"phase": phase, "lastTransitionTime": "2026-01-01T00:00:10Z"}
    return {"metadata": {"name": "dt-j1-1", "uid": "u1"}, "spec": {"maxRetry": 3}, "status": st}


def pod(name: str = "dt-j1-1-worker-0", *, exit_code: int | None = None, reason: str = "",
        pod_reason: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Running", "startTime": "2026-01-01T00:00:05Z"}
    if exit_code is not None:
        status["containerStatuses"] = [{"name": "worker", "state": {"terminated": {"exitCode": exit_code,
                                                                                  "reason": reason}}}]
    if pod_reason:
        status["reason"] = pod_reason
    return {"metadata": {"name": name}, "spec": {"nodeName": "gpu-1"}, "status": status}


@pytest.mark.parametrize(("native", "phase"), [
    ("", BackendPhase.PENDING), ("Pending", BackendPhase.PENDING),
    ("Running", BackendPhase.RUNNING), ("Restarting", BackendPhase.RUNNING),
    ("Completing", BackendPhase.RUNNING), ("Terminating", BackendPhase.RUNNING),
    ("Aborting", BackendPhase.RUNNING), ("Completed", BackendPhase.SUCCEEDED),
    ("Failed", BackendPhase.FAILED), ("Terminated", BackendPhase.FAILED),
    ("Aborted", BackendPhase.CANCELLED), ("SomeFuturePhase", BackendPhase.RUNNING),
])
def test_phase_table(native: str, phase: BackendPhase) -> None:
    assert phase_of(native) is phase


def test_table_covers_every_phase_of_the_crd() -> None:
    crd_phases = {"Pending", "Aborting", "Aborted", "Running", "Restarting", "Completing", "Completed",
                  "Terminating", "Terminated", "Failed"}
    assert crd_phases <= set(PHASES)


def test_missing_vcjob_is_missing() -> None:
    assert observe_one(REF, None, None, []).phase is BackendPhase.MISSING


def test_pending_surfaces_the_podgroup_unschedulable_condition() -> None:
    pg = {"status": {"conditions": [
        {"type": "Scheduled", "status": "False", "message": "old"},
        {"type": "Unschedulable", "status": "True", "reason": "NotEnoughResources", "message": "3/4 tasks ..."}]}}
    observed = observe_one(REF, vcjob("Pending"), pg, [])
    assert observed.phase is BackendPhase.PENDING
    assert observed.reason == "Unschedulable (NotEnoughResources): 3/4 tasks ..."
    assert unschedulable_reason({"status": {"conditions": [{"type": "Unschedulable", "status": "False"}]}}) == ""
    assert observe_one(REF, vcjob(None), None, []).native_state == "Pending"


def test_completed_and_running_details() -> None:
    done = observe_one(REF, vcjob("Completed"), None, [pod(exit_code=0, reason="Completed")])
    assert (done.phase, done.exit_code, done.nodes) == (BackendPhase.SUCCEEDED, 0, ("gpu-1",))
    assert done.started_at is not None and done.finished_at is not None and done.finished_at > done.started_at
    restarting = observe_one(REF, vcjob("Restarting", retryCount=2), None, [])
    assert restarting.phase is BackendPhase.RUNNING and "retry 2 of 3" in restarting.reason


@pytest.mark.parametrize(("pods", "kind", "code", "words"), [
    ([pod(exit_code=0), pod("w-1", exit_code=2, reason="Error")], FailureKind.USER, 2, "exited with code 2"),
    ([pod(exit_code=137, reason="OOMKilled")], FailureKind.OUT_OF_MEMORY, 137, "OOMKilled"),
    ([pod(pod_reason="DeadlineExceeded")], FailureKind.TIMEOUT, None, "DeadlineExceeded"),
    ([pod(pod_reason="Evicted")], FailureKind.INFRA, None, "evicted"),
    ([], FailureKind.INFRA, None, "PodFailed"),
])
def test_failure_evidence(pods: list[dict[str, Any]], kind: FailureKind, code: int | None, words: str) -> None:
    failure, reason, exit_code = failure_of(pods, "PodFailed")
    assert (failure, exit_code) == (kind, code)
    assert words in reason
    observed = observe_one(REF, vcjob("Failed"), None, pods)
    assert (observed.phase, observed.failure, observed.exit_code) == (BackendPhase.FAILED, kind, code)


def test_aborted_is_cancelled() -> None:
    observed = observe_one(REF, vcjob("Aborted"), None, [])
    assert (observed.phase, observed.failure) == (BackendPhase.CANCELLED, FailureKind.CANCELLED)
