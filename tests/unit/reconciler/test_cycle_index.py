"""The cycle's per-state positions and usage, kept current by ``replace``, equal a scan of ``jobs``."""

from __future__ import annotations

from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import Job, JobState
from dualtrack.broker.placement import usage_of
from dualtrack.broker.reconciler.cycle import Cycle
from tests.unit.policies.builders import make_job

STATES = list(JobState)
CTX = cast(BrokerContext, None)  # the indexes never read the context


def scan(jobs: list[Job], states: tuple[JobState, ...]) -> list[Job]:
    return [j for j in jobs if j.state in states]


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_indexes_follow_replace_like_a_scan(data: Any) -> None:
    count = data.draw(st.integers(0, 12))
    jobs = [make_job(f"j{i}", tenant=data.draw(st.sampled_from("abc")), gpus=data.draw(st.integers(0, 8)))
            .evolve(state=data.draw(st.sampled_from(STATES))) for i in range(count)]
    cycle = Cycle(CTX, 0.0, {}, list(jobs))
    if data.draw(st.booleans()):
        cycle.usage()  # built before the replaces: kept current by them; else built after them
    for _ in range(data.draw(st.integers(0, 15))):
        if jobs and data.draw(st.booleans()):
            i = data.draw(st.integers(0, count - 1))
            cycle.replace(cycle.jobs[i].evolve(state=data.draw(st.sampled_from(STATES)), version=2))
        else:
            cycle.replace(make_job("stranger").evolve(state=JobState.RUNNING))  # not in the cycle: ignored
        states = tuple(data.draw(st.lists(st.sampled_from(STATES), min_size=1, max_size=3)))
        assert cycle.in_state(*states) == scan(cycle.jobs, states)
        assert cycle.usage() == usage_of(cycle.jobs)
    assert [j.id for j in cycle.jobs] == [j.id for j in jobs]


def test_usage_is_a_copy_the_cycle_does_not_change() -> None:
    job = make_job("a1", tenant="a", gpus=4).evolve(state=JobState.RUNNING)
    cycle = Cycle(CTX, 0.0, {}, [job])
    before = cycle.usage()
    cycle.replace(job.evolve(state=JobState.SUCCEEDED))
    assert before.gpus == {"a": 4} and before.running_jobs == {"a": 1}
    assert cycle.usage().gpus == {} and cycle.in_state(JobState.RUNNING) == []
