"""The Slurm state table, row by row, and its coverage of every state the newest spec lists."""

from __future__ import annotations

import pytest

from dualtrack.adapters.slurm.records import JobRecord
from dualtrack.adapters.slurm.states import STATE_TABLE, map_state, reason_text
from dualtrack.broker.domain import BackendPhase as P
from dualtrack.broker.domain import FailureKind as F

from .conftest import load


@pytest.mark.parametrize(
    ("state", "flags", "reason", "phase", "failure"),
    [
        ("PENDING", (), "Resources", P.PENDING, None),
        ("PENDING", ("CONFIGURING",), "", P.PENDING, None),
        ("CONFIGURING", (), "", P.PENDING, None),
        ("RUNNING", (), "", P.RUNNING, None),
        ("RUNNING", ("CONFIGURING",), "", P.PENDING, None),  # nodes booting: user code not started yet
        ("COMPLETING", (), "", P.RUNNING, None),
        ("COMPLETED", ("COMPLETING",), "", P.RUNNING, None),  # exit code not final until the epilog ends
        ("COMPLETED", (), "", P.SUCCEEDED, None),
        ("FAILED", (), "NonZeroExitCode", P.FAILED, F.USER),
        ("FAILED", (), "JobLaunchFailure", P.FAILED, F.INFRA),
        ("FAILED", (), "Prolog", P.FAILED, F.INFRA),
        ("TIMEOUT", (), "TimeLimit", P.FAILED, F.TIMEOUT),
        ("DEADLINE", (), "", P.FAILED, F.TIMEOUT),
        ("CANCELLED", (), "", P.CANCELLED, F.CANCELLED),
        ("NODE_FAIL", (), "", P.FAILED, F.INFRA),
        ("PREEMPTED", (), "", P.FAILED, F.INFRA),
        ("BOOT_FAIL", (), "", P.FAILED, F.INFRA),
        ("OUT_OF_MEMORY", (), "", P.FAILED, F.OUT_OF_MEMORY),
        ("PENDING", ("REQUEUED",), "", P.PENDING, None),
        ("REQUEUED", (), "", P.PENDING, None),
        ("COMPLETED", ("REQUEUED",), "", P.PENDING, None),  # requeued: it will run again
        ("SUSPENDED", (), "", P.RUNNING, None),
        ("PENDING", ("REQUEUE_HOLD",), "", P.PENDING, None),
        ("FAILED", ("SPECIAL_EXIT",), "", P.FAILED, F.USER),
        ("FAILED", ("LAUNCH_FAILED",), "", P.FAILED, F.INFRA),
        ("SOMETHING_NEW", (), "", P.PENDING, None),  # unknown: never terminal
    ],
)
def test_state_table(state: str, flags: tuple[str, ...], reason: str, phase: P, failure: F | None) -> None:
    mapped = map_state(state, flags, reason)
    assert (mapped.phase, mapped.failure) == (phase, failure)


def test_every_state_of_the_v0_0_42_spec_is_in_the_table() -> None:
    spec = load("openapi_spec_v0.0.42.json")
    states = spec["components"]["schemas"]["v0.0.42_job_state"]["items"]["enum"]
    missing = [s for s in states if s not in STATE_TABLE]
    assert missing == []


def test_unknown_state_reason_names_it() -> None:
    assert "unrecognised Slurm state SOMETHING_NEW" in map_state("SOMETHING_NEW").note


def test_reason_text_carries_slurm_reason_and_exit_code() -> None:
    record = JobRecord(job_id="1", name="x", state="FAILED", reason="NonZeroExitCode", exit_code=3)
    assert reason_text(record, map_state("FAILED", (), record.reason)) == "exit code 3"
    timeout = JobRecord(job_id="2", name="x", state="TIMEOUT", reason="TimeLimit", exit_code=0, signal=15)
    assert reason_text(timeout, map_state("TIMEOUT")) == (
        "time limit reached; Slurm reason: TimeLimit; exit code 0; signal 15")
