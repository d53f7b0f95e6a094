"""The reconciler's steps on the in-memory test double: dispatch, observe, retry, cancel, crash recovery,
zombies, reroute, backend outage and time limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dualtrack.adapters.inmemory import Outcome
from dualtrack.broker.domain import FailureKind, JobState, Placement
from dualtrack.broker.handlers.jobs import cancel_job
from dualtrack.broker.store import Changes
from tests.unit.reconciler.conftest import Harness


def test_a_job_runs_to_success(harness: Harness) -> None:
    job = harness.submit()
    done = harness.until(job.id, lambda j: j.state.terminal)
    assert done.state is JobState.SUCCEEDED and done.exit_code == 0
    states = [e.state for e in harness.ctx.store.events(job_id=job.id) if e.state]
    assert states == [JobState.ACCEPTED, JobState.PLACED, JobState.SUBMITTED, JobState.RUNNING, JobState.SUCCEEDED]


def test_node_failure_is_retried_and_succeeds_on_attempt_2(harness: Harness) -> None:
    job = harness.submit(**{"timeLimit: 30m": "timeLimit: 30m\n  placement: {track: slurm}"})
    harness.backend("slurm-a").script(job.id, Outcome(exit_code=1, failure=FailureKind.INFRA, reason="NODE_FAIL"))
    done = harness.until(job.id, lambda j: j.state.terminal)
    assert done.state is JobState.SUCCEEDED and done.attempt == 2
    assert harness.backend("slurm-a").jobs_named(f"dt-{job.id}-1") == 1
    assert harness.backend("slurm-a").jobs_named(f"dt-{job.id}-2") == 1


def test_a_program_exiting_1_is_not_retried(harness: Harness) -> None:
    job = harness.submit()
    for name in ("slurm-a", "kube-a"):
        harness.backend(name).script(job.id, Outcome(exit_code=1, failure=FailureKind.USER, reason="exit 1"))
    done = harness.until(job.id, lambda j: j.state.terminal)
    assert done.state is JobState.FAILED and done.attempt == 1 and done.exit_code == 1


def test_retries_stop_at_max_attempts(harness: Harness) -> None:
    job = harness.submit(**{"timeLimit: 30m": "timeLimit: 30m\n  retry: {maxAttempts: 2}"})
    failure = Outcome(exit_code=1, failure=FailureKind.INFRA, reason="PREEMPTED")
    for name in ("slurm-a", "kube-a"):
        harness.backend(name).script(job.id, failure, failure, failure)
    done = harness.until(job.id, lambda j: j.state.terminal)
    assert done.state is JobState.FAILED and done.attempt == 2 and "PREEMPTED" in done.reason


def test_dispatch_finds_the_existing_object_after_a_crash(harness: Harness) -> None:
    job = harness.submit()
    store = harness.ctx.store
    placed = store.transition(store.get(job.id), JobState.PLACED, "placed by hand",
                              Changes(placement=Placement("slurm-a")))
    ref = harness.backend("slurm-a").submit(placed, Placement("slurm-a"))  # submitted, then the broker died
    done = harness.until(job.id, lambda j: j.state.terminal)
    assert done.state is JobState.SUCCEEDED and done.backend_ref == ref
    assert harness.backend("slurm-a").submit_calls == 1
    assert harness.backend("slurm-a").jobs_named(placed.object_name) == 1


def test_cancel_while_running_cancels_on_the_backend(harness: Harness) -> None:
    harness.backend("slurm-a").run_seconds = 60
    harness.backend("kube-a").run_seconds = 60
    job = harness.submit()
    running = harness.until(job.id, lambda j: j.state is JobState.RUNNING)
    cancel_job(harness.ctx, job.id, reason="not needed")
    observed = harness.backend(running.backend or "").observe([running.backend_ref])  # type: ignore[list-item]
    assert next(iter(observed.values())).phase.value == "CANCELLED"
    harness.cycle()
    assert harness.ctx.store.get(job.id).state is JobState.CANCELLED


def test_cancel_before_dispatch_leaves_nothing_on_backends(harness: Harness) -> None:
    job = harness.submit()
    cancel_job(harness.ctx, job.id)
    harness.cycle()
    harness.cycle()
    for name in ("slurm-a", "kube-a"):
        assert harness.backend(name).jobs_named(f"dt-{job.id}-1") == 0


def test_zombies_are_cancelled(harness: Harness) -> None:
    harness.backend("slurm-a").run_seconds = 60
    job = harness.submit(**{"timeLimit: 30m": "timeLimit: 30m\n  placement: {track: slurm}"})
    cancelled = cancel_job(harness.ctx, job.id)
    ref = harness.backend("slurm-a").submit(cancelled, Placement("slurm-a"))  # a leftover of a terminal job
    harness.cycle()
    assert harness.backend("slurm-a").observe([ref])[ref].phase.value == "CANCELLED"


def test_pending_too_long_is_rerouted_to_the_other_track(harness: Harness) -> None:
    slurm = harness.backend("slurm-a")
    slurm.run_seconds = 60
    job = harness.submit(**{"timeLimit: 30m": "timeLimit: 30m\n  reroute: {pendingTimeout: 1s}",
                            "gpuType: a100": "gpuType: a100"})
    harness.ctx.store.transition(harness.ctx.store.get(job.id), JobState.PLACED, "pinned for the test",
                                 Changes(placement=Placement("slurm-a")))
    slurm.occupy(8)  # someone else's work fills slurm-a after placement: our job waits in its queue
    queued = harness.until(job.id, lambda j: j.state is JobState.QUEUED)
    assert queued.backend == "slurm-a"
    time.sleep(1.1)
    moved = harness.until(job.id, lambda j: (j.backend == "kube-a" and j.state.on_backend) or j.state.terminal)
    assert moved.attempt == 2 and "slurm-a" in moved.excluded_backends
    assert slurm.observe([queued.backend_ref])[queued.backend_ref].phase.value == "CANCELLED"  # type: ignore[index]
    states = [e.state for e in harness.ctx.store.events(job_id=job.id) if e.state]
    assert JobState.REROUTING in states


def test_a_dead_backend_is_marked_down_and_new_jobs_go_elsewhere(harness: Harness) -> None:
    harness.backend("slurm-a").set_available(False)
    harness.cycle()
    harness.cycle()  # backendDownAfter: 2
    assert not harness.ctx.snapshots.is_up("slurm-a")
    job = harness.submit()
    done = harness.until(job.id, lambda j: j.state.terminal)
    assert done.backend == "kube-a" and done.state is JobState.SUCCEEDED
    harness.backend("slurm-a").set_available(True)
    harness.cycle()
    assert harness.ctx.snapshots.is_up("slurm-a")


def test_time_limit_is_enforced_by_the_broker_when_the_backend_does_not(make_harness) -> None:  # type: ignore[no-untyped-def]
    harness = make_harness(timeLimitGraceSeconds=0)
    for name in ("slurm-a", "kube-a"):
        harness.backend(name).run_seconds = 60
    job = harness.submit(**{"timeLimit: 30m": "timeLimit: 1s"})
    running = harness.until(job.id, lambda j: j.state is JobState.RUNNING)
    time.sleep(1.1)
    done = harness.until(job.id, lambda j: j.state.terminal)
    assert done.state is JobState.FAILED and "time limit" in done.reason
    ref = running.backend_ref
    assert harness.backend(running.backend or "").observe([ref])[ref].phase.value == "CANCELLED"  # type: ignore[index]


def test_only_the_lease_holder_reconciles(harness: Harness) -> None:
    from dualtrack.broker.reconciler import Reconciler

    other = Reconciler(harness.ctx, holder="someone-else")
    harness.cycle()  # our harness holds the lease now
    assert other.run_cycle().leader is False


def test_jobs_of_unknown_ids_are_left_alone_unless_asked(make_harness) -> None:  # type: ignore[no-untyped-def]
    from dualtrack.broker.domain import Job as DomainJob
    from dualtrack.broker.domain import parse_spec_yaml
    from tests.unit.reconciler.conftest import REPO

    spec = parse_spec_yaml((REPO / "examples" / "yolo-1gpu.yaml").read_text())
    stranger = DomainJob(id="jothers000001", spec=spec)  # another broker's job on a shared cluster
    for cancel_unknown, expected in ((False, "RUNNING"), (True, "CANCELLED")):
        harness = make_harness(cancelUnknownJobs=cancel_unknown)
        slurm = harness.backend("slurm-a")
        slurm.run_seconds = 60
        ref = slurm.submit(stranger, Placement("slurm-a"))
        harness.cycle()
        assert slurm.observe([ref])[ref].phase.value == expected


def test_wake_ups_during_a_cycle_give_one_more_cycle_after_the_gap(make_harness: Callable[..., Harness]) -> None:
    """Wake-ups while a cycle runs start one more cycle ``wakeGapSeconds`` after the first ends (coalesced:
    two wake-ups, one cycle); with no wake-up no further cycle runs."""
    reconciler = make_harness(wakeGapSeconds=0.3).reconciler
    starts: list[float] = []
    ends: list[float] = []
    run_cycle = reconciler.run_cycle

    def timed() -> Any:
        starts.append(time.monotonic())
        report = run_cycle()
        if len(starts) == 1:  # after run_cycle cleared the flag: as if they came during the cycle
            reconciler.wake()
            reconciler.wake()
        ends.append(time.monotonic())
        return report

    reconciler.run_cycle = timed  # type: ignore[method-assign]
    reconciler._run_scheduled()
    assert len(starts) == 2
    assert starts[1] - ends[0] >= 0.3
    reconciler._run_scheduled()  # nothing woke it: one cycle only
    assert len(starts) == 3
