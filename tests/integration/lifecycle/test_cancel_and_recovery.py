"""Cancel from every state (also while a job is being rerouted or retried), resuming a reroute that a crash
interrupted, and lease fencing. These run the reconciler on the in-memory test double (no services needed):
what is under test is the state machine and the steps, not a backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dualtrack.adapters.inmemory import Outcome
from dualtrack.broker.config import parse_config
from dualtrack.broker.context import build_context
from dualtrack.broker.domain import BackendRef, FailureKind, Job, JobState, Placement
from dualtrack.broker.handlers.jobs import cancel_job
from dualtrack.broker.store import Changes
from tests.unit.reconciler.conftest import Harness, make_config

SLURM_PINNED = {"timeLimit: 30m": "timeLimit: 30m\n  placement: {track: slurm}"}


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    ctx = build_context(parse_config(make_config(tmp_path)))
    harness = Harness(ctx)
    for name in ("slurm-a", "kube-a"):
        harness.backend(name).run_seconds = 60
    yield harness
    ctx.close()


def _live_objects(harness: Harness, job_id: str) -> list[str]:
    """Names of the job's backend objects that are still pending or running, on both backends."""
    out = []
    for name in ("slurm-a", "kube-a"):
        for item in harness.backend(name).managed():
            if item.job_id == job_id and item.phase.value in ("PENDING", "RUNNING"):
                out.append(f"{name}:{item.ref.name}")
    return out


def _queued_on_slurm(harness: Harness, **replace: str) -> Job:
    """A job placed on slurm-a by hand, then someone else's work fills slurm-a: it waits in slurm-a's queue."""
    job = harness.submit(**replace)
    store = harness.ctx.store
    store.transition(store.get(job.id), JobState.PLACED, "pinned", Changes(placement=Placement("slurm-a")))
    harness.backend("slurm-a").occupy(8)
    return harness.until(job.id, lambda j: j.state is JobState.QUEUED)


def _cancel_and_settle(harness: Harness, job: Job) -> Job:
    cancelled = cancel_job(harness.ctx, job.id, reason="test")
    assert cancelled.state is JobState.CANCELLED
    for _ in range(3):
        harness.cycle()
    final = harness.ctx.store.get(job.id)
    assert final.state is JobState.CANCELLED
    assert _live_objects(harness, job.id) == []
    return final


def test_cancel_accepted(harness: Harness) -> None:
    _cancel_and_settle(harness, harness.submit())


def test_cancel_placed(harness: Harness) -> None:
    job = harness.submit()
    store = harness.ctx.store
    placed = store.transition(store.get(job.id), JobState.PLACED, "by hand", Changes(placement=Placement("slurm-a")))
    _cancel_and_settle(harness, placed)
    assert harness.backend("slurm-a").jobs_named(placed.object_name) == 0


@pytest.mark.parametrize("state", [JobState.SUBMITTED, JobState.QUEUED, JobState.RUNNING])
def test_cancel_on_a_backend(harness: Harness, state: JobState) -> None:
    if state is JobState.QUEUED:
        queued = _queued_on_slurm(harness)
        assert _live_objects(harness, queued.id)
        _cancel_and_settle(harness, queued)
        return
    job = harness.submit()
    if state is JobState.SUBMITTED:
        reached = harness.until(job.id, lambda j: j.state is JobState.SUBMITTED or j.state.on_backend)
    else:
        reached = harness.until(job.id, lambda j: j.state is state)
    assert _live_objects(harness, job.id)
    _cancel_and_settle(harness, reached)


def test_cancel_while_rerouting(harness: Harness) -> None:
    """The user cancels between REROUTING and PLACED: the reroute's compare-and-set fails, nothing new runs."""
    queued = _queued_on_slurm(harness)
    job = queued
    rerouting = harness.ctx.store.transition(queued, JobState.REROUTING, "moving (test)")
    _cancel_and_settle(harness, rerouting)
    assert harness.backend("kube-a").jobs_named(f"dt-{job.id}-2") == 0


def test_cancel_while_a_retry_waits_for_its_backoff(tmp_path: Path) -> None:
    ctx = build_context(parse_config(make_config(tmp_path, retryBackoffSeconds=3600)))
    harness = Harness(ctx)
    try:
        job = harness.submit(**SLURM_PINNED)
        harness.backend("slurm-a").script(job.id, Outcome(exit_code=1, failure=FailureKind.INFRA, reason="NODE_FAIL"))
        retrying = harness.until(job.id, lambda j: j.attempt == 2)
        assert retrying.state is JobState.ACCEPTED
        _cancel_and_settle(harness, retrying)
        assert harness.backend("slurm-a").jobs_named(f"dt-{job.id}-2") == 0
    finally:
        ctx.close()


