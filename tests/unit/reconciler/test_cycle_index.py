"""The cycle's per-state positions, and the usage and overdue jobs of the ledger it carries from cycle to
cycle, equal a scan of the cycle's ``jobs`` however the jobs change within and between cycles."""

from __future__ import annotations

from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import Job, JobState
from dualtrack.broker.placement import usage_of
from dualtrack.broker.reconciler.cycle import Cycle
from dualtrack.broker.reconciler.ledger import JobLedger
from tests.unit.policies.builders import make_job

STATES = list(JobState)
CTX = cast(BrokerContext, None)  # the indexes never read the context
GRACE = 60.0


def scan(jobs: list[Job], states: tuple[JobState, ...]) -> list[Job]:
    return [j for j in jobs if j.state in states]


def overdue_scan(jobs: list[Job], now: float) -> list[Job]:
    """The time-limit step's test as it was written before the ledger."""
    return [j for j in jobs if j.state is JobState.RUNNING and now - j.state_since > j.spec.spec.time_limit + GRACE]


def new_value(data: Any, job: Job) -> Job:
    return job.evolve(state=data.draw(st.sampled_from(STATES)), state_since=float(data.draw(st.integers(0, 400))),
                      version=job.version + 1)


@st.composite
def fresh_job(draw: Any, job_id: str) -> Job:
    limit = draw(st.sampled_from(["60s", "120s", "5m"]))
    job = make_job(job_id, tenant=draw(st.sampled_from("abc")), gpus=draw(st.integers(0, 8)), time_limit=limit)
    return job.evolve(state=draw(st.sampled_from(STATES)), state_since=float(draw(st.integers(0, 400))))


def check(cycle: Cycle, data: Any) -> None:
    states = tuple(data.draw(st.lists(st.sampled_from(STATES), min_size=1, max_size=3)))
    assert cycle.in_state(*states) == scan(cycle.jobs, states)
    assert cycle.usage() == usage_of(cycle.jobs)
    assert cycle.overdue(GRACE) == overdue_scan(cycle.jobs, cycle.now)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_indexes_and_ledger_follow_replace_and_new_cycles_like_a_scan(data: Any) -> None:
    ledger = JobLedger()
    jobs = [data.draw(fresh_job(f"j{i}")) for i in range(data.draw(st.integers(0, 10)))]
    created = len(jobs)
    for cycle_no in range(data.draw(st.integers(1, 4))):
        cycle = Cycle(CTX, 300.0 + 100 * cycle_no, {}, list(jobs), ledger=ledger)
        check(cycle, data)
        for _ in range(data.draw(st.integers(0, 8))):
            if cycle.jobs and data.draw(st.booleans()):
                i = data.draw(st.integers(0, len(cycle.jobs) - 1))
                cycle.replace(new_value(data, cycle.jobs[i]))
            else:
                cycle.replace(make_job("stranger").evolve(state=JobState.RUNNING))  # not in the cycle: ignored
            check(cycle, data)
        # between cycles: the store keeps most values (same objects), changes some, drops some, adds some
        jobs = []
        for job in cycle.jobs:
            action = data.draw(st.sampled_from(["keep", "keep", "change", "equal copy", "drop"]))
            if action == "change":
                job = new_value(data, job)
            elif action == "equal copy":
                job = job.evolve()
            if action != "drop":
                jobs.append(job)
        for _ in range(data.draw(st.integers(0, 3))):
            jobs.append(data.draw(fresh_job(f"j{created}")))
            created += 1


def test_usage_is_a_copy_the_cycle_does_not_change() -> None:
    job = make_job("a1", tenant="a", gpus=4).evolve(state=JobState.RUNNING)
    cycle = Cycle(CTX, 0.0, {}, [job])
    before = cycle.usage()
    cycle.replace(job.evolve(state=JobState.SUCCEEDED))
    assert before.gpus == {"a": 4} and before.running_jobs == {"a": 1}
    assert cycle.usage().gpus == {} and cycle.in_state(JobState.RUNNING) == []


def test_an_overdue_job_stays_due_until_it_changes() -> None:
    job = make_job("a1", time_limit="60s").evolve(state=JobState.RUNNING, state_since=0.0)
    ledger = JobLedger()
    first = Cycle(CTX, 200.0, {}, [job], ledger=ledger)
    assert first.overdue(GRACE) == [job]
    second = Cycle(CTX, 230.0, {}, [job], ledger=ledger)  # its cancel failed: the same value again
    assert second.overdue(GRACE) == [job]
    second.replace(job.evolve(state=JobState.FAILED, version=2))
    assert second.overdue(GRACE) == []