def test_cancel_during_the_submit_call_cancels_the_fresh_object(harness: Harness) -> None:
    """Cancel lands after dispatch read the job and before it recorded SUBMITTED: dispatch's compare-and-set
    fails and it cancels what it just created."""
    slurm = harness.backend("slurm-a")
    job = harness.submit(**SLURM_PINNED)
    original = slurm.submit

    def submit_then_user_cancels(j: Job, placement: Placement) -> BackendRef:
        ref = original(j, placement)
        cancel_job(harness.ctx, j.id, reason="raced")
        return ref

    slurm.submit = submit_then_user_cancels  # type: ignore[method-assign]
    harness.cycle()
    slurm.submit = original  # type: ignore[method-assign]
    assert harness.ctx.store.get(job.id).state is JobState.CANCELLED
    assert slurm.jobs_named(f"dt-{job.id}-1") == 1
    assert _live_objects(harness, job.id) == []


def test_a_reroute_interrupted_by_a_crash_is_resumed(harness: Harness) -> None:
    """A crash left the job in REROUTING with its old attempt still queued: the next cycle cancels the old
    attempt and places attempt 2 on the other backend."""
    queued = _queued_on_slurm(harness)
    job = queued
    store = harness.ctx.store
    store.transition(queued, JobState.REROUTING, "moving to kube-a (then the broker died)")
    moved = harness.until(job.id, lambda j: j.state.on_backend and j.backend == "kube-a")
    assert moved.attempt == 2 and "slurm-a" in moved.excluded_backends
    assert _live_objects(harness, job.id) == [f"kube-a:dt-{job.id}-2"]


def test_a_leader_that_lost_its_lease_mid_cycle_does_not_submit(harness: Harness) -> None:
    """The lease passes to another replica while this one is in the middle of a cycle (it stalled longer
    than half the lease): the placement is written, but the submit is left to the new leader."""
    job = harness.submit(**SLURM_PINNED)
    store = harness.ctx.store

    def lease_taken_over(cycle: object) -> None:
        store.release_lease("reconciler", harness.reconciler.holder)
        assert store.try_acquire_lease("reconciler", "other-replica", 60)
        harness.reconciler._lease_until = 0.0  # as if this replica stalled

    harness.reconciler.steps.insert(1, ("steal", lease_taken_over))  # after place, before dispatch
    report = harness.reconciler.run_cycle()
    assert report.leader is False
    assert store.get(job.id).state is JobState.PLACED
    assert harness.backend("slurm-a").jobs_named(f"dt-{job.id}-1") == 0
    harness.reconciler.steps.pop(1)
    assert harness.reconciler.run_cycle().leader is False  # "other-replica" leads now


def test_lease_checks_are_thread_safe(harness: Harness) -> None:
    harness.cycle()
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(harness.reconciler.holds_lease())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 8


def test_a_backend_that_failed_a_submit_is_skipped_for_the_rest_of_the_cycle(harness: Harness) -> None:
    """The first unavailable submit of a cycle marks the backend; the other PLACED jobs of that cycle are not
    sent to wait for the same time-out, and all of them go out once it answers again."""
    slurm = harness.backend("slurm-a")
    store = harness.ctx.store
    jobs = [harness.submit(**SLURM_PINNED) for _ in range(4)]
    for job in jobs:
        store.transition(store.get(job.id), JobState.PLACED, "pinned", Changes(placement=Placement("slurm-a")))
    original = slurm.submit
    calls: list[str] = []

    def unavailable(job: Job, placement: Placement) -> BackendRef:
        calls.append(job.id)
        from dualtrack.adapters.base import BackendUnavailable

        raise BackendUnavailable("slurmctld does not answer")

    slurm.submit = unavailable  # type: ignore[method-assign]
    harness.reconciler.steps = [s for s in harness.reconciler.steps if s[0] == "dispatch"]
    harness.cycle()
    assert len(calls) == 1
    assert {store.get(j.id).state for j in jobs} == {JobState.PLACED}
    slurm.submit = original  # type: ignore[method-assign]
    harness.cycle()
    assert {store.get(j.id).state for j in jobs} == {JobState.SUBMITTED}
